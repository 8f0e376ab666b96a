/**
 * History timing, in a process of its own pinned to the server CPU: builds the chat server on the
 * 1M-message database (nothing listening) and calls its MessageService — the code `history:list` and `sync` run, permission checks
 * included — and times each call (performance.now around the awaited call), then the JSON encoding
 * Socket.IO would do for the ack. Prints one JSON line with the samples' percentiles.
 * argv: <chat.db> <spec.json>
 */
import { readFileSync } from "node:fs";
import { dirname } from "node:path";
import { createChatServer } from "../../server/app.js";
import { loadConfig } from "../../server/config.js";
import type { HistoryList } from "../../shared/schemas.js";

/** What to time: user/room pairs for pages, users with a cursor 1,000 visible messages back for sync. */
export interface HistorySpec {
  pages: { user: string; room: string; before: number }[];
  syncs: { user: string; after: number }[];
  /** Users in 50 rooms: `sync` from 0, `conversation:list` and the search for `needle` run as them. */
  wide: string[];
  needle: string;
  iterations: { last: number; back: number; sync: number; wide: number };
}

const [file, specFile] = process.argv.slice(2) as [string, string];
const spec = JSON.parse(readFileSync(specFile, "utf8")) as HistorySpec;

// Warm the page cache the way a running server's would be: read the database file once.
readFileSync(file);

// The whole server, built as main.ts builds it (nothing listens): its MessageService is wired as in production.
const server = await createChatServer({
  config: loadConfig({
    ...JSON.parse(process.env["BENCH_CHAT_ENV"] ?? "{}"),
    DATA_DIR: dirname(file),
    LOG_LEVEL: "silent",
    PORT: "0",
  }),
});
const messages = server.messages;
// Diagnostics only (see README): BENCH_SQLITE_PRAGMAS="mmap_size=1073741824;cache_size=-262144".
for (const pragma of (process.env["BENCH_SQLITE_PRAGMAS"] ?? "").split(";").filter(Boolean)) {
  (server.store as unknown as { database: { pragma(source: string): unknown } }).database.pragma(pragma);
}

function percentiles(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
  const r = (n: number) => Math.round(n * 1000) / 1000;
  return { count: sorted.length, p50: r(at(50)), p99: r(at(99)), max: r(sorted.at(-1)!) };
}

async function time(iterations: number, run: (index: number) => Promise<unknown>) {
  const call: number[] = [];
  const withJson: number[] = [];
  const cpu: number[] = [];
  let rows = 0;
  // 10% unmeasured warm-up: JIT and statement caches.
  for (let index = 0; index < Math.ceil(iterations / 10); index++) await run(index);
  for (let index = 0; index < iterations; index++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const result = (await run(index)) as { messages: unknown[] } | { messages: unknown[] }[];
    const t1 = performance.now();
    const c1 = process.cpuUsage(c0);
    cpu.push((c1.user + c1.system) / 1000);
    const json = JSON.stringify(result);
    const t2 = performance.now();
    call.push(t1 - t0);
    withJson.push(t2 - t0);
    rows += Array.isArray(result) ? result.reduce((n, page) => n + page.messages.length, 0) : result.messages.length;
    if (json.length === 0) throw new Error("empty");
  }
  return {
    call: percentiles(call),
    withJson: percentiles(withJson),
    cpu: percentiles(cpu),
    rowsPerCall: rows / iterations,
  };
}

const pages = spec.pages;
const last = await time(spec.iterations.last, (i) => {
  const page = pages[i % pages.length]!;
  return messages.history(page.user, { room: page.room, limit: 50 } as HistoryList);
});
const back = await time(spec.iterations.back, (i) => {
  const page = pages[(i * 7) % pages.length]!;
  return messages.history(page.user, { room: page.room, before: page.before, limit: 50 } as HistoryList);
});
const sync = await time(spec.iterations.sync, async (i) => {
  const { user, after } = spec.syncs[i % spec.syncs.length]!;
  const first = await messages.sync(user, after, 500);
  const second = await messages.sync(user, first.messages.at(-1)!.id, 500);
  if (first.messages.length + second.messages.length !== 1000 || second.hasMore) {
    throw new Error(`sync of ${user} after ${after}: ${first.messages.length} + ${second.messages.length}`);
  }
  return [first, second];
});
const syncPage = await time(spec.iterations.sync, (i) => {
  const { user, after } = spec.syncs[i % spec.syncs.length]!;
  return messages.sync(user, after, 500);
});
const wide = spec.wide;
const syncFromZero = await time(spec.iterations.wide, async (i) => {
  const page = await messages.sync(wide[i % wide.length]!, 0, 500);
  if (page.messages.length !== 500) throw new Error(`sync from 0: ${page.messages.length}`);
  return page;
});
const conversationList = await time(spec.iterations.wide, async (i) => {
  const list = await server.conversations.list(wide[i % wide.length]!);
  if (list.length < 50) throw new Error(`conversation:list: ${list.length}`);
  return { messages: list };
});
const search = await time(spec.iterations.wide, async (i) => {
  const found = await messages.search(wide[i % wide.length]!, spec.needle, undefined, 20);
  if (found.length !== 20) throw new Error(`search: ${found.length}`);
  return { messages: found };
});
await server.close();
process.stdout.write(`${JSON.stringify({ last, back, sync, syncPage, syncFromZero, conversationList, search })}\n`);
