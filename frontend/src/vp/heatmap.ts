// The Bookmap-style heatmap: time (bins) × absolute price (ticks).
//
// Drawing model (docs/frontend.md): an offscreen canvas holds one pixel column per bin in a
// ring (x = col % capacity) and one pixel row per price tick (y = anchorTick - tick). Each
// new bin paints ONE column (putImageData of 1 × nRows); every animation frame blits the
// visible part of the ring to the screen, scaled by the zoom, and draws vector overlays
// (spot / best bid / best ask lines, projection rays, axes, crosshair) on top.
// The whole ring is repainted only when the column, the colour scale or the vertical anchor
// changes.
import type { BinStore } from "./bin-store";
import { ColorScale, EMPTY_COLOR, clipBound, type ScaleSettings } from "./color-scale";
import type { Projection } from "./protocol";

const OFFSCREEN_TICKS = 1024;
export const FUTURE_MARGIN_PX = 90;
export const PRICE_AXIS_PX = 64;
export const TIME_AXIS_PX = 18;
/** Bins between colour-scale re-estimates. */
const RESCALE_EVERY_BINS = 10;
/** Bins sampled for percentile clipping. */
const RESCALE_SAMPLE_BINS = 300;
/** Score units → ticks of vertical offset for projection rays. */
const RAY_TICKS_PER_UNIT = 12;

const etClock = new Intl.DateTimeFormat("en-US", {
  timeZone: "America/New_York",
  hour12: false,
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
});

export function formatEt(tsNs: number, withMillis = false): string {
  if (!Number.isFinite(tsNs) || tsNs <= 0) return "—";
  const ms = tsNs / 1e6;
  const base = etClock.format(new Date(ms));
  return withMillis ? `${base}.${String(Math.floor(ms % 1000)).padStart(3, "0")}` : base;
}

export interface HoverCell {
  col: number;
  tick: number;
  k: number;
}

export class HeatmapRenderer {
  readonly offscreen: HTMLCanvasElement;
  private readonly off: CanvasRenderingContext2D;
  private readonly colImage: ImageData;
  private readonly colPixels: Uint32Array;
  private anchorTick = NaN;
  private scale: ColorScale | null = null;
  private binsSinceRescale = 0;
  fullRepaints = 0;

  // Viewport
  pxPerBin = 2;
  pxPerTick = 4;
  follow = true;
  paused = false;
  viewRight = 0; // col at the right edge of the heat area (exclusive)
  centerTick = NaN; // price tick at the vertical centre
  mouse: { x: number; y: number } | null = null;
  projection: Projection | null = null;

  constructor(
    readonly store: BinStore,
    public column: string,
    public settings: ScaleSettings,
  ) {
    this.offscreen = document.createElement("canvas");
    this.offscreen.width = store.capacity;
    this.offscreen.height = OFFSCREEN_TICKS;
    this.off = this.offscreen.getContext("2d", { willReadFrequently: false })!;
    this.colImage = this.off.createImageData(1, store.nRows);
    this.colPixels = new Uint32Array(this.colImage.data.buffer);
  }

  get colorScale(): ColorScale | null {
    return this.scale;
  }

  setColumn(column: string): void {
    this.column = column;
    this.scale = null;
    this.rescale(true);
  }

  setSettings(settings: ScaleSettings): void {
    this.settings = settings;
    this.scale = null;
    this.rescale(true);
  }

  /** Re-estimate the clip bound; repaint everything when it moved noticeably. */
  private rescale(force: boolean): void {
    const cat = this.column.endsWith("_code") || this.column === "microstate_id";
    let hi = 1;
    if (!cat) {
      const probe = new ColorScale(this.column, 1, this.settings);
      const { sample, count } = this.store.recentSample(this.column, RESCALE_SAMPLE_BINS);
      hi = clipBound(sample, count, this.settings.clipPercentile, probe.signed);
    }
    const next = new ColorScale(this.column, hi, this.settings);
    if (force || !next.similarTo(this.scale)) {
      this.scale = next;
      this.repaintAll();
    }
    this.binsSinceRescale = 0;
  }

  /** A bin was pushed to the store: paint its column (and only it, normally). */
  onBin(col: number): void {
    const spot = this.store.spotTickAt(col);
    const R = this.store.radius;
    if (Number.isNaN(this.anchorTick) || this.anchorTick - (spot + R) < 0 || this.anchorTick - (spot - R) >= OFFSCREEN_TICKS) {
      if (Number.isFinite(spot)) {
        this.anchorTick = spot + Math.floor(OFFSCREEN_TICKS / 2);
        this.scale = null; // forces a full repaint at the new anchor
      }
    }
    if (Number.isNaN(this.centerTick) && Number.isFinite(spot)) this.centerTick = spot;
    this.binsSinceRescale++;
    if (!this.scale || this.binsSinceRescale >= RESCALE_EVERY_BINS || this.store.count <= 3) {
      this.rescale(!this.scale);
    }
    this.paintColumn(col);
    if (this.follow && !this.paused) this.snapToLatest();
  }

