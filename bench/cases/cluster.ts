import { closeAll, type RawConn } from "../lib/client.js";
import {
  CHAT_ENV,
  compareVariant,
  fmt,
  populate,
  profiledAll,
  storeCommits,
  type BenchContext,
  type CaseResult,
  type Column,
  type Comparison,
  type MetricSpec,
  type TargetResult,
  type VariantResult,
} from "../lib/harness.js";
import { closedLoop, interleaved, Tally, type CpuMeter, type Sender, type WindowResult } from "../lib/load.js";
import { CLIENT_CPU, cpuTicks, SERVER_CPU, ServerProcess, syscalls, wakeups } from "../lib/proc.js";
import type { ProfileSummary } from "../lib/profile.js";
import { roomsOf, seedChatDb, seedPostgres, tempDataDir, userIds, type SeedRoom } from "../lib/seed.js";
import {
  affinityOf,
  cpuOf,
  createBenchDatabase,
  type BenchDatabase,
  pinProcess,
  postgresProcesses,
  redisCommandStats,
  redisPid,
  redisSpace,
  REDIS_URL,
  requireServices,
} from "../lib/services.js";
import { round } from "../lib/stats.js";
import pg from "pg";

/** The setups a cluster run compares, each one or more server processes on the server CPU. */
type Setup = "two" | "redis1" | "pg" | "sqlite" | "bare2" | "bare1";
const SETUPS: Setup[] = ["two", "redis1", "pg", "sqlite", "bare2", "bare1"];

const COLUMNS: Column[] = [
  { key: "two", label: "2 nodes (PostgreSQL + Redis)" },
  { key: "redis1", label: "1 node (PostgreSQL + Redis)" },
  { key: "pg", label: "1 node (PostgreSQL)" },
  { key: "sqlite", label: "1 node (SQLite)" },
  { key: "bare2", label: "bare Socket.IO ×2 (Redis adapter)" },
  { key: "bare1", label: "bare Socket.IO ×1" },
];

const COMPARISONS: Comparison[] = [
  { key: "twoVsPg", label: "2 nodes ÷ 1 node (PostgreSQL)", of: "two", to: "pg" },
  { key: "twoVsRedis1", label: "2 nodes ÷ 1 node (PostgreSQL + Redis)", of: "two", to: "redis1" },
  { key: "redis1VsPg", label: "1 node: with Redis ÷ without", of: "redis1", to: "pg" },
  { key: "pgVsSqlite", label: "1 node: PostgreSQL ÷ SQLite", of: "pg", to: "sqlite" },
  { key: "bare", label: "bare ×2 ÷ bare ×1", of: "bare2", to: "bare1" },
];

/** The engines each setup uses: their CPU goes into the all-in rate (never into the per-server-CPU one). */
const ENGINES: Record<Setup, ("redis" | "postgres")[]> = {
  two: ["redis", "postgres"],
  redis1: ["redis", "postgres"],
  pg: ["postgres"],
  sqlite: [],
  bare2: ["redis"],
  bare1: [],
};

const FAN_ROOM = "fan";
const FAN_IN_FLIGHT = 8;
const SEND_CLIENTS = 100;
const ROOM_SIZE = 10;

