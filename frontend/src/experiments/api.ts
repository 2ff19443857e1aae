// Types and calls of the experiment REST API (services/gateway experiments_api.py).
import { fetchJson } from "../common/dom";

export const SORT_KEYS = ["tp_rate", "mean_pnl_ticks", "events_per_hour"] as const;
export type SortKey = (typeof SORT_KEYS)[number];

export interface RunRow {
  run_id: string;
  experiment_name: string;
  dataset_id: string;
  signal_name: string;
  threshold: number;
  tp_ticks: number;
  sl_ticks: number;
  cooldown_bins: number;
  scoring: Record<string, unknown>;
  signal_params: Record<string, unknown>;
  signal_weights: Record<string, unknown>;
  n_signals: number;
  tp_rate: number | null;
  sl_rate: number | null;
  timeout_rate: number | null;
  mean_pnl_ticks: number | null;
  events_per_hour: number | null;
}

export interface RunsResponse {
  runs: RunRow[];
  count: number;
  sort: SortKey;
}

export interface ThresholdMetrics {
  threshold: number;
  n_signals: number;
  n_tp: number;
  n_sl: number;
  n_timeout: number;
  tp_rate: number | null;
  sl_rate: number | null;
  timeout_rate: number | null;
  mean_pnl_ticks: number | null;
  events_per_hour: number | null;
  pnl_series: { bins: number[]; cum_pnl_ticks: (number | null)[] };
}

export interface RunDetail {
  run_id: string;
  experiment_name: string;
  dataset_id: string;
  pipeline_name: string;
  serving_name: string;
  signal_name: string;
  params: Record<string, unknown>;
  n_bins: number;
  eval_hours: number;
  thresholds: ThresholdMetrics[];
  serving: Record<string, unknown>;
  pipeline: Record<string, unknown>;
  capture: Record<string, unknown>;
  stream_url: string;
  stream: { url: string; promoted: boolean; serving: string | null; pipeline: string | null; can_stream: boolean };
}

export interface RunFilters {
  signal: string;
  dataset_id: string;
  min_signals: number;
  sort: SortKey;
  top_n: number;
}

export function fetchRuns(f: RunFilters): Promise<RunsResponse> {
  const q = new URLSearchParams();
  if (f.signal) q.set("signal", f.signal);
  if (f.dataset_id) q.set("dataset_id", f.dataset_id);
  q.set("sort", f.sort);
  q.set("min_signals", String(f.min_signals));
  q.set("top_n", String(f.top_n));
  return fetchJson<RunsResponse>(`./v1/experiments/runs?${q}`);
}

export function fetchDetail(runId: string): Promise<RunDetail> {
  return fetchJson<RunDetail>(`./v1/experiments/runs/${encodeURIComponent(runId)}/detail`);
}
