import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import {
  BROADCAST_CONVERSATION,
  directConversation,
  roomConversation,
  systemConversation,
} from "../server/messages/conversation.js";
import { MIGRATIONS } from "../server/store/sqlite/migrations.js";
import { LAST_VISIBLE_SQL, VISIBLE_AFTER_SQL, pageSql } from "../server/store/sqlite/messages.js";
import { SqliteStore, type SqliteStoreOptions } from "../server/store/sqlite/store.js";
import type { MessageDraft } from "../server/store/types.js";
import { cleanup, tempDir, until } from "./support/harness.js";

afterEach(cleanup);

const stores: SqliteStore[] = [];
afterEach(async () => {
  while (stores.length > 0) await stores.pop()!.close();
});

/** Opens a store on `file` (a fresh temp database unless given), closed after the test. */
function openStore(file = join(tempDir(), "x.db"), options: Partial<SqliteStoreOptions> = {}): SqliteStore {
  const store = new SqliteStore({ file, sync: "full", fileUrl: (id) => `/files/${id}`, now: () => 1000, ...options });
  stores.push(store);
  return store;
}

let clock = 10_000;

/** A group text message to a room. */
const group = (from: string, room: string, extra: Partial<MessageDraft> = {}): MessageDraft => ({
  messageType: "group",
  mediaType: "text",
  from,
  to: room,
  conversation: roomConversation(room),
  recipientUser: null,
  content: `${from} in ${room}`,
  createAt: ++clock,
  ...extra,
});

/** A single text message between two users. */
const single = (from: string, to: string, extra: Partial<MessageDraft> = {}): MessageDraft => ({
  messageType: "single",
  mediaType: "text",
  from,
  to,
  conversation: directConversation(from, to),
  recipientUser: to,
  content: `${from} to ${to}`,
  createAt: ++clock,
  ...extra,
});

/** A system message to a user, a room or everyone. */
const system = (target: { user: string } | { room: string } | "*"): MessageDraft => {
  const base = { messageType: "system" as const, mediaType: "text" as const, from: "system", createAt: ++clock };
  if (target === "*") {
    return { ...base, to: "*", conversation: BROADCAST_CONVERSATION, recipientUser: null, content: "to all" };
  }
  if ("user" in target) {
    const conversation = systemConversation(target.user);
    return { ...base, to: target.user, conversation, recipientUser: target.user, content: "to user" };
  }
  return { ...base, to: target.room, conversation: roomConversation(target.room), recipientUser: null, content: "r" };
};

const ids = (page: { messages: { id: number }[] }) => page.messages.map((m) => m.id);

async function addUsers(store: SqliteStore, ...userIds: string[]): Promise<void> {
  for (const id of userIds) await store.createUser({ id, name: id, passwordHash: null, createAt: 1 });
}

