import { createSecretKey } from "node:crypto";
import jwt from "jsonwebtoken";
import WebSocket from "ws";

/**
 * The load client: one Engine.IO v4 / Socket.IO v5 connection over raw `ws` (no socket.io-client), doing
 * as little per frame as it can so one client CPU can drive a server CPU. Engine.IO packets: 0 open,
 * 1 close, 2 ping, 3 pong, 4 message; Socket.IO packets inside a message: 0 CONNECT, 2 EVENT, 3 ACK,
 * 4 CONNECT_ERROR. Frames are handled as Buffers; only ack ids and the bench marker in a message's
 * `content` are parsed, never the whole JSON.
 */

/** Milliseconds on this process's monotonic clock (what the content marker carries). */
export const now = (): number => performance.now();

const OPEN = 0x30; // '0'
const PING = 0x32; // '2'
const MESSAGE = 0x34; // '4'
const SIO_CONNECT = 0x30;
const SIO_EVENT = 0x32;
const SIO_ACK = 0x33;
const SIO_CONNECT_ERROR = 0x34;

/** Called with a received EVENT frame (`42[...]`) and the time it was read. */
export type EventHandler = (frame: Buffer, at: number) => void;
/** Called with a received ACK frame (`43<id>[...]`) and the time it was read. */
export type AckHandler = (frame: Buffer, at: number) => void;

/** How a connection attempt went. */
export interface ConnectOutcome {
  conn?: RawConn;
  error?: string;
  /** From opening the TCP connection to CONNECT acknowledged (and `session` received when expected). */
  ms: number;
}

/** One raw connection. */
export class RawConn {
  onEvent: EventHandler | undefined;
  private readonly acks = new Map<number, AckHandler>();
  private nextAck = 1;
  closed = false;

  constructor(
    readonly ws: WebSocket,
    readonly user: string,
  ) {}

  /** Sends `42<ackId>["event",payload]`; `onAck` gets the ACK frame. */
  emit(event: string, payload: unknown, onAck?: AckHandler): void {
    if (onAck) {
      const id = this.nextAck++;
      this.acks.set(id, onAck);
      this.ws.send(`42${id}${JSON.stringify([event, payload])}`);
    } else {
      this.ws.send(`42${JSON.stringify([event, payload])}`);
    }
  }

  /** Sends an event and resolves with the parsed ack (for setup and correctness, not hot paths). */
  request<T = unknown>(event: string, payload: unknown, timeoutMs = 10_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${event}: no ack in ${timeoutMs} ms`)), timeoutMs);
      this.emit(event, payload, (frame) => {
        clearTimeout(timer);
        resolve(parseAck<T>(frame));
      });
    });
  }

  /** Pending acks (requests sent, not yet answered). */
  get pendingAcks(): number {
    return this.acks.size;
  }

  handle(frame: Buffer, at: number): void {
    const type = frame[0];
    if (type === MESSAGE) {
      const kind = frame[1];
      if (kind === SIO_EVENT) {
        this.onEvent?.(frame, at);
      } else if (kind === SIO_ACK) {
        let id = 0;
        for (let index = 2; index < frame.length; index++) {
          const digit = frame[index]! - 48;
          if (digit < 0 || digit > 9) break;
          id = id * 10 + digit;
        }
        const handler = this.acks.get(id);
        if (handler) {
          this.acks.delete(id);
          handler(frame, at);
        }
      }
    } else if (type === PING && frame.length === 1) {
      this.ws.send("3");
    }
  }

  close(): void {
    this.closed = true;
    this.ws.terminate();
  }
}

/** The `[data]` of an ACK frame, parsed. */
export function parseAck<T>(frame: Buffer): T {
  const text = frame.toString();
  const start = text.indexOf("[");
  return (JSON.parse(text.slice(start)) as [T])[0];
}

/** The payload of an EVENT frame, parsed: `[event, ...args]`. */
export function parseEvent(frame: Buffer): unknown[] {
  return JSON.parse(frame.toString().slice(2)) as unknown[];
}

const OK_PREFIX = Buffer.from('[{"ok":true');

/** True when an ACK frame answers `{ ok: true, ... }` (the contract's success shape, `ok` first). */
export function ackOk(frame: Buffer): boolean {
  const start = frame.indexOf(0x5b); // '['
  return start > 0 && frame.compare(OK_PREFIX, 0, OK_PREFIX.length, start, start + OK_PREFIX.length) === 0;
}

/** Options of one connection. */
export interface ConnectOptions {
  /** `http://127.0.0.1:port` */
  url: string;
  user: string;
  /** The CONNECT `auth`: the chat reads `token`; the baselines read `user` and `rooms`. */
  auth: Record<string, unknown>;
  /** Wait for the chat's `session` event after CONNECT. */
  expectSession: boolean;
  timeoutMs?: number;
}

/** Opens one connection: WebSocket, Engine.IO open, Socket.IO CONNECT (and `session`). Never rejects. */
export function connect(options: ConnectOptions): Promise<ConnectOutcome> {
  const started = now();
  return new Promise((resolve) => {
    const ws = new WebSocket(`${options.url.replace(/^http/, "ws")}/socket.io/?EIO=4&transport=websocket`, {
      perMessageDeflate: false,
      skipUTF8Validation: true,
      maxPayload: 64 * 1024 * 1024,
    });
    const conn = new RawConn(ws, options.user);
    let stage: "open" | "connect" | "session" | "done" = "open";
    const finish = (error?: string) => {
      if (stage === "done") return;
      stage = "done";
      clearTimeout(timer);
      if (error !== undefined) {
        ws.terminate();
        resolve({ error, ms: now() - started });
      } else {
        resolve({ conn, ms: now() - started });
      }
    };
    const timer = setTimeout(() => finish(`timeout in stage ${stage}`), options.timeoutMs ?? 30_000);
    ws.on("message", (data: Buffer) => {
      if (stage === "done") {
        conn.handle(data, now());
        return;
      }
      if (stage === "open") {
        if (data[0] !== OPEN) return finish(`expected open packet, got ${data.toString().slice(0, 80)}`);
        stage = "connect";
        ws.send(`40${JSON.stringify(options.auth)}`);
      } else if (stage === "connect") {
        if (data[0] === PING) return conn.handle(data, now());
        if (data[0] === MESSAGE && data[1] === SIO_CONNECT) {
          if (options.expectSession) stage = "session";
          else finish();
        } else if (data[0] === MESSAGE && data[1] === SIO_CONNECT_ERROR) {
          finish(`connect_error ${data.toString().slice(2, 200)}`);
        } else {
          finish(`unexpected frame ${data.toString().slice(0, 80)}`);
        }
      } else if (stage === "session") {
        if (data[0] === MESSAGE && data[1] === SIO_EVENT && data.includes('"session"')) finish();
        else conn.handle(data, now());
      }
    });
    ws.on("error", (error) => finish(`error ${error.message}`));
    ws.on("close", () => {
      conn.closed = true;
      if (stage !== "done") finish("closed during handshake");
    });
  });
}

/** Result of connecting many. */
export interface ConnectManyResult {
  conns: RawConn[];
  /** Handshake times (ms) of the successful ones, in completion order. */
  times: number[];
  failures: number;
  firstError?: string;
  wallMs: number;
}

/**
 * Connects every spec with at most `concurrency` handshakes in flight. `conns[i]` answers `specs[i]`
 * (undefined when that one failed).
 */
export async function connectMany(
  specs: ConnectOptions[],
  concurrency: number,
): Promise<ConnectManyResult & { byIndex: (RawConn | undefined)[] }> {
  const byIndex: (RawConn | undefined)[] = new Array(specs.length);
  const times: number[] = [];
  let failures = 0;
  let firstError: string | undefined;
  let next = 0;
  const started = now();
  const worker = async () => {
    while (next < specs.length) {
      const index = next++;
      const outcome = await connect(specs[index]!);
      if (outcome.conn) {
        byIndex[index] = outcome.conn;
        times.push(outcome.ms);
      } else {
        failures += 1;
        firstError ??= outcome.error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, specs.length) }, worker));
  return {
    conns: byIndex.filter((conn): conn is RawConn => conn !== undefined),
    byIndex,
    times,
    failures,
    firstError,
    wallMs: now() - started,
  };
}

