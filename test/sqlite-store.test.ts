import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { roomConversation } from "../server/messages/conversation.js";
import { MIGRATIONS } from "../server/store/sqlite/migrations.js";
import { LAST_VISIBLE_SQL, VISIBLE_AFTER_SQL, pageSql } from "../server/store/sqlite/messages.js";
import { conversationRowsSql } from "../server/store/sqlite/read-state.js";
import { cleanup, tempDir, until } from "./support/harness.js";
import {
  SqliteStore,
  addUsers,
  appendAll,
  fileUrl,
  group,
  single,
  system,
  tick,
  type SqliteStoreOptions,
} from "./support/stores.js";

// What every store promises is tested in test/store-contract/ against each implementation; this file tests
// what is SQLite's own: the schema and its migrations, pragmas, the full-text indexer, the group commit and
// query plans.

afterEach(cleanup);

const stores: SqliteStore[] = [];
afterEach(async () => {
  while (stores.length > 0) await stores.pop()!.close();
});

/** Opens a store on `file` (a fresh temp database unless given), closed after the test. */
function openStore(file = join(tempDir(), "x.db"), options: Partial<SqliteStoreOptions> = {}): SqliteStore {
  const store = new SqliteStore({ file, sync: "full", fileUrl, now: () => 1000, ...options });
  stores.push(store);
  return store;
}

describe("SqliteStore schema", () => {
  it("upgrades a version-1 database with messages: rev equals id, search and direct conversations backfilled", async () => {
    const file = join(tempDir(), "v1.db");
    const raw = new Database(file);
    raw.exec(MIGRATIONS[0]!);
    raw.pragma("user_version = 1");
    raw.exec(`INSERT INTO users (id, name, create_at) VALUES ('alice', 'alice', 1), ('bob', 'bob', 1);
      INSERT INTO messages (message_type, media_type, sender, recipient, conversation, recipient_user, content, create_at, update_at)
      VALUES ('single', 'text', 'alice', 'bob', 'd:alice|bob', 'bob', 'hello from the old days', 5, 5);`);
    raw.close();
    const store = openStore(file);
    expect(store.database.pragma("user_version", { simple: true })).toBe(MIGRATIONS.length);
    const [message] = (await store.visibleAfter("bob", 0, 10)).messages;
    expect(message).toMatchObject({ id: 1, rev: 1, content: "hello from the old days" });
    expect(await store.directPeers("bob")).toEqual(["alice"]);
    expect((await store.search("bob", ["old"], undefined, 10)).map((m) => m.id)).toEqual([1]);
    const next = await store.appendMessage(single("bob", "alice"));
    expect(next.message.id).toBe(2);
  });

  it("runs in WAL mode with its sync setting, a 64 MiB page cache and a checkpoint every 10,000 WAL pages", () => {
    const full = openStore();
    const normal = openStore(undefined, { sync: "normal" });
    const pragma = (store: SqliteStore, name: string) => store.database.pragma(name, { simple: true });
    expect(pragma(full, "journal_mode")).toBe("wal");
    expect(pragma(full, "synchronous")).toBe(2); // FULL
    expect(pragma(normal, "synchronous")).toBe(1); // NORMAL
    expect(pragma(full, "cache_size")).toBe(-65536);
    expect(pragma(full, "wal_autocheckpoint")).toBe(10000);
    expect(pragma(full, "journal_size_limit")).toBe(64 * 1024 * 1024);
  });

  it("applies every migration and records their count in user_version", () => {
    const store = openStore();
    expect(MIGRATIONS.length).toBeGreaterThan(0);
    expect(store.database.pragma("user_version", { simple: true })).toBe(MIGRATIONS.length);
    const tables = store.database
      .prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .all()
      .map((row) => row.name);
    expect(tables).toEqual(
      expect.arrayContaining(["files", "messages", "room_invites", "room_members", "rooms", "users"]),
    );
  });

  it("keeps its data when the same file is reopened, without running migrations again", async () => {
    const file = join(tempDir(), "x.db");
    const first = openStore(file);
    await addUsers(first, "alice");
    const sent = await first.appendMessage(group("alice", "lobby"));
    await first.close();

    // A marker table: a migration run again would fail on CREATE TABLE; a fresh schema would lose it.
    const raw = new Database(file);
    raw.exec("CREATE TABLE marker (x INTEGER)");
    raw.close();

    const second = openStore(file);
    expect(second.database.pragma("user_version", { simple: true })).toBe(MIGRATIONS.length);
    expect(await second.getUser("alice")).toMatchObject({ id: "alice", name: "alice" });
    expect((await second.conversationPage(roomConversation("lobby"), { limit: 10 })).messages).toEqual([sent.message]);
    expect(second.database.prepare("SELECT count(*) AS n FROM marker").get()).toEqual({ n: 0 });
    expect(await second.getRoom("lobby")).toMatchObject({ members: 1 });
    // Ids go on from where they were.
    expect((await second.appendMessage(group("alice", "lobby"))).message.id).toBe(sent.message.id + 1);
  });

  it("refuses to open a database whose schema is newer than the server", async () => {
    const file = join(tempDir(), "x.db");
    await openStore(file).close();
    const raw = new Database(file);
    raw.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    raw.close();
    expect(() => openStore(file)).toThrow(/newer/);
  });
});

