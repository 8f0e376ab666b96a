import { ackOk, markedContent, now, readMarker, type RawConn } from "./client.js";
import type { ServerProcess } from "./proc.js";
import { Histogram, round } from "./stats.js";

/** CPU seconds so far of processes, by pid (a process may come or go between two readings). */
export type CpuSnapshot = Map<number, number>;

/**
 * What a measured span reads CPU time from: the server under test (one process, or several summed), and
 * optionally processes beside it (a database, Redis) whose CPU is reported but not in the per-CPU-second
 * rates. `ServerProcess` is one.
 */
export interface CpuMeter {
  /** CPU seconds of the server so far (every process of it, summed). */
  cpu(): number;
  /** CPU so far of the processes beside the server, per name (e.g. `redis`, `postgres`). */
  beside?(): Record<string, CpuSnapshot>;
  /** Other counts of the server so far, per name (e.g. `writes`: its write system calls). */
  counters?(): Record<string, number>;
}

/**
 * CPU used between two snapshots: a process in both counts its difference, one that appeared counts all
 * of its time (it started in between), one that vanished counts nothing (its last time is unknown).
 */
export function cpuBetween(before: CpuSnapshot | undefined, after: CpuSnapshot): number {
  let seconds = 0;
  for (const [pid, cpu] of after) seconds += cpu - (before?.get(pid) ?? 0);
  return seconds;
}

/** One sending client and where its messages go. */
export interface Sender {
  conn: RawConn;
  messageType: "group" | "single";
  /** Room id (group) or user id (single). */
  to: string;
  /** Deliveries each message makes (sockets that must receive it). */
  expected: number;
}

/** What the measured windows of one server in one run saw. Latencies in ms; rates per second. */
export interface WindowResult {
  [key: string]: number;
  /** Acked messages per server-CPU-second. */
  ackedPerCpuS: number;
  /** Deliveries per server-CPU-second. */
  deliveriesPerCpuS: number;
  ackedPerS: number;
  deliveriesPerS: number;
  /** Server CPU seconds per wall second (1 = the server's CPU was saturated). */
  serverCpuUtil: number;
  ackP50: number;
  ackP99: number;
  ackMax: number;
  deliveryP50: number;
  deliveryP99: number;
  deliveryMax: number;
  /** Requests the server refused plus messages still incomplete after a window drained (must be 0). */
  errors: number;
}

let nextSeq = 1;

interface Flight {
  left: number;
  sender: number;
  sentAt: number;
}

/**
 * Bookkeeping of one server's measured windows in one run: flights by sequence number, latency
 * histograms, counters, and the CPU and wall time of the measured spans. Several windows (slices
 * interleaved with other servers) add up in one tally.
 */
export class Tally {
  readonly flights = new Map<number, Flight>();
  readonly ack = new Histogram();
  readonly delivery = new Histogram();
  onComplete: (flight: Flight) => void = () => undefined;
  measuring = false;
  acked = 0;
  deliveries = 0;
  errors = 0;
  cpuS = 0;
  wallS = 0;
  /** CPU seconds of the processes beside the server (`CpuMeter.beside`) over the measured spans, per name. */
  readonly besideS: Record<string, number> = {};
  /** Growth of the server's counters (`CpuMeter.counters`) over the measured spans, per name. */
  readonly counted: Record<string, number> = {};

  send(senders: Sender[], index: number, sentAt: number): void {
    const sender = senders[index]!;
    const seq = nextSeq++;
    const flight: Flight = { left: sender.expected + 1, sender: index, sentAt };
    this.flights.set(seq, flight);
    const payload = {
      messageType: sender.messageType,
      mediaType: "text",
      to: sender.to,
      content: markedContent(seq, sentAt),
    };
    sender.conn.emit("message:send", payload, (frame, at) => {
      if (!ackOk(frame)) {
        this.errors += 1;
        if (this.errors === 1) process.stderr.write(`  ! refused: ${frame.toString().slice(0, 200)}\n`);
        flight.left = 1;
      } else if (this.measuring) {
        this.acked += 1;
        this.ack.record(at - sentAt);
      }
      this.settle(seq, flight);
    });
  }

