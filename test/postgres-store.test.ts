import { writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { directConversation } from "../server/messages/conversation.js";
import { LAST_VISIBLE_SQL, VISIBLE_AFTER_SQL, pageSql } from "../server/store/postgres/messages.js";
import { conversationRowsSql } from "../server/store/postgres/read-state.js";
import { SESSION_SQL } from "../server/store/postgres/rooms.js";
import { searchLexemes, searchSql } from "../server/store/postgres/search.js";
import { PgStore } from "../server/store/postgres/store.js";
import type { AppendResult, FileRecord } from "../server/store/types.js";
import { cleanup, tempDir } from "./support/harness.js";
import { PG_ADMIN_URL, createTestDatabase, missingServices, type TestDatabase } from "./support/services.js";
import { SqliteStore, addUsers, fileUrl, group, single, tick, upload } from "./support/stores.js";

const missing = await missingServices(["postgres"], "the PostgreSQL store tests (test/postgres-store.test.ts)");

/** An upload's record of `size` bytes. */
const file = (id: string, owner: string, size = 10): FileRecord => upload(id, owner, { size });

describe.skipIf(missing !== undefined)("PgStore across nodes", () => {
  let database: TestDatabase;
  const opened: PgStore[] = [];
  /** A store on the test database: each one is a node of its own (its own pool and group commit). */
  const node = async (poolSize = 4) => {
    const store = await PgStore.open({ url: database.url, fileUrl, now: () => 1000, poolSize });
    opened.push(store);
    return store;
  };
  beforeEach(async () => {
    database = await createTestDatabase();
  });

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((store) => store.close()));
    await database.drop();
    await cleanup();
  });

  it("opens twice at once on an empty database: one schema, one lobby, both stores working", async () => {
    const [first, second] = await Promise.all([node(), node()]);
    await addUsers(first!, "alice");
    expect(await second!.getRoom("lobby")).toEqual({
      id: "lobby",
      name: "Lobby",
      visibility: "public",
      createdBy: "system",
      createAt: 1000,
      members: 1,
    });
    const rooms = await first!.allRooms();
    expect(rooms.map((room) => room.id)).toEqual(["lobby"]);
    await expect(second!.ping()).resolves.toBeUndefined();
    await second!.close();
    expect(second!.isOpen()).toBe(false);
    await expect(second!.ping()).rejects.toThrow();
    await expect(second!.appendMessage(group("alice", "lobby"))).rejects.toThrow(/closed/);
  });

  it("agrees on one value when nodes claim the same setting at once", async () => {
    const nodes = [await node(), await node(), await node()];
    for (let round = 0; round < 10; round++) {
      const claimed = await Promise.all(nodes.map((store, i) => store.claimSetting(`SECRET_${round}`, `value ${i}`)));
      expect(new Set(claimed).size).toBe(1);
      expect(await nodes[0]!.claimSetting(`SECRET_${round}`, "later")).toBe(claimed[0]);
    }
  });

  it("hands out revs in commit order across nodes: a reader paging visibleAfter from 0 while two nodes append and edit never skips one", async () => {
    const [a, b, reader] = [await node(6), await node(6), await node(2)];
    await addUsers(a, "alice", "bob", "carol");
    const writers = [
      { store: a, user: "alice" },
      { store: b, user: "bob" },
    ];
    const sent: number[] = [];
    let writing = true;
    const write = async ({ store, user }: (typeof writers)[number]) => {
      for (let round = 0; round < 25; round++) {
        // A batch of appends in one turn (one group commit), then an edit of an own earlier message.
        const batch = await Promise.all(
          Array.from({ length: 8 }, (_, i) => store.appendMessage(group(user, "lobby", { content: `${user} ${i}` }))),
        );
        sent.push(...batch.map((result) => result.message.id));
        const target = batch[round % batch.length]!.message.id;
        const edited = await store.editMessage(target, {
          author: user,
          content: `edit ${round}`,
          at: tick(),
          createdFrom: 0,
        });
        expect(edited.ok).toBe(true);
      }
    };
    // The reader keeps a cursor as a client does: the highest rev it saw.
    const seen = new Map<number, number>();
    let cursor = 0;
    let pages = 0;
    const readPage = async () => {
      const page = await reader.visibleAfter("carol", cursor, 20);
      let last = cursor;
      for (const message of page.messages) {
        expect(message.rev).toBeGreaterThan(last);
        last = message.rev;
        seen.set(message.id, message.rev);
      }
      cursor = last;
      pages += 1;
      return page.hasMore;
    };
    const reading = (async () => {
      while (writing) await readPage();
      while (await readPage());
    })();
    await Promise.all(writers.map(write));
    writing = false;
    await reading;
    expect(pages).toBeGreaterThan(5);
    // Every message the writers stored was seen, each at its final rev (edits move a message to a new rev).
    const final = await reader.visibleAfter("carol", 0, 1000);
    expect(final.hasMore).toBe(false);
    expect(final.messages.map((message) => message.id).sort((x, y) => x - y)).toEqual(sent.sort((x, y) => x - y));
    for (const message of final.messages) expect(seen.get(message.id), `message ${message.id}`).toBe(message.rev);
    const revs = final.messages.map((message) => message.rev);
    expect(new Set(revs).size).toBe(revs.length);
  });

  it("joins a private room with one invitation once when two nodes join at the same moment", async () => {
    const [a, b] = [await node(), await node()];
    await addUsers(a, "alice", "bob");
    for (let round = 0; round < 15; round++) {
      const room = `den${round}`;
      await a.createRoom({ id: room, name: room, visibility: "private", createdBy: "alice", createAt: tick() });
      await a.addInvite(room, "bob", "alice", tick());
      const outcomes = await Promise.all([a.joinRoom(room, "bob", tick()), b.joinRoom(room, "bob", tick())]);
      expect(outcomes.sort()).toEqual(["already", "joined"]);
      expect(await b.getRoom(room)).toMatchObject({ members: 2 });
      expect(await a.hasInvite(room, "bob")).toBe(false);
    }
  });

  it("never lets parallel uploads on two nodes pass one owner's quota", async () => {
    const [a, b] = [await node(8), await node(8)];
    const quota = 1000;
    for (let round = 0; round < 5; round++) {
      const owner = `owner${round}`;
      const admitted = await Promise.all(
        Array.from({ length: 32 }, (_, i) =>
          (i % 2 ? a : b).createFileWithinQuota(file(`Q${round}-${i}`, owner, 150), quota),
        ),
      );
      expect(admitted.filter(Boolean)).toHaveLength(6);
      expect(await a.fileBytesOf(owner)).toBe(900);
    }
    // Another owner's quota is its own.
    expect(await b.createFileWithinQuota(file("other", "bob", 1000), quota)).toBe(true);
  });

  it("never lets parallel room creations on two nodes pass one creator's cap", async () => {
    const [a, b] = [await node(8), await node(8)];
    await addUsers(a, "alice");
    const created = await Promise.all(
      Array.from({ length: 24 }, (_, i) =>
        (i % 2 ? a : b).createRoom(
          { id: `cap${i}`, name: `cap${i}`, visibility: "public", createdBy: "alice", createAt: tick() },
          3,
        ),
      ),
    );
    expect(created.filter((room) => room !== undefined)).toHaveLength(3);
    expect((await a.roomsOf("alice")).map((room) => room.id).filter((id) => id !== "lobby")).toHaveLength(3);
  });

  it("tells each created message the one before it in its conversation, as committed, while two nodes append", async () => {
    const [a, b] = [await node(6), await node(6)];
    await addUsers(a, "alice", "bob", "carol");
    expect(await a.newestMessageId()).toBe(0);
    const results: AppendResult[] = [];
    const write = async (store: PgStore, user: string) => {
      for (let round = 0; round < 15; round++) {
        // Batches mixing two conversations, so that a batch chains its own messages too.
        const batch = await Promise.all([
          store.appendMessage(group(user, "lobby")),
          store.appendMessage(single(user, "carol")),
          store.appendMessage(group(user, "lobby")),
        ]);
        results.push(...batch);
      }
    };
    await Promise.all([write(a, "alice"), write(b, "bob")]);
    const byConversation = new Map<string, number[]>();
    for (const result of [...results].sort((x, y) => x.message.id - y.message.id)) {
      const { message } = result;
      const key = message.messageType === "group" ? message.to : `${message.from}|${message.to}`;
      const ids = byConversation.get(key) ?? [];
      expect(result.prev).toBe(ids.at(-1) ?? 0);
      byConversation.set(key, [...ids, message.id]);
    }
    expect(await b.newestMessageId()).toBe(Math.max(...results.map((result) => result.message.id)));
  });

  it("stores a clientMsgId sent to two nodes at once as one message", async () => {
    const [a, b] = [await node(), await node()];
    await addUsers(a, "alice", "bob");
    for (let round = 0; round < 20; round++) {
      const key = `k${round}`;
      const results = await Promise.all([
        a.appendMessage(single("alice", "bob", { clientMsgId: key, content: "from a" })),
        b.appendMessage(single("alice", "bob", { clientMsgId: key, content: "from b" })),
      ]);
      expect(results.map((result) => result.created).sort()).toEqual([false, true]);
      expect(results[0]!.message).toEqual(results[1]!.message);
      expect(await b.messageByClientId("alice", key)).toEqual(results[0]!.message);
      // The losing append's unused id moved nothing: the sender has read up to the stored message.
      expect(await a.readPosition("alice", directConversation("alice", "bob"))).toBe(results[0]!.message.id);
    }
    const page = await a.conversationPage(directConversation("alice", "bob"), { limit: 100 });
    expect(page.messages).toHaveLength(20);
  });

  it("never both keeps a message's file and releases it when a send and a release race on two nodes", async () => {
    const [a, b] = [await node(), await node()];
    await addUsers(a, "alice", "bob");
    const outcomes = new Set<string>();
    for (let round = 0; round < 20; round++) {
      const id = `R${round}`;
      await a.createFile(file(id, "alice"));
      const [sent, released] = await Promise.all([
        a.appendMessage(single("alice", "bob", { mediaType: "image", content: undefined, fileId: id })).then(
          () => "sent",
          (error: { code?: string }) => error.code,
        ),
        b.releaseFile(id, tick()),
      ]);
      outcomes.add(`${sent}/${released}`);
      // Either the message holds the file (not released) or the release won (the send was refused).
      expect([`sent/false`, `NOT_FOUND/true`]).toContain(`${sent}/${released}`);
      expect((await a.getFile(id)) !== undefined).toBe(sent === "sent");
    }
    expect(outcomes.size).toBeGreaterThan(0);
  });

  it("keeps an avatar's file when setting it races with a release", async () => {
    const [a, b] = [await node(), await node()];
    await addUsers(a, "alice");
    for (let round = 0; round < 20; round++) {
      const id = `A${round}`;
      await a.createFile(file(id, "alice"));
      const [user, released] = await Promise.all([
        a.updateUser("alice", { avatarFileId: id }),
        b.releaseFile(id, tick()),
      ]);
      expect(user === undefined).toBe(released);
      if (user) expect(user.avatarFileId).toBe(id);
      await a.updateUser("alice", { avatarFileId: null });
    }
  });

  it("refuses a group message from a user who left on another node, and only that one of its batch", async () => {
    const [a, b] = [await node(), await node()];
    await addUsers(a, "alice", "bob");
    await a.createRoom({ id: "team", name: "team", visibility: "public", createdBy: "alice", createAt: tick() });
    await a.addMember("team", "bob", tick());
    await b.removeMember("team", "bob");
    const [kept, refused] = await Promise.allSettled([
      a.appendMessage(group("alice", "team")),
      a.appendMessage(group("bob", "team")),
    ]);
    expect(kept.status).toBe("fulfilled");
    expect(refused).toMatchObject({ status: "rejected", reason: { code: "FORBIDDEN" } });
    expect(await b.getRoom("team")).toMatchObject({ members: 1 });
  });

  it("refuses a message holding U+0000 with INVALID_PAYLOAD and commits the rest of its batch", async () => {
    const store = await node();
    await addUsers(store, "alice");
    const [bad, good] = await Promise.allSettled([
      store.appendMessage(group("alice", "lobby", { content: "a\u0000b" })),
      store.appendMessage(group("alice", "lobby", { content: "fine" })),
    ]);
    expect(bad).toMatchObject({ status: "rejected", reason: { code: "INVALID_PAYLOAD" } });
    expect(good.status).toBe("fulfilled");
    await expect(store.getRoom("lob\u0000by")).rejects.toMatchObject({ code: "INVALID_PAYLOAD" });
  });

  it("keeps upload bytes in the database: put takes the temp file, open streams them back, remove drops them", async () => {
    const store = await node();
    const dir = tempDir();
    const temp = join(dir, "upload.tmp");
    const bytes = Buffer.from(Array.from({ length: 70_000 }, (_, i) => i % 251));
    writeFileSync(temp, bytes);
    // The bytes come before the row (the route admits the row within the quota afterwards).
    await store.blobs.put("B1", temp);
    expect(existsSync(temp)).toBe(false);
    const opened = await store.blobs.open("B1");
    expect(opened?.size).toBe(bytes.length);
    const chunks: Buffer[] = [];
    for await (const chunk of opened!.stream) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).equals(bytes)).toBe(true);
    await store.blobs.remove("B1");
    expect(await store.blobs.open("B1")).toBeUndefined();
    await store.blobs.remove("B1");
    // Forgetting a marked file drops bytes left behind too.
    writeFileSync(temp, "left");
    await store.blobs.put("B2", temp);
    await store.createFile(file("B2", "alice"));
    expect(await store.releaseFile("B2", tick())).toBe(true);
    await store.forgetFiles(["B2"]);
    expect(await store.blobs.open("B2")).toBeUndefined();
  });

  it("finds what the SQLite store finds: the same words, accents and case folded the same way", async () => {
    const store = await node();
    const sqlite = new SqliteStore({ file: join(tempDir(), "x.db"), sync: "normal", fileUrl });
    try {
      const texts = [
        "Mail alice@example.com or see https://example.org/path",
        "foo-bar and foo_bar, v1.2.3 or 3.14",
        "Café NAÏVE résumé Ångström",
        "Vietnamese Tiếng Việt có dấu",
        "Ωμέγα λόγος ΛΌΓΟΣ µ",
        "नमस्ते दुनिया",
        "日本語テキスト 한국어",
        "İstanbul straße STRASSE",
        "O'Brien's \"quoted\" it's",
      ];
      for (const target of [store, sqlite]) {
        await target.createUser({ id: "alice", name: "alice", passwordHash: null, createAt: 1 });
        for (const content of texts) await target.appendMessage(group("alice", "lobby", { content }));
      }
      const queries = [
        ["example"],
        ["com"],
        ["org", "path"],
        ["foo", "bar"],
        ["v1"],
        ["14"],
        ["cafe"],
        ["naive", "resume"],
        ["angstrom"],
        ["tieng", "viet"],
        ["ωμέγα"],
        ["λόγος"],
        ["ΛΌΓΟΣ"],
        ["μ"],
        ["नमस्ते"],
        ["नमस"],
        ["日本語テキスト"],
        ["한국어"],
        ["istanbul"],
        ["straße"],
        ["strasse"],
        ["brien"],
        ["quoted"],
        ["it", "s"],
        ["nothing"],
      ];
      for (const words of queries) {
        const ids = async (target: PgStore | SqliteStore) =>
          (await target.search("alice", words, undefined, 50)).map((message) => message.id).sort((x, y) => x - y);
        expect(await ids(store), words.join(" ")).toEqual(await ids(sqlite));
      }
    } finally {
      await sqlite.close();
    }
  });

  it("splits and folds words as SQLite's unicode61 tokenizer does", () => {
    expect(searchLexemes("Mail alice@example.com, foo-bar v1.2.3")).toEqual([
      "mail",
      "alice",
      "example",
      "com",
      "foo",
      "bar",
      "v1",
      "2",
      "3",
    ]);
    expect(searchLexemes("ÀÉÎÕÜ Ωμέγα İstanbul ǡ e\u0301")).toEqual(["aeiou", "ωμέγα", "istanbul", "ǡ", "e"]);
    expect(searchLexemes("नमस्ते")).toEqual(["नमस", "त"]);
    // PostgreSQL refuses a lexeme over 2047 bytes: a longer word is cut there (at a character).
    expect(searchLexemes("Y".repeat(4000))).toEqual(["y".repeat(2047)]);
    expect(searchLexemes("é".repeat(2000))[0]).toBe("e".repeat(2000));
    expect(searchLexemes("ж".repeat(2000))[0]).toBe("ж".repeat(1023));
  });

  it("stores and finds a message that is one 4000-character word", async () => {
    const store = await node();
    await addUsers(store, "alice");
    const long = await store.appendMessage(group("alice", "lobby", { content: "Y".repeat(4000) }));
    expect((await store.search("alice", ["y".repeat(4000)], undefined, 5)).map((m) => m.id)).toEqual([long.message.id]);
    const edited = await store.editMessage(long.message.id, {
      author: "alice",
      content: "ж".repeat(4000),
      at: tick(),
      createdFrom: 0,
    });
    expect(edited.ok).toBe(true);
  });

  it("has an index path for every message read: no plan needs a scan of the messages table", async () => {
    const store = await node();
    await addUsers(store, "alice", "bob");
    await store.appendMessage(group("alice", "lobby", { content: "hello there" }));
    await store.appendMessage(single("alice", "bob", { content: "hello bob" }));
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      // With sequential scans priced out, PostgreSQL still picks one where no index can answer.
      await client.query("SET enable_seqscan = off");
      const plan = async (sql: string, values: unknown[]) => {
        const rows = await client.query<{ "QUERY PLAN": string }>({ text: `EXPLAIN ${sql}`, values });
        return rows.rows.map((row) => row["QUERY PLAN"]).join("\n");
      };
      const statements: [string, string, unknown[]][] = [
        ["visibleAfter", VISIBLE_AFTER_SQL, ["bob", 0, 501]],
        ["lastVisibleId", LAST_VISIBLE_SQL, ["bob"]],
        ["session", SESSION_SQL, ["bob"]],
        ["latest page", pageSql(undefined, false), ["r:lobby", 51]],
        ["page before", pageSql("<", false), ["r:lobby", 51, 100]],
        ["page after of two keys", pageSql(">", true), ["d:bob|system", 51, "*", 0]],
        ["room rows", conversationRowsSql("rooms"), ["bob", 999]],
        ["direct rows", conversationRowsSql("direct"), ["bob", 999]],
        ["search", searchSql(false), ["bob", "'hello'", "'hello'", 2000, 20]],
        ["search of a conversation", searchSql(true), ["bob", "'hello'", "'hello'", 2000, 20, "r:lobby", "r:lobby"]],
      ];
      for (const [name, sql, values] of statements) {
        const steps = await plan(sql, values);
        expect(steps, name).not.toMatch(/Seq Scan on messages/);
      }
      // The check can fail: a read by a column without an index scans.
      expect(await plan("SELECT * FROM messages WHERE content = $1", ["x"])).toMatch(/Seq Scan on messages/);
    } finally {
      await client.end();
    }
  });

  it("orders ids by bytes, as SQLite does, in a database whose default collation does not", async () => {
    const name = `chat_test_icu_${process.pid}_${Date.now()}`;
    const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
    await admin.connect();
    try {
      await admin.query(
        `CREATE DATABASE ${name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'`,
      );
      const url = new URL(PG_ADMIN_URL);
      url.pathname = `/${name}`;
      const store = await PgStore.open({ url: url.toString(), fileUrl });
      try {
        // In en-US order "a" < "B" < "c"; by bytes "B" < "a" < "c".
        await addUsers(store as PgStore, "a", "B", "c");
        expect((await store.members("lobby", undefined, 10)).map((row) => row.userId)).toEqual(["B", "a", "c"]);
        expect((await store.members("lobby", "B", 10)).map((row) => row.userId)).toEqual(["a", "c"]);
        await store.appendMessage(single("a", "B"));
        expect((await store.conversationRows("a")).direct.map((row) => row.id)).toEqual(["B"]);
        expect((await store.visibleAfter("B", 0, 10)).messages).toHaveLength(1);
        expect(await store.lastVisibleId("a")).toBeGreaterThan(0);
      } finally {
        await store.close();
      }
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    }
  });
});
