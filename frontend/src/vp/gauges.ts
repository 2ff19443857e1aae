// Score and signal gauges (DOM), updated once per bin from server-computed values:
// signal_score, mean flow_score near spot, flow/state5 counts, projection values.
import type { GridFrame } from "./arrow-frame";
import type { GridUpdate } from "./protocol";

/** Cells with |k| <= this count as "near spot" for the mean flow score. */
export const NEAR_SPOT_TICKS = 5;

export interface BinSummary {
  signalScore: number | null;
  flowNearSpot: number | null;
  flowCounts: { bull: number; neutral: number; bear: number } | null;
  state5Counts: Record<string, number>;
}

const STATE5_NAMES: Record<number, string> = {
  [-2]: "bear_vacuum",
  [-1]: "bear_pressure",
  0: "mixed",
  1: "bull_pressure",
  2: "bull_vacuum",
};

export function summarizeBin(update: GridUpdate, frame: GridFrame): BinSummary {
  const flow = frame.columns.get("flow_score");
  const flowState = frame.columns.get("flow_state_code");
  const state5 = frame.columns.get("state5_code");
  let sum = 0;
  let n = 0;
  let flowCounts: BinSummary["flowCounts"] = null;
  if (flow) {
    const counts = { bull: 0, neutral: 0, bear: 0 };
    let any = false;
    for (let i = 0; i < frame.nRows; i++) {
      const f = flow[i];
      if (Number.isNaN(f)) continue; // no serving, or not warmed up: state code is a sentinel
      any = true;
      if (Math.abs(frame.k[i]) <= NEAR_SPOT_TICKS) {
        sum += f;
        n++;
      }
      const code = flowState ? flowState[i] : 0;
      if (code > 0) counts.bull++;
      else if (code < 0) counts.bear++;
      else counts.neutral++;
    }
    if (any) flowCounts = counts;
  }
  const state5Counts: Record<string, number> = {};
  for (const name of Object.values(STATE5_NAMES)) state5Counts[name] = 0;
  if (state5) {
    for (let i = 0; i < frame.nRows; i++) {
      const name = STATE5_NAMES[state5[i]];
      if (name) state5Counts[name]++;
    }
  }
  const s = update.signal_score;
  return {
    signalScore: s === null || s === undefined || Number.isNaN(s) ? null : s,
    flowNearSpot: n > 0 ? sum / n : null,
    flowCounts,
    state5Counts,
  };
}

function setBar(root: HTMLElement, value: number | null, range = 1): void {
  const fill = root.querySelector<HTMLElement>(".gauge-fill")!;
  const text = root.querySelector<HTMLElement>(".gauge-value")!;
  if (value === null) {
    fill.style.width = "0";
    text.textContent = "—";
    root.dataset.value = "";
    return;
  }
  const t = Math.max(-1, Math.min(1, value / range));
  fill.style.left = t >= 0 ? "50%" : `${50 + t * 50}%`;
  fill.style.width = `${Math.abs(t) * 50}%`;
  fill.classList.toggle("neg", t < 0);
  text.textContent = value.toFixed(3);
  root.dataset.value = String(value);
}

export class Gauges {
  constructor(private readonly root: HTMLElement) {}

  private el(id: string): HTMLElement {
    return this.root.querySelector<HTMLElement>(`#${id}`)!;
  }

  update(update: GridUpdate, summary: BinSummary): void {
    setBar(this.el("gauge-signal"), summary.signalScore);
    setBar(this.el("gauge-flow"), summary.flowNearSpot);
    this.el("score-ready").textContent = update.score_ready ? "ready" : "warming up";
    this.el("score-ready").className = update.score_ready ? "pill ok" : "pill warn";

    const fc = summary.flowCounts;
    this.el("flow-counts").textContent = fc ? `▲ ${fc.bull}  ● ${fc.neutral}  ▼ ${fc.bear}` : "no serving scores";
    this.el("state5-counts").innerHTML = Object.entries(summary.state5Counts)
      .map(([name, c]) => `<span class="s5 ${name}" title="${name}">${c}</span>`)
      .join("");

    const p = update.projection;
    this.el("projection-values").textContent =
      p && p.values.length
        ? p.horizons_ms.map((h, i) => `${h}ms ${p.values[i] == null ? "—" : p.values[i].toFixed(3)}`).join("  ")
        : "—";
  }
}
