import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { BENCH_SECRET, closeAll, connectMany, specFor, type RawConn } from "./client.js";
import { summarizeProfile, type ProfileSummary } from "./profile.js";
import { ROOT, SERVER_LABEL, ServerProcess, sleep, type ServerKind } from "./proc.js";
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

/** A column of a variant's table: one server (or group of server processes) measured. */
export interface Column {
  key: string;
  label: string;
}

/** A ratio column of a variant's table: `of` ÷ `to`, per ratio metric. */
export interface Comparison {
  /** Key of the ratio in `VariantResult.ratios[metric]`. */
  key: string;
  label: string;
  of: string;
  to: string;
}

/** One variant of a case (e.g. "1,000 members"), every server's runs and medians. */
export interface VariantResult {
  name: string;
  metrics: MetricSpec[];
  /** The servers in table order (the bench's three kinds unless a case names its own). */
  columns: Column[];
  comparisons: Comparison[];
  servers: Record<string, { median: Record<string, number>; runs: Record<string, number>[] }>;
  /**
   * Ratios per ratio metric and comparison (ours ÷ `socketio` / `ws` in the three-server cases): the median
   * over runs of the ratio within each run (windows of one run are interleaved, so they shared the
   * machine's conditions).
   */
  ratios: Record<string, Record<string, number>>;
}

/**
 * Builds a variant from per-run results of any set of servers: medians per server and, for each
 * comparison, the median of the per-run ratios.
 */
export function compareVariant(
  name: string,
  metrics: MetricSpec[],
  runs: Record<string, Record<string, number>[]>,
  columns: Column[],
  comparisons: Comparison[],
): VariantResult {
  const servers: VariantResult["servers"] = {};
  for (const [key, list] of Object.entries(runs)) servers[key] = { median: medianOf(list), runs: list };
  const ratios: VariantResult["ratios"] = {};
  for (const metric of metrics.filter((m) => m.ratio)) {
    ratios[metric.key] = {};
    for (const comparison of comparisons) {
      const of = runs[comparison.of];
      const to = runs[comparison.to];
      if (!of || !to) continue;
      const perRun = of.map((run, index) => run[metric.key]! / to[index]![metric.key]!);
      ratios[metric.key]![comparison.key] = round(median(perRun), 3);
    }
  }
  return { name, metrics, columns: columns.filter((column) => runs[column.key]), comparisons, servers, ratios };
}

/** Builds a variant of the three-server cases: medians per server and ours ÷ each baseline. */
export function variantOf(
  name: string,
  metrics: MetricSpec[],
  runs: Partial<Record<ServerKind, Record<string, number>[]>>,
): VariantResult {
  const kinds: ServerKind[] = ["chat", "socketio", "ws", "durable", "wsc"];
  const present = kinds.filter((kind) => runs[kind]);
  return compareVariant(
    name,
    metrics,
    Object.fromEntries(present.map((kind) => [kind, runs[kind]!])),
    present.map((kind) => ({ key: kind, label: SERVER_LABEL[kind] })),
    present
      .filter((kind) => kind !== "chat")
      .map((kind) => ({
        key: kind,
        label: `ours ÷ ${SERVER_LABEL[kind]}`,
        of: "chat",
        to: kind,
      })),
  );
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

/** What a server of `kind` runs with: ours on `dataDir`; the durable floor's database beside it. */
function serverEnv(kind: ServerKind, dataDir: string): Record<string, string> {
  if (kind === "chat") return { ...CHAT_ENV, DATA_DIR: dataDir };
  if (kind === "durable") return { BENCH_DURABLE_DB: join(dataDir, "durable-floor.db") };
  if (kind === "wsc") return { BENCH_COALESCE: "1" };
  return {};
}

/** Starts one server of each kind (ours on `dataDir`), one after the other. */
export async function startServers(
  kinds: readonly ServerKind[],
  dataDir: string,
): Promise<Partial<Record<ServerKind, ServerProcess>>> {
  const servers: Partial<Record<ServerKind, ServerProcess>> = {};
  for (const kind of kinds) {
    servers[kind] = await ServerProcess.start(kind, serverEnv(kind, dataDir));
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
  const [summary] = await profiledAll(ctx, [{ server, name }], window);
  return summary!;
}

/** `profiled` over several server processes at once (the nodes of a cluster), one profile each. */
export async function profiledAll(
  ctx: BenchContext,
  targets: { server: ServerProcess; name: string }[],
  window: () => Promise<unknown>,
): Promise<ProfileSummary[]> {
  const dir = join(ctx.resultsDir, "profiles");
  mkdirSync(dir, { recursive: true });
  const files = targets.map(({ name }) => join(dir, `${name}.cpuprofile`));
  await Promise.all(targets.map(({ server }) => server.probe({ op: "profile:start", intervalUs: 250 })));
  await window();
  await Promise.all(targets.map(({ server }, index) => server.probe({ op: "profile:stop", file: files[index]! })));
  return files.map((file) => {
    const summary = summarizeProfile(file);
    return { ...summary, file: summary.file.startsWith("/") ? summary.file : summary.file.replace(`${ROOT}/`, "") };
  });
}

/** Our server's group commits so far, from /metrics (`chat_store_commit_messages` sum and count). */
export async function storeCommits(url: string): Promise<{ messages: number; commits: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? 0);
  return { messages: value("chat_store_commit_messages_sum"), commits: value("chat_store_commit_messages_count") };
}

/** `n` formatted with thousands separators. */
export const fmt = (n: number): string => n.toLocaleString("en-US");
