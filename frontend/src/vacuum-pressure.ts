// vacuum-pressure.html: live heatmap of one session streamed by the gateway.
// Wiring only; drawing lives in vp/heatmap.ts, the protocol in vp/stream-client.ts.
import { escapeHtml, renderParams } from "./common/dom";
import type { GridFrame } from "./vp/arrow-frame";
import { BinStore } from "./vp/bin-store";
import type { ScaleSettings } from "./vp/color-scale";
import { drawDepthProfile } from "./vp/depth-profile";
import { Gauges, summarizeBin, type BinSummary } from "./vp/gauges";
import { HeatmapRenderer, formatEt } from "./vp/heatmap";
import { parsePageParams, streamUrl } from "./vp/params";
import { PRICE_SCALE, type GridUpdate, type RuntimeConfig, type StatusMessage } from "./vp/protocol";
import { StreamClient, type ConnectionState } from "./vp/stream-client";

/** Bins kept for the heatmap (at 100 ms bins: 4 minutes). */
const RING_CAPACITY = 2400;

/** Test and debugging hook: read by the browser tests (tests/frontend). */
interface VpDebug {
  binsReceived: number;
  framesDrawn: number;
  fps: number;
  binsPerSecond: number;
  lastBinSeq: number;
  connectionState: ConnectionState;
  connectionDetail: string;
  reconnects: number;
  streamState: string;
  servingName: string | null;
  pipelineName: string | null;
  column: string;
  fullRepaints: number;
  lastSignalScore: number | null;
  lastFlowNearSpot: number | null;
  orphanFrames: number;
  errors: string[];
  streamUrl: string;
}

