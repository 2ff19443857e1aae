// Page URL parameters of vacuum-pressure.html.
//
// Stream parameters are forwarded verbatim to the WebSocket; view parameters stay in the
// page. Client-side scoring / projection is refused: the page renders server scores only.
import type { ScaleMode } from "./color-scale";

export const STREAM_PARAMS = ["product_type", "symbol", "dt", "start_time", "speed", "pipeline", "serving", "token"] as const;
export const VIEW_PARAMS = ["column", "scale", "gamma", "clip", "px_per_bin", "px_per_tick"] as const;
/** Accepted for compatibility with reference 002 links; the only allowed value is "backend". */
const COMPAT_PARAMS = ["projection_source"] as const;

export const STREAM_DEFAULTS: Record<string, string> = {
  product_type: "future_mbo",
  symbol: "MNQH6",
  dt: "2026-02-06",
  start_time: "09:25",
};

export interface ViewParams {
  column: string;
  scale: ScaleMode;
  gamma: number;
  clip: number;
  pxPerBin: number | null;
  pxPerTick: number | null;
}

export interface PageParams {
  stream: URLSearchParams;
  view: ViewParams;
  warnings: string[];
  /** Set when the page must not connect at all. */
  fatal: string | null;
}

function num(value: string | null, fallback: number, lo: number, hi: number, name: string, warnings: string[]): number {
  if (value === null || value === "") return fallback;
  const v = Number(value);
  if (!Number.isFinite(v) || v < lo || v > hi) {
    warnings.push(`ignored ${name}=${value} (expected a number in [${lo}, ${hi}])`);
    return fallback;
  }
  return v;
}

export function parsePageParams(search: string): PageParams {
  const q = new URLSearchParams(search);
  const warnings: string[] = [];
  let fatal: string | null = null;

  if (q.get("projection_source") && q.get("projection_source") !== "backend") {
    fatal = `projection_source=${q.get("projection_source")} is not supported: projections are computed by the server`;
  }
  if (q.has("dev_scoring")) {
    fatal = "dev_scoring is not supported: this page renders server-computed scores only";
  }
  const known = new Set<string>([...STREAM_PARAMS, ...VIEW_PARAMS, ...COMPAT_PARAMS]);
  for (const key of q.keys()) {
    if (!known.has(key) && key !== "dev_scoring") warnings.push(`unknown URL parameter '${key}' ignored`);
  }

  const stream = new URLSearchParams();
  for (const key of STREAM_PARAMS) {
    const v = q.get(key) ?? STREAM_DEFAULTS[key];
    if (v !== undefined && v !== "") stream.set(key, v);
  }

  const scaleRaw = q.get("scale") ?? "gamma";
  const scale: ScaleMode = scaleRaw === "log" || scaleRaw === "linear" || scaleRaw === "gamma" ? scaleRaw : "gamma";
  if (scale !== scaleRaw) warnings.push(`ignored scale=${scaleRaw} (gamma | log | linear)`);

  const view: ViewParams = {
    column: q.get("column") ?? "rest_depth",
    scale,
    gamma: num(q.get("gamma"), 0.5, 0.05, 5, "gamma", warnings),
    clip: num(q.get("clip"), 99, 50, 100, "clip", warnings),
    pxPerBin: q.has("px_per_bin") ? num(q.get("px_per_bin"), 2, 0.25, 20, "px_per_bin", warnings) : null,
    pxPerTick: q.has("px_per_tick") ? num(q.get("px_per_tick"), 4, 0.5, 40, "px_per_tick", warnings) : null,
  };
  return { stream, view, warnings, fatal };
}

/** ws(s)://<same host>/v1/vacuum-pressure/stream?<stream params> */
export function streamUrl(stream: URLSearchParams, loc: Location = window.location): string {
  const proto = loc.protocol === "https:" ? "wss:" : "ws:";
  return `${proto}//${loc.host}/v1/vacuum-pressure/stream?${stream.toString()}`;
}
