// Colour scales for the heatmap: value -> packed RGBA (little-endian ABGR in a Uint32).
//
// Unsigned columns (depth, masses) use a sequential palette on [0, hi]; signed columns
// (velocities, composite, scores) a diverging palette on [-m, +m], m = max(|lo|, |hi|).
// `hi`/`lo` come from percentile clipping of recent values. The transfer is linear, gamma
// (t^gamma) or log (log1p(t*K)/log1p(K)), applied to |t| and re-signed.

export type ScaleMode = "gamma" | "log" | "linear";

const LUT_SIZE = 256;

type Stop = [number, number, number, number]; // position, r, g, b

// Bookmap-like heat: black -> deep blue -> cyan -> yellow -> white.
const SEQUENTIAL: Stop[] = [
  [0.0, 0, 0, 0],
  [0.2, 10, 30, 110],
  [0.45, 0, 150, 200],
  [0.7, 240, 220, 40],
  [1.0, 255, 255, 255],
];
// Negative: cyan/blue (vacuum, bearish); positive: orange/red (pressure, bullish).
const DIVERGING_POS: Stop[] = [
  [0.0, 0, 0, 0],
  [0.35, 120, 40, 0],
  [0.7, 250, 130, 20],
  [1.0, 255, 240, 180],
];
const DIVERGING_NEG: Stop[] = [
  [0.0, 0, 0, 0],
  [0.35, 0, 50, 120],
  [0.7, 30, 150, 250],
  [1.0, 200, 240, 255],
];

const littleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

export function packRGBA(r: number, g: number, b: number, a = 255): number {
  return littleEndian
    ? ((a << 24) | (b << 16) | (g << 8) | r) >>> 0
    : ((r << 24) | (g << 16) | (b << 8) | a) >>> 0;
}

function buildLut(stops: Stop[]): Uint32Array {
  const lut = new Uint32Array(LUT_SIZE);
  for (let i = 0; i < LUT_SIZE; i++) {
    const t = i / (LUT_SIZE - 1);
    let j = 1;
    while (j < stops.length - 1 && stops[j][0] < t) j++;
    const [p0, r0, g0, b0] = stops[j - 1];
    const [p1, r1, g1, b1] = stops[j];
    const u = p1 > p0 ? Math.min(1, Math.max(0, (t - p0) / (p1 - p0))) : 0;
    lut[i] = packRGBA(
      Math.round(r0 + (r1 - r0) * u),
      Math.round(g0 + (g1 - g0) * u),
      Math.round(b0 + (b1 - b0) * u),
    );
  }
  return lut;
}

const LUT_SEQ = buildLut(SEQUENTIAL);
const LUT_POS = buildLut(DIVERGING_POS);
const LUT_NEG = buildLut(DIVERGING_NEG);

/** Colour of a NaN / missing cell (dark grey, so "no data" differs from "zero"). */
export const NAN_COLOR = packRGBA(18, 18, 22);
/** Colour of a cell that has no data at all (outside the grid). */
export const EMPTY_COLOR = packRGBA(0, 0, 0, 0);

// Discrete palettes for code columns.
const STATE5_COLORS: Record<number, number> = {
  [-2]: packRGBA(30, 120, 255), // bear_vacuum
  [-1]: packRGBA(20, 60, 140), // bear_pressure
  0: packRGBA(40, 40, 40), // mixed
  1: packRGBA(150, 70, 10), // bull_pressure
  2: packRGBA(255, 140, 20), // bull_vacuum
};

/** Columns whose values are codes, not magnitudes. */
export const CATEGORICAL_COLUMNS = new Set([
  "state5_code",
  "flow_state_code",
  "microstate_id",
  "ask_reprice_sign",
  "bid_reprice_sign",
  "chase_up_flag",
  "chase_down_flag",
]);

/** Columns that are signed by construction: always drawn with the diverging palette. */
export function isSignedColumn(name: string): boolean {
  return (
    /^(v|a|j)_/.test(name) ||
    name.startsWith("composite") ||
    name === "flow_score" ||
    name === "signal_score" ||
    name.endsWith("_move_ticks")
  );
}

