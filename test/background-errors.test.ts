import { EventEmitter } from "node:events";
import { join } from "node:path";
import { Writable } from "node:stream";
import Database from "better-sqlite3";
import { io as ioClient } from "socket.io-client";
import { afterEach, describe, expect, it } from "vitest";
import { createBackgroundErrorReporter, installProcessGuards, type ProcessEvents } from "../server/background.js";
import { createLogger } from "../server/logger.js";
import { roomConversation } from "../server/messages/conversation.js";
import { Metrics } from "../server/metrics.js";
import { SqliteStore } from "../server/store/sqlite/store.js";
import type { MessageDraft } from "../server/store/types.js";
import {
  cleanup,
  connect,
  ok,
  signToken,
  startServer,
  tempDir,
  until,
  waitForMessage,
  type ClientSocket,
  type TestServer,
} from "./support/harness.js";
import { killAll, spawnServer } from "./support/process.js";

const closers: (() => unknown)[] = [];
afterEach(async () => {
  killAll();
  while (closers.length > 0) await closers.pop()!();
  await cleanup();
});

/**
 * A fault injected from a second connection, as a full disk or a damaged index would look to the indexer:
 * moving the search watermark (`search_index`) raises an error, so each indexing transaction rolls back.
 * Message writes never touch that table, so sends keep working — as they would with only the FTS pages bad.
 */
const FAULT_ON = `CREATE TRIGGER inject_index_fault BEFORE UPDATE ON search_index
  BEGIN SELECT RAISE(ABORT, 'injected fault: disk I/O error'); END`;
const FAULT_OFF = "DROP TRIGGER inject_index_fault";

/** A second connection to a server's database, closed after the test. */
function secondConnection(file: string): Database.Database {
  const db = new Database(file);
  db.pragma("busy_timeout = 5000");
  closers.push(() => db.close());
  return db;
}

/** The value of one sample of `chat_background_errors_total` in a Prometheus text body (0 when absent). */
function backgroundErrors(metricsText: string, task: string): number {
  const line = metricsText.split("\n").find((l) => l.startsWith(`chat_background_errors_total{task="${task}"} `));
  return line === undefined ? 0 : Number(line.split(" ")[1]);
}

const scrape = async (server: TestServer) => (await server.server.app.inject({ url: "/metrics" })).body;

const say = (socket: ClientSocket, content: string) =>
  ok(socket, "message:send", { messageType: "group", mediaType: "text", to: "lobby", content });

const searchIds = async (socket: ClientSocket, q: string) =>
  (await ok(socket, "history:search", { q })).messages.map((m) => m.id).sort((a, b) => a - b);

