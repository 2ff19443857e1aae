// experiments.html: run browser over the results store (REST), with a detail panel and a
// link that opens the heatmap streaming the run's capture/config.
import { escapeHtml, formatScalar, pageToken, renderParams } from "./common/dom";
import { SORT_KEYS, fetchDetail, fetchRuns, type RunDetail, type RunFilters, type RunRow, type SortKey } from "./experiments/api";
import { drawPnl } from "./experiments/pnl-plot";

interface ExpDebug {
  runsLoaded: number;
  detailRunId: string | null;
  errors: string[];
}
declare global {
  interface Window {
    __exp: ExpDebug;
  }
}
const debug: ExpDebug = { runsLoaded: 0, detailRunId: null, errors: [] };
window.__exp = debug;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const fSignal = $<HTMLInputElement>("f-signal");
const fDataset = $<HTMLInputElement>("f-dataset");
const fMin = $<HTMLInputElement>("f-min-signals");
const fSort = $<HTMLSelectElement>("f-sort");
const fTop = $<HTMLInputElement>("f-top-n");
const table = $<HTMLTableElement>("runs-table");
const detailEl = $<HTMLElement>("detail");

const COLUMNS: { key: keyof RunRow; label: string; left?: boolean; fmt?: (v: unknown) => string }[] = [
  { key: "run_id", label: "run", left: true },
  { key: "signal_name", label: "signal", left: true },
  { key: "dataset_id", label: "dataset", left: true },
  { key: "threshold", label: "thr" },
  { key: "tp_ticks", label: "tp" },
  { key: "sl_ticks", label: "sl" },
  { key: "cooldown_bins", label: "cooldown" },
  { key: "n_signals", label: "n_signals" },
  { key: "tp_rate", label: "tp_rate", fmt: pct },
  { key: "sl_rate", label: "sl_rate", fmt: pct },
  { key: "timeout_rate", label: "timeout", fmt: pct },
  { key: "mean_pnl_ticks", label: "mean_pnl_ticks", fmt: fixed(2) },
  { key: "events_per_hour", label: "events_per_hour", fmt: fixed(1) },
];

function pct(v: unknown): string {
  return typeof v === "number" ? `${(v * 100).toFixed(1)}%` : "—";
}
function fixed(d: number) {
  return (v: unknown) => (typeof v === "number" ? v.toFixed(d) : "—");
}

function showBanner(text: string | null): void {
  const b = $("banner");
  b.hidden = text === null;
  b.className = "banner error";
  b.textContent = text ?? "";
  if (text) debug.errors.push(text);
}

// ---- filters <-> URL ---------------------------------------------------------------------

function readFilters(): RunFilters {
  const sort = (SORT_KEYS as readonly string[]).includes(fSort.value) ? (fSort.value as SortKey) : "tp_rate";
  return {
    signal: fSignal.value.trim(),
    dataset_id: fDataset.value.trim(),
    min_signals: Math.max(0, Math.floor(Number(fMin.value) || 0)),
    sort,
    top_n: Math.min(1000, Math.max(1, Math.floor(Number(fTop.value) || 50))),
  };
}

function loadFiltersFromUrl(): string | null {
  const q = new URLSearchParams(window.location.search);
  fSignal.value = q.get("signal") ?? "";
  fDataset.value = q.get("dataset_id") ?? "";
  if (q.has("min_signals")) fMin.value = q.get("min_signals")!;
  if (q.has("sort")) fSort.value = q.get("sort")!;
  if (q.has("top_n")) fTop.value = q.get("top_n")!;
  return q.get("run");
}

function syncUrl(f: RunFilters, runId: string | null): void {
  const q = new URLSearchParams();
  if (f.signal) q.set("signal", f.signal);
  if (f.dataset_id) q.set("dataset_id", f.dataset_id);
  q.set("min_signals", String(f.min_signals));
  q.set("sort", f.sort);
  q.set("top_n", String(f.top_n));
  if (runId) q.set("run", runId);
  const token = pageToken();
  if (token) q.set("token", token);
  history.replaceState(null, "", `?${q}`);
}

// ---- runs table ----------------------------------------------------------------------------

let rows: RunRow[] = [];
let selected: { runId: string; threshold: number } | null = null;

function renderTable(sort: SortKey): void {
  const thead = table.tHead!;
  thead.innerHTML = `<tr>${COLUMNS.map((c) => {
    const sortable = (SORT_KEYS as readonly string[]).includes(c.key);
    const cls = [c.left ? "left" : "", sortable ? "sortable" : "", c.key === sort ? "sorted" : ""].join(" ");
    return `<th class="${cls}" data-key="${c.key}">${escapeHtml(c.label)}${c.key === sort ? " ▼" : ""}</th>`;
  }).join("")}</tr>`;
  const tbody = table.tBodies[0];
  tbody.innerHTML = rows
    .map((r, i) => {
      const sel = selected && selected.runId === r.run_id && selected.threshold === r.threshold ? "selected" : "";
      const cells = COLUMNS.map((c) => {
        const v = r[c.key];
        return `<td class="${c.left ? "left" : ""}">${escapeHtml(c.fmt ? c.fmt(v) : formatScalar(v))}</td>`;
      }).join("");
      return `<tr class="${sel}" data-index="${i}" data-run-id="${escapeHtml(r.run_id)}">${cells}</tr>`;
    })
    .join("");
  $("runs-empty").hidden = rows.length > 0;
}

