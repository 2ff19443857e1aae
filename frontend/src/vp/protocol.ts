// Messages of the gateway WebSocket protocol (docs/protocol.md, SPEC §8).
// Column and field names are the grid schema's (shared/src/spymaster_shared/grid_schema.py).

export interface ServingBlock {
  serving_name: string;
  version: string | number | null;
  scoring: Record<string, unknown>;
  signal_config: { name: string; params: Record<string, unknown>; weights?: Record<string, number> | null };
  projection: { horizons_ms: number[]; [key: string]: unknown };
  [key: string]: unknown;
}

export interface RuntimeConfig {
  type: "runtime_config";
  session_id: string;
  product_type: string;
  symbol: string;
  dt: string;
  start_time: string;
  end_time: string | null;
  tick_size: number;
  bucket_size_dollars: number;
  grid_radius_ticks: number;
  n_rows: number;
  cell_width_ms: number;
  speed: number;
  pipeline_name: string;
  pipeline: Record<string, unknown>;
  columns: string[];
  serving: ServingBlock | null;
  [key: string]: unknown;
}

export interface Projection {
  horizons_ms: number[];
  values: number[];
}

export interface GridUpdate {
  type: "grid_update";
  ts_ns: number;
  bin_seq: number;
  bin_start_ns: number;
  bin_end_ns: number;
  bin_event_count: number;
  event_id: number;
  mid_price: number;
  spot_ref_price_int: number;
  best_bid_price_int: number;
  best_ask_price_int: number;
  book_valid: boolean;
  signal_score: number | null;
  projection: Projection | null;
  score_ready: boolean;
}

export type StatusState = "starting" | "warmup" | "streaming" | "ended" | "error";

export interface StatusMessage {
  type: "status";
  state: StatusState;
  message?: string | null;
  progress?: number | null;
}

export type TextMessage = RuntimeConfig | GridUpdate | StatusMessage;

/** Prices on the wire are integers in 1e-9 dollar units. */
export const PRICE_SCALE = 1e-9;

/** Parse a text frame; throws with the offending type so the UI can say what was wrong. */
export function parseTextMessage(text: string): TextMessage {
  const msg = JSON.parse(text) as { type?: unknown };
  if (msg.type === "runtime_config" || msg.type === "grid_update" || msg.type === "status") {
    return msg as TextMessage;
  }
  throw new Error(`unknown message type ${JSON.stringify(msg.type)}`);
}