/** Polls an async condition (a scrape, a search) until it holds, failing after `ms`. */
async function eventually(check: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition did not become true in time");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("a failing search indexer", () => {
  it("keeps the server running, counts search-index in /metrics, still acks sends, and catches up once the fault clears", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const db = secondConnection(join(server.config.dataDir, "chat.db"));
    db.exec(FAULT_ON);

    const first = await say(alice.socket, "gannet one");
    await eventually(async () => backgroundErrors(await scrape(server), "search-index") >= 1);

    // Still serving: sends ack, health answers, and a search answers from what is indexed (not these).
    const second = await say(alice.socket, "gannet two");
    expect(second.id).toBeGreaterThan(first.id);
    expect((await server.server.app.inject({ url: "/readyz" })).statusCode).toBe(200);
    expect(await searchIds(alice.socket, "gannet")).toEqual([]);

    db.exec(FAULT_OFF);
    await eventually(async () => (await searchIds(alice.socket, "gannet")).length === 2);
    expect(await searchIds(alice.socket, "gannet")).toEqual([first.id, second.id]);
    // Retried with backoff (1 s, then 2 s, ...): a handful of failures, not a spin.
    expect(backgroundErrors(await scrape(server), "search-index")).toBeLessThanOrEqual(3);
  });

  it("backs off instead of spinning, answers searches from what is indexed, and resumes by itself", async () => {
    const failures: string[] = [];
    const store = new SqliteStore({
      file: join(tempDir(), "x.db"),
      sync: "normal",
      fileUrl: (id) => `/files/${id}`,
      searchIndexDelayMs: 0,
      searchIndexRetryMs: 10,
      onBackgroundError: (task) => failures.push(task),
    });
    closers.push(() => store.close());
    await store.createUser({ id: "alice", name: "alice", passwordHash: null, createAt: 1 });
    const draft = (content: string): MessageDraft => ({
      messageType: "group",
      mediaType: "text",
      from: "alice",
      to: "lobby",
      conversation: roomConversation("lobby"),
      recipientUser: null,
      content,
      createAt: 2,
    });
    const indexed = (await store.appendMessage(draft("puffin indexed"))).message.id;
    expect((await store.search("alice", ["puffin"], undefined, 10)).map((m) => m.id)).toEqual([indexed]);

    store.database.exec(FAULT_ON);
    const pending = (await store.appendMessage(draft("puffin pending"))).message.id;
    await until(() => failures.length >= 1);
    // The search answers (from the index as it is) and does not try again while a retry is pending.
    const before = failures.length;
    expect((await store.search("alice", ["puffin"], undefined, 10)).map((m) => m.id)).toEqual([indexed]);
    expect(failures.length).toBe(before);
    // More commits while failing do not reschedule it either. Over ~300 ms, retries at 10, 20, 40, 80, 160 ms.
    for (let n = 0; n < 20; n++) await store.appendMessage(draft(`puffin more ${n}`));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(failures.length).toBeGreaterThanOrEqual(3);
    expect(failures.length).toBeLessThanOrEqual(7);
    expect(new Set(failures)).toEqual(new Set(["search-index"]));

    store.database.exec(FAULT_OFF);
    await until(() => store.database.prepare("SELECT indexed_upto FROM search_index").pluck().get() === pending + 20);
    const found = await store.search("alice", ["puffin"], undefined, 50);
    expect(found.map((m) => m.id)).toContain(pending);
    expect(found).toHaveLength(22);
  });

  it("does not end the server process (main.ts), which keeps acking and reports the failure", async () => {
    const dataDir = tempDir();
    const server = await spawnServer(dataDir);
    const socket: ClientSocket = ioClient(server.url, {
      auth: { token: signToken("alice") },
      transports: ["websocket"],
      reconnection: false,
      forceNew: true,
    });
    closers.push(() => socket.disconnect());
    await new Promise<void>((resolve, reject) => {
      socket.once("session", () => resolve());
      socket.once("connect_error", reject);
    });
    const db = secondConnection(join(dataDir, "chat.db"));
    db.exec(FAULT_ON);
    await say(socket, "shearwater");
    await until(() => server.output().includes("background task failed: search-index"), 10_000);
    expect(server.child.exitCode).toBeNull();
    await say(socket, "shearwater again");
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(backgroundErrors(metrics, "search-index")).toBeGreaterThanOrEqual(1);
    expect(server.child.exitCode).toBeNull();
  });
});

