// Decode one binary WebSocket frame: an Arrow IPC stream holding one record batch of
// 2R+1 rows (one per price tick k), columns = grid_schema FRAME_SCHEMA.
import { tableFromIPC } from "apache-arrow";

export type NumericArray = Float64Array | Float32Array | Int32Array | Int16Array | Int8Array | Uint8Array;

export interface GridFrame {
  nRows: number;
  /** k of each row (ticks relative to spot), ascending. */
  k: Int32Array;
  /** Every column of the frame as numbers; int64 columns are converted from BigInt. */
  columns: Map<string, NumericArray>;
}

function toNumeric(values: unknown, nRows: number): NumericArray | null {
  if (
    values instanceof Float64Array ||
    values instanceof Float32Array ||
    values instanceof Int32Array ||
    values instanceof Int16Array ||
    values instanceof Int8Array ||
    values instanceof Uint8Array
  ) {
    return values;
  }
  if (values instanceof BigInt64Array || values instanceof BigUint64Array) {
    const out = new Float64Array(values.length);
    for (let i = 0; i < values.length; i++) out[i] = Number(values[i]);
    return out;
  }
  if (Array.isArray(values)) {
    // booleans or nullable columns come back as plain arrays
    const out = new Float64Array(nRows);
    for (let i = 0; i < nRows; i++) {
      const v = values[i] as unknown;
      out[i] = typeof v === "boolean" ? (v ? 1 : 0) : v == null ? NaN : Number(v);
    }
    return out;
  }
  return null;
}

export function decodeGridFrame(buffer: ArrayBuffer): GridFrame {
  const table = tableFromIPC(new Uint8Array(buffer));
  const nRows = table.numRows;
  const columns = new Map<string, NumericArray>();
  for (const field of table.schema.fields) {
    const vector = table.getChild(field.name);
    if (!vector) continue;
    const numeric = toNumeric(vector.toArray(), nRows);
    if (numeric) columns.set(field.name, numeric);
  }
  const kCol = columns.get("k");
  if (!kCol) throw new Error("grid frame has no 'k' column");
  const k = kCol instanceof Int32Array ? kCol : Int32Array.from(kCol);
  return { nRows, k, columns };
}
