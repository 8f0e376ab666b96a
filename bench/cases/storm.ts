import { closeAll, connectMany, specFor } from "../lib/client.js";
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
import { summarizeProfile, type ProfileSummary } from "../lib/profile.js";
import { seedChatDb, tempDataDir, userIds } from "../lib/seed.js";
import { samplePercentile, round } from "../lib/stats.js";
import { join } from "node:path";
import { mkdirSync, rmSync } from "node:fs";

const KINDS: ServerKind[] = ["chat", "socketio", "ws"];
const CONCURRENCY = 200;

const METRICS: MetricSpec[] = [
  { key: "handshakesPerCpuS", label: "handshakes / server-CPU-s", ratio: true, digits: 0 },
  { key: "handshakesPerS", label: "handshakes / s (wall)", ratio: true, digits: 0 },
  { key: "serverCpuUtil", label: "server CPU use (cores)", digits: 2 },
  { key: "p50", label: "handshake p50 (ms)", ratio: true, digits: 1 },
  { key: "p99", label: "handshake p99 (ms)", ratio: true, digits: 1 },
  { key: "failures", label: "failures", digits: 0 },
];

/** Who connects: users the server has never seen (created at their first handshake), or users it has. */
type Arrivals = "new" | "returning";

/**
 * Connect storm: 5,000 connections, 200 handshakes at a time, each presenting a JWT (our server verifies
 * it, creates the user with its lobby seat or loads it, reads its rooms and `lastId`, joins the channels and
 * emits `session`; the baselines ignore it), once with users the server has never seen and once with users
 * that exist (a restart). Each run starts every server afresh, on a fresh database for new users.
 */
export async function stormCase(ctx: BenchContext): Promise<CaseResult> {
  const started = Date.now();
  const count = ctx.quick ? 1500 : 5000;
  const warm = ctx.quick ? 200 : 500;
  const profiles: ProfileSummary[] = [];
  const attempt = async (kind: ServerKind, arrivals: Arrivals, profileFile?: string) => {
    const users = userIds(arrivals === "new" ? "n" : "c", count + warm);
    const dataDir = tempDataDir();
    if (arrivals === "returning" && kind === "chat") seedChatDb(dataDir, users);
    const server = await ServerProcess.start(kind, kind === "chat" ? { ...CHAT_ENV, DATA_DIR: dataDir } : {});
    const specs = users.map((user) => specFor(server.url, user, [], kind === "chat"));
    try {
      // Warm-up: the first connections pay for JIT compilation and lazy initialisation; they stay connected.
      const warmed = await connectMany(specs.slice(0, warm), CONCURRENCY);
      await sleep(300);
      if (profileFile) await server.probe({ op: "profile:start", intervalUs: 250 });
      const cpu0 = server.cpu();
      const result = await connectMany(specs.slice(warm), CONCURRENCY);
      const cpuS = server.cpu() - cpu0;
      if (profileFile) await server.probe({ op: "profile:stop", file: profileFile });
      await closeAll([...warmed.conns, ...result.conns]);
      const ok = result.times.length;
      return {
        handshakesPerCpuS: round(ok / cpuS, 0),
        handshakesPerS: round(ok / (result.wallMs / 1000), 0),
        serverCpuUtil: round(cpuS / (result.wallMs / 1000), 3),
        p50: round(samplePercentile(result.times, 50), 2),
        p99: round(samplePercentile(result.times, 99), 2),
        failures: result.failures + warmed.failures,
      };
    } finally {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  };
  const variants = [];
  const targets: TargetResult[] = [];
  let failures = 0;
  for (const arrivals of ["new", "returning"] as const) {
    const runs: Partial<Record<ServerKind, Record<string, number>[]>> = { chat: [], socketio: [], ws: [] };
    for (let run = 0; run < ctx.runs; run++) {
      for (const kind of KINDS) {
        const result = await attempt(kind, arrivals);
        runs[kind]!.push(result);
        ctx.log(
          `storm (${arrivals} users) run ${run + 1} ${kind}: ${fmt(result.handshakesPerS)}/s, ` +
            `${fmt(result.handshakesPerCpuS)}/CPU-s, p99 ${result.p99} ms, failures ${result.failures}`,
        );
      }
    }
    const variant = variantOf(
      `${fmt(count)} ${arrivals} users, ${CONCURRENCY} at a time${arrivals === "new" ? " (each created at its handshake)" : ""}`,
      METRICS,
      runs,
    );
    variants.push(variant);
    const ratio = variant.ratios["handshakesPerCpuS"]!.socketio!;
    const wallRatio = variant.ratios["handshakesPerS"]!.socketio!;
    targets.push({
      target: `JWT handshakes of ${arrivals} users per server-CPU-second ≥ 0.90× bare Socket.IO without auth`,
      measured: `${ratio}× (wall-clock handshakes/s: ${wallRatio}×)`,
      met: ratio >= 0.9,
    });
    if (arrivals === "new") {
      const p99Ratio = variant.ratios["p99"]!.socketio!;
      targets.push({
        target: "handshake p99 of new users ≤ 2× bare Socket.IO's",
        measured: `${p99Ratio}× (${variant.servers.chat!.median["p99"]} ms against ${variant.servers.socketio!.median["p99"]} ms)`,
        met: p99Ratio <= 2,
      });
    }
    failures += Object.values(variant.servers).reduce(
      (sum, s) => sum + s.runs.reduce((n, r) => n + r["failures"]!, 0),
      0,
    );
  }
  if (ctx.profile) {
    const dir = join(ctx.resultsDir, "profiles");
    mkdirSync(dir, { recursive: true });
    for (const arrivals of ["new", "returning"] as const) {
      const file = join(dir, `storm-${arrivals}.cpuprofile`);
      await attempt("chat", arrivals, file);
      profiles.push(summarizeProfile(file));
    }
  }
  targets.push({ target: "connect storm failures = 0", measured: String(failures), met: failures === 0 });
  return {
    name: "storm",
    title: "Connect storm",
    method: [
      `${fmt(count)} connections, at most ${CONCURRENCY} handshakes in flight, after ${fmt(warm)} warm-up connections (kept open). A handshake is: TCP connect, WebSocket upgrade, Engine.IO open, Socket.IO CONNECT with \`auth: { token }\`, CONNECT acknowledged — and for our server its \`session\` event (user, rooms, lastId) received.`,
      "Our server verifies each HS256 JWT; a new user is created with its lobby seat (in the group commit), a returning one (seeded beforehand: a restart) is read; then its rooms and lastId. The lobby holds every user, with the default presence limit (no online notices in a room over 100 members). The baselines do no auth. Every server is started afresh for every run, on a fresh database for new users; the JWTs are minted before the clock starts.",
      `Rates per server-CPU-second (CPU of the server process over the storm) and per wall second; the load client on the other CPU also works hard (a WebSocket client handshake costs about as much as the server's), so the wall-clock rate is partly the client's. ${ctx.runs} run(s), medians; ratio = median of per-run ratios.`,
    ],
    params: { count, warm, concurrency: CONCURRENCY, runs: ctx.runs },
    variants,
    targets,
    notes: [],
    profiles,
    seconds: Math.round((Date.now() - started) / 1000),
  };
}