/** The metric rows of a variant; `unit` is what is counted: deliveries (fan-out) or acked sends. */
function metrics(unit: "deliveries" | "acked"): MetricSpec[] {
  const what = unit === "deliveries" ? "deliveries" : "acked sends";
  const one = unit === "deliveries" ? "delivery" : "acked send";
  const latency: MetricSpec[] =
    unit === "deliveries"
      ? [
          { key: "deliveryP50", label: "delivery p50 (ms)", digits: 1 },
          { key: "deliveryP99", label: "delivery p99 (ms)", digits: 1 },
          { key: "ackP50", label: "sender ack p50 (ms)", digits: 1 },
        ]
      : [
          { key: "ackP50", label: "ack p50 (ms)", digits: 2 },
          { key: "ackP99", label: "ack p99 (ms)", digits: 2 },
          { key: "deliveryP50", label: "sender → recipient p50 (ms)", digits: 2 },
          { key: "deliveryP99", label: "sender → recipient p99 (ms)", digits: 2 },
        ];
  return [
    { key: `${unit}PerCpuS`, label: `${what} / server-CPU-s (server processes summed)`, ratio: true, digits: 0 },
    { key: `${unit}PerS`, label: `${what} / s (wall)`, digits: 0 },
    { key: "serverCpuUtil", label: "server processes' CPU use (cores, summed)", digits: 2 },
    { key: "serverUs", label: `server processes' CPU µs per ${one}`, digits: 1 },
    { key: "userUs", label: `… of it in user space (µs; 10-ms ticks)`, digits: 1 },
    { key: "systemUs", label: `… of it in the kernel (µs; 10-ms ticks)`, digits: 1 },
    { key: "writesPer", label: `server processes' write system calls per ${one}`, digits: 2 },
    { key: "readsPer", label: `server processes' read system calls per ${one}`, digits: 2 },
    { key: "wakeupsPer", label: `server event loops' wake-ups per ${one}`, digits: 3 },
    { key: "redisCpuUtil", label: "Redis CPU use (cores; shared server)", digits: 3 },
    { key: "redisUs", label: `Redis CPU µs per ${one}`, digits: 1 },
    { key: "postgresCpuUtil", label: "PostgreSQL backends of the setup's database (cores)", digits: 3 },
    { key: "postgresUs", label: `PostgreSQL backends' CPU µs per ${one}`, digits: 1 },
    { key: "postgresAllCpuUtil", label: "all PostgreSQL processes (cores; other sessions' too)", digits: 3 },
    { key: "allInPerCpuS", label: `${what} / CPU-s of servers + the engines they use`, ratio: true, digits: 0 },
    ...latency,
    { key: "errors", label: "errors + lost", digits: 0 },
  ];
}

/** Adds the per-unit costs and the all-in rate to one run's result of `setup`. */
function derive(setup: Setup, unit: "deliveries" | "acked", result: WindowResult): WindowResult {
  const rate = unit === "deliveries" ? result.deliveriesPerS : result.ackedPerS;
  const us = (cores: number | undefined) => (cores === undefined ? NaN : round((cores / rate) * 1e6, 1));
  const engines = ENGINES[setup].reduce((sum, engine) => sum + (result[`${engine}CpuUtil`] ?? NaN), 0);
  return {
    ...result,
    serverUs: us(result.serverCpuUtil),
    // Clock ticks are 10 ms: per second of wall time, ticks / 100 is cores.
    userUs: us((result["userTicksPerS"] ?? NaN) / 100),
    systemUs: us((result["systemTicksPerS"] ?? NaN) / 100),
    writesPer: round((result["writesPerS"] ?? NaN) / rate, 2),
    readsPer: round((result["readsPerS"] ?? NaN) / rate, 2),
    wakeupsPer: round((result["wakeupsPerS"] ?? NaN) / rate, 3),
    redisUs: us(result["redisCpuUtil"]),
    postgresUs: us(result["postgresCpuUtil"]),
    allInPerCpuS: round(rate / (result.serverCpuUtil + engines), 0),
  };
}

/** Messages stored so far in a PostgreSQL database, and in how many transactions (group commits). */
async function pgCommits(url: string): Promise<{ messages: number; commits: number }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    // Each group commit inserts its rows in one transaction, so rows per distinct xmin is the batch size.
    const result = await client.query<{ messages: string; commits: string }>(
      "SELECT count(*) AS messages, count(DISTINCT xmin::text) AS commits FROM messages",
    );
    return { messages: Number(result.rows[0]!.messages), commits: Number(result.rows[0]!.commits) };
  } finally {
    await client.end();
  }
}

/**
 * Connects `users` split evenly over `nodes` (user i to node i mod n), each with the rooms the baselines
 * need; `conns[i]` answers `users[i]`.
 */