declare global {
  interface Window {
    __vp: VpDebug;
  }
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

const params = parsePageParams(window.location.search);
const wsUrl = streamUrl(params.stream);

const debug: VpDebug = {
  binsReceived: 0,
  framesDrawn: 0,
  fps: 0,
  binsPerSecond: 0,
  lastBinSeq: -1,
  connectionState: "idle",
  connectionDetail: "",
  reconnects: 0,
  streamState: "",
  servingName: null,
  pipelineName: null,
  column: params.view.column,
  fullRepaints: 0,
  lastSignalScore: null,
  lastFlowNearSpot: null,
  orphanFrames: 0,
  errors: [],
  streamUrl: wsUrl.replace(/token=[^&]*/, "token=…"),
};
window.__vp = debug;

const heatCanvas = $<HTMLCanvasElement>("heatmap");
const depthCanvas = $<HTMLCanvasElement>("depth");
const tooltip = $<HTMLDivElement>("tooltip");
const columnSelect = $<HTMLSelectElement>("column-select");
const scaleSelect = $<HTMLSelectElement>("scale-select");
const gammaInput = $<HTMLInputElement>("gamma-input");
const clipInput = $<HTMLInputElement>("clip-input");
const pauseBtn = $<HTMLButtonElement>("pause-btn");
const followBtn = $<HTMLButtonElement>("follow-btn");
const gauges = new Gauges($("side"));

let config: RuntimeConfig | null = null;
let store: BinStore | null = null;
let view: HeatmapRenderer | null = null;
let lastUpdate: GridUpdate | null = null;
let lastSummary: BinSummary | null = null;
let settings: ScaleSettings = { mode: params.view.scale, gamma: params.view.gamma, clipPercentile: params.view.clip };

scaleSelect.value = settings.mode;
gammaInput.value = String(settings.gamma);
clipInput.value = String(settings.clipPercentile);

// ---- banner / status ---------------------------------------------------------------

function showBanner(text: string, kind: "warn" | "error"): void {
  const banner = $("banner");
  banner.hidden = false;
  banner.className = `banner ${kind}`;
  banner.textContent = text;
}

function recordError(message: string): void {
  debug.errors.push(message);
  if (debug.errors.length > 50) debug.errors.shift();
  showBanner(message, "error");
}

if (params.warnings.length) showBanner(params.warnings.join(" · "), "warn");

function onState(state: ConnectionState, detail: string): void {
  debug.connectionState = state;
  debug.connectionDetail = detail;
  const pill = $("conn-state");
  pill.dataset.state = state;
  pill.textContent = state;
  pill.title = detail;
  $("stream-status").textContent = detail;
  if (state === "refused") recordError(detail);
}

function onStatus(status: StatusMessage): void {
  debug.streamState = status.state;
  const progress = typeof status.progress === "number" ? ` ${(status.progress * 100).toFixed(0)}%` : "";
  $("stream-status").textContent = `${status.state}${progress}${status.message ? ` — ${status.message}` : ""}`;
  if (status.state === "error") recordError(`stream error: ${status.message ?? "unknown"}`);
}

// ---- runtime config ----------------------------------------------------------------

function onConfig(cfg: RuntimeConfig): void {
  const sameGeometry =
    config !== null &&
    store !== null &&
    cfg.session_id === config.session_id &&
    cfg.grid_radius_ticks === config.grid_radius_ticks &&
    cfg.bucket_size_dollars === config.bucket_size_dollars;
  config = cfg;
  debug.pipelineName = cfg.pipeline_name;
  debug.servingName = cfg.serving?.serving_name ?? null;
  if (!sameGeometry) resetStore(cfg);

  $("instrument").textContent = `${cfg.product_type} · ${cfg.symbol} · ${cfg.dt} ${cfg.start_time}${cfg.end_time ? `–${cfg.end_time}` : ""} · ${cfg.cell_width_ms} ms · ×${cfg.speed}`;
  const serving = cfg.serving;
  const label = $("serving-label");
  label.textContent = serving ? `serving ${serving.serving_name}${serving.version != null ? ` ${String(serving.version).startsWith("v") ? "" : "v"}${serving.version}` : ""}` : "no serving (features only)";
  label.classList.toggle("active", serving !== null);
  $("pipeline-name").textContent = cfg.pipeline_name;
  $("pipeline-params").innerHTML = renderParams(cfg.pipeline);
  $("serving-name").textContent = serving ? serving.serving_name : "none";
  $("serving-params").innerHTML = serving
    ? renderParams({ version: serving.version, scoring: serving.scoring, signal: serving.signal_config, projection: serving.projection })
    : `<p class="muted">No ServingSpec: flow_score / signal_score are not computed. Add <code>&amp;serving=&lt;name&gt;</code> to the URL.</p>`;
}

function resetStore(cfg: RuntimeConfig): void {
  const bucketInt = Math.round(cfg.bucket_size_dollars / PRICE_SCALE);
  const columns = cfg.columns?.length ? cfg.columns : [];
  store = new BinStore(RING_CAPACITY, cfg.grid_radius_ticks, bucketInt, columns);
  const preferred = store.columnNames.includes(params.view.column) ? params.view.column : store.columnNames[0] ?? "rest_depth";
  if (preferred !== params.view.column) showBanner(`column '${params.view.column}' is not in this stream; showing '${preferred}'`, "warn");
  const old = view;
  view = new HeatmapRenderer(store, preferred, settings);
  if (old) {
    view.pxPerBin = old.pxPerBin;
    view.pxPerTick = old.pxPerTick;
  } else {
    if (params.view.pxPerBin) view.pxPerBin = params.view.pxPerBin;
    view.pxPerTick = params.view.pxPerTick ?? Math.max(1, Math.min(12, Math.floor((heatCanvas.clientHeight - 20) / (store.nRows * 1.25))));
  }
  debug.column = preferred;
  columnSelect.innerHTML = store.columnNames.map((c) => `<option value="${c}">${c}</option>`).join("");
  columnSelect.value = preferred;
  updateLegend();
}

// ---- bins ---------------------------------------------------------------------------

const binTimes: number[] = [];

function onBin(update: GridUpdate, frame: GridFrame): void {
  if (!store || !view || !config) return;
  if (update.bin_seq <= debug.lastBinSeq && store.count > 0) {
    // the session restarted (e.g. a new replay after reconnect): start a fresh picture
    resetStore(config);
  }
  const col = store.push(update, frame);
  view.projection = update.projection;
  view.onBin(col);
  lastUpdate = update;
  lastSummary = summarizeBin(update, frame);
  gauges.update(update, lastSummary);
  debug.binsReceived++;
  debug.lastBinSeq = update.bin_seq;
  debug.lastSignalScore = lastSummary.signalScore;
  debug.lastFlowNearSpot = lastSummary.flowNearSpot;
  const now = performance.now();
  binTimes.push(now);
  while (binTimes.length && binTimes[0] < now - 1000) binTimes.shift();
}

function renderBinInfo(): void {
  const u = lastUpdate;
  if (!u || !store) return;
  const dollars = (p: number) => (p > 0 ? (p * PRICE_SCALE).toFixed(2) : "—");
  $("bin-info").innerHTML = [
    ["bin_seq", String(u.bin_seq)],
    ["time (ET)", formatEt(u.ts_ns, true)],
    ["mid", u.mid_price ? u.mid_price.toFixed(3) : "—"],
    ["spot", dollars(u.spot_ref_price_int)],
    ["bid / ask", `${dollars(u.best_bid_price_int)} / ${dollars(u.best_ask_price_int)}`],
    ["events", String(u.bin_event_count)],
    ["book", u.book_valid ? "valid" : "invalid"],
  ]
    .map(([k, v]) => `<span>${k}</span><span>${escapeHtml(v)}</span>`)
    .join("");
}

function renderStats(): void {
  $("stats").innerHTML = [
    ["bins", String(debug.binsReceived)],
    ["bins/s", debug.binsPerSecond.toFixed(1)],
    ["fps", debug.fps.toFixed(0)],
    ["reconnects", String(debug.reconnects)],
    ["view", view ? (view.paused ? "paused" : view.follow ? "following live" : "panned") : "—"],
  ]
    .map(([k, v]) => `<span>${k}</span><span>${v}</span>`)
    .join("");
}

// ---- controls ------------------------------------------------------------------------

function updateLegend(): void {
  const scale = view?.colorScale;
  const bar = document.querySelector<HTMLElement>("#legend .legend-bar")!;
  if (!scale) return;
  bar.style.background = scale.legendCss();
  $("legend-range").textContent = scale.categorical ? "codes" : scale.signed ? `±${scale.hi.toPrecision(3)}` : `0 … ${scale.hi.toPrecision(3)}`;
}

function applySettings(): void {
  const gamma = Number(gammaInput.value);
  const clip = Number(clipInput.value);
  settings = {
    mode: scaleSelect.value as ScaleSettings["mode"],
    gamma: Number.isFinite(gamma) && gamma > 0 ? gamma : settings.gamma,
    clipPercentile: Number.isFinite(clip) && clip >= 50 && clip <= 100 ? clip : settings.clipPercentile,
  };
  view?.setSettings(settings);
  updateLegend();
}

columnSelect.addEventListener("change", () => {
  if (!view) return;
  view.setColumn(columnSelect.value);
  debug.column = columnSelect.value;
  updateLegend();
});
scaleSelect.addEventListener("change", applySettings);
gammaInput.addEventListener("change", applySettings);
clipInput.addEventListener("change", applySettings);

function setPaused(paused: boolean): void {
  if (!view) return;
  view.paused = paused;
  pauseBtn.textContent = paused ? "Resume" : "Pause";
  pauseBtn.classList.toggle("active", paused);
  if (!paused) {
    view.follow = true;
    view.snapToLatest();
  }
}

pauseBtn.addEventListener("click", () => setPaused(!(view?.paused ?? false)));
followBtn.addEventListener("click", () => {
  if (!view) return;
  setPaused(false);
  view.follow = true;
  view.snapToLatest();
});

let drag: { x: number; y: number } | null = null;
heatCanvas.addEventListener("mousedown", (ev) => {
  drag = { x: ev.offsetX, y: ev.offsetY };
});
window.addEventListener("mouseup", () => {
  drag = null;
});
heatCanvas.addEventListener("mousemove", (ev) => {
  if (!view) return;
  view.mouse = { x: ev.offsetX, y: ev.offsetY };
  if (drag) {
    view.pan(ev.offsetX - drag.x, ev.offsetY - drag.y);
    drag = { x: ev.offsetX, y: ev.offsetY };
  }
});
heatCanvas.addEventListener("mouseleave", () => {
  if (view) view.mouse = null;
  tooltip.hidden = true;
});
heatCanvas.addEventListener(
  "wheel",
  (ev) => {
    if (!view) return;
    ev.preventDefault();
    const factor = ev.deltaY < 0 ? 1.15 : 1 / 1.15;
    if (ev.shiftKey || ev.ctrlKey) view.zoomTime(factor, ev.offsetX, view.heatWidth(heatCanvas.clientWidth));
    else view.zoomPrice(factor, ev.offsetY, view.heatHeight(heatCanvas.clientHeight));
  },
  { passive: false },
);
heatCanvas.addEventListener("dblclick", () => {
  if (!view || !store) return;
  view.pxPerBin = 2;
  view.pxPerTick = Math.max(1, Math.min(12, Math.floor((heatCanvas.clientHeight - 20) / (store.nRows * 1.25))));
  view.follow = true;
  view.snapToLatest();
});

// ---- tooltip --------------------------------------------------------------------------

const TOOLTIP_COLUMNS = ["rest_depth", "bid_depth", "ask_depth", "add_mass", "pull_mass", "fill_mass", "pressure_variant", "vacuum_variant", "composite", "flow_score", "flow_state_code", "state5_code"];

function fmt(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 1000 ? v.toFixed(0) : v.toPrecision(4);
}

let tooltipKey = "";
function updateTooltip(): void {
  if (!view || !store || !view.mouse) return;
  const heatW = view.heatWidth(heatCanvas.clientWidth);
  const heatH = view.heatHeight(heatCanvas.clientHeight);
  const cell = view.hoverCell(heatW, heatH);
  if (!cell) {
    tooltip.hidden = true;
    tooltipKey = "";
    return;
  }
  const key = `${cell.col}:${cell.tick}:${view.column}`;
  tooltip.hidden = false;
  const mx = view.mouse.x;
  tooltip.style.left = `${mx + 14 + 240 > heatW ? mx - 250 : mx + 14}px`;
  tooltip.style.top = `${Math.min(view.mouse.y + 14, heatH - 200)}px`;
  if (key === tooltipKey) return;
  tooltipKey = key;
  const h = store.header(cell.col)!;
  const inGrid = Math.abs(cell.k) <= store.radius;
  const rows: [string, string][] = [
    ["time", formatEt(h.tsNs, true)],
    ["bin_seq", String(h.binSeq)],
    ["price", store.tickToDollars(cell.tick).toFixed(2)],
    ["k", inGrid ? String(cell.k) : `${cell.k} (outside grid)`],
    [view.column, inGrid ? fmt(store.value(view.column, cell.col, cell.k)) : "—"],
  ];
  if (inGrid) {
    for (const c of TOOLTIP_COLUMNS) {
      if (c !== view.column && store.columnNames.includes(c)) rows.push([c, fmt(store.value(c, cell.col, cell.k))]);
    }
  }
  tooltip.innerHTML = rows.map(([k, v]) => `<span>${escapeHtml(k)}</span><span>${escapeHtml(v)}</span>`).join("");
}

// ---- frame loop -------------------------------------------------------------------------

const frameTimes: number[] = [];
let lastPanelUpdate = 0;

function sizeCanvas(canvas: HTMLCanvasElement): CanvasRenderingContext2D {
  const dpr = window.devicePixelRatio || 1;
  const w = Math.max(1, Math.floor(canvas.clientWidth * dpr));
  const h = Math.max(1, Math.floor(canvas.clientHeight * dpr));
  if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w;
    canvas.height = h;
  }
  const ctx = canvas.getContext("2d", { alpha: false })!;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return ctx;
}

