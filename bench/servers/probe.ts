/**
 * Preloaded (`--import`) into every server process a benchmark starts: answers the bench runner over the
 * IPC channel with what only the process itself can see (heap after a forced GC, event-loop delay, a V8
 * CPU profile of a chosen window), and exits when the runner goes away so no server outlives it.
 * It does nothing until asked, so it costs the measured work nothing.
 */
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { monitorEventLoopDelay, type IntervalHistogram } from "node:perf_hooks";

/** A request from the runner. */
export type ProbeRequest =
  | { id: number; op: "memory" }
  | { id: number; op: "eld:start" }
  | { id: number; op: "eld:stop" }
  | { id: number; op: "profile:start"; intervalUs: number }
  | { id: number; op: "profile:stop"; file: string };

/** The probe's answer. */
export interface ProbeReply {
  id: number;
  error?: string;
  memory?: { rss: number; heapUsed: number; heapTotal: number; external: number; arrayBuffers: number };
  eld?: { p50: number; p99: number; max: number; mean: number };
  file?: string;
}

const gc = (globalThis as { gc?: () => void }).gc;
let eld: IntervalHistogram | undefined;
let session: Session | undefined;

async function handle(request: ProbeRequest): Promise<Omit<ProbeReply, "id">> {
  switch (request.op) {
    case "memory": {
      // Two passes: the first may only schedule finalisation of what the second frees.
      gc?.();
      await new Promise((resolve) => setImmediate(resolve));
      gc?.();
      const { rss, heapUsed, heapTotal, external, arrayBuffers } = process.memoryUsage();
      return { memory: { rss, heapUsed, heapTotal, external, arrayBuffers } };
    }
    case "eld:start":
      eld?.disable();
      eld = monitorEventLoopDelay({ resolution: 1 });
      eld.enable();
      return {};
    case "eld:stop": {
      if (!eld) throw new Error("event-loop delay was not started");
      eld.disable();
      const ms = (ns: number) => ns / 1e6;
      const result = {
        p50: ms(eld.percentile(50)),
        p99: ms(eld.percentile(99)),
        max: ms(eld.max),
        mean: ms(eld.mean),
      };
      eld = undefined;
      return { eld: result };
    }
    case "profile:start":
      session = new Session();
      session.connect();
      await session.post("Profiler.enable");
      await session.post("Profiler.setSamplingInterval", { interval: request.intervalUs });
      await session.post("Profiler.start");
      return {};
    case "profile:stop": {
      if (!session) throw new Error("profiler was not started");
      const { profile } = await session.post("Profiler.stop");
      session.disconnect();
      session = undefined;
      writeFileSync(request.file, JSON.stringify(profile));
      return { file: request.file };
    }
  }
}

if (process.send) {
  process.on("message", (request: ProbeRequest) => {
    handle(request).then(
      (reply) => process.send?.({ ...reply, id: request.id }),
      (error: unknown) => process.send?.({ id: request.id, error: String(error) }),
    );
  });
  // The runner is gone (finished, crashed or killed): do not linger holding a port and a CPU.
  process.on("disconnect", () => process.exit(0));
}