async function populateSplit(
  nodes: ServerProcess[],
  users: string[],
  roomsOfUser: (index: number) => string[],
  live: RawConn[],
): Promise<RawConn[]> {
  const out = new Array<RawConn>(users.length);
  for (const [n, node] of nodes.entries()) {
    const indexes = users.map((_, index) => index).filter((index) => index % nodes.length === n);
    const conns = await populate(
      node,
      indexes.map((index) => users[index]!),
      (_, k) => roomsOfUser(indexes[k]!),
    );
    live.push(...conns);
    indexes.forEach((index, k) => (out[index] = conns[k]!));
  }
  return out;
}

/**
 * Cluster: the fan-out and send workloads on two nodes of our server (PostgreSQL + Redis, clients split
 * evenly) against one node on PostgreSQL (the fair comparison for what clustering costs), in the same run,
 * interleaved; one node on SQLite and bare Socket.IO on one and two processes (Redis Streams adapter) for
 * context. Every server process is pinned to the server CPU, so two nodes' summed CPU competes like one
 * process; the load client, Redis and the PostgreSQL backends of the bench's databases run on the other.
 */
export async function clusterCase(ctx: BenchContext): Promise<CaseResult> {
  const started = Date.now();
  await requireServices();
  const fanUsers = userIds("f", 1000);
  const sendUsers = userIds("s", SEND_CLIENTS);
  const rooms: SeedRoom[] = [{ id: FAN_ROOM, members: fanUsers }, ...roomsOf("g", sendUsers, ROOM_SIZE)];
  const allUsers = [...fanUsers, ...sendUsers];
  const roomOf = (index: number) => rooms[1 + Math.floor(index / ROOM_SIZE)]!.id;

  const fanTiming = ctx.quick ? { warmMs: 300, measureMs: 1500 } : { warmMs: 400, measureMs: 2000 };
  const fanSlices = ctx.quick ? 2 : 3;
  const sendTiming = ctx.quick ? { warmMs: 200, measureMs: 800 } : { warmMs: 250, measureMs: 1200 };
  const sendSlices = 2;
  const notes: string[] = [];
  const cleanups: (() => Promise<void>)[] = [];
  const servers: Partial<Record<Setup, ServerProcess[]>> = {};
  const live: RawConn[] = [];
  const variants: VariantResult[] = [];
  const profiles: ProfileSummary[] = [];
  let restoreRedis = () => undefined as unknown;
  try {
    ctx.log("cluster: creating and seeding three PostgreSQL databases and one SQLite database");
    // A database of its own per PostgreSQL setup, so each one's backends (and rows) are told apart.
    const pgSetups = ["two", "redis1", "pg"] as const;
    const dbs: Partial<Record<Setup, BenchDatabase>> = {};
    for (const setup of pgSetups) {
      const db = await createBenchDatabase();
      cleanups.push(() => db.drop());
      await seedPostgres(db.url, allUsers, rooms);
      dbs[setup] = db;
    }
    const sqliteDir = tempDataDir();
    seedChatDb(sqliteDir, allUsers, rooms);
    const spaces = { two: redisSpace(), redis1: redisSpace(), bare2: redisSpace() };
    cleanups.push(...Object.values(spaces).map((space) => () => space.clear()));
    const databases = Object.fromEntries(pgSetups.map((setup) => [setup, dbs[setup]!.name])) as Partial<
      Record<Setup, string>
    >;

    // Redis is the machine's shared server: pinned to the client CPU for the case, its CPU list restored after.
    const redis = await redisPid();
    if (redis === undefined) notes.push("Redis's process is not visible from here: its CPU is not reported.");
    else {
      const before = affinityOf(redis);
      if (before !== undefined && pinProcess(redis, String(CLIENT_CPU))) {
        restoreRedis = () => pinProcess(redis, before);
        process.once("exit", restoreRedis);
      } else notes.push(`Redis (pid ${redis}) could not be pinned to CPU ${CLIENT_CPU}.`);
    }

    const chatEnv = { ...CHAT_ENV };
    const start = async (setup: Setup, kind: "chat" | "socketio", env: Record<string, string>) => {
      const server = await ServerProcess.start(
        kind,
        kind === "chat" ? { ...chatEnv, DATA_DIR: tempDataDir(), ...env } : env,
      );
      (servers[setup] ??= []).push(server);
    };
    ctx.log("cluster: starting 2 nodes, 3 single nodes (PostgreSQL + Redis, PostgreSQL, SQLite), 2 + 1 bare servers");
    const cluster = (setup: "two" | "redis1", node: string) => ({
      DATABASE_URL: dbs[setup]!.url,
      REDIS_URL,
      REDIS_PREFIX: spaces[setup].prefix,
      NODE_ID: `bench-${setup}-${node}`,
    });
    for (const node of ["a", "b"]) await start("two", "chat", cluster("two", node));
    await start("redis1", "chat", cluster("redis1", "a"));
    await start("pg", "chat", { DATABASE_URL: dbs.pg!.url });
    await start("sqlite", "chat", { DATA_DIR: sqliteDir });
    for (let index = 0; index < 2; index++) {
      await start("bare2", "socketio", { BENCH_REDIS_URL: REDIS_URL, BENCH_REDIS_PREFIX: spaces.bare2.prefix });
    }
    await start("bare1", "socketio", {});

    /** Pins the PostgreSQL backends of the bench's databases (new ones appear as pools grow) to the client CPU. */
    const pinBackends = () => {
      for (const { pid, title } of postgresProcesses()) {
        if (!Object.values(databases).some((name) => title.includes(` ${name} `))) continue;
        if (affinityOf(pid) !== String(CLIENT_CPU)) pinProcess(pid, String(CLIENT_CPU));
      }
    };
    const meterOf = (setup: Setup): CpuMeter => ({
      cpu: () => servers[setup]!.reduce((sum, server) => sum + server.cpu(), 0),
      counters: () => {
        const calls = servers[setup]!.map((server) => syscalls(server.pid));
        return {
          writes: calls.reduce((sum, c) => sum + c.writes, 0),
          reads: calls.reduce((sum, c) => sum + c.reads, 0),
          wakeups: servers[setup]!.reduce((sum, server) => sum + wakeups(server.pid), 0),
          userTicks: servers[setup]!.reduce((sum, server) => sum + cpuTicks(server.pid).user, 0),
          systemTicks: servers[setup]!.reduce((sum, server) => sum + cpuTicks(server.pid).system, 0),
        };
      },
      beside: () => {
        const pg = postgresProcesses();
        const name = databases[setup];
        return {
          ...(redis === undefined ? {} : { redis: cpuOf([redis]) }),
          postgres: cpuOf(name === undefined ? [] : pg.filter((p) => p.title.includes(` ${name} `)).map((p) => p.pid)),
          postgresAll: cpuOf(pg.map((p) => p.pid)),
        };
      },
    });

    /** Messages per group commit of the setups of ours over `measure` (warm-ups and profiles included). */
    const batches = async (label: string, measure: () => Promise<void>) => {
      const read = () =>
        Promise.all([...pgSetups.map((setup) => pgCommits(dbs[setup]!.url)), storeCommits(servers.sqlite![0]!.url)]);
      const before = await read();
      await measure();
      const after = await read();
      const per = (index: number) =>
        (
          (after[index]!.messages - before[index]!.messages) /
          Math.max(1, after[index]!.commits - before[index]!.commits)
        ).toFixed(1);
      const labels = [...pgSetups.map((setup) => COLUMNS.find((c) => c.key === setup)!.label), "1 node (SQLite)"];
      notes.push(
        `${label}: messages per group commit (PostgreSQL: rows per inserting transaction; SQLite: /metrics): ${labels.map((l, index) => `${l} ${per(index)}`).join(", ")}.`,
      );
    };

    /**
     * Redis commands per stored message: one more window of 2 nodes between two `INFO commandstats`, and one
     * of the PostgreSQL node (nothing of ours talks to Redis then) for the commands from elsewhere.
     */
    const redisCommands = async (label: string, window: (setup: Setup) => Promise<void>) => {
      const seen: Partial<
        Record<"two" | "pg", { stats: Map<string, { calls: number; usec: number }>; messages: number; seconds: number }>
      > = {};
      for (const setup of ["two", "pg"] as const) {
        const url = dbs[setup]!.url;
        const [stats0, rows0] = await Promise.all([redisCommandStats(), pgCommits(url)]);
        const t0 = Date.now();
        await window(setup);
        const seconds = (Date.now() - t0) / 1000;
        const [stats1, rows1] = await Promise.all([redisCommandStats(), pgCommits(url)]);
        const stats = new Map<string, { calls: number; usec: number }>();
        for (const [name, after] of stats1) {
          const before = stats0.get(name) ?? { calls: 0, usec: 0 };
          if (after.calls > before.calls)
            stats.set(name, { calls: after.calls - before.calls, usec: after.usec - before.usec });
        }
        seen[setup] = { stats, messages: rows1.messages - rows0.messages, seconds };
      }
      const two = seen.two!;
      const per = [...two.stats]
        .filter(([, d]) => d.calls / two.messages >= 0.05)
        .sort((a, b) => b[1].usec - a[1].usec)
        .map(
          ([name, d]) => `${name} ${(d.calls / two.messages).toFixed(2)} (${(d.usec / d.calls).toFixed(1)} µs each)`,
        );
      const background = [...seen.pg!.stats.values()].reduce((sum, d) => sum + d.calls, 0) / seen.pg!.seconds;
      const total = [...two.stats.values()].reduce((sum, d) => sum + d.calls, 0) / two.seconds;
      notes.push(
        `${label}: Redis commands per stored message on 2 nodes (an extra window, ${fmt(two.messages)} messages): ${per.join(", ")}; Redis's own time in them ${([...two.stats.values()].reduce((sum, d) => sum + d.usec, 0) / two.messages).toFixed(1)} µs per message. All clients' commands: ${fmt(Math.round(total))}/s in that window, ${fmt(Math.round(background))}/s in a window of the PostgreSQL node (other sessions' and idle nodes').`,
      );
    };

    // --- fan-out ---------------------------------------------------------------------------------------
    const fanConns: Partial<Record<Setup, RawConn[]>> = {};
    for (const setup of SETUPS) {
      ctx.log(`cluster fanout: connecting ${fmt(fanUsers.length)} to ${setup}`);
      fanConns[setup] = await populateSplit(servers[setup]!, fanUsers, () => [FAN_ROOM], live);
    }
    const fanWindow = (setup: Setup, tally: Tally, first: boolean) => {
      pinBackends();
      const [sender, ...receivers] = fanConns[setup]!;
      const senders: Sender[] = [{ conn: sender!, messageType: "group", to: FAN_ROOM, expected: fanUsers.length - 1 }];
      return closedLoop(meterOf(setup), tally, senders, receivers, FAN_IN_FLIGHT, {
        ...fanTiming,
        warmMs: first ? fanTiming.warmMs * 4 : fanTiming.warmMs,
      });
    };
    let fanRuns: Record<Setup, WindowResult[]> | undefined;
    await batches("fan-out", async () => {
      fanRuns = await interleaved(SETUPS, ctx.runs, fanSlices, fanWindow, (run, results) =>
        ctx.log(
          `cluster fanout run ${run + 1}: deliveries/CPU-s ` +
            SETUPS.map((setup) => `${setup} ${fmt(results[setup].deliveriesPerCpuS)}`).join(", "),
        ),
      );
    });
    variants.push(
      variantFrom(`fan-out: room of ${fmt(fanUsers.length)}, ${FAN_IN_FLIGHT} in flight`, "deliveries", fanRuns!),
    );
    await redisCommands("fan-out", (setup) => fanWindow(setup, new Tally(), false));
    if (ctx.profile)
      profiles.push(...(await profileSetups(ctx, servers, "fanout", (setup) => fanWindow(setup, new Tally(), false))));
    await closeAll(SETUPS.flatMap((setup) => fanConns[setup] ?? []));
    live.length = 0;

    // --- send path -------------------------------------------------------------------------------------
    const sendConns: Partial<Record<Setup, RawConn[]>> = {};
    for (const setup of SETUPS) {
      sendConns[setup] = await populateSplit(servers[setup]!, sendUsers, (index) => [roomOf(index)], live);
    }
    // 4 in flight only: with 1, the ratios were the same within noise (0.39× against 0.41× in one full run).
    const plan: ["group" | "direct", number][] = ctx.quick
      ? [["group", 4]]
      : [
          ["group", 4],
          ["direct", 4],
        ];
    for (const [mode, inFlight] of plan) {
      const sendWindow = (setup: Setup, tally: Tally, first: boolean) => {
        pinBackends();
        const senders: Sender[] = sendConns[setup]!.map((conn, index) =>
          mode === "group"
            ? { conn, messageType: "group", to: roomOf(index), expected: ROOM_SIZE - 1 }
            : { conn, messageType: "single", to: sendUsers[index ^ 1]!, expected: 1 },
        );
        return closedLoop(meterOf(setup), tally, senders, sendConns[setup]!, inFlight, {
          ...sendTiming,
          warmMs: first ? sendTiming.warmMs * 4 : sendTiming.warmMs,
        });
      };
      let runs: Record<Setup, WindowResult[]> | undefined;
      await batches(`send ${mode}, ${inFlight} in flight`, async () => {
        runs = await interleaved(SETUPS, ctx.runs, sendSlices, sendWindow, (run, results) =>
          ctx.log(
            `cluster send ${mode} ×${inFlight} run ${run + 1}: acked/CPU-s ` +
              SETUPS.map((setup) => `${setup} ${fmt(results[setup].ackedPerCpuS)}`).join(", "),
          ),
        );
      });
      variants.push(variantFrom(`send: ${mode}, ${inFlight} in flight per client`, "acked", runs!));
      await redisCommands(`send ${mode}, ${inFlight} in flight`, (setup) => sendWindow(setup, new Tally(), false));
      if (ctx.profile && inFlight === 4) {
        profiles.push(
          ...(await profileSetups(ctx, servers, `send-${mode}-${inFlight}`, (setup) =>
            sendWindow(setup, new Tally(), false),
          )),
        );
      }
    }
  } finally {
    await closeAll(live);
    await Promise.all(Object.values(servers).flatMap((list) => list.map((server) => server.stop())));
    for (const cleanup of cleanups)
      await cleanup().catch((error: unknown) => ctx.log(`cleanup failed: ${String(error)}`));
    restoreRedis();
    process.removeListener("exit", restoreRedis);
  }

  const targets: TargetResult[] = variants.map((variant) => {
    const key = variant.metrics[0]!.key;
    const ratio = variant.ratios[key]!["twoVsPg"]!;
    const bare = variant.ratios[key]!["bare"];
    return {
      target: `2 nodes ≥ 0.85× of 1 node on PostgreSQL per server-CPU-second (${variant.name})`,
      measured: `${ratio}× (bare Socket.IO ×2 ÷ ×1: ${bare ?? "–"}×; 1 node with Redis ÷ without: ${variant.ratios[key]!["redis1VsPg"] ?? "–"}×; 2 nodes ÷ 1 node with Redis: ${variant.ratios[key]!["twoVsRedis1"] ?? "–"}×)`,
      met: ratio >= 0.85,
    };
  });
  return {
    name: "cluster",
    title: "Cluster: two nodes against one",
    method: [
      "Setups, all up at once and measured in interleaved slices (A B C D E F A B C…): **2 nodes** of our server (`DATABASE_URL` + `REDIS_URL`: PostgreSQL store, Socket.IO's Redis Streams adapter, presence, rate limits, leases and typing in Redis), clients split evenly (user i on node i mod 2); **1 node on PostgreSQL** (`DATABASE_URL` only: the same store, no Redis), the comparison the target is about, since it isolates what clustering costs; **1 node on PostgreSQL + Redis** (cluster mode with one node), which splits that cost into what the Redis-backed features cost a node and what spreading the work over two processes costs; **1 node on SQLite** (the default) for context; **bare Socket.IO** (`bench/servers/bare-socketio.ts`) on two processes with the same Redis Streams adapter (clients split the same way) and on one, so the adapter's own cost is measured in the same run. Each PostgreSQL setup has a database of its own, each Redis setup a key prefix of its own.",
      `Every server process is pinned to CPU ${SERVER_CPU} (so two nodes' summed CPU competes like one process); the load client, Redis and the PostgreSQL backends of the bench's databases run on CPU ${CLIENT_CPU} (Redis is pinned for the case and its CPU list restored after; backends are pinned as the pools open them).`,
      "**What the ratio counts**: deliveries (fan-out) or acked sends per CPU-second of the setup's server processes only — both nodes' CPU summed for 2 nodes, both processes' for bare ×2 — read from /proc/<pid>/task/*/schedstat over exactly the measured slices. Redis's and PostgreSQL's CPU (schedstat of Redis's pid, from `INFO server`; of the PostgreSQL backends whose title names the setup's database) are reported beside it and are not in that denominator; the all-in row adds the engines a setup uses (Redis for 2 nodes, the single node with Redis and bare ×2; PostgreSQL for the three PostgreSQL setups).",
      "Redis and PostgreSQL are the machine's shared servers: other sessions' work lands in Redis's CPU (its CPU in the setups that do not use it is that background) and in the all-PostgreSQL row; the per-database backends row is ours alone.",
      `Fan-out: one room of ${fmt(fanUsers.length)} members, the sender on node A (on 2 nodes about half the receivers are on node B), ${FAN_IN_FLIGHT} messages in flight (closed loop: until acked and received by all others), ~140-byte text; ${fanSlices} slices of ${fanTiming.measureMs} ms per setup and run, each after ${fanTiming.warmMs} ms of unmeasured load.`,
      `Send: ${SEND_CLIENTS} clients in rooms of ${ROOM_SIZE}, 4 messages in flight each; group: each sends to its room (9 deliveries, half of them on the other node), direct: to its partner (user i ^ 1, always on the other node). Stored and acked (our server acks after the group commit; DB_SYNC=full on SQLite, synchronous_commit on PostgreSQL); ${sendSlices} slices of ${sendTiming.measureMs} ms per setup and run.`,
      `${ctx.runs} run(s): medians, and each ratio the median of the per-run ratios. Per-unit costs (µs per delivery or acked send) put the server processes, Redis and PostgreSQL in the same unit.`,
    ],
    params: {
      fanMembers: fanUsers.length,
      fanInFlight: FAN_IN_FLIGHT,
      sendClients: SEND_CLIENTS,
      roomSize: ROOM_SIZE,
      runs: ctx.runs,
      serverCpu: SERVER_CPU,
      clientCpu: CLIENT_CPU,
    },
    variants,
    targets,
    notes,
    profiles,
    seconds: Math.round((Date.now() - started) / 1000),
  };
}

