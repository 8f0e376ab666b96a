import { closeAll, connectMany, specFor, type RawConn } from "../lib/client.js";
import {
  CHAT_ENV,
  fmt,
  variantOf,
  type BenchContext,
  type CaseResult,
  type MetricSpec,
  type TargetResult,
} from "../lib/harness.js";
import { ServerProcess, sleep, type ServerKind } from "../lib/proc.js";
import { seedChatDb, tempDataDir, userIds } from "../lib/seed.js";
import { linearFit, round } from "../lib/stats.js";

const KINDS: ServerKind[] = ["chat", "socketio", "ws"];

const METRICS: MetricSpec[] = [
  { key: "rssKiBPerConn", label: "RSS per connection (KiB, slope)", ratio: true, digits: 2 },
  { key: "heapKiBPerConn", label: "JS heap per connection (KiB, slope)", ratio: true, digits: 2 },
  { key: "externalKiBPerConn", label: "external + buffers per connection (KiB, slope)", digits: 2 },
  { key: "rssR2", label: "RSS fit R²", digits: 3 },
  { key: "rssBaseMiB", label: "RSS with 0 connections (MiB)", digits: 1 },
  { key: "rssTopMiB", label: "RSS with all connected (MiB)", digits: 1 },
];

/**
 * Idle memory: connect authenticated, idle connections in steps (0 → 10,000); after each step the probe in
 * the server forces two full GCs and reports process.memoryUsage(). RSS and heap per connection are the
 * least-squares slopes over the steps.
 */
export async function memoryCase(ctx: BenchContext): Promise<CaseResult> {
  const started = Date.now();
  const total = ctx.quick ? 1500 : 10_000;
  const steps = 5;
  const users = userIds("m", total);
  const warmUsers = userIds("mw", 200);
  const dataDir = tempDataDir();
  seedChatDb(dataDir, [...warmUsers, ...users]);
  const runs: Partial<Record<ServerKind, Record<string, number>[]>> = {};
  const curves: Record<string, { connections: number; rssMiB: number; heapMiB: number }[]> = {};
  let offset = 0;
  for (let run = 0; run < 1; run++) {
    for (const kind of KINDS) {
      const server = await ServerProcess.start(kind, kind === "chat" ? { ...CHAT_ENV, DATA_DIR: dataDir } : {});
      const conns: RawConn[] = [];
      try {
        // Warm-up: 200 connections first, kept open (a constant offset to every point, so not in the slope),
        // so lazily built structures and JIT code exist before the first point.
        const warm = await connectMany(
          warmUsers.map((user) => specFor(server.url, user, [], kind === "chat")),
          100,
        );
        conns.push(...warm.conns);
        offset = conns.length;
        const points: { n: number; rss: number; heap: number; external: number }[] = [];
        const sample = async () => {
          await sleep(300);
          const { memory } = await server.probe({ op: "memory" });
          points.push({
            n: conns.length - offset,
            rss: memory!.rss,
            heap: memory!.heapUsed,
            external: memory!.external + memory!.arrayBuffers,
          });
        };
        await sample();
        for (let step = 1; step <= steps; step++) {
          const slice = users.slice((step - 1) * (total / steps), step * (total / steps));
          const result = await connectMany(
            slice.map((user) => specFor(server.url, user, [], kind === "chat")),
            200,
          );
          if (result.failures > 0)
            throw new Error(`${kind}: ${result.failures} connections failed: ${result.firstError}`);
          conns.push(...result.conns);
          await sample();
        }
        const fit = (key: "rss" | "heap" | "external") => linearFit(points.map((p) => ({ x: p.n, y: p[key] })));
        const rss = fit("rss");
        const result = {
          rssKiBPerConn: round(rss.slope / 1024, 2),
          heapKiBPerConn: round(fit("heap").slope / 1024, 2),
          externalKiBPerConn: round(fit("external").slope / 1024, 2),
          rssR2: round(rss.r2, 3),
          rssBaseMiB: round(points[0]!.rss / 2 ** 20, 1),
          rssTopMiB: round(points.at(-1)!.rss / 2 ** 20, 1),
        };
        (runs[kind] ??= []).push(result);
        curves[`${kind}#${run + 1}`] = points.map((p) => ({
          connections: p.n,
          rssMiB: round(p.rss / 2 ** 20, 1),
          heapMiB: round(p.heap / 2 ** 20, 1),
        }));
        ctx.log(
          `memory run ${run + 1} ${kind}: ${result.rssKiBPerConn} KiB RSS/conn, ${result.heapKiBPerConn} KiB heap/conn`,
        );
      } finally {
        await closeAll(conns);
        await server.stop();
      }
    }
  }
  const variant = variantOf(`0 → ${fmt(total)} idle authenticated connections`, METRICS, runs);
  const perConn = variant.servers.chat!.median["rssKiBPerConn"]!;
  const targets: TargetResult[] = [
    { target: "idle RSS per connection ≤ 18 KiB", measured: `${perConn} KiB`, met: perConn <= 18 },
  ];
  return {
    name: "memory",
    title: "Idle memory",
    method: [
      `Connections added in ${steps} steps of ${fmt(total / steps)} (200 handshakes at a time, each with a JWT; our server loads user, rooms and lastId and keeps the session) and left idle; after each step the probe inside the server runs two full GCs (\`--expose-gc\`) and reads process.memoryUsage().`,
      "Per connection = least-squares slope over the 6 points (0 … all); RSS is what the kernel charges the process (V8 may keep freed pages), heap is V8's used heap. Our server's users exist beforehand (lobby only).",
      "One run per server: memory is far less noisy than CPU time (two runs agreed within 5% while this was tuned).",
    ],
    params: { total, steps },
    variants: [variant],
    targets,
    notes: [`Curves (MiB): ${JSON.stringify(curves)}`],
    profiles: [],
    seconds: Math.round((Date.now() - started) / 1000),
  };
}