describe("SqliteStore full-text index", () => {
  /** Message ids the full-text index itself holds for a term (a plain scan would read the content table). */
  const indexed = (store: SqliteStore, term: string) =>
    store.database
      .prepare<[string], { rowid: number }>("SELECT rowid FROM messages_fts WHERE messages_fts MATCH ? ORDER BY rowid")
      .all(term)
      .map((row) => row.rowid);
  const watermark = (store: SqliteStore) =>
    store.database.prepare<[], { upto: number }>("SELECT indexed_upto AS upto FROM search_index").get()!.upto;
  const integrityCheck = (store: SqliteStore) =>
    store.database.exec("INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')");
  const found = async (store: SqliteStore, user: string, word: string) =>
    (await store.search(user, [word], undefined, 10)).map((m) => m.id);

  it("indexes after the commit, not in it, and catches up by itself shortly after", async () => {
    const store = openStore(undefined, { searchIndexDelayMs: 50 });
    await addUsers(store, "alice");
    const [id] = await appendAll(store, [group("alice", "lobby", { content: "pelican" })]);
    expect(indexed(store, "pelican")).toEqual([]);
    expect(watermark(store)).toBe(0);
    await until(() => watermark(store) >= id!);
    expect(indexed(store, "pelican")).toEqual([id]);
    integrityCheck(store);
  });

  it("a search sees a message committed just before it, even with the indexer far behind", async () => {
    const store = openStore(undefined, { searchIndexDelayMs: 60_000 });
    await addUsers(store, "alice");
    const [id] = await appendAll(store, [group("alice", "lobby", { content: "cormorant" })]);
    expect(indexed(store, "cormorant")).toEqual([]);
    expect(await found(store, "alice", "cormorant")).toEqual([id]);
    expect(watermark(store)).toBeGreaterThanOrEqual(id!);
  });

  it("edits and deletes keep the index exact whether or not the message was indexed yet", async () => {
    const store = openStore(undefined, { searchIndexDelayMs: 60_000 });
    await addUsers(store, "alice");
    const [early, earlyGone] = await appendAll(store, [
      group("alice", "lobby", { content: "heron early" }),
      group("alice", "lobby", { content: "heron doomed" }),
    ]);
    expect(await found(store, "alice", "heron")).toHaveLength(2); // indexes both
    const [late, lateGone] = await appendAll(store, [
      group("alice", "lobby", { content: "heron late" }),
      group("alice", "lobby", { content: "heron lost" }),
    ]);
    // Indexed and not-yet-indexed messages, each edited and deleted before the index catches up.
    const edit = (id: number, content: string) =>
      store.editMessage(id, { author: "alice", content, at: tick(), createdFrom: 0 });
    await edit(early!, "egret early");
    await edit(late!, "egret late");
    await store.deleteMessage(earlyGone!, { author: "alice", at: tick() });
    await store.deleteMessage(lateGone!, { author: "alice", at: tick() });
    expect(indexed(store, "egret")).toEqual([early]);
    expect(indexed(store, "heron")).toEqual([]);
    expect((await found(store, "alice", "egret")).sort()).toEqual([early, late]);
    for (const term of ["heron", "doomed", "lost"]) expect(indexed(store, term)).toEqual([]);
    expect(indexed(store, "late")).toEqual([late]);
    integrityCheck(store);
  });

  it("a room's deletion takes its indexed, edited and not-yet-indexed messages out of the index exactly", async () => {
    const store = openStore(undefined, { searchIndexDelayMs: 60_000 });
    await addUsers(store, "alice");
    await store.createRoom({ id: "gone", name: "G", visibility: "public", createdBy: "alice", createAt: 2 });
    const [indexedGone, kept] = await appendAll(store, [
      group("alice", "gone", { content: "puffin early" }),
      group("alice", "lobby", { content: "puffin kept" }),
    ]);
    expect(await found(store, "alice", "puffin")).toHaveLength(2); // indexes both
    await store.editMessage(indexedGone!, { author: "alice", content: "puffin edited", at: tick(), createdFrom: 0 });
    const [unindexedGone] = await appendAll(store, [group("alice", "gone", { content: "puffin late" })]);
    expect(indexed(store, "puffin")).toEqual([indexedGone, kept]);
    const deleted = await store.deleteRoom("gone", { userId: "alice", admins: new Set(), at: tick() });
    expect(deleted.ok).toBe(true);
    expect(indexed(store, "puffin")).toEqual([kept]);
    expect(await found(store, "alice", "puffin")).toEqual([kept]);
    expect(unindexedGone).toBeGreaterThan(kept!);
    integrityCheck(store);
  });

  it("a restart picks up the indexing where the watermark stopped", async () => {
    const file = join(tempDir(), "x.db");
    const first = openStore(file, { searchIndexDelayMs: 60_000 });
    await addUsers(first, "alice");
    const [id] = await appendAll(first, [group("alice", "lobby", { content: "kittiwake" })]);
    await first.close();
    const second = openStore(file, { searchIndexDelayMs: 10 });
    await until(() => watermark(second) >= id!);
    expect(indexed(second, "kittiwake")).toEqual([id]);
    integrityCheck(second);
  });
});

