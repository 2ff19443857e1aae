// A fixed-capacity ring of the most recent bins: header scalars plus the viewable grid
// columns (Float32, row-major per bin). Lets the heatmap repaint after a colour-scale or
// column change, and the tooltip read the values under the cursor.
//
// Bins are addressed by a local column index `col` (0 for the first bin since the last
// reset, +1 per bin); the ring slot is col % capacity.
import type { GridFrame } from "./arrow-frame";
import { PRICE_SCALE, type GridUpdate } from "./protocol";

/** Columns the user can pick for the heatmap (kept in the ring when present in frames). */
export const VIEWABLE_COLUMNS = [
  "rest_depth",
  "add_mass",
  "pull_mass",
  "fill_mass",
  "pressure_variant",
  "vacuum_variant",
  "composite",
  "composite_d1",
  "composite_d2",
  "composite_d3",
  "flow_score",
  "flow_state_code",
  "state5_code",
  "bid_depth",
  "ask_depth",
  "v_add",
  "v_pull",
  "v_fill",
  "v_rest_depth",
  "a_add",
  "a_pull",
  "j_add",
  "j_pull",
] as const;

export interface BinHeader {
  col: number;
  binSeq: number;
  tsNs: number;
  spotTick: number;
  bestBidTick: number; // NaN when there is no bid
  bestAskTick: number; // NaN when there is no ask
  midPrice: number;
  bookValid: boolean;
}

export class BinStore {
  readonly nRows: number;
  /** k of row r (ascending, -R..+R). */
  readonly k: Int32Array;
  readonly columnNames: string[];
  private readonly data = new Map<string, Float32Array>();
  private readonly binSeq: Float64Array;
  private readonly tsNs: Float64Array;
  private readonly spotTick: Float64Array;
  private readonly bidTick: Float64Array;
  private readonly askTick: Float64Array;
  private readonly mid: Float64Array;
  private readonly valid: Uint8Array;
  /** Number of bins ever stored since the last reset; the latest is col = count - 1. */
  count = 0;

  constructor(
    readonly capacity: number,
    readonly radius: number,
    readonly bucketPriceInt: number,
    available: Iterable<string>,
  ) {
    this.nRows = 2 * radius + 1;
    this.k = new Int32Array(this.nRows);
    for (let r = 0; r < this.nRows; r++) this.k[r] = r - radius;
    const have = new Set(available);
    this.columnNames = VIEWABLE_COLUMNS.filter((c) => have.has(c));
    for (const c of this.columnNames) this.data.set(c, new Float32Array(capacity * this.nRows).fill(NaN));
    this.binSeq = new Float64Array(capacity).fill(-1);
    this.tsNs = new Float64Array(capacity);
    this.spotTick = new Float64Array(capacity);
    this.bidTick = new Float64Array(capacity);
    this.askTick = new Float64Array(capacity);
    this.mid = new Float64Array(capacity);
    this.valid = new Uint8Array(capacity);
  }

  get latestCol(): number {
    return this.count - 1;
  }

  get oldestCol(): number {
    return Math.max(0, this.count - this.capacity);
  }

  has(col: number): boolean {
    return col >= this.oldestCol && col <= this.latestCol && Number.isInteger(col);
  }

  slot(col: number): number {
    return col % this.capacity;
  }

  priceToTick(priceInt: number): number {
    return priceInt > 0 ? Math.round(priceInt / this.bucketPriceInt) : NaN;
  }

  tickToDollars(tick: number): number {
    return tick * this.bucketPriceInt * PRICE_SCALE;
  }

  /** Store one bin; returns its col. Rows are matched by k, so frames may be any order. */
  push(update: GridUpdate, frame: GridFrame): number {
    const col = this.count;
    const s = this.slot(col);
    this.binSeq[s] = update.bin_seq;
    this.tsNs[s] = update.ts_ns;
    this.spotTick[s] = this.priceToTick(update.spot_ref_price_int);
    this.bidTick[s] = this.priceToTick(update.best_bid_price_int);
    this.askTick[s] = this.priceToTick(update.best_ask_price_int);
    this.mid[s] = update.mid_price;
    this.valid[s] = update.book_valid ? 1 : 0;
    const base = s * this.nRows;
    const R = this.radius;
    for (const name of this.columnNames) {
      const dst = this.data.get(name)!;
      dst.fill(NaN, base, base + this.nRows);
      const src = frame.columns.get(name);
      if (!src) continue;
      for (let i = 0; i < frame.nRows; i++) {
        const r = frame.k[i] + R;
        if (r >= 0 && r < this.nRows) dst[base + r] = src[i];
      }
    }
    this.count++;
    return col;
  }

  header(col: number): BinHeader | null {
    if (!this.has(col)) return null;
    const s = this.slot(col);
    return {
      col,
      binSeq: this.binSeq[s],
      tsNs: this.tsNs[s],
      spotTick: this.spotTick[s],
      bestBidTick: this.bidTick[s],
      bestAskTick: this.askTick[s],
      midPrice: this.mid[s],
      bookValid: this.valid[s] === 1,
    };
  }

  spotTickAt(col: number): number {
    return this.spotTick[this.slot(col)];
  }

  bidTickAt(col: number): number {
    return this.bidTick[this.slot(col)];
  }

  askTickAt(col: number): number {
    return this.askTick[this.slot(col)];
  }

  tsNsAt(col: number): number {
    return this.tsNs[this.slot(col)];
  }

  /** The nRows values of `column` for bin `col` (a view into the ring; do not keep). */
  values(column: string, col: number): Float32Array | null {
    const d = this.data.get(column);
    if (!d || !this.has(col)) return null;
    const base = this.slot(col) * this.nRows;
    return d.subarray(base, base + this.nRows);
  }

  value(column: string, col: number, k: number): number {
    const row = k + this.radius;
    if (row < 0 || row >= this.nRows) return NaN;
    const v = this.values(column, col);
    return v ? v[row] : NaN;
  }

  /** The last `bins` bins of `column` as one contiguous sample (for percentile clipping). */
  recentSample(column: string, bins: number): { sample: Float32Array; count: number } {
    const n = Math.min(bins, this.count, this.capacity);
    const sample = new Float32Array(n * this.nRows);
    let off = 0;
    for (let col = this.latestCol - n + 1; col <= this.latestCol; col++) {
      const v = this.values(column, col);
      if (v) {
        sample.set(v, off);
        off += v.length;
      }
    }
    return { sample, count: off };
  }
}