/** Appends one after the other, each awaited (so each is its own commit). */
async function appendAll(store: SqliteStore, drafts: MessageDraft[]): Promise<number[]> {
  const out: number[] = [];
  for (const draft of drafts) out.push((await store.appendMessage(draft)).message.id);
  return out;
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

  it("creates the public lobby, owned by system, with no members yet", async () => {
    const store = openStore();
    expect(await store.getRoom("lobby")).toEqual({
      id: "lobby",
      name: "Lobby",
      visibility: "public",
      createdBy: "system",
      createAt: 1000,
      members: 0,
    });
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
      store.editMessage(id, { author: "alice", content, at: ++clock, createdFrom: 0 });
    await edit(early!, "egret early");
    await edit(late!, "egret late");
    await store.deleteMessage(earlyGone!, { author: "alice", at: ++clock });
    await store.deleteMessage(lateGone!, { author: "alice", at: ++clock });
    expect(indexed(store, "egret")).toEqual([early]);
    expect(indexed(store, "heron")).toEqual([]);
    expect((await found(store, "alice", "egret")).sort()).toEqual([early, late]);
    for (const term of ["heron", "doomed", "lost"]) expect(indexed(store, term)).toEqual([]);
    expect(indexed(store, "late")).toEqual([late]);
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

describe("SqliteStore users and rooms", () => {
  it("tells a member, an outsider and a room that does not exist apart in one read", async () => {
    const store = openStore();
    await addUsers(store, "alice", "bob");
    await store.createRoom({ id: "den", name: "Den", visibility: "private", createdBy: "alice", createAt: 5 });
    expect(await store.membership("den", "alice")).toBe("member");
    expect(await store.membership("den", "bob")).toBe("outsider");
    expect(await store.membership("nowhere", "alice")).toBe("no-room");
    await store.removeMember("den", "alice");
    expect(await store.membership("den", "alice")).toBe("outsider");
  });

  it("creates a user once: a second createUser with the same id answers false and changes nothing", async () => {
    const store = openStore();
    expect(await store.createUser({ id: "alice", name: "Alice", passwordHash: "h1", createAt: 5 })).toBe(true);
    expect(await store.createUser({ id: "alice", name: "Other", passwordHash: "h2", createAt: 6 })).toBe(false);
    expect(await store.getUser("alice")).toEqual({
      id: "alice",
      name: "Alice",
      passwordHash: "h1",
      createAt: 5,
      readReceipts: true,
      lastSeenAt: null,
      avatarFileId: null,
    });
    expect(await store.getRoom("lobby")).toMatchObject({ members: 1 });
  });

  it("makes a created user a member of the lobby", async () => {
    const store = openStore();
    await addUsers(store, "alice");
    expect(await store.isMember("lobby", "alice")).toBe(true);
    expect((await store.roomsOf("alice")).map((room) => room.id)).toEqual(["lobby"]);
  });

  it("tells an existing user from an unknown one, and sees a user created after a miss", async () => {
    const store = openStore();
    expect(await store.userExists("alice")).toBe(false);
    await store.createUser({ id: "alice", name: "Alice", passwordHash: null, createAt: 5 });
    expect(await store.userExists("alice")).toBe(true);
    expect(await store.userExists("alice")).toBe(true);
    await store.ensureUser("bob", "Bob", 6);
    expect(await store.userExists("bob")).toBe(true);
    expect(await store.userExists("carol")).toBe(false);
  });

  it("ensureUser creates a missing user with lobby membership, and returns an existing one unchanged", async () => {
    const store = openStore();
    expect(await store.getUser("bob")).toBeUndefined();
    expect(await store.ensureUser("bob", "Bob", 7)).toEqual({
      id: "bob",
      name: "Bob",
      passwordHash: null,
      createAt: 7,
      readReceipts: true,
      lastSeenAt: null,
      avatarFileId: null,
    });
    expect(await store.isMember("lobby", "bob")).toBe(true);
    expect(await store.ensureUser("bob", "Renamed", 8)).toEqual({
      id: "bob",
      name: "Bob",
      passwordHash: null,
      createAt: 7,
      readReceipts: true,
      lastSeenAt: null,
      avatarFileId: null,
    });
    expect(await store.getRoom("lobby")).toMatchObject({ members: 1 });
  });

  it("keeps member_count right through create, add, duplicate add, remove and duplicate remove", async () => {
    const store = openStore();
    await addUsers(store, "alice", "bob", "carol");
    const room = await store.createRoom({
      id: "r1",
      name: "R1",
      visibility: "private",
      createdBy: "alice",
      createAt: 2,
    });
    expect(room).toEqual({ id: "r1", name: "R1", visibility: "private", createdBy: "alice", createAt: 2, members: 1 });
    expect(await store.addMember("r1", "bob", 3)).toBe(true);
    expect(await store.addMember("r1", "bob", 4)).toBe(false);
    expect(await store.addMember("r1", "alice", 4)).toBe(false);
    expect(await store.getRoom("r1")).toMatchObject({ members: 2 });
    expect(await store.addMember("r1", "carol", 5)).toBe(true);
    expect(await store.getRoom("r1")).toMatchObject({ members: 3 });
    expect(await store.removeMember("r1", "bob")).toBe(true);
    expect(await store.removeMember("r1", "bob")).toBe(false);
    expect(await store.removeMember("r1", "nobody")).toBe(false);
    expect(await store.getRoom("r1")).toMatchObject({ members: 2 });
    expect(await store.memberIds("r1")).toEqual(expect.arrayContaining(["alice", "carol"]));
    expect((await store.memberIds("r1")).length).toBe(2);
    expect(await store.getRoom("lobby")).toMatchObject({ members: 3 });
  });
});

describe("SqliteStore appendMessage", () => {
  it("assigns strictly increasing ids and returns the stored message with its url and clientMsgId", async () => {
    const store = openStore();
    await addUsers(store, "alice", "bob");
    await store.createFile({
      id: "F1",
      owner: "alice",
      name: "f.png",
      size: 1,
      mime: "image/png",
      mediaType: "image",
      createAt: clock,
    });
    const first = await store.appendMessage(group("alice", "lobby"));
    const second = await store.appendMessage(
      single("alice", "bob", { mediaType: "image", content: undefined, fileId: "F1", clientMsgId: "c1" }),
    );
    expect(first.created).toBe(true);
    expect(second.created).toBe(true);
    expect(second.message.id).toBeGreaterThan(first.message.id);
    expect(second.message).toEqual({
      id: second.message.id,
      messageType: "single",
      mediaType: "image",
      from: "alice",
      to: "bob",
      fileId: "F1",
      url: "/files/F1",
      clientMsgId: "c1",
      createAt: clock,
      updateAt: clock,
      rev: second.message.id,
    });
    expect(first.message).not.toHaveProperty("fileId");
    expect(first.message).not.toHaveProperty("url");
    expect(first.message).not.toHaveProperty("clientMsgId");
  });

  it("commits appends made in the same tick in one transaction, with distinct ids in call order", async () => {
    const commits: number[] = [];
    const store = openStore(undefined, { onCommit: (_ms, messages) => commits.push(messages) });
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

  it("answers a resent clientMsgId with created false and the first message, unchanged", async () => {
    const store = openStore();
    await addUsers(store, "alice");
    const first = await store.appendMessage(group("alice", "lobby", { content: "first", clientMsgId: "k" }));
    const again = await store.appendMessage(group("alice", "lobby", { content: "second", clientMsgId: "k" }));
    expect(again).toEqual({ message: first.message, created: false });
    expect(ids(await store.conversationPage(roomConversation("lobby"), { limit: 10 }))).toEqual([first.message.id]);
  });

  it("dedupes a clientMsgId used twice within the same batch", async () => {
    const commits: number[] = [];
    const store = openStore(undefined, { onCommit: (_ms, messages) => commits.push(messages) });
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

  it("lets different senders use the same clientMsgId", async () => {
    const store = openStore();
    await addUsers(store, "alice", "bob");
    const a = await store.appendMessage(group("alice", "lobby", { clientMsgId: "same" }));
    const b = await store.appendMessage(group("bob", "lobby", { clientMsgId: "same" }));
    expect(a.created).toBe(true);
    expect(b.created).toBe(true);
    expect(b.message.id).not.toBe(a.message.id);
    expect(b.message.from).toBe("bob");
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

  it("refuses an append after close", async () => {
    const store = openStore();
    await store.close();
    expect(store.isOpen()).toBe(false);
    await expect(store.appendMessage(group("alice", "lobby"))).rejects.toThrow();
  });
});

describe("SqliteStore group commit side effects", () => {
  it("leaves the sender's read position at its last message of a batch, per conversation", async () => {
    const store = openStore();
    await addUsers(store, "alice", "bob");
    const results = await Promise.all([
      store.appendMessage(group("alice", "lobby")),
      store.appendMessage(single("alice", "bob")),
      store.appendMessage(group("alice", "lobby")),
      store.appendMessage(single("alice", "bob")),
      store.appendMessage(group("bob", "lobby")),
    ]);
    const [, , lastGroup, lastDirect, bobs] = results.map((r) => r.message.id);
    expect(await store.readPosition("alice", roomConversation("lobby"))).toBe(lastGroup);
    expect(await store.readPosition("alice", directConversation("alice", "bob"))).toBe(lastDirect);
    expect(await store.readPosition("bob", roomConversation("lobby"))).toBe(bobs);
    expect(await store.readPosition("bob", directConversation("alice", "bob"))).toBe(0);
  });

  it("records both users' direct conversation once, in the batch and after it, and a system one for its recipient", async () => {
    const store = openStore();
    await addUsers(store, "alice", "bob", "carol");
    await Promise.all([store.appendMessage(single("alice", "bob")), store.appendMessage(single("bob", "alice"))]);
    await store.appendMessage(single("alice", "bob"));
    await store.appendMessage(single("carol", "alice"));
    await store.appendMessage(system({ user: "bob" }));
    expect((await store.directPeers("alice")).sort()).toEqual(["bob", "carol"]);
    expect((await store.directPeers("bob")).sort()).toEqual(["alice", "system"]);
    expect(await store.directPeers("carol")).toEqual(["alice"]);
    // Stored, not only remembered: the table holds each pair once.
    const count = store.database.prepare("SELECT COUNT(*) AS n FROM direct_conversations").get() as { n: number };
    expect(count.n).toBe(5);
  });
});

describe("SqliteStore conversationPage", () => {
  /** `count` lobby messages interleaved with messages of another conversation; returns the lobby ids. */
  async function lobbyWith(count: number): Promise<{ store: SqliteStore; lobby: number[] }> {
    const store = openStore();
    await addUsers(store, "alice", "bob");
    const lobby: number[] = [];
    for (let i = 0; i < count; i++) {
      lobby.push(...(await appendAll(store, [group("alice", "lobby")])));
      await appendAll(store, [single("alice", "bob")]);
    }
    return { store, lobby };
  }
  const LOBBY = roomConversation("lobby");

  it("pages a conversation of exactly `limit` messages in one page with hasMore false, in every direction", async () => {
    const { store, lobby } = await lobbyWith(5);
    expect(await store.conversationPage(LOBBY, { limit: 5 }).then(ids)).toEqual(lobby);
    expect((await store.conversationPage(LOBBY, { limit: 5 })).hasMore).toBe(false);
    expect(await store.conversationPage(LOBBY, { limit: 5, after: 0 })).toMatchObject({ hasMore: false });
    expect(ids(await store.conversationPage(LOBBY, { limit: 5, after: 0 }))).toEqual(lobby);
    const before = await store.conversationPage(LOBBY, { limit: 5, before: lobby[4]! + 1 });
    expect(before).toMatchObject({ hasMore: false });
    expect(ids(before)).toEqual(lobby);
  });

  it("pages `limit + 1` messages: newest page with hasMore, then the one before it without", async () => {
    const { store, lobby } = await lobbyWith(6);
    const newest = await store.conversationPage(LOBBY, { limit: 5 });
    expect(ids(newest)).toEqual(lobby.slice(1));
    expect(newest.hasMore).toBe(true);
    const older = await store.conversationPage(LOBBY, { limit: 5, before: newest.messages[0]!.id });
    expect(ids(older)).toEqual(lobby.slice(0, 1));
    expect(older.hasMore).toBe(false);
  });

  it("pages forward with after: hasMore while newer messages remain, ascending", async () => {
    const { store, lobby } = await lobbyWith(6);
    const first = await store.conversationPage(LOBBY, { limit: 5, after: 0 });
    expect(ids(first)).toEqual(lobby.slice(0, 5));
    expect(first.hasMore).toBe(true);
    const rest = await store.conversationPage(LOBBY, { limit: 5, after: first.messages[4]!.id });
    expect(ids(rest)).toEqual(lobby.slice(5));
    expect(rest.hasMore).toBe(false);
    const exact = await store.conversationPage(LOBBY, { limit: 5, after: lobby[0]! });
    expect(ids(exact)).toEqual(lobby.slice(1));
    expect(exact.hasMore).toBe(false);
    expect(await store.conversationPage(LOBBY, { limit: 5, after: lobby[5]! })).toEqual({
      messages: [],
      hasMore: false,
    });
  });

  it("pages back with before: only older messages, ascending, hasMore when older ones remain", async () => {
    const { store, lobby } = await lobbyWith(6);
    const page = await store.conversationPage(LOBBY, { limit: 2, before: lobby[3]! });
    expect(ids(page)).toEqual([lobby[1], lobby[2]]);
    expect(page.hasMore).toBe(true);
    const edge = await store.conversationPage(LOBBY, { limit: 2, before: lobby[2]! });
    expect(ids(edge)).toEqual([lobby[0], lobby[1]]);
    expect(edge.hasMore).toBe(false);
    expect(await store.conversationPage(LOBBY, { limit: 2, before: lobby[0]! })).toEqual({
      messages: [],
      hasMore: false,
    });
  });

  it("answers an empty page for a conversation without messages", async () => {
    const store = openStore();
    expect(await store.conversationPage(roomConversation("nowhere"), { limit: 50 })).toEqual({
      messages: [],
      hasMore: false,
    });
  });
});

describe("SqliteStore visibility", () => {
  /**
   * alice and bob share r1; bob and carol share r2; everyone is in the lobby. Returns each message's id by
   * a name; `alice` lists what alice may see, in id order.
   */
  async function world() {
    const store = openStore();
    await addUsers(store, "alice", "bob", "carol");
    await store.createRoom({ id: "r1", name: "R1", visibility: "private", createdBy: "alice", createAt: 2 });
    await store.addMember("r1", "bob", 2);
    await store.createRoom({ id: "r2", name: "R2", visibility: "public", createdBy: "bob", createAt: 2 });
    await store.addMember("r2", "carol", 2);
    const [lobbyMsg, r2Msg, bobToAlice, aliceToCarol, bobToCarol, sysAlice, sysBob, sysAll, sysR1, sysR2, r1Msg] =
      await appendAll(store, [
        group("bob", "lobby"),
        group("bob", "r2"),
        single("bob", "alice"),
        single("alice", "carol"),
        single("bob", "carol"),
        system({ user: "alice" }),
        system({ user: "bob" }),
        system("*"),
        system({ room: "r1" }),
        system({ room: "r2" }),
        group("alice", "r1"),
      ]);
    const m = { lobbyMsg, r2Msg, bobToAlice, aliceToCarol, bobToCarol, sysAlice, sysBob, sysAll, sysR1, sysR2, r1Msg };
    const alice = [lobbyMsg, bobToAlice, aliceToCarol, sysAlice, sysAll, sysR1, r1Msg] as number[];
    return { store, m: m as Record<keyof typeof m, number>, alice };
  }

  it("gives a user its rooms, its direct messages both ways, system messages to it and to everyone, nothing else", async () => {
    const { store, m, alice } = await world();
    expect(await store.visibleAfter("alice", 0, 100)).toMatchObject({ hasMore: false });
    expect(ids(await store.visibleAfter("alice", 0, 100))).toEqual(alice);
    expect(ids(await store.visibleAfter("carol", 0, 100))).toEqual([
      m.lobbyMsg,
      m.r2Msg,
      m.aliceToCarol,
      m.bobToCarol,
      m.sysAll,
      m.sysR2,
    ]);
  });

  it("pages visibleAfter ascending from the cursor, with hasMore exactly when more remain", async () => {
    const { store, alice } = await world();
    const first = await store.visibleAfter("alice", 0, 3);
    expect(ids(first)).toEqual(alice.slice(0, 3));
    expect(first.hasMore).toBe(true);
    const second = await store.visibleAfter("alice", alice[2]!, 3);
    expect(ids(second)).toEqual(alice.slice(3, 6));
    expect(second.hasMore).toBe(true);
    const last = await store.visibleAfter("alice", alice[5]!, 3);
    expect(ids(last)).toEqual(alice.slice(6));
    expect(last.hasMore).toBe(false);
    // Exactly `limit` left: all of them, and no more.
    const exact = await store.visibleAfter("alice", alice[4]!, 2);
    expect(ids(exact)).toEqual(alice.slice(5));
    expect(exact.hasMore).toBe(false);
    expect(await store.visibleAfter("alice", alice[6]!, 3)).toEqual({ messages: [], hasMore: false });
  });

  it("takes the limit over all sources together, not per source", async () => {
    const store = openStore();
    await addUsers(store, "alice", "bob");
    // Interleave the room, direct and broadcast branches.
    const all = await appendAll(store, [
      group("bob", "lobby"),
      single("bob", "alice"),
      system("*"),
      single("alice", "bob"),
      group("bob", "lobby"),
      system({ user: "alice" }),
    ]);
    for (let limit = 1; limit <= all.length; limit++) {
      const page = await store.visibleAfter("alice", 0, limit);
      expect(ids(page)).toEqual(all.slice(0, limit));
      expect(page.hasMore).toBe(limit < all.length);
    }
  });

  it("stops showing a room's messages once the user left it", async () => {
    const { store, m } = await world();
    await store.removeMember("r1", "alice");
    const seen = ids(await store.visibleAfter("alice", 0, 100));
    expect(seen).not.toContain(m.r1Msg);
    expect(seen).not.toContain(m.sysR1);
    expect(await store.lastVisibleId("alice")).toBe(m.sysAll);
  });

  it("knows the newest id each user may see, and 0 when there is none", async () => {
    const { store, m } = await world();
    expect(await store.lastVisibleId("alice")).toBe(m.r1Msg);
    expect(await store.lastVisibleId("carol")).toBe(m.sysR2);
    expect(await store.lastVisibleId("bob")).toBe(m.r1Msg);
    await addUsers(store, "dave");
    expect(await store.lastVisibleId("dave")).toBe(m.sysAll);

    const empty = openStore();
    await addUsers(empty, "alice", "bob");
    expect(await empty.lastVisibleId("alice")).toBe(0);
    await empty.appendMessage(single("bob", "carol"));
    // A group message from someone who is not a member is refused at commit, whatever the sender checked.
    await expect(empty.appendMessage(group("bob", "elsewhere"))).rejects.toMatchObject({ code: "FORBIDDEN" });
    expect(await empty.lastVisibleId("alice")).toBe(0);
    expect(await empty.visibleAfter("alice", 0, 10)).toEqual({ messages: [], hasMore: false });
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