describe("other background work", () => {
  it("counts a worker that throws as task worker, tells the room, and keeps serving", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    server.server.workers.ensure("lobby", () => {
      throw new Error("worker exploded");
    });
    await waitForMessage(alice, (m) => "id" in m && /failed/.test(m.content ?? ""));
    expect(backgroundErrors(await scrape(server), "worker")).toBe(1);
    expect(server.server.workers.size).toBe(0);
    await say(alice.socket, "still here");
  });

  it("counts a worker whose promise rejects as task worker", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    server.server.workers.ensure("lobby", async () => {
      await Promise.resolve();
      throw new Error("async worker exploded");
    });
    await waitForMessage(alice, (m) => "id" in m && /failed/.test(m.content ?? ""));
    expect(backgroundErrors(await scrape(server), "worker")).toBe(1);
  });

  it("counts a failed last-seen write at going offline as task presence", async () => {
    const server = await startServer();
    const db = secondConnection(join(server.config.dataDir, "chat.db"));
    db.exec(`CREATE TRIGGER inject_presence_fault BEFORE UPDATE OF last_seen_at ON users
      BEGIN SELECT RAISE(ABORT, 'injected fault'); END`);
    const alice = await connect(server, "alice");
    alice.socket.disconnect();
    // The offline notice runs after PRESENCE_GRACE_MS (150 ms in tests).
    await eventually(async () => backgroundErrors(await scrape(server), "presence") === 1);
    const bob = await connect(server, "bob");
    await say(bob.socket, "the server is fine");
    db.exec("DROP TRIGGER inject_presence_fault");
  });
});

describe("process guards (server/main.ts)", () => {
  /** A logger writing JSON lines into `lines`. */
  function capturingLogger(lines: string[]) {
    return createLogger(
      "info",
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          lines.push(chunk.toString());
          done();
        },
      }),
    );
  }

  it("logs and counts an unhandled rejection as task unhandled instead of exiting", async () => {
    const lines: string[] = [];
    const logger = capturingLogger(lines);
    const metrics = new Metrics({ sockets: () => 0, users: () => 0, workers: () => 0 });
    const target = new EventEmitter();
    const exits: number[] = [];
    installProcessGuards(target as ProcessEvents, logger, createBackgroundErrorReporter(logger, metrics), (code) =>
      exits.push(code),
    );
    target.emit("unhandledRejection", new Error("nobody awaited me"));
    target.emit("unhandledRejection", "a bare reason");
    expect(backgroundErrors(await metrics.registry.metrics(), "unhandled")).toBe(2);
    expect(exits).toEqual([]);
    expect(lines.join("")).toContain("nobody awaited me");
    expect(lines.join("")).toContain('"task":"unhandled"');
  });

  it("counts every failure but logs a few per task per window, then one line with how many more", async () => {
    const lines: string[] = [];
    const logger = capturingLogger(lines);
    const metrics = new Metrics({ sockets: () => 0, users: () => 0, workers: () => 0 });
    const report = createBackgroundErrorReporter(logger, metrics, { loggedPerWindow: 3, windowMs: 200 });
    // An outage's worth of the same failure, and one of another task.
    for (let i = 0; i < 1000; i += 1) report("presence", new Error(`redis down ${i}`));
    report("worker", new Error("worker failed"));
    expect(backgroundErrors(await metrics.registry.metrics(), "presence")).toBe(1000);
    const failed = (text: string) => lines.filter((line) => line.includes(text));
    expect(failed("background task failed: presence")).toHaveLength(3);
    expect(failed("background task failed: worker")).toHaveLength(1);
    await until(() => failed("more times").length === 1);
    expect(JSON.parse(failed("more times")[0]!)).toMatchObject({ task: "presence", suppressed: 997 });
    // A new window logs again.
    report("presence", new Error("redis down again"));
    expect(failed("background task failed: presence")).toHaveLength(4);
    expect(failed("more times")).toHaveLength(1);
  });

  it("logs an uncaught exception as fatal and exits with 1", () => {
    const lines: string[] = [];
    const logger = capturingLogger(lines);
    const metrics = new Metrics({ sockets: () => 0, users: () => 0, workers: () => 0 });
    const target = new EventEmitter();
    const exits: number[] = [];
    installProcessGuards(target as ProcessEvents, logger, createBackgroundErrorReporter(logger, metrics), (code) =>
      exits.push(code),
    );
    target.emit("uncaughtException", new Error("a bug"));
    expect(exits).toEqual([1]);
    expect(lines.join("")).toContain('"level":60');
    expect(lines.join("")).toContain("a bug");
  });
});