async function loadRuns(): Promise<void> {
  const f = readFilters();
  syncUrl(f, selected?.runId ?? null);
  $("load-state").textContent = "loading…";
  try {
    const res = await fetchRuns(f);
    rows = res.runs;
    debug.runsLoaded = rows.length;
    showBanner(null);
    $("load-state").textContent = `${res.count} rows, sorted by ${res.sort}`;
    renderTable(f.sort);
  } catch (err) {
    rows = [];
    renderTable(f.sort);
    $("load-state").textContent = "";
    showBanner(`cannot load runs: ${(err as Error).message}`);
  }
}

table.tHead!.addEventListener("click", (ev) => {
  const key = (ev.target as HTMLElement).closest("th")?.dataset.key;
  if (key && (SORT_KEYS as readonly string[]).includes(key)) {
    fSort.value = key;
    void loadRuns();
  }
});
table.tBodies[0].addEventListener("click", (ev) => {
  const tr = (ev.target as HTMLElement).closest("tr");
  if (!tr?.dataset.index) return;
  const r = rows[Number(tr.dataset.index)];
  selected = { runId: r.run_id, threshold: r.threshold };
  renderTable(readFilters().sort);
  syncUrl(readFilters(), r.run_id);
  void loadDetail(r.run_id, r.threshold);
});
$("filters").addEventListener("submit", (ev) => {
  ev.preventDefault();
  void loadRuns();
});
fSort.addEventListener("change", () => void loadRuns());

// ---- detail panel ----------------------------------------------------------------------------

function withToken(url: string): string {
  const token = pageToken();
  if (!token) return url;
  return `${url}${url.includes("?") ? "&" : "?"}token=${encodeURIComponent(token)}`;
}

function metricsTable(d: RunDetail): string {
  const cols = ["threshold", "n_signals", "n_tp", "n_sl", "n_timeout", "tp_rate", "sl_rate", "timeout_rate", "mean_pnl_ticks", "events_per_hour"] as const;
  const head = cols.map((c) => `<th>${c}</th>`).join("");
  const body = d.thresholds
    .map((t) => {
      const cells = cols.map((c) => {
        const v = t[c];
        const s = c.endsWith("_rate") ? pct(v) : c === "mean_pnl_ticks" ? fixed(2)(v) : c === "events_per_hour" ? fixed(1)(v) : formatScalar(v);
        return `<td>${escapeHtml(s)}</td>`;
      });
      return `<tr>${cells.join("")}</tr>`;
    })
    .join("");
  return `<table class="runs" id="metrics-table"><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}

async function loadDetail(runId: string, threshold: number | null): Promise<void> {
  detailEl.innerHTML = `<div class="empty">loading ${escapeHtml(runId)}…</div>`;
  let d: RunDetail;
  try {
    d = await fetchDetail(runId);
  } catch (err) {
    detailEl.innerHTML = `<div class="empty">cannot load ${escapeHtml(runId)}: ${escapeHtml((err as Error).message)}</div>`;
    debug.errors.push((err as Error).message);
    return;
  }
  const streamNote = d.stream.promoted
    ? `promoted as serving <code>${escapeHtml(d.stream.serving ?? "")}</code>`
    : `not promoted: streams pipeline <code>${escapeHtml(d.stream.pipeline ?? "")}</code> (features only); promote with <code>harness promote … --run-id ${escapeHtml(d.run_id)}</code>`;
  detailEl.innerHTML = `
    <h2 id="detail-run-id">${escapeHtml(d.run_id)}</h2>
    <div class="muted">${escapeHtml(d.experiment_name)} · signal <b>${escapeHtml(d.signal_name)}</b> · dataset <code>${escapeHtml(d.dataset_id)}</code>
      · pipeline <code>${escapeHtml(d.pipeline_name)}</code> · serving <code>${escapeHtml(d.serving_name)}</code>
      · ${formatScalar(d.n_bins)} bins · ${formatScalar(d.eval_hours)} h</div>
    ${d.stream.can_stream ? `<a class="stream-link" id="stream-link" href="${escapeHtml(withToken(d.stream_url))}" target="_blank" rel="noopener">▶ Open heatmap for this run</a>` : `<p class="muted">capture window incomplete: cannot stream</p>`}
    <div class="muted" style="font-size:11px">${streamNote}</div>
    <h3>Cumulative PnL (ticks)</h3>
    <canvas id="pnl-canvas"></canvas>
    <h3>Metrics per threshold</h3>
    <div style="overflow-x:auto">${metricsTable(d)}</div>
    <h3>Parameters</h3>
    ${renderParams(d.params)}
    <h3>Capture</h3>
    ${renderParams(d.capture)}
    <h3>Serving spec</h3>
    ${renderParams(d.serving)}
    <h3>Pipeline spec</h3>
    ${renderParams(d.pipeline)}`;
  debug.detailRunId = d.run_id;
  drawPnl($<HTMLCanvasElement>("pnl-canvas"), d.thresholds, threshold);
}

// ---- start --------------------------------------------------------------------------------------

const initialRun = loadFiltersFromUrl();
void loadRuns().then(() => {
  if (initialRun) {
    const r = rows.find((x) => x.run_id === initialRun);
    selected = r ? { runId: r.run_id, threshold: r.threshold } : null;
    renderTable(readFilters().sort);
    void loadDetail(initialRun, r?.threshold ?? null);
  }
});