/** Closes connections and gives the sockets a moment to go. */
export async function closeAll(conns: Iterable<RawConn | undefined>): Promise<void> {
  for (const conn of conns) conn?.close();
  await new Promise((resolve) => setTimeout(resolve, 200));
}

/** Shared secret of every bench server (≥ 32 bytes, never used outside loopback benchmarks). */
export const BENCH_SECRET = "bench-secret-of-at-least-32-bytes-for-loopback-only";
const key = createSecretKey(Buffer.from(BENCH_SECRET, "utf8"));
const tokens = new Map<string, string>();

/** A JWT for `user` signed with the bench secret (cached: signing is client work, not server work). */
export function tokenFor(user: string): string {
  let token = tokens.get(user);
  if (token === undefined) {
    token = jwt.sign({}, key, { algorithm: "HS256", subject: user, expiresIn: "12h" });
    tokens.set(user, token);
  }
  return token;
}

/** The connect spec of a bench user on any of the three servers (same frame for all). */
export function specFor(url: string, user: string, rooms: string[], expectSession: boolean): ConnectOptions {
  return { url, user, auth: { token: tokenFor(user), user, rooms }, expectSession };
}

// --- the bench marker carried in message content ---------------------------------------------------

const MARKER = Buffer.from('"content":"~');
const FILLER =
  "The quick brown fox jumps over the lazy dog while the bench counts every frame it sees, twice over, in order.";

/**
 * A ~`size`-byte text whose head carries the message's bench sequence number and its (scheduled) send
 * time in µs: `~<seq>~<µs>~ filler`. Receivers read both back without parsing the JSON.
 */
export function markedContent(seq: number, sentAt: number, size = 140): string {
  const head = `~${seq}~${Math.round(sentAt * 1000)}~ `;
  return head + FILLER.repeat(2).slice(0, Math.max(1, size - head.length));
}

/** Reads the marker of a `message` EVENT frame: `[seq, sentAtMs]`, or undefined for other frames. */
export function readMarker(frame: Buffer): [number, number] | undefined {
  const start = frame.indexOf(MARKER);
  if (start < 0) return undefined;
  let index = start + MARKER.length;
  let seq = 0;
  for (let c = frame[index]!; c !== 0x7e; c = frame[++index]!) seq = seq * 10 + (c - 48);
  let us = 0;
  for (let c = frame[++index]!; c !== 0x7e; c = frame[++index]!) us = us * 10 + (c - 48);
  return [seq, us / 1000];
}
