import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { BENCH_SECRET, closeAll, connectMany, specFor, type RawConn } from "./client.js";
import { summarizeProfile, type ProfileSummary } from "./profile.js";
import { ROOT, ServerProcess, sleep, type ServerKind } from "./proc.js";
import { median, medianOf, round } from "./stats.js";

/** What every case gets from the runner. */
export interface BenchContext {
  /** ~2-minute smoke version: smaller populations, shorter windows, one run. */
  quick: boolean;
  /** Measured runs per case (median reported). */
  runs: number;
  /** Take a CPU profile of our server during an extra window of each throughput case. */
  profile: boolean;
  /** Where profiles and results go. */
  resultsDir: string;
  /** Open-file limit in force (sockets on each side). */
  fdLimit: number;
  log(message: string): void;
}

/** One metric row of a variant's table. */
export interface MetricSpec {
  key: string;
  label: string;
  /** Shown in the ratio columns (ours ÷ baseline). */
  ratio?: boolean;
  digits?: number;
}

/** One variant of a case (e.g. "1,000 members"), every server's runs and medians. */
export interface VariantResult {
  name: string;
  metrics: MetricSpec[];
  servers: Partial<Record<ServerKind, { median: Record<string, number>; runs: Record<string, number>[] }>>;
  /**
   * Ours ÷ baseline per ratio metric: the median over runs of the ratio within each run (windows of one
   * run are interleaved, so they shared the machine's conditions).
   */
  ratios: Record<string, Partial<Record<ServerKind, number>>>;
}

/** Builds a variant from per-run results: medians per server and median per-run ratios to ours. */
export function variantOf(
  name: string,
  metrics: MetricSpec[],
  runs: Partial<Record<ServerKind, Record<string, number>[]>>,
): VariantResult {
  const servers: VariantResult["servers"] = {};
  for (const [kind, list] of Object.entries(runs) as [ServerKind, Record<string, number>[]][]) {
    servers[kind] = { median: medianOf(list), runs: list };
  }
  const ratios: VariantResult["ratios"] = {};
  const ours = runs.chat;
  if (ours) {
    for (const metric of metrics.filter((m) => m.ratio)) {
      ratios[metric.key] = {};
      for (const kind of ["socketio", "ws"] as const) {
        const base = runs[kind];
        if (!base) continue;
        const perRun = ours.map((run, index) => run[metric.key]! / base[index]![metric.key]!);
        ratios[metric.key]![kind] = round(median(perRun), 3);
      }
    }
  }
  return { name, metrics, servers, ratios };
}

/** A target of the issue and how this run fared. */
export interface TargetResult {
  target: string;
  measured: string;
  met: boolean;
}

/** Everything a case reports. */
export interface CaseResult {
  name: string;
  title: string;
  /** How it is measured, for the report. */
  method: string[];
  params: Record<string, unknown>;
  variants: VariantResult[];
  targets: TargetResult[];
  notes: string[];
  profiles: ProfileSummary[];
  seconds: number;
}

/** Settings every chat server of the bench runs with (reported with the results). */
export const CHAT_ENV: Record<string, string> = {
  LOG_LEVEL: "warn",
  JWT_SECRET: BENCH_SECRET,
  PUSH_API_KEY: "bench-push-key-of-at-least-32-bytes-loopback",
  ADMIN_API_KEY: "bench-admin-key-of-at-least-32-bytes-loopback",
  // The defaults (200 events / 10 s per user, 600 connections / min per IP) would throttle one load client.
  RATE_LIMIT_EVENTS_PER_10S: "1000000",
  RATE_LIMIT_CONNECTIONS_PER_MIN: "1000000",
  // Lobby holds every bench user (≥ 1,000): no O(n²) online notices there; rooms of 10 still get them.
  PRESENCE_ROOM_LIMIT: "100",
  DB_SYNC: "full",
};

/** Starts one server of each kind (ours on `dataDir`), one after the other. */
export async function startServers(
  kinds: readonly ServerKind[],
  dataDir: string,
): Promise<Partial<Record<ServerKind, ServerProcess>>> {
  const servers: Partial<Record<ServerKind, ServerProcess>> = {};
  for (const kind of kinds) {
    servers[kind] = await ServerProcess.start(kind, kind === "chat" ? { ...CHAT_ENV, DATA_DIR: dataDir } : {});
  }
  return servers;
}

/** Stops servers in parallel. */
export async function stopServers(servers: Partial<Record<ServerKind, ServerProcess>>): Promise<void> {
  await Promise.all(Object.values(servers).map((server) => server.stop()));
}

/**
 * Connects every user to a server (`roomsOf(user)` are the rooms the baselines must put it in; the chat
 * reads them from its store) and fails loudly if any handshake fails.
 */
export async function populate(
  server: ServerProcess,
  users: string[],
  roomsOfUser: (user: string, index: number) => string[],
  concurrency = 200,
): Promise<RawConn[]> {
  const specs = users.map((user, index) => specFor(server.url, user, roomsOfUser(user, index), server.kind === "chat"));
  const result = await connectMany(specs, concurrency);
  if (result.failures > 0) {
    await closeAll(result.conns);
    throw new Error(`${server.kind}: ${result.failures} of ${users.length} connections failed: ${result.firstError}`);
  }
  // Let the server finish what connecting set off (presence notices, session sends) before measuring.
  await sleep(500);
  return result.byIndex as RawConn[];
}

/**
 * Runs `window` once more on our server with the V8 CPU profiler on (inspector, 250 µs sampling, the same
 * profiler `node --cpu-prof` drives, but only over the measured window) and summarizes the profile.
 */
export async function profiled(
  ctx: BenchContext,
  server: ServerProcess,
  name: string,
  window: () => Promise<unknown>,
): Promise<ProfileSummary> {
  const dir = join(ctx.resultsDir, "profiles");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.cpuprofile`);
  await server.probe({ op: "profile:start", intervalUs: 250 });
  await window();
  await server.probe({ op: "profile:stop", file });
  const summary = summarizeProfile(file);
  return { ...summary, file: summary.file.startsWith("/") ? summary.file : summary.file.replace(`${ROOT}/`, "") };
}

/** `n` formatted with thousands separators. */
export const fmt = (n: number): string => n.toLocaleString("en-US");