  snapToLatest(): void {
    const latest = this.store.latestCol;
    if (latest < 0) return;
    this.viewRight = latest + 1;
    const spot = this.store.spotTickAt(latest);
    if (Number.isFinite(spot)) this.centerTick = spot;
  }

  private paintColumn(col: number): void {
    const x = this.store.slot(col);
    this.off.clearRect(x, 0, 1, OFFSCREEN_TICKS);
    const scale = this.scale;
    const values = this.store.values(this.column, col);
    const spot = this.store.spotTickAt(col);
    if (!scale || !values || !Number.isFinite(spot)) return;
    const n = this.store.nRows;
    const R = this.store.radius;
    const top = this.anchorTick - (spot + R); // offscreen y of k = +R
    if (top < 0 || top + n > OFFSCREEN_TICKS) return;
    for (let y = 0; y < n; y++) this.colPixels[y] = scale.color(values[n - 1 - y]);
    this.off.putImageData(this.colImage, x, top);
  }

  /** Repaint every stored bin with the current scale: one putImageData of the whole ring. */
  repaintAll(): void {
    this.fullRepaints++;
    const W = this.offscreen.width;
    const img = this.off.createImageData(W, OFFSCREEN_TICKS);
    const px = new Uint32Array(img.data.buffer);
    px.fill(EMPTY_COLOR);
    const scale = this.scale;
    const n = this.store.nRows;
    const R = this.store.radius;
    if (scale && Number.isFinite(this.anchorTick)) {
      for (let col = this.store.oldestCol; col <= this.store.latestCol; col++) {
        const values = this.store.values(this.column, col);
        const spot = this.store.spotTickAt(col);
        if (!values || !Number.isFinite(spot)) continue;
        const top = this.anchorTick - (spot + R);
        if (top < 0 || top + n > OFFSCREEN_TICKS) continue;
        const x = this.store.slot(col);
        for (let y = 0; y < n; y++) px[(top + y) * W + x] = scale.color(values[n - 1 - y]);
      }
    }
    this.off.putImageData(img, 0, 0);
  }

  // ---- geometry -------------------------------------------------------------------

  heatWidth(canvasW: number): number {
    return Math.max(50, canvasW - FUTURE_MARGIN_PX - PRICE_AXIS_PX);
  }

  heatHeight(canvasH: number): number {
    return Math.max(50, canvasH - TIME_AXIS_PX);
  }

  xOfCol(col: number, heatW: number): number {
    return heatW - (this.viewRight - col) * this.pxPerBin;
  }

  colAtX(x: number, heatW: number): number {
    return Math.floor(this.viewRight - (heatW - x) / this.pxPerBin);
  }

  yOfTick(tick: number, heatH: number): number {
    return heatH / 2 - (tick - this.centerTick) * this.pxPerTick;
  }

  tickAtY(y: number, heatH: number): number {
    return Math.round(this.centerTick + (heatH / 2 - y) / this.pxPerTick);
  }

  hoverCell(heatW: number, heatH: number): HoverCell | null {
    if (!this.mouse || this.mouse.x >= heatW || this.mouse.y >= heatH) return null;
    const col = this.colAtX(this.mouse.x, heatW);
    if (!this.store.has(col)) return null;
    const tick = this.tickAtY(this.mouse.y, heatH);
    return { col, tick, k: tick - this.store.spotTickAt(col) };
  }

  // ---- interaction ----------------------------------------------------------------

  zoomPrice(factor: number, aboutY: number, heatH: number): void {
    const tick = this.centerTick + (heatH / 2 - aboutY) / this.pxPerTick;
    this.pxPerTick = Math.min(40, Math.max(0.5, this.pxPerTick * factor));
    if (!this.follow) this.centerTick = tick - (heatH / 2 - aboutY) / this.pxPerTick;
  }

  zoomTime(factor: number, aboutX: number, heatW: number): void {
    const col = this.viewRight - (heatW - aboutX) / this.pxPerBin;
    this.pxPerBin = Math.min(20, Math.max(0.25, this.pxPerBin * factor));
    if (!this.follow) this.viewRight = col + (heatW - aboutX) / this.pxPerBin;
  }