/** A variant from per-run results, with the derived rows. */
function variantFrom(name: string, unit: "deliveries" | "acked", runs: Record<Setup, WindowResult[]>): VariantResult {
  const derived = Object.fromEntries(
    SETUPS.map((setup) => [setup, runs[setup].map((result) => derive(setup, unit, result))]),
  );
  return compareVariant(name, metrics(unit), derived, COLUMNS, COMPARISONS);
}

/**
 * CPU profiles, one window per setup profiled: both nodes, the single nodes with and without Redis, and both
 * bare processes with the adapter (where the adapter's own cost shows).
 */
async function profileSetups(
  ctx: BenchContext,
  servers: Partial<Record<Setup, ServerProcess[]>>,
  name: string,
  window: (setup: Setup) => Promise<void>,
): Promise<ProfileSummary[]> {
  const labels: Partial<Record<Setup, string[]>> = {
    two: ["node-a", "node-b"],
    redis1: ["one-node-pg-redis"],
    pg: ["one-node-pg"],
    bare2: ["bare2-a", "bare2-b"],
  };
  const out: ProfileSummary[] = [];
  for (const [setup, names] of Object.entries(labels) as [Setup, string[]][]) {
    const targets = names.map((label, index) => ({
      server: servers[setup]![index]!,
      name: `cluster-${name}-${label}`,
    }));
    out.push(...(await profiledAll(ctx, targets, () => window(setup))));
  }
  return out;
}
