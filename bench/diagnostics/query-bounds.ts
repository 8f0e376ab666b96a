/**
 * What one read costs at a realistic size (issue 12, item 7): `history:search`, `sync { after: 0 }`,
 * `lastId`, an unread count of a never-read lobby and `conversation:list` of a user in 400 rooms, on a
 * 250k-message database; then the attack that found it: one account keeping 4 searches of a common word in
 * flight against a real server while `/healthz` is probed. Loopback and in-process only; every phase stops
 * after a fixed time. Evidence for `/work/notes`-style before/after tables; not part of `npm run bench`.
 *
 * `npx tsx bench/diagnostics/query-bounds.ts [--root <checkout>] [--skip-attack | --attack-only]
 * [--events-per-10s N]`: `--root` measures
 * another checkout's code (e.g. a `git worktree` of an older commit, with `node_modules` linked), with a
 * database built by that checkout's own migrations.
 */
import Database from "better-sqlite3";
import { spawn } from "node:child_process";
import { copyFileSync, existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { BENCH_SECRET, closeAll, connect, specFor, type RawConn } from "../lib/client.js";
import { HISTORY_WORDS, prng } from "../lib/history-db.js";
import { cpuSeconds, freePort, ROOT } from "../lib/proc.js";
import { tempDataDir } from "../lib/seed.js";
import { round, samplePercentile } from "../lib/stats.js";
import type { ConversationService as ConversationServiceType } from "../../server/conversations/service.js";
import type { searchWords as searchWordsType } from "../../server/messages/service.js";
import type { SqliteStore as SqliteStoreType } from "../../server/store/sqlite/store.js";

const args = process.argv.slice(2);
const root = resolve(args.includes("--root") ? args[args.indexOf("--root") + 1]! : ROOT);
const skipAttack = args.includes("--skip-attack");
const attackOnly = args.includes("--attack-only");
/** RATE_LIMIT_EVENTS_PER_10S for the attack's server: unlimited unless given (the default is 200). */
const eventsPer10s = args.includes("--events-per-10s") ? args[args.indexOf("--events-per-10s") + 1]! : "1000000";
/** Only builds the data set and copies it here (to try queries on it). */
const buildOnly = args.includes("--build-only") ? args[args.indexOf("--build-only") + 1] : undefined;

/** The data set: 250k messages, 40% of them in the lobby, the rest over 1,000 rooms. */
const SHAPE = { users: 2000, rooms: 1000, roomsPerUser: 10, messages: 250_000, lobbyShare: 0.4 };
/** A user in 400 rooms with 20 direct conversations, who never sends to (or reads) the lobby. */
const MANY = "many";
/** The account that searches: an ordinary user (lobby and 10 rooms). */
const ATTACKER = "u0001";
const user = (index: number): string => `u${String(index).padStart(4, "0")}`;
const room = (index: number): string => `qr${index}`;
const roomsOfUser = (u: number): number[] =>
  Array.from({ length: SHAPE.roomsPerUser }, (_, k) => (u + k * 100) % SHAPE.rooms);

interface Modules {
  SqliteStore: typeof SqliteStoreType;
  ConversationService: typeof ConversationServiceType;
  searchWords: typeof searchWordsType;
}

/** The checkout's own store and services (types from this one: the API is the same). */
async function load(): Promise<Modules> {
  const from = (path: string) => import(pathToFileURL(join(root, path)).href);
  // Checkouts before the store was split into repositories have it in one file.
  const storePath = existsSync(join(root, "server/store/sqlite/store.ts"))
    ? "server/store/sqlite/store.ts"
    : "server/store/sqlite-store.ts";
  const store = (await from(storePath)) as { SqliteStore: typeof SqliteStoreType };
  const conv = (await from("server/conversations/service.ts")) as {
    ConversationService: typeof ConversationServiceType;
  };
  const msg = (await from("server/messages/service.ts")) as { searchWords: typeof searchWordsType };
  return {
    SqliteStore: store.SqliteStore,
    ConversationService: conv.ConversationService,
    searchWords: msg.searchWords,
  };
}

const log = (line: string) => process.stderr.write(`${line}\n`);

/** Builds the data set with the checkout's schema, indexes it for search through its own store, returns the file. */
async function build(mod: Modules): Promise<string> {
  const file = join(tempDataDir("query-bounds-"), "chat.db");
  const at = 1_700_000_000_000;
  await new mod.SqliteStore({ file, sync: "normal", fileUrl: (id) => `/files/${id}`, now: () => at }).close();
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = OFF");
  const insertUser = db.prepare("INSERT INTO users (id, name, password_hash, create_at) VALUES (?, ?, NULL, ?)");
  const insertRoom = db.prepare(
    "INSERT INTO rooms (id, name, visibility, created_by, create_at, member_count) VALUES (?, ?, 'public', ?, ?, 0)",
  );
  const insertMember = db.prepare("INSERT INTO room_members (room_id, user_id, joined_at) VALUES (?, ?, ?)");
  const insertMessage = db.prepare(
    `INSERT INTO messages (id, rev, message_type, media_type, sender, recipient, conversation, recipient_user,
       content, create_at, update_at) VALUES (?, ?, ?, 'text', ?, ?, ?, ?, ?, ?, ?)`,
  );
  const addDirect = db.prepare("INSERT OR IGNORE INTO direct_conversations (user_id, peer) VALUES (?, ?)");
  const random = prng(7);
  const members: string[][] = Array.from({ length: SHAPE.rooms }, () => []);
  db.transaction(() => {
    for (const id of [MANY, ...Array.from({ length: SHAPE.users }, (_, u) => user(u))]) {
      insertUser.run(id, id, at);
      insertMember.run("lobby", id, at);
    }
    for (let r = 0; r < SHAPE.rooms; r++) insertRoom.run(room(r), `Room ${r}`, user(r % SHAPE.users), at);
    for (let u = 0; u < SHAPE.users; u++) {
      for (const r of roomsOfUser(u)) {
        insertMember.run(room(r), user(u), at);
        members[r]!.push(user(u));
      }
    }
    for (let r = 0; r < 400; r++) insertMember.run(room(r), MANY, at + r);
    db.exec(`UPDATE rooms SET member_count = (SELECT COUNT(*) FROM room_members WHERE room_id = rooms.id)`);
    for (let i = 1; i <= SHAPE.messages; i++) {
      const words: string[] = [];
      while (words.join(" ").length < 120) words.push(HISTORY_WORDS[Math.floor(random() * HISTORY_WORDS.length)]!);
      const content = words.join(" ");
      const createAt = at + i * 10;
      if (i % 250 === 0) {
        // 1,000 direct messages to MANY from 20 peers, and MANY's answers.
        const peer = user(Math.floor(random() * 20) + 100);
        const [from, to] = i % 500 === 0 ? [MANY, peer] : [peer, MANY];
        const key = from < to ? `d:${from}|${to}` : `d:${to}|${from}`;
        insertMessage.run(i, i, "single", from, to, key, to, content, createAt, createAt);
        addDirect.run(from, to);
        addDirect.run(to, from);
      } else if (random() < SHAPE.lobbyShare) {
        const sender = user(Math.floor(random() * SHAPE.users));
        insertMessage.run(i, i, "group", sender, "lobby", "r:lobby", null, content, createAt, createAt);
      } else {
        const r = Math.floor(random() * SHAPE.rooms);
        const sender = members[r]![Math.floor(random() * members[r]!.length)]!;
        insertMessage.run(i, i, "group", sender, room(r), `r:${room(r)}`, null, content, createAt, createAt);
      }
    }
  })();
  db.close();
  const store = new mod.SqliteStore({ file, sync: "normal", fileUrl: (id) => `/files/${id}` });
  const started = performance.now();
  await store.search(MANY, ["zzzz"], undefined, 1); // catches the full-text index up
  log(`built ${SHAPE.messages} messages; indexed in ${Math.round(performance.now() - started)} ms`);
  await store.close();
  return file;
}

interface Timing {
  p50: number;
  p99: number;
  n: number;
}

/** Calls `fn` repeatedly (3 warm-up calls) until `samples` calls or `budgetMs` passed. */
async function time(fn: () => Promise<unknown>, samples = 30, budgetMs = 6000): Promise<Timing> {
  for (let i = 0; i < 3; i++) await fn();
  const times: number[] = [];
  const until = performance.now() + budgetMs;
  while (times.length < samples && performance.now() < until) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return { p50: round(samplePercentile(times, 50), 2), p99: round(samplePercentile(times, 99), 2), n: times.length };
}

async function inProcess(mod: Modules, file: string): Promise<Record<string, Timing & { note?: string }>> {
  const copy = join(tempDataDir("query-bounds-"), "chat.db");
  copyFileSync(file, copy);
  const store = new mod.SqliteStore({ file: copy, sync: "normal", fileUrl: (id) => `/files/${id}` });
  const conversations = new mod.ConversationService({} as never, store, Date.now);
  const match = (q: string) => mod.searchWords(q);
  const results: Record<string, Timing & { note?: string }> = {};
  const run = async (name: string, fn: () => Promise<unknown>, note?: () => Promise<string>) => {
    results[name] = { ...(await time(fn)), ...(note ? { note: await note() } : {}) };
    log(`${name}: ${JSON.stringify(results[name])}`);
  };
  await run(
    "search a common word (whole history)",
    () => store.search(ATTACKER, match("alpha"), undefined, 20),
    async () => `${(await store.search(ATTACKER, match("alpha"), undefined, 20)).length} results`,
  );
  await run("search two common words (whole history)", () =>
    store.search(ATTACKER, match("alpha bravo"), undefined, 20),
  );
  await run("search eight common words (whole history)", () =>
    store.search(ATTACKER, match(HISTORY_WORDS.slice(0, 8).join(" ")), undefined, 20),
  );
  await run("search one word 33 times (whole history)", () =>
    store.search(ATTACKER, match("alpha ".repeat(33)), undefined, 20),
  );
  await run("search a common word in one room", () => store.search(ATTACKER, match("alpha"), `r:${room(1)}`, 20));
  await run("search by a user in 400 rooms", () => store.search(MANY, match("alpha"), undefined, 20));
  await run("sync { after: 0, limit: 500 } (400 rooms)", () => store.visibleAfter(MANY, 0, 500));
  const middle = Math.floor(SHAPE.messages / 2);
  await run("sync { after: 125000, limit: 500 } (400 rooms)", () => store.visibleAfter(MANY, middle, 500));
  await run("lastId of a user in 400 rooms", () => store.lastVisibleId(MANY));
  await run(
    "unread of a never-read lobby (conversation:read)",
    () => conversations.read(MANY, { room: "lobby" }, 0),
    async () => `unread ${(await conversations.read(MANY, { room: "lobby" }, 0)).unread}`,
  );
  await run(
    "conversation:list, 400 rooms + 20 direct",
    () => conversations.list(MANY),
    async () => `${(await conversations.list(MANY)).length} entries`,
  );
  await run("history:list last 50 of the lobby", () => store.conversationPage("r:lobby", { limit: 50 }));
  await store.close();
  return results;
}

/** One account keeps 4 searches of a common word in flight for 10 s against a real server; /healthz is probed. */
async function attack(file: string): Promise<Record<string, number>> {
  const dataDir = tempDataDir("query-bounds-srv-");
  copyFileSync(file, join(dataDir, "chat.db"));
  const port = await freePort();
  const child = spawn(process.execPath, ["--import", "tsx", "server/main.ts"], {
    cwd: root,
    env: {
      ...process.env,
      NODE_ENV: "production",
      PORT: String(port),
      HOST: "127.0.0.1",
      DATA_DIR: dataDir,
      LOG_LEVEL: "warn",
      JWT_SECRET: BENCH_SECRET,
      PUSH_API_KEY: "bench-push-key-of-at-least-32-bytes-loopback",
      ADMIN_API_KEY: "bench-admin-key-of-at-least-32-bytes-loopback",
      RATE_LIMIT_EVENTS_PER_10S: eventsPer10s,
      RATE_LIMIT_CONNECTIONS_PER_MIN: "1000000",
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const url = `http://127.0.0.1:${port}`;
  const conns: RawConn[] = [];
  try {
    const bootUntil = Date.now() + 60_000;
    for (;;) {
      try {
        if ((await fetch(`${url}/healthz`)).ok) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > bootUntil) throw new Error("server did not start");
      await new Promise((r) => setTimeout(r, 100));
    }
    const outcome = await connect(specFor(url, ATTACKER, [], true));
    if (!outcome.conn) throw new Error(`connect: ${outcome.error}`);
    const conn = outcome.conn;
    conns.push(conn);
    const idle: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now();
      await fetch(`${url}/healthz`);
      idle.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 20));
    }
    const cpu0 = cpuSeconds(child.pid!);
    const started = performance.now();
    const stopAt = started + 10_000;
    let searches = 0;
    let refused = 0;
    // Paced to the per-user event budget (when one is set), as an attacker who wants to stay connected would.
    const gap = 10_000 / Number(eventsPer10s);
    let nextAt = performance.now();
    let failed = 0;
    const searcher = async () => {
      while (performance.now() < stopAt) {
        const wait = nextAt - performance.now();
        nextAt = Math.max(performance.now(), nextAt) + gap;
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        try {
          const answer = await conn.request<{ ok: boolean }>("history:search", { q: "alpha", limit: 50 }, 15_000);
          if (answer.ok) searches += 1;
          else refused += 1;
        } catch {
          failed += 1;
          return;
        }
      }
    };
    const probes: number[] = [];
    const prober = async () => {
      while (performance.now() < stopAt) {
        const t0 = performance.now();
        await fetch(`${url}/healthz`);
        probes.push(performance.now() - t0);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    await Promise.all([searcher(), searcher(), searcher(), searcher(), prober()]);
    const wall = (performance.now() - started) / 1000;
    const cpu = cpuSeconds(child.pid!) - cpu0;
    return {
      idleHealthzP50: round(samplePercentile(idle, 50), 2),
      healthzP50: round(samplePercentile(probes, 50), 2),
      healthzP99: round(samplePercentile(probes, 99), 2),
      healthzMax: round(Math.max(...probes), 2),
      serverCpuSeconds: round(cpu, 2),
      wallSeconds: round(wall, 2),
      searchesAnswered: searches,
      searchesRefused: refused,
      searchesUnanswered: failed,
    };
  } finally {
    await closeAll(conns);
    child.kill("SIGTERM");
  }
}

const mod = await load();
log(`measuring ${root}`);
const file = await build(mod);
if (buildOnly !== undefined) {
  copyFileSync(file, buildOnly);
  process.exit(0);
}
const results: Record<string, unknown> = { root, eventsPer10s };
if (!attackOnly) results["inProcess"] = await inProcess(mod, file);
if (!skipAttack) results["attack"] = await attack(file);
process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
process.exit(0);