function frame(now: number): void {
  const ctx = sizeCanvas(heatCanvas);
  const dctx = sizeCanvas(depthCanvas);
  if (view && store) {
    view.draw(ctx, heatCanvas.clientWidth, heatCanvas.clientHeight);
    drawDepthProfile(dctx, depthCanvas.clientWidth, depthCanvas.clientHeight, store, view);
    updateTooltip();
    debug.fullRepaints = view.fullRepaints;
  } else {
    ctx.fillStyle = "#05060a";
    ctx.fillRect(0, 0, heatCanvas.clientWidth, heatCanvas.clientHeight);
    ctx.fillStyle = "#8a93a6";
    ctx.font = "13px system-ui, sans-serif";
    ctx.fillText(`waiting for ${debug.streamUrl} — ${debug.connectionDetail}`, 16, 28);
  }
  debug.framesDrawn++;
  frameTimes.push(now);
  while (frameTimes.length && frameTimes[0] < now - 1000) frameTimes.shift();
  debug.fps = frameTimes.length;
  while (binTimes.length && binTimes[0] < now - 1000) binTimes.shift();
  debug.binsPerSecond = binTimes.length;
  if (now - lastPanelUpdate > 250) {
    lastPanelUpdate = now;
    renderBinInfo();
    renderStats();
    if (view && !view.colorScale?.categorical) updateLegend();
  }
  requestAnimationFrame(frame);
}

// ---- start -------------------------------------------------------------------------------

if (params.fatal) {
  recordError(params.fatal);
  onState("refused", params.fatal);
} else {
  const client = new StreamClient(wsUrl, {
    onConfig,
    onBin,
    onStatus,
    onState: (state, detail) => {
      debug.reconnects = client.reconnects;
      debug.orphanFrames = client.orphanFrames;
      onState(state, detail);
    },
    onProtocolError: recordError,
  });
  client.start();
}
requestAnimationFrame(frame);