  /** The `onEvent` of every receiving connection. */
  readonly receive = (frame: Buffer, at: number): void => {
    const marker = readMarker(frame);
    if (!marker) return;
    const flight = this.flights.get(marker[0]);
    if (!flight) return;
    if (this.measuring) {
      this.deliveries += 1;
      this.delivery.record(at - marker[1]);
    }
    this.settle(marker[0], flight);
  };

  private settle(seq: number, flight: Flight): void {
    flight.left -= 1;
    if (flight.left > 0) return;
    this.flights.delete(seq);
    this.onComplete(flight);
  }

  /** Forgets flights that never completed, counting them as errors. */
  dropIncomplete(): void {
    this.errors += this.flights.size;
    this.flights.clear();
  }

  result(): WindowResult {
    const ack = this.ack.summary();
    const delivery = this.delivery.summary();
    return {
      ackedPerCpuS: round(this.acked / this.cpuS, 0),
      deliveriesPerCpuS: round(this.deliveries / this.cpuS, 0),
      ackedPerS: round(this.acked / this.wallS, 0),
      deliveriesPerS: round(this.deliveries / this.wallS, 0),
      serverCpuUtil: round(this.cpuS / this.wallS, 3),
      ackP50: ack.p50,
      ackP99: ack.p99,
      ackMax: ack.max,
      deliveryP50: delivery.p50,
      deliveryP99: delivery.p99,
      deliveryMax: delivery.max,
      errors: this.errors,
      // Processes beside the server: CPU use in cores over the measured spans (`<name>CpuUtil`).
      ...Object.fromEntries(
        Object.entries(this.besideS).map(([name, seconds]) => [`${name}CpuUtil`, round(seconds / this.wallS, 3)]),
      ),
      // The server's counters per wall second (`<name>PerS`).
      ...Object.fromEntries(Object.entries(this.counted).map(([name, n]) => [`${name}PerS`, round(n / this.wallS, 2)])),
    };
  }
}

/** Window timing: unmeasured warm-up, then the measured span. */
export interface WindowTiming {
  warmMs: number;
  measureMs: number;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function waitFor(predicate: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) return false;
    await sleep(5);
  }
  return true;
}

/**
 * Runs the measured span: CPU time of the server (and of the processes beside it) and wall time around
 * exactly that span.
 */
async function measured(server: CpuMeter, tally: Tally, timing: WindowTiming, during?: () => Promise<void>) {
  await sleep(timing.warmMs);
  const beside0 = server.beside?.();
  const counters0 = server.counters?.();
  const cpu0 = server.cpu();
  const t0 = now();
  tally.measuring = true;
  const extra = during?.();
  await sleep(timing.measureMs);
  tally.measuring = false;
  const t1 = now();
  const cpu1 = server.cpu();
  const counters1 = server.counters?.();
  const beside1 = server.beside?.();
  await extra;
  tally.cpuS += cpu1 - cpu0;
  tally.wallS += (t1 - t0) / 1000;
  for (const [name, after] of Object.entries(beside1 ?? {})) {
    tally.besideS[name] = (tally.besideS[name] ?? 0) + cpuBetween(beside0?.[name], after);
  }
  for (const [name, after] of Object.entries(counters1 ?? {})) {
    tally.counted[name] = (tally.counted[name] ?? 0) + after - (counters0?.[name] ?? after);
  }
}

/**
 * Closed loop: every sender keeps `inFlight` messages outstanding, where a message is outstanding until
 * its ack and every one of its deliveries arrived — so no queue (server or kernel) can grow without bound.
 * Adds one measured window to `tally`, then lets what is in flight drain.
 */