describe("SqliteStore group commit", () => {
  it("commits appends made in the same tick in one transaction, with distinct ids in call order", async () => {
    const commits: number[] = [];
    const store = openStore(undefined, {
      onCommit: (_ms, messages) => {
        if (messages > 0) commits.push(messages);
      },
    });
    await addUsers(store, "alice");
    const drafts = Array.from({ length: 50 }, (_, i) => group("alice", "lobby", { content: `m${i}` }));
    const results = await Promise.all(drafts.map((draft) => store.appendMessage(draft)));
    expect(commits).toEqual([50]);
    const got = results.map((r) => r.message.id);
    expect(new Set(got).size).toBe(50);
    for (let i = 1; i < got.length; i++) expect(got[i]).toBe(got[i - 1]! + 1);
    expect(results.map((r) => r.message.content)).toEqual(drafts.map((d) => d.content));
    expect(results.every((r) => r.created)).toBe(true);

    await store.appendMessage(group("alice", "lobby"));
    expect(commits).toEqual([50, 1]);
  });

  it("dedupes a clientMsgId used twice within the same batch", async () => {
    const commits: number[] = [];
    const store = openStore(undefined, {
      onCommit: (_ms, messages) => {
        if (messages > 0) commits.push(messages);
      },
    });
    await addUsers(store, "alice");
    const [first, again] = await Promise.all([
      store.appendMessage(group("alice", "lobby", { content: "first", clientMsgId: "k" })),
      store.appendMessage(group("alice", "lobby", { content: "second", clientMsgId: "k" })),
    ]);
    expect(commits).toEqual([2]);
    expect(first!.created).toBe(true);
    expect(again).toEqual({ message: first!.message, created: false });
    expect((await store.conversationPage(roomConversation("lobby"), { limit: 10 })).messages).toEqual([first!.message]);
  });

  it("creates the users of one turn in the turn's group commit, each in a savepoint of its own", async () => {
    const commits: [messages: number, others: number][] = [];
    const store = openStore(undefined, { onCommit: (_ms, messages, others) => commits.push([messages, others]) });
    await addUsers(store, "alice");
    commits.length = 0;
    const ids = Array.from({ length: 30 }, (_, i) => `storm${i}`);
    const [users, created, taken, sent] = await Promise.all([
      Promise.all(ids.map((id) => store.ensureUser(id, id, 2000))),
      store.createUser({ id: "dora", name: "Dora", passwordHash: "h", createAt: 2000 }),
      store.createUser({ id: "alice", name: "Alice again", passwordHash: "h", createAt: 2000 }),
      store.appendMessage(group("alice", "lobby", { content: "while they arrive" })),
    ]);
    // One transaction (one fsync) for 30 new users, a registration, a taken id and a message: not 33.
    expect(commits).toEqual([[1, 32]]);
    expect(users.map((user) => user.id)).toEqual(ids);
    expect([created, taken, sent.created]).toEqual([true, false, true]);
    // Each new user is seated in the lobby with it.
    for (const id of [...ids, "dora"]) expect(await store.membership("lobby", id)).toBe("member");
  });

  it("commits users made from their tokens without an fsync of their own; registrations and messages with one", async () => {
    const store = openStore();
    const db = store.database;
    const pragma = db.pragma.bind(db);
    const settings: string[] = [];
    db.pragma = ((source: string, options?: { simple?: boolean }) => {
      if (source.startsWith("synchronous =")) settings.push(source);
      return pragma(source, options);
    }) as typeof db.pragma;
    // Made from tokens, alone in their commit: not fsynced (NORMAL for that commit, FULL again after).
    await Promise.all(["t1", "t2"].map((id) => store.ensureUser(id, id, 2000)));
    expect(settings).toEqual(["synchronous = NORMAL", "synchronous = FULL"]);
    // With a registration, or a message, in the same commit: fsynced as every commit.
    settings.length = 0;
    await Promise.all([
      store.ensureUser("t3", "t3", 2000),
      store.createUser({ id: "reg", name: "Reg", passwordHash: "h", createAt: 2000 }),
    ]);
    await Promise.all([store.ensureUser("t4", "t4", 2000), store.appendMessage(group("t1", "lobby"))]);
    expect(settings).toEqual([]);
    expect(pragma("synchronous", { simple: true })).toBe(2);
    for (const id of ["t1", "t2", "t3", "t4", "reg"]) expect(await store.getUser(id)).toBeDefined();
  });

  it("undoes only the writes of a job that throws: the rest of its group commit commits", async () => {
    const store = openStore();
    await addUsers(store, "alice");
    const commits = (store as unknown as { commits: { run<T>(write: () => T): Promise<T> } }).commits;
    const db = (store as unknown as { db: Database.Database }).db;
    const [failed, created, sent] = await Promise.allSettled([
      commits.run(() => {
        db.prepare("UPDATE users SET name = 'Mallory' WHERE id = 'alice'").run();
        throw new Error("refused halfway");
      }),
      store.createUser({ id: "erin", name: "Erin", passwordHash: "h", createAt: 2000 }),
      store.appendMessage(group("alice", "lobby", { content: "kept" })),
    ]);
    expect(failed).toMatchObject({ status: "rejected", reason: { message: "refused halfway" } });
    expect(created).toEqual({ status: "fulfilled", value: true });
    expect(sent.status).toBe("fulfilled");
    expect((await store.getUser("alice"))!.name).not.toBe("Mallory");
    expect(await store.getUser("erin")).toBeDefined();
  });

  it("commits an append that is still pending when close() is called", async () => {
    const file = join(tempDir(), "x.db");
    const store = openStore(file);
    await addUsers(store, "alice");
    const pending = store.appendMessage(group("alice", "lobby", { content: "last words" }));
    await store.close();
    const result = await pending;
    expect(result.created).toBe(true);
    const reopened = openStore(file);
    expect((await reopened.conversationPage(roomConversation("lobby"), { limit: 10 })).messages).toEqual([
      result.message,
    ]);
  });

  it("checks membership at the commit: an append still waiting for it when its sender leaves is refused", async () => {
    const store = openStore();
    await addUsers(store, "alice", "bob");
    await store.createRoom({ id: "r", name: "R", visibility: "public", createdBy: "alice", createAt: 2 });
    await store.addMember("r", "bob", 3);
    const pending = store.appendMessage(group("bob", "r"));
    // The leave is written at once; the append waits for the next commit of the batch.
    expect(await store.removeMember("r", "bob")).toBe(true);
    await expect(pending).rejects.toMatchObject({ code: "FORBIDDEN" });
    expect((await store.conversationPage(roomConversation("r"), { limit: 10 })).messages).toEqual([]);
  });

  it("stores each direct-conversation pair once, whether named in one batch, again later, or after a restart", async () => {
    const file = join(tempDir(), "x.db");
    const first = openStore(file);
    await addUsers(first, "alice", "bob");
    await Promise.all([first.appendMessage(single("alice", "bob")), first.appendMessage(single("bob", "alice"))]);
    await first.appendMessage(single("alice", "bob"));
    await first.close();
    // Reopened, the pairs known in memory are gone: the table must already hold them, and only once.
    const second = openStore(file);
    await second.appendMessage(single("bob", "alice"));
    await second.appendMessage(system({ user: "bob" }));
    const pairs = second.database
      .prepare<[], { user_id: string; peer: string }>("SELECT user_id, peer FROM direct_conversations")
      .all()
      .map((row) => `${row.user_id}>${row.peer}`);
    expect(pairs.sort()).toEqual(["alice>bob", "bob>alice", "bob>system"]);
  });
});