  pan(dx: number, dy: number): void {
    this.follow = false;
    this.viewRight -= dx / this.pxPerBin;
    this.centerTick += dy / this.pxPerTick;
    const latest = this.store.latestCol + 1;
    this.viewRight = Math.min(latest + 200, Math.max(this.store.oldestCol + 10, this.viewRight));
  }

  // ---- per-frame drawing ----------------------------------------------------------

  draw(ctx: CanvasRenderingContext2D, canvasW: number, canvasH: number): void {
    const heatW = this.heatWidth(canvasW);
    const heatH = this.heatHeight(canvasH);
    ctx.fillStyle = "#05060a";
    ctx.fillRect(0, 0, canvasW, canvasH);
    if (this.store.count === 0 || !Number.isFinite(this.centerTick)) return;

    ctx.save();
    ctx.beginPath();
    ctx.rect(0, 0, heatW, heatH);
    ctx.clip();
    this.blit(ctx, heatW, heatH);
    this.drawPriceLines(ctx, heatW, heatH);
    ctx.restore();

    this.drawProjection(ctx, heatW, heatH);
    this.drawPriceAxis(ctx, heatW, heatH, canvasW);
    this.drawTimeAxis(ctx, heatW, heatH);
    this.drawCrosshair(ctx, heatW, heatH);
  }

  private blit(ctx: CanvasRenderingContext2D, heatW: number, heatH: number): void {
    const cap = this.store.capacity;
    const left = this.viewRight - heatW / this.pxPerBin;
    let c = Math.max(Math.floor(left), this.store.oldestCol);
    const end = Math.min(Math.ceil(this.viewRight), this.store.latestCol + 1);
    // vertical source window, clipped to the offscreen
    const topTick = this.centerTick + heatH / 2 / this.pxPerTick + 0.5;
    let sy = this.anchorTick - topTick;
    let sh = heatH / this.pxPerTick;
    let dy = 0;
    if (sy < 0) {
      dy = -sy * this.pxPerTick;
      sh += sy;
      sy = 0;
    }
    if (sy + sh > OFFSCREEN_TICKS) sh = OFFSCREEN_TICKS - sy;
    if (sh <= 0) return;
    const dh = sh * this.pxPerTick;
    ctx.imageSmoothingEnabled = false;
    while (c < end) {
      const sx = this.store.slot(c);
      const n = Math.min(end - c, cap - sx);
      ctx.drawImage(this.offscreen, sx, sy, n, sh, this.xOfCol(c, heatW), dy, n * this.pxPerBin, dh);
      c += n;
    }
  }

  private strokeSeries(
    ctx: CanvasRenderingContext2D,
    heatW: number,
    heatH: number,
    tickAt: (col: number) => number,
    style: string,
    width: number,
  ): void {
    const left = Math.max(Math.floor(this.viewRight - heatW / this.pxPerBin), this.store.oldestCol);
    const end = Math.min(Math.ceil(this.viewRight), this.store.latestCol + 1);
    const step = Math.max(1, Math.floor(1 / this.pxPerBin));
    ctx.beginPath();
    let pen = false;
    for (let c = left; c < end; c += step) {
      const t = tickAt(c);
      if (!Number.isFinite(t)) {
        pen = false;
        continue;
      }
      const y = this.yOfTick(t, heatH);
      const x0 = this.xOfCol(c, heatW);
      if (pen) ctx.lineTo(x0, y);
      else ctx.moveTo(x0, y);
      ctx.lineTo(x0 + this.pxPerBin * step, y);
      pen = true;
    }
    ctx.strokeStyle = style;
    ctx.lineWidth = width;
    ctx.stroke();
  }

  private drawPriceLines(ctx: CanvasRenderingContext2D, heatW: number, heatH: number): void {
    const s = this.store;
    this.strokeSeries(ctx, heatW, heatH, (c) => s.bidTickAt(c), "rgba(60, 220, 120, 0.95)", 1.5);
    this.strokeSeries(ctx, heatW, heatH, (c) => s.askTickAt(c), "rgba(255, 80, 80, 0.95)", 1.5);
    ctx.setLineDash([4, 3]);
    this.strokeSeries(ctx, heatW, heatH, (c) => s.spotTickAt(c), "rgba(255, 255, 255, 0.8)", 1);
    ctx.setLineDash([]);
  }

