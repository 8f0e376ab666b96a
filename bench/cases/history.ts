import Database from "better-sqlite3";
import { execFile } from "node:child_process";
import { copyFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { closeAll, connect, now, specFor, type RawConn } from "../lib/client.js";
import { CHAT_ENV, fmt, variantOf, type BenchContext, type CaseResult, type MetricSpec } from "../lib/harness.js";
import { HISTORY, historyDb, historyRoom, historyRoomsOf, historyUser, wideUser } from "../lib/history-db.js";
import { NODE_FLAGS, ROOT, SERVER_CPU, ServerProcess } from "../lib/proc.js";
import { tempDataDir } from "../lib/seed.js";
import { round, samplePercentile } from "../lib/stats.js";
import type { HistorySpec } from "../servers/history-entry.js";

const run = promisify(execFile);

const METRICS: MetricSpec[] = [
  { key: "last50P50", label: "last 50 of a room: p50 (ms)", digits: 3 },
  { key: "last50P99", label: "last 50 of a room: p99 (ms)", digits: 3 },
  { key: "backP50", label: "page back (50 before an id): p50 (ms)", digits: 3 },
  { key: "backP99", label: "page back (50 before an id): p99 (ms)", digits: 3 },
  { key: "syncP50", label: "`sync` of 1,000 missed (2 calls of 500): p50 (ms)", digits: 2 },
  { key: "syncP99", label: "`sync` of 1,000 missed (2 calls of 500): p99 (ms)", digits: 2 },
  { key: "syncPageP99", label: "`sync`, one page of 500: p99 (ms)", digits: 2 },
  { key: "sync0P99", label: "`sync { after: 0, limit: 500 }`, user in 50 rooms: p99 (ms)", digits: 2 },
  { key: "listP99", label: "`conversation:list`, user in 50 rooms: p99 (ms)", digits: 2 },
  { key: "searchP99", label: "`history:search` for a word in 100,000 messages: p99 (ms)", digits: 2 },
];

interface Percentiles {
  p50: number;
  p99: number;
}

/** Picks what to time: room pages of random users, and users with a cursor exactly 1,000 visible messages back. */
export function makeSpec(file: string, quick: boolean): HistorySpec {
  const db = new Database(file, { readonly: true });
  const pageOf = db.prepare<[string, number], { id: number }>(
    "SELECT id FROM messages WHERE conversation = ? ORDER BY id LIMIT 1 OFFSET ?",
  );
  const pages: HistorySpec["pages"] = [];
  for (let i = 0; i < 400; i++) {
    const u = (i * 7919) % HISTORY.users;
    const room = historyRoom(historyRoomsOf(u)[i % HISTORY.roomsPerUser]!);
    const before = pageOf.get(`r:${room}`, 100 + ((i * 131) % 800))!.id;
    pages.push({ user: historyUser(u), room, before });
  }
  const syncs: HistorySpec["syncs"] = [];
  for (let i = 0; i < 50; i++) {
    const u = (i * 193 + 11) % HISTORY.users;
    const rooms = historyRoomsOf(u).map((r) => `r:${historyRoom(r)}`);
    const row = db
      .prepare(
        `SELECT id FROM messages WHERE conversation IN (${rooms.map(() => "?").join(",")}) ORDER BY id DESC LIMIT 1 OFFSET 1000`,
      )
      .get(...rooms) as { id: number };
    syncs.push({ user: historyUser(u), after: row.id });
  }
  db.close();
  return {
    pages,
    syncs,
    wide: Array.from({ length: HISTORY.wideUsers }, (_, w) => wideUser(w)),
    needle: HISTORY.needle,
    iterations: quick ? { last: 500, back: 500, sync: 50, wide: 50 } : { last: 3000, back: 3000, sync: 300, wide: 300 },
  };
}

/** Parses `chat_ack_latency_seconds` buckets of one event from /metrics: the bucket holding the p50 and p99. */
async function metricsBuckets(url: string, event: string): Promise<{ p50: string; p99: string; count: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const buckets: { le: number; count: number }[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith("chat_ack_latency_seconds_bucket") || !line.includes(`event="${event}"`)) continue;
    const le = /le="([^"]+)"/.exec(line)?.[1];
    buckets.push({ le: le === "+Inf" ? Infinity : Number(le), count: Number(line.split(" ").at(-1)) });
  }
  const total = buckets.at(-1)?.count ?? 0;
  const at = (p: number) => {
    const bucket = buckets.find((b) => b.count >= (p / 100) * total);
    return bucket ? (bucket.le === Infinity ? "> 1 s" : `≤ ${bucket.le * 1000} ms`) : "–";
  };
  return { p50: at(50), p99: at(99), count: total };
}

