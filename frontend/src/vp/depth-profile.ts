// Depth profile of the latest bin, beside the heatmap and on the same price axis:
// bid_depth bars (green) and ask_depth bars (red) per price tick, plus rest_depth outline.
import type { BinStore } from "./bin-store";
import type { HeatmapRenderer } from "./heatmap";

export function drawDepthProfile(
  ctx: CanvasRenderingContext2D,
  w: number,
  h: number,
  store: BinStore,
  view: HeatmapRenderer,
): void {
  ctx.fillStyle = "#07080d";
  ctx.fillRect(0, 0, w, h);
  const heatH = view.heatHeight(h);
  const col = view.follow || view.paused ? Math.min(store.latestCol, Math.ceil(view.viewRight) - 1) : store.latestCol;
  if (col < 0 || !store.has(col)) return;
  const spot = store.spotTickAt(col);
  const bid = store.values("bid_depth", col);
  const ask = store.values("ask_depth", col);
  if (!Number.isFinite(spot) || (!bid && !ask)) return;
  let max = 1;
  for (let r = 0; r < store.nRows; r++) {
    if (bid && bid[r] > max) max = bid[r];
    if (ask && ask[r] > max) max = ask[r];
  }
  const barH = Math.max(1, view.pxPerTick - (view.pxPerTick > 3 ? 1 : 0));
  const usable = w - 8;
  for (let r = 0; r < store.nRows; r++) {
    const y = view.yOfTick(spot + store.k[r], heatH) - barH / 2;
    if (y < -barH || y > heatH) continue;
    const b = bid ? bid[r] : 0;
    const a = ask ? ask[r] : 0;
    if (b > 0) {
      ctx.fillStyle = "rgba(60, 200, 110, 0.85)";
      ctx.fillRect(2, y, (b / max) * usable, barH);
    }
    if (a > 0) {
      ctx.fillStyle = "rgba(240, 80, 80, 0.85)";
      ctx.fillRect(2, y, (a / max) * usable, barH);
    }
  }
  ctx.fillStyle = "#8a93a6";
  ctx.font = "10px ui-monospace, monospace";
  ctx.textBaseline = "top";
  ctx.fillText(`depth max ${max.toFixed(0)}`, 4, heatH + 4);
}
