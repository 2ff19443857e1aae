// Cumulative PnL (ticks) per threshold against the entry bin, on a canvas.
import type { ThresholdMetrics } from "./api";

const COLORS = ["#f0a030", "#3cc8f0", "#a070f0", "#3cc878", "#f05080", "#e0e060", "#80a0ff"];

export function drawPnl(canvas: HTMLCanvasElement, thresholds: ThresholdMetrics[], highlight: number | null): void {
  const dpr = window.devicePixelRatio || 1;
  const W = canvas.clientWidth;
  const H = canvas.clientHeight;
  canvas.width = Math.max(1, Math.floor(W * dpr));
  canvas.height = Math.max(1, Math.floor(H * dpr));
  const ctx = canvas.getContext("2d")!;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.fillStyle = "#0a0c12";
  ctx.fillRect(0, 0, W, H);

  const series = thresholds
    .map((t, i) => ({
      t,
      color: COLORS[i % COLORS.length],
      pts: t.pnl_series.bins
        .map((b, j) => [b, t.pnl_series.cum_pnl_ticks[j]] as [number, number | null])
        .filter((p): p is [number, number] => p[1] !== null && Number.isFinite(p[1])),
    }))
    .filter((s) => s.pts.length > 0);
  ctx.font = "11px ui-monospace, monospace";
  if (series.length === 0) {
    ctx.fillStyle = "#7d869a";
    ctx.fillText("no trades: nothing to plot", 12, 20);
    return;
  }
  let x0 = Infinity;
  let x1 = -Infinity;
  let y0 = 0;
  let y1 = 0;
  for (const s of series) {
    for (const [b, v] of s.pts) {
      x0 = Math.min(x0, b);
      x1 = Math.max(x1, b);
      y0 = Math.min(y0, v);
      y1 = Math.max(y1, v);
    }
  }
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) y1 = y0 + 1;
  const pad = { l: 46, r: 10, t: 10, b: 22 };
  const px = (b: number) => pad.l + ((b - x0) / (x1 - x0)) * (W - pad.l - pad.r);
  const py = (v: number) => pad.t + (1 - (v - y0) / (y1 - y0)) * (H - pad.t - pad.b);

  // axes: zero line and y labels
  ctx.strokeStyle = "#2a3244";
  ctx.beginPath();
  ctx.moveTo(pad.l, py(0));
  ctx.lineTo(W - pad.r, py(0));
  ctx.stroke();
  ctx.fillStyle = "#7d869a";
  ctx.textBaseline = "middle";
  for (const v of [y0, 0, y1]) ctx.fillText(v.toFixed(0), 4, py(v));
  ctx.textBaseline = "top";
  ctx.fillText(`bin ${x0}`, pad.l, H - pad.b + 6);
  const lastLabel = `bin ${x1}`;
  ctx.fillText(lastLabel, W - pad.r - ctx.measureText(lastLabel).width, H - pad.b + 6);

  for (const s of series) {
    const isHi = highlight === null || s.t.threshold === highlight;
    ctx.strokeStyle = s.color;
    ctx.globalAlpha = isHi ? 1 : 0.35;
    ctx.lineWidth = isHi ? 1.8 : 1;
    ctx.beginPath();
    let prevY = py(0);
    ctx.moveTo(px(s.pts[0][0]), prevY);
    for (const [b, v] of s.pts) {
      // a step: PnL changes at each trade's entry bin
      ctx.lineTo(px(b), prevY);
      prevY = py(v);
      ctx.lineTo(px(b), prevY);
    }
    ctx.stroke();
  }
  ctx.globalAlpha = 1;
  // legend
  let lx = pad.l + 6;
  ctx.textBaseline = "top";
  for (const s of series) {
    const label = `thr ${s.t.threshold}`;
    ctx.fillStyle = s.color;
    ctx.fillRect(lx, pad.t + 4, 10, 3);
    ctx.fillText(label, lx + 13, pad.t);
    lx += ctx.measureText(label).width + 26;
  }
}