/**
 * History at 1M rows: last-50, page-back and `sync` of 1,000 missed messages. Server-side times come from
 * a process pinned to the server CPU that builds the chat server on the database and times its
 * MessageService calls (with and without the JSON encoding of the answer); a second pass asks the real
 * server over a socket (client round trip, and the server's own ack-latency histogram from /metrics).
 */
export async function historyCase(ctx: BenchContext): Promise<CaseResult> {
  const started = Date.now();
  const cached = historyDb(ctx.log);
  const dataDir = tempDataDir();
  const file = join(dataDir, "chat.db");
  copyFileSync(cached, file);
  const spec = makeSpec(file, ctx.quick);
  const specFile = join(dataDir, "spec.json");
  writeFileSync(specFile, JSON.stringify(spec));

  ctx.log("history: timing MessageService calls in-process");
  const { stdout } = await run(
    "taskset",
    [
      "-c",
      String(SERVER_CPU),
      process.execPath,
      ...NODE_FLAGS,
      "--import",
      "tsx",
      join(ROOT, "bench/servers/history-entry.ts"),
      file,
      specFile,
    ],
    {
      cwd: ROOT,
      env: { ...process.env, NODE_ENV: "production", BENCH_CHAT_ENV: JSON.stringify(CHAT_ENV) },
      maxBuffer: 1 << 20,
    },
  );
  const inProcess = JSON.parse(stdout.trim().split("\n").at(-1)!) as Record<
    "last" | "back" | "sync" | "syncPage" | "syncFromZero" | "conversationList" | "search",
    { call: Percentiles; withJson: Percentiles; cpu: Percentiles }
  >;
  const pick = (kind: "call" | "withJson" | "cpu") => ({
    last50P50: inProcess.last[kind].p50,
    last50P99: inProcess.last[kind].p99,
    backP50: inProcess.back[kind].p50,
    backP99: inProcess.back[kind].p99,
    syncP50: inProcess.sync[kind].p50,
    syncP99: inProcess.sync[kind].p99,
    syncPageP99: inProcess.syncPage[kind].p99,
    sync0P99: inProcess.syncFromZero[kind].p99,
    listP99: inProcess.conversationList[kind].p99,
    searchP99: inProcess.search[kind].p99,
  });

  ctx.log("history: the same over a socket to the real server");
  const server = await ServerProcess.start("chat", { ...CHAT_ENV, DATA_DIR: dataDir });
  const conns: RawConn[] = [];
  let socket: Record<string, number>;
  let buckets: {
    history: Awaited<ReturnType<typeof metricsBuckets>>;
    sync: Awaited<ReturnType<typeof metricsBuckets>>;
  };
  try {
    const rtt = async (n: number, request: (i: number) => Promise<void>) => {
      const times: number[] = [];
      for (let i = 0; i < Math.ceil(n / 10); i++) await request(i);
      for (let i = 0; i < n; i++) {
        const t0 = now();
        await request(i);
        times.push(now() - t0);
      }
      return { p50: round(samplePercentile(times, 50), 3), p99: round(samplePercentile(times, 99), 3) };
    };
    const byUser = new Map<string, RawConn>();
    const connFor = async (user: string) => {
      let conn = byUser.get(user);
      if (!conn) {
        const outcome = await connect(specFor(server.url, user, [], true));
        if (!outcome.conn) throw new Error(`history: connect ${user}: ${outcome.error}`);
        conn = outcome.conn;
        byUser.set(user, conn);
        conns.push(conn);
      }
      return conn;
    };
    const pages = spec.pages.slice(0, 40);
    const syncs = spec.syncs.slice(0, 20);
    for (const page of pages) await connFor(page.user);
    for (const s of syncs) await connFor(s.user);
    const ask = async (conn: RawConn, event: string, payload: unknown) => {
      const answer = await conn.request<{ ok: boolean; data: { messages: { id: number; rev?: number }[] } }>(
        event,
        payload,
      );
      if (!answer.ok) throw new Error(`${event}: ${JSON.stringify(answer).slice(0, 200)}`);
      return answer.data;
    };
    const n = ctx.quick ? 200 : 1000;
    const last = await rtt(n, async (i) => {
      const page = pages[i % pages.length]!;
      await ask(byUser.get(page.user)!, "history:list", { room: page.room, limit: 50 });
    });
    const back = await rtt(n, async (i) => {
      const page = pages[(i * 7) % pages.length]!;
      await ask(byUser.get(page.user)!, "history:list", { room: page.room, before: page.before, limit: 50 });
    });
    const sync = await rtt(ctx.quick ? 40 : 200, async (i) => {
      const s = syncs[i % syncs.length]!;
      const conn = byUser.get(s.user)!;
      const first = await ask(conn, "sync", { after: s.after, limit: 500 });
      const tail = first.messages.at(-1)!;
      await ask(conn, "sync", { after: tail.rev ?? tail.id, limit: 500 });
    });
    socket = {
      last50P50: last.p50,
      last50P99: last.p99,
      backP50: back.p50,
      backP99: back.p99,
      syncP50: sync.p50,
      syncP99: sync.p99,
      syncPageP99: NaN,
      sync0P99: NaN,
      listP99: NaN,
      searchP99: NaN,
    };
    buckets = {
      history: await metricsBuckets(server.url, "history:list"),
      sync: await metricsBuckets(server.url, "sync"),
    };
  } finally {
    await closeAll(conns);
    await server.stop();
  }

  const variants = [
    variantOf("server-side, in-process: MessageService call", METRICS, { chat: [pick("call")] }),
    variantOf("server-side, in-process: call + JSON encoding of the answer", METRICS, { chat: [pick("withJson")] }),
    variantOf(
      "server-side, in-process: CPU time of the call (process.cpuUsage; what neighbours on the CPU cannot inflate)",
      METRICS,
      { chat: [pick("cpu")] },
    ),
    variantOf("over a socket to the real server: client round trip (1 in flight)", METRICS, { chat: [socket] }),
  ];
  const server50 = pick("withJson");
  /** A server-side target: `p99` (with the JSON encoding) of the timing `key` within `limitMs`. */
  const within = (what: string, key: keyof typeof inProcess, p99: number, limitMs: number, who?: string) => ({
    target: `${what} p99 ≤ ${limitMs} ms (server-side, with JSON encoding${who ? `; ${who}` : ""})`,
    measured: `${p99} ms (the call${key === "sync" ? "s" : ""} alone ${inProcess[key].call.p99} ms, CPU time ${inProcess[key].cpu.p99} ms)`,
    met: p99 <= limitMs,
  });
  return {
    name: "history",
    title: "History at 1M rows",
    method: [
      `${fmt(HISTORY.messages)} group messages (~140-byte text) in ${fmt(HISTORY.rooms)} rooms of 100 members; ${fmt(HISTORY.users)} users each in ${HISTORY.roomsPerUser} rooms, and ${HISTORY.wideUsers} users in ${HISTORY.roomsPerWideUser} rooms each (they see about 50,000 messages); every ${HISTORY.needleEvery}th message holds the word "${HISTORY.needle}" (100,000 in all, about 5,000 of them visible to a user in 50 rooms). Built once with the server's own schema (indexes and full-text index rebuilt after a bulk insert), cached in bench/.cache/, copied per run.`,
      `Server-side (what the targets are checked on): a process pinned to CPU 0 builds the chat server on the database (createChatServer, nothing listening) and times its MessageService.history / .sync — permission checks, SQL, row mapping — then the same plus JSON.stringify of the answer (the encoding Socket.IO does for the ack). ${fmt(spec.iterations.last)} last-50 and page-back calls over 400 (user, room) pairs, ${fmt(spec.iterations.sync)} syncs over 50 users whose cursor is exactly 1,000 visible messages back (2 calls of 500: the protocol's maximum page); ${fmt(spec.iterations.wide)} each of \`sync\` from 0 (one page of 500), \`conversation:list\` and a search for "${HISTORY.needle}" (20 best) as the users in 50 rooms; 10% unmeasured warm-up; the database file is read once first so the page cache is warm, as in a running server.`,
      "Over the socket: the real server on the same data, one request in flight, client-measured round trip (adds both processes' socket work and the load client's JSON parse).",
    ],
    params: { ...HISTORY, iterations: spec.iterations },
    variants,
    targets: [
      within("history last-50", "last", server50.last50P99, 0.5),
      within("`sync` of 1,000 missed", "sync", server50.syncP99, 15),
      within("`sync { after: 0, limit: 500 }`", "syncFromZero", server50.sync0P99, 20, "a user in 50 rooms"),
      within("`conversation:list`", "conversationList", server50.listP99, 10, "a user in 50 rooms"),
      within("`history:search` for a word found in 100,000 messages", "search", server50.searchP99, 50),
    ],
    notes: [
      `The server's own ack-latency histogram (/metrics, chat_ack_latency_seconds, from receiving the request to answering it) over the socket pass: history:list p50 ${buckets.history.p50}, p99 ${buckets.history.p99} (${fmt(buckets.history.count)} requests); sync p50 ${buckets.sync.p50}, p99 ${buckets.sync.p99} (${fmt(buckets.sync.count)} requests, each one page). Its buckets are coarse (0.5, 1, 2.5, 5, 10 ms …).`,
    ],
    profiles: [],
    seconds: Math.round((Date.now() - started) / 1000),
  };
}
