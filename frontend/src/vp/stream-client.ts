// WebSocket client of /v1/vacuum-pressure/stream: pairs each grid_update JSON with the
// binary Arrow frame that follows it, and reconnects with exponential backoff.
//
// No reconnect after the server said the stream ended, or refused the parameters
// (close 1008 / 4400: retrying the same URL cannot succeed).
import { decodeGridFrame, type GridFrame } from "./arrow-frame";
import { parseTextMessage, type GridUpdate, type RuntimeConfig, type StatusMessage } from "./protocol";

export type ConnectionState = "idle" | "connecting" | "open" | "reconnecting" | "ended" | "refused" | "closed";

export interface StreamHandlers {
  onConfig(config: RuntimeConfig): void;
  onBin(update: GridUpdate, frame: GridFrame): void;
  onStatus(status: StatusMessage): void;
  onState(state: ConnectionState, detail: string): void;
  onProtocolError(message: string): void;
}

const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 15_000;
const PERMANENT_CLOSE_CODES = new Set([1008, 4400, 4401, 4403, 4404]);

export function backoffDelayMs(attempt: number, random: () => number = Math.random): number {
  const raw = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** attempt);
  return Math.round(raw * (0.8 + 0.4 * random()));
}

export class StreamClient {
  state: ConnectionState = "idle";
  attempt = 0;
  reconnects = 0;
  lastClose: { code: number; reason: string } | null = null;
  orphanFrames = 0;
  private ws: WebSocket | null = null;
  private pending: GridUpdate | null = null;
  private timer: number | null = null;
  private ended = false;
  private stopped = false;

  constructor(
    readonly url: string,
    private readonly handlers: StreamHandlers,
  ) {}

  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) window.clearTimeout(this.timer);
    this.timer = null;
    this.ws?.close(1000, "client stopped");
    this.setState("closed", "stopped by user");
  }

  private setState(state: ConnectionState, detail: string): void {
    this.state = state;
    this.handlers.onState(state, detail);
  }

  private connect(): void {
    this.pending = null;
    this.setState(this.attempt === 0 ? "connecting" : "reconnecting", `connecting to ${this.url.replace(/token=[^&]*/, "token=…")}`);
    let ws: WebSocket;
    try {
      ws = new WebSocket(this.url);
    } catch (err) {
      this.handlers.onProtocolError(`cannot open WebSocket: ${String(err)}`);
      this.scheduleReconnect();
      return;
    }
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    ws.onopen = () => this.setState("open", "connected, waiting for runtime_config");
    ws.onmessage = (ev: MessageEvent) => this.onMessage(ev.data);
    ws.onclose = (ev: CloseEvent) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.lastClose = { code: ev.code, reason: ev.reason };
      if (this.stopped) return;
      if (PERMANENT_CLOSE_CODES.has(ev.code)) {
        this.setState("refused", `server refused the stream (${ev.code}): ${ev.reason || "no reason given"}`);
      } else if (this.ended) {
        this.setState("ended", "stream ended");
      } else {
        this.scheduleReconnect(`closed (${ev.code}${ev.reason ? `: ${ev.reason}` : ""})`);
      }
    };
  }

  private scheduleReconnect(why = "connection lost"): void {
    const delay = backoffDelayMs(this.attempt);
    this.attempt++;
    this.reconnects++;
    this.setState("reconnecting", `${why}; retry ${this.attempt} in ${(delay / 1000).toFixed(1)} s`);
    this.timer = window.setTimeout(() => {
      this.timer = null;
      if (!this.stopped) this.connect();
    }, delay);
  }

  private onMessage(data: unknown): void {
    if (typeof data === "string") {
      let msg;
      try {
        msg = parseTextMessage(data);
      } catch (err) {
        this.handlers.onProtocolError(`bad text frame: ${String(err)}`);
        return;
      }
      if (msg.type === "runtime_config") {
        this.attempt = 0; // a healthy connection resets the backoff
        this.handlers.onConfig(msg);
      } else if (msg.type === "grid_update") {
        if (this.pending) this.orphanFrames++; // header without its binary frame
        this.pending = msg;
      } else {
        if (msg.state === "ended") this.ended = true;
        this.handlers.onStatus(msg);
      }
      return;
    }
    if (data instanceof ArrayBuffer) {
      const update = this.pending;
      this.pending = null;
      if (!update) {
        this.orphanFrames++;
        return;
      }
      let frame: GridFrame;
      try {
        frame = decodeGridFrame(data);
      } catch (err) {
        this.handlers.onProtocolError(`bad Arrow frame for bin ${update.bin_seq}: ${String(err)}`);
        return;
      }
      this.handlers.onBin(update, frame);
    }
  }
}