export interface ScaleSettings {
  mode: ScaleMode;
  gamma: number;
  /** Upper clip percentile, e.g. 99 (lower is 100 - clip for signed columns). */
  clipPercentile: number;
}

export class ColorScale {
  readonly signed: boolean;
  readonly categorical: boolean;
  /** Upper bound of |value| (or of value when unsigned) mapped to the brightest colour. */
  readonly hi: number;
  private readonly transfer: (t: number) => number;

  constructor(
    readonly column: string,
    hi: number,
    readonly settings: ScaleSettings,
  ) {
    this.categorical = CATEGORICAL_COLUMNS.has(column);
    this.signed = isSignedColumn(column);
    this.hi = hi > 0 && Number.isFinite(hi) ? hi : 1;
    const gamma = settings.gamma > 0 ? settings.gamma : 1;
    const K = 50;
    const logNorm = Math.log1p(K);
    this.transfer =
      settings.mode === "log"
        ? (t) => Math.log1p(t * K) / logNorm
        : settings.mode === "gamma"
          ? (t) => Math.pow(t, gamma)
          : (t) => t;
  }

  color(v: number): number {
    if (Number.isNaN(v)) return NAN_COLOR;
    if (this.categorical) return this.codeColor(v);
    if (this.signed) {
      const t = Math.min(1, Math.abs(v) / this.hi);
      const idx = Math.round(this.transfer(t) * (LUT_SIZE - 1));
      return v >= 0 ? LUT_POS[idx] : LUT_NEG[idx];
    }
    const t = v <= 0 ? 0 : Math.min(1, v / this.hi);
    return LUT_SEQ[Math.round(this.transfer(t) * (LUT_SIZE - 1))];
  }

  private codeColor(v: number): number {
    if (this.column === "state5_code") return STATE5_COLORS[v] ?? NAN_COLOR;
    if (this.column === "flow_state_code") {
      return v > 0 ? STATE5_COLORS[2] : v < 0 ? STATE5_COLORS[-2] : STATE5_COLORS[0];
    }
    if (v === 0) return packRGBA(30, 30, 30);
    if (v < 0) return LUT_NEG[Math.min(255, 120 + Math.round(Math.abs(v) * 40))];
    return LUT_POS[Math.min(255, 120 + Math.round(v * 40))];
  }

  /** Same bounds, within tolerance: no need to repaint what is already drawn. */
  similarTo(other: ColorScale | null, tolerance = 0.25): boolean {
    if (!other || other.column !== this.column || other.settings !== this.settings) return false;
    return Math.abs(other.hi - this.hi) <= tolerance * Math.max(other.hi, this.hi);
  }

  /** CSS gradient of the palette, for the legend. */
  legendCss(): string {
    const stops = this.signed
      ? [...DIVERGING_NEG.slice().reverse().map(([p, r, g, b]) => [0.5 - p / 2, r, g, b]), ...DIVERGING_POS.map(([p, r, g, b]) => [0.5 + p / 2, r, g, b])]
      : SEQUENTIAL;
    return `linear-gradient(to right, ${stops.map(([p, r, g, b]) => `rgb(${r},${g},${b}) ${(p * 100).toFixed(0)}%`).join(", ")})`;
  }
}

/**
 * Upper clip bound from a sample of recent values: the `clip` percentile of the values
 * (unsigned) or of their magnitudes (signed). NaNs are ignored; returns 0 when empty.
 */
export function clipBound(sample: Float32Array, count: number, clip: number, signed: boolean): number {
  const vals = new Float32Array(count);
  let n = 0;
  for (let i = 0; i < count; i++) {
    const v = sample[i];
    if (Number.isNaN(v)) continue;
    const m = signed ? Math.abs(v) : v;
    if (m > 0) vals[n++] = m;
  }
  if (n === 0) return 0;
  const sorted = vals.subarray(0, n).sort();
  const idx = Math.min(n - 1, Math.max(0, Math.floor((clip / 100) * (n - 1))));
  return sorted[idx];
}
