// Small DOM helpers shared by both pages.

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

export function formatScalar(v: unknown): string {
  if (v === null || v === undefined) return "—";
  if (typeof v === "number") {
    if (!Number.isFinite(v)) return String(v);
    return Number.isInteger(v) ? String(v) : Math.abs(v) >= 1000 ? v.toFixed(1) : String(Number(v.toPrecision(6)));
  }
  if (Array.isArray(v) && v.every((x) => typeof x !== "object" || x === null)) return `[${v.map(formatScalar).join(", ")}]`;
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

/** A nested parameter mapping as a two-column definition table (nested keys dotted). */
export function renderParams(obj: Record<string, unknown> | null | undefined): string {
  if (!obj || Object.keys(obj).length === 0) return `<p class="muted">none</p>`;
  const rows: string[] = [];
  const walk = (prefix: string, value: unknown) => {
    if (value && typeof value === "object" && !Array.isArray(value)) {
      const entries = Object.entries(value as Record<string, unknown>);
      if (entries.length === 0) rows.push(row(prefix, "{}"));
      for (const [k, v] of entries) walk(prefix ? `${prefix}.${k}` : k, v);
    } else {
      rows.push(row(prefix, formatScalar(value)));
    }
  };
  const row = (k: string, v: string) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`;
  walk("", obj);
  return `<table class="params-table">${rows.join("")}</table>`;
}

/** The bearer token given in the page URL (?token=), if any. */
export function pageToken(): string | null {
  return new URLSearchParams(window.location.search).get("token");
}

/** fetch JSON from the gateway; errors carry the server's `detail` message. */
export async function fetchJson<T>(path: string): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  const token = pageToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(path, { headers });
  const text = await res.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = text;
  }
  if (!res.ok) {
    const detail = body && typeof body === "object" && "detail" in body ? (body as { detail: unknown }).detail : body;
    throw new Error(`${res.status} ${res.statusText}: ${typeof detail === "string" ? detail : JSON.stringify(detail)}`);
  }
  return body as T;
}