export async function closedLoop(
  server: CpuMeter,
  tally: Tally,
  senders: Sender[],
  receivers: RawConn[],
  inFlight: number,
  timing: WindowTiming,
): Promise<void> {
  let running = true;
  const outstanding = new Array<number>(senders.length).fill(0);
  const pump = (index: number) => {
    while (running && outstanding[index]! < inFlight) {
      outstanding[index]! += 1;
      tally.send(senders, index, now());
    }
  };
  tally.onComplete = (flight) => {
    outstanding[flight.sender]! -= 1;
    pump(flight.sender);
  };
  for (const conn of receivers) conn.onEvent = tally.receive;
  senders.forEach((_, index) => pump(index));
  await measured(server, tally, timing);
  running = false;
  await waitFor(() => tally.flights.size === 0, 15_000);
  tally.dropIncomplete();
  for (const conn of receivers) conn.onEvent = undefined;
}

/** Open-loop extras: the rate offered and what the server's event loop saw. */
export interface OpenLoopResult extends WindowResult {
  offeredPerS: number;
  /** Sends skipped because too many were outstanding (the server could not keep up). */
  skipped: number;
  eldP50: number;
  eldP99: number;
  eldMax: number;
}

/**
 * Open loop: sends at `rate` messages per second on a fixed schedule, round-robin over the senders, each
 * message stamped with its scheduled time — latency is measured from when it should have been sent, so a
 * stalled server cannot hide its stall (no coordinated omission). A safety cap on outstanding messages
 * keeps a server that falls behind from growing queues without bound (counted as `skipped`). The
 * server's event-loop delay is sampled over the measured span.
 */
export async function openLoop(
  server: ServerProcess,
  senders: Sender[],
  receivers: RawConn[],
  rate: number,
  timing: WindowTiming,
): Promise<OpenLoopResult> {
  const tally = new Tally();
  for (const conn of receivers) conn.onEvent = tally.receive;
  const cap = Math.max(2000, rate * 2);
  const interval = 1000 / rate;
  let nextAt = now();
  let index = 0;
  let skipped = 0;
  let running = true;
  const tick = () => {
    const t = now();
    while (nextAt <= t) {
      if (tally.flights.size < cap) tally.send(senders, index, nextAt);
      else if (tally.measuring) skipped += 1;
      index = (index + 1) % senders.length;
      nextAt += interval;
    }
    if (running) setTimeout(tick, 1);
  };
  tick();
  let eld = { p50: NaN, p99: NaN, max: NaN };
  await measured(server, tally, timing, async () => {
    await server.probe({ op: "eld:start" });
    await sleep(timing.measureMs - 50);
    const reply = await server.probe({ op: "eld:stop" });
    if (reply.eld) eld = reply.eld;
  });
  running = false;
  await waitFor(() => tally.flights.size === 0, 15_000);
  tally.dropIncomplete();
  for (const conn of receivers) conn.onEvent = undefined;
  return {
    ...tally.result(),
    offeredPerS: rate,
    skipped,
    eldP50: round(eld.p50, 3),
    eldP99: round(eld.p99, 3),
    eldMax: round(eld.max, 3),
  };
}

/**
 * Runs `runs` rounds; in each, every server gets `slices` measured windows, interleaved (A B C A B C …),
 * so a burst of load from elsewhere on the machine hits all servers alike. Returns per server the list
 * of per-run results.
 */
export async function interleaved<K extends string>(
  kinds: readonly K[],
  runs: number,
  slices: number,
  window: (kind: K, tally: Tally, first: boolean) => Promise<void>,
  onRun?: (run: number, results: Record<K, WindowResult>) => void,
): Promise<Record<K, WindowResult[]>> {
  const out = Object.fromEntries(kinds.map((kind) => [kind, [] as WindowResult[]])) as Record<K, WindowResult[]>;
  for (let run = 0; run < runs; run++) {
    const tallies = Object.fromEntries(kinds.map((kind) => [kind, new Tally()])) as Record<K, Tally>;
    for (let slice = 0; slice < slices; slice++) {
      for (const kind of kinds) await window(kind, tallies[kind], run === 0 && slice === 0);
    }
    const results = Object.fromEntries(kinds.map((kind) => [kind, tallies[kind].result()])) as Record<K, WindowResult>;
    for (const kind of kinds) out[kind].push(results[kind]);
    onRun?.(run, results);
  }
  return out;
}