describe("SqliteStore query plans", () => {
  /** The steps of SQLite's plan for `sql` run with `params`. */
  function plan(store: SqliteStore, sql: string, params: unknown[] | Record<string, unknown>): string[] {
    const explain = store.database.prepare<unknown[], { detail: string }>(`EXPLAIN QUERY PLAN ${sql}`);
    const rows = Array.isArray(params) ? explain.all(...params) : explain.all(params);
    return rows.map((row) => row.detail);
  }

  /** Steps that read the whole messages table (under any alias the queries give it) instead of an index range. */
  const fullScans = (steps: string[]) =>
    steps.filter((step) => /^SCAN (messages|m|msg)\b/.test(step) && !/\bUSING\b/.test(step));

  /** The prepared statements of the store's conversation pages (they are not exported as SQL text). */

  async function populated(): Promise<SqliteStore> {
    const store = openStore();
    await addUsers(store, "alice", "bob");
    await appendAll(store, [group("alice", "lobby"), single("alice", "bob"), system("*"), system({ user: "bob" })]);
    return store;
  }

  it("reads a conversation page from a covering index in id order, never the table, a full scan or a sort", async () => {
    const store = await populated();
    const params = { a: "r:lobby", b: "r:lobby", cursor: 100, limit: 51 };
    for (const [name, sql] of [
      ["latest", pageSql("", "DESC", false)],
      ["before", pageSql("AND id < @cursor", "DESC", false)],
      ["after", pageSql("AND id > @cursor", "ASC", false)],
    ] as const) {
      const steps = plan(store, sql, params);
      expect(fullScans(steps), `${name}: ${steps.join(" | ")}`).toEqual([]);
      expect(steps.join(" | "), name).toMatch(/COVERING INDEX messages_by_conversation/);
      expect(steps.join(" | "), name).not.toMatch(/TEMP B-TREE/);
    }
  });

  it("counts a conversation's unread from the narrow (conversation, rev) index, not the history's wide one", async () => {
    const store = await populated();
    for (const kind of ["rooms", "direct"] as const) {
      const steps = plan(store, conversationRowsSql(kind), { user: "alice", cap: 999 });
      expect(fullScans(steps), steps.join(" | ")).toEqual([]);
      expect(steps.join(" | "), kind).toMatch(
        /COVERING INDEX messages_rev_by_conversation \(conversation=\? AND rev>\?\)/,
      );
    }
    const rows = await store.conversationRows("bob");
    expect(rows.rooms.find((room) => room.id === "lobby")?.unread).toBe(1);
    expect(rows.direct.find((peer) => peer.id === "alice")?.unread).toBe(1);
  });

  it("reads the two keys of the system conversation as two bounded index ranges", async () => {
    const store = await populated();
    const steps = plan(store, pageSql("AND id < @cursor", "DESC", true), {
      a: "d:alice|system",
      b: "*",
      cursor: 100,
      limit: 51,
    });
    expect(fullScans(steps), steps.join(" | ")).toEqual([]);
    expect(steps.filter((step) => /COVERING INDEX messages_by_conversation/.test(step))).toHaveLength(2);
  });

  it("runs visibleAfter through indexes, never a full scan of messages", async () => {
    const store = await populated();
    const steps = plan(store, VISIBLE_AFTER_SQL, { user: "alice", after: 0, limit: 501 });
    expect(steps.length).toBeGreaterThan(0);
    expect(fullScans(steps), steps.join(" | ")).toEqual([]);
  });

  it("finds the last visible id through indexes, never a full scan of messages", async () => {
    const store = await populated();
    const steps = plan(store, LAST_VISIBLE_SQL, { user: "alice" });
    expect(steps.length).toBeGreaterThan(0);
    expect(fullScans(steps), steps.join(" | ")).toEqual([]);
  });

  it("tells a full scan from an index search (the check itself can fail)", async () => {
    const store = await populated();
    const steps = plan(store, "SELECT * FROM messages WHERE content = ?", ["x"]);
    expect(fullScans(steps)).toHaveLength(1);
    const aliased = plan(store, "SELECT * FROM messages m WHERE m.content = ?", ["x"]);
    expect(fullScans(aliased)).toHaveLength(1);
  });
});