  private drawProjection(ctx: CanvasRenderingContext2D, heatW: number, heatH: number): void {
    ctx.fillStyle = "#0b0d14";
    ctx.fillRect(heatW, 0, FUTURE_MARGIN_PX, heatH);
    ctx.strokeStyle = "#222836";
    ctx.beginPath();
    ctx.moveTo(heatW + 0.5, 0);
    ctx.lineTo(heatW + 0.5, heatH);
    ctx.stroke();
    const p = this.projection;
    const latest = this.store.latestCol;
    if (!p || latest < 0 || p.values.length === 0) return;
    const spot = this.store.spotTickAt(latest);
    if (!Number.isFinite(spot)) return;
    const y0 = Math.min(heatH - 4, Math.max(4, this.yOfTick(spot, heatH)));
    const maxH = Math.max(...p.horizons_ms);
    ctx.font = "10px ui-monospace, monospace";
    ctx.textBaseline = "middle";
    for (let i = 0; i < p.values.length; i++) {
      const v = p.values[i];
      if (v == null || !Number.isFinite(v)) continue;
      const x1 = heatW + 6 + (p.horizons_ms[i] / maxH) * (FUTURE_MARGIN_PX - 34);
      const y1 = Math.min(heatH - 4, Math.max(4, y0 - v * RAY_TICKS_PER_UNIT * this.pxPerTick));
      const color = v >= 0 ? "rgba(255, 150, 40, 0.9)" : "rgba(60, 170, 255, 0.9)";
      ctx.strokeStyle = color;
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      ctx.moveTo(heatW, y0);
      ctx.lineTo(x1, y1);
      ctx.stroke();
      ctx.fillStyle = color;
      ctx.beginPath();
      ctx.arc(x1, y1, 2.5, 0, Math.PI * 2);
      ctx.fill();
      ctx.fillText(`${p.horizons_ms[i]}`, x1 + 4, y1);
    }
  }

  private drawPriceAxis(ctx: CanvasRenderingContext2D, heatW: number, heatH: number, canvasW: number): void {
    const x0 = heatW + FUTURE_MARGIN_PX;
    ctx.fillStyle = "#0a0c12";
    ctx.fillRect(x0, 0, canvasW - x0, heatH);
    const steps = [1, 2, 4, 5, 10, 20, 40, 50, 100, 200, 400, 1000];
    const every = steps.find((s) => s * this.pxPerTick >= 18) ?? 1000;
    const top = this.tickAtY(0, heatH);
    const bottom = this.tickAtY(heatH, heatH);
    ctx.font = "10px ui-monospace, monospace";
    ctx.textBaseline = "middle";
    ctx.fillStyle = "#8a93a6";
    for (let t = Math.ceil(bottom / every) * every; t <= top; t += every) {
      const y = this.yOfTick(t, heatH);
      ctx.fillText(this.store.tickToDollars(t).toFixed(2), x0 + 6, y);
    }
    const latest = this.store.latestCol;
    const spot = this.store.spotTickAt(latest);
    if (Number.isFinite(spot)) {
      const y = this.yOfTick(spot, heatH);
      ctx.fillStyle = "#e8e8e8";
      ctx.fillRect(x0, y - 7, canvasW - x0, 14);
      ctx.fillStyle = "#000";
      ctx.fillText(this.store.tickToDollars(spot).toFixed(2), x0 + 6, y);
    }
  }

  private drawTimeAxis(ctx: CanvasRenderingContext2D, heatW: number, heatH: number): void {
    ctx.fillStyle = "#0a0c12";
    ctx.fillRect(0, heatH, heatW + FUTURE_MARGIN_PX, TIME_AXIS_PX);
    const steps = [10, 20, 50, 100, 200, 300, 600, 1200, 3000, 6000];
    const every = steps.find((s) => s * this.pxPerBin >= 90) ?? 6000;
    const left = Math.max(this.store.oldestCol, Math.floor(this.viewRight - heatW / this.pxPerBin));
    const end = Math.min(this.store.latestCol, Math.ceil(this.viewRight));
    ctx.font = "10px ui-monospace, monospace";
    ctx.textBaseline = "top";
    ctx.fillStyle = "#8a93a6";
    for (let c = Math.ceil(left / every) * every; c <= end; c += every) {
      const x = this.xOfCol(c, heatW);
      ctx.fillRect(x, heatH, 1, 4);
      ctx.fillText(formatEt(this.store.tsNsAt(c)), x + 2, heatH + 4);
    }
  }

  private drawCrosshair(ctx: CanvasRenderingContext2D, heatW: number, heatH: number): void {
    if (!this.mouse || this.mouse.x >= heatW || this.mouse.y >= heatH) return;
    ctx.strokeStyle = "rgba(255,255,255,0.35)";
    ctx.setLineDash([3, 3]);
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(this.mouse.x + 0.5, 0);
    ctx.lineTo(this.mouse.x + 0.5, heatH);
    ctx.moveTo(0, this.mouse.y + 0.5);
    ctx.lineTo(heatW, this.mouse.y + 0.5);
    ctx.stroke();
    ctx.setLineDash([]);
  }
}
