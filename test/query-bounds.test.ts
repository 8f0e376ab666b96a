import { join } from "node:path";
import type Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { ConversationService } from "../server/conversations/service.js";
import {
  BROADCAST_CONVERSATION,
  directConversation,
  roomConversation,
  systemConversation,
} from "../server/messages/conversation.js";
import { searchWords } from "../server/messages/service.js";
import { VISIBLE_AFTER_SQL } from "../server/store/sqlite/messages.js";
import { SEARCH_CANDIDATES, SEARCH_SQL } from "../server/store/sqlite/search.js";
import { SqliteStore } from "../server/store/sqlite/store.js";
import { UNREAD_CAP, type ConversationKeys, type MessageDraft } from "../server/store/types.js";
import type { ConversationSummary, StoredMessage } from "../shared/schemas.js";
import { cleanup, tempDir } from "./support/harness.js";

// Section 10: the cost of sync, history:list, conversation:list and history:search is bounded by the page
// they answer. These tests assert work (query plans, statements run, rows a search may examine), never time.

afterEach(cleanup);

const stores: SqliteStore[] = [];
afterEach(async () => {
  while (stores.length > 0) await stores.pop()!.close();
});

function openStore(): SqliteStore {
  const store = new SqliteStore({ file: join(tempDir(), "q.db"), sync: "normal", fileUrl: (id) => `/files/${id}` });
  stores.push(store);
  return store;
}

/** The delivery a ConversationService sends receipts through: here, to nobody. */
const quietDelivery = { receipt: () => undefined, typing: () => undefined } as never;

let clock = 1_000_000;

const group = (from: string, room: string, content = `${from} in ${room}`): MessageDraft => ({
  messageType: "group",
  mediaType: "text",
  from,
  to: room,
  conversation: roomConversation(room),
  recipientUser: null,
  content,
  createAt: ++clock,
});

const single = (from: string, to: string, content = `${from} to ${to}`): MessageDraft => ({
  messageType: "single",
  mediaType: "text",
  from,
  to,
  conversation: directConversation(from, to),
  recipientUser: to,
  content,
  createAt: ++clock,
});

const broadcast = (content = "to all"): MessageDraft => ({
  messageType: "system",
  mediaType: "text",
  from: "system",
  to: "*",
  conversation: BROADCAST_CONVERSATION,
  recipientUser: null,
  content,
  createAt: ++clock,
});

const toUser = (user: string, content = "to you"): MessageDraft => ({
  messageType: "system",
  mediaType: "text",
  from: "system",
  to: user,
  conversation: systemConversation(user),
  recipientUser: user,
  content,
  createAt: ++clock,
});

/** Appends in one group commit; the ids in order. */
async function append(store: SqliteStore, drafts: MessageDraft[]): Promise<number[]> {
  return (await Promise.all(drafts.map((draft) => store.appendMessage(draft)))).map((result) => result.message.id);
}

async function users(store: SqliteStore, ...ids: string[]): Promise<void> {
  for (const id of ids) await store.createUser({ id, name: `${id}'s name`, passwordHash: null, createAt: 1 });
}

async function room(store: SqliteStore, id: string, owner: string, ...members: string[]): Promise<void> {
  await store.createRoom({ id, name: `Room ${id}`, visibility: "private", createdBy: owner, createAt: ++clock });
  for (const member of members) await store.addMember(id, member, ++clock);
}

const search = async (store: SqliteStore, user: string, q: string, conversation?: ConversationKeys, limit = 20) =>
  (await store.search(user, searchWords(q), conversation, limit)).map((message) => message.id);

/** SQLite's plan for `sql`: each step with its parent, so a sort can be told apart by what it sorts. */
function plan(db: Database.Database, sql: string, params: Record<string, unknown>) {
  return db
    .prepare<Record<string, unknown>, { id: number; parent: number; detail: string }>(`EXPLAIN QUERY PLAN ${sql}`)
    .all(params);
}

/** Sorts (temp B-trees) whose input is a read of a range of rows: what makes a query cost its whole range. */
function sortsOverRanges(steps: ReturnType<typeof plan>, range: RegExp): string[] {
  return steps
    .filter((step) => step.detail.startsWith("USE TEMP B-TREE"))
    .flatMap((sort) => steps.filter((step) => step.parent === sort.parent && range.test(step.detail)))
    .map((step) => step.detail);
}

describe("history:search examines a bounded number of matches", () => {
  it("reads the full-text matches in index order and sorts only its candidates, never every match", () => {
    const store = openStore();
    const params = { user: "alice", match: '"x"', a: null, b: null, limit: 20, candidates: SEARCH_CANDIDATES };
    const steps = plan(store.database, SEARCH_SQL, params);
    expect(steps.some((step) => /VIRTUAL TABLE/.test(step.detail))).toBe(true);
    // The FTS5 scan is not an input of any sort: it is read newest first and cut at the candidate limit.
    expect(sortsOverRanges(steps, /VIRTUAL TABLE/), JSON.stringify(steps)).toEqual([]);
  });

  it("leaves out a visible match behind more than SEARCH_CANDIDATES newer matches the caller may not see", async () => {
    const store = openStore();
    await users(store, "alice", "bob");
    await room(store, "vault", "bob");
    const [old] = await append(store, [group("bob", "lobby", "heron at dawn")]);
    await append(
      store,
      Array.from({ length: SEARCH_CANDIDATES + 5 }, (_, i) => group("bob", "vault", `heron number ${i}`)),
    );
    const [recent] = await append(store, [group("bob", "lobby", "heron at dusk")]);
    // Across all conversations the newest SEARCH_CANDIDATES matches are examined: the recent one is among
    // them, the old one is not (that is the bound), and none of bob's private ones reach alice.
    expect(await search(store, "alice", "heron")).toEqual([recent]);
    expect(await search(store, "bob", "heron", undefined, 50)).toHaveLength(50);
    // Restricted to the lobby, the restriction is inside the full-text query: the vault cannot crowd it out.
    expect(await search(store, "alice", "heron", roomConversation("lobby"))).toEqual([recent, old]);
  });

  it("restricts a search to one conversation, the system conversation's two keys included", async () => {
    const store = openStore();
    await users(store, "alice", "bob", "carol");
    await room(store, "team", "alice", "bob");
    const [inTeam, inLobby, toBob, fromBob, toAll, toAlice, toCarol] = await append(store, [
      group("bob", "team", "quarterly numbers"),
      group("bob", "lobby", "quarterly party"),
      single("alice", "bob", "quarterly review"),
      single("bob", "alice", "quarterly plan"),
      broadcast("quarterly maintenance"),
      toUser("alice", "quarterly invoice"),
      toUser("carol", "quarterly invoice for carol"),
    ]);
    const sorted = (ids: number[]) => [...ids].sort((a, b) => a - b);
    expect(sorted(await search(store, "alice", "quarterly", roomConversation("team")))).toEqual([inTeam]);
    expect(sorted(await search(store, "alice", "quarterly", directConversation("alice", "bob")))).toEqual(
      sorted([toBob!, fromBob!]),
    );
    expect(
      sorted(await search(store, "alice", "quarterly", [systemConversation("alice"), BROADCAST_CONVERSATION])),
    ).toEqual(sorted([toAll!, toAlice!]));
    expect(sorted(await search(store, "alice", "quarterly"))).toEqual(
      sorted([inTeam!, inLobby!, toBob!, fromBob!, toAll!, toAlice!]),
    );
    expect(await search(store, "carol", "quarterly", roomConversation("team"))).toEqual([]);
    expect(await search(store, "alice", "quarterly carol")).toEqual([]);
    expect(toCarol).toBeGreaterThan(0);
  });

  it("ranks best match first, then newest, and leaves out tombstones", async () => {
    const store = openStore();
    await users(store, "alice", "bob");
    const [short, long, again, gone] = await append(store, [
      group("bob", "lobby", "kiwi"),
      group("bob", "lobby", "kiwi with a much longer text around it about other fruit and weather"),
      group("bob", "lobby", "kiwi"),
      group("bob", "lobby", "kiwi"),
    ]);
    await store.deleteMessage(gone!, { author: "bob", at: ++clock });
    expect(await search(store, "alice", "kiwi")).toEqual([again, short, long]);
  });

  it("searches a word repeated in any case once: each phrase of the query reads its postings", () => {
    expect(searchWords(`${"alpha ".repeat(30)}Alpha ALPHA bravo alpha`)).toEqual(["alpha", "bravo"]);
    expect(searchWords('a "quoted" a OR b')).toEqual(["a", "quoted", "OR", "b"]);
  });

  it("does not match a word against a conversation's scope token", async () => {
    const store = openStore();
    await users(store, "alice", "bob");
    await append(store, [group("bob", "lobby", "plain text")]);
    const token = `k${Buffer.from("r:lobby").toString("hex")}`;
    expect(await search(store, "alice", token)).toEqual([]);
  });
});

describe("sync reads one index seek per conversation and per message it returns", () => {
  it("merges the conversations' rev ranges instead of sorting every message after the cursor", () => {
    const store = openStore();
    const steps = plan(store.database, VISIBLE_AFTER_SQL, { user: "alice", after: 0, limit: 501 });
    expect(steps.some((step) => step.detail === "RECURSIVE STEP")).toBe(true);
    // The one sort left orders the page (at most `limit` rows, each found by (conversation, rev) equality).
    expect(sortsOverRanges(steps, /\b(rev|id)>\?/), JSON.stringify(steps)).toEqual([]);
  });

  it("answers exactly what reading every visible message would, for any cursor and page size", async () => {
    const store = openStore();
    await users(store, "alice", "bob", "carol");
    for (let r = 0; r < 6; r++) await room(store, `r${r}`, "bob", ...(r % 2 === 0 ? ["alice"] : ["carol"]));
    const drafts: MessageDraft[] = [];
    for (let i = 0; i < 300; i++) {
      const kind = i % 7;
      const roomIndex = (i * 5) % 6;
      // Senders are members (the store refuses others at commit): alice is in the even rooms, carol in the odd.
      const member = roomIndex % 2 === 0 ? "alice" : "carol";
      if (kind < 4) drafts.push(group(i % 3 === 0 ? member : "bob", `r${roomIndex}`));
      else if (kind === 4) drafts.push(single(i % 2 ? "bob" : "carol", i % 3 ? "alice" : "bob"));
      else if (kind === 5) drafts.push(group("bob", "lobby"));
      else drafts.push(i % 2 ? broadcast() : toUser(i % 4 === 1 ? "alice" : "carol"));
    }
    const ids = await append(store, drafts);
    // Changes give some messages a higher rev than newer ones.
    for (const id of ids.filter((_, i) => i % 11 === 0)) {
      await store.setReaction(id, { emoji: "👍", userId: "alice", on: true, at: ++clock, maxKeys: 20 });
    }
    await store.removeMember("r4", "alice");
    const all = store.database
      .prepare<[], { id: number; rev: number; conversation: string }>("SELECT id, rev, conversation FROM messages")
      .all();
    const visible = new Set(["r:lobby", "r:r0", "r:r2", "*", systemConversation("alice")]);
    visible.add(directConversation("alice", "bob")).add(directConversation("alice", "carol"));
    const expected = all.filter((m) => visible.has(m.conversation)).sort((a, b) => a.rev - b.rev);
    expect(expected.length).toBeGreaterThan(100);
    for (const after of [0, 1, expected[40]!.rev, expected[expected.length - 2]!.rev, 1e9]) {
      for (const limit of [1, 7, 500]) {
        const page = await store.visibleAfter("alice", after, limit);
        const want = expected.filter((m) => m.rev > after);
        expect(page.messages.map((m) => m.id)).toEqual(want.slice(0, limit).map((m) => m.id));
        expect(page.hasMore).toBe(want.length > limit);
      }
    }
    expect(await store.lastVisibleId("alice")).toBe(expected.at(-1)!.rev);
  });
});

describe("unread counts stop at UNREAD_CAP", () => {
  it("counts a never-read conversation of more than UNREAD_CAP messages as UNREAD_CAP, then exactly below it", async () => {
    const store = openStore();
    await users(store, "alice", "bob");
    const conversations = new ConversationService(quietDelivery, store, () => clock);
    const ids = await append(
      store,
      Array.from({ length: UNREAD_CAP + 20 }, (_, i) => group("bob", "lobby", `m${i}`)),
    );
    // Tombstones are not unread, and a count that stops at the cap still skips them.
    for (const id of ids.slice(-3)) await store.deleteMessage(id, { author: "bob", at: ++clock });
    expect(await store.unreadCount("alice", roomConversation("lobby"), 0)).toBe(UNREAD_CAP);
    expect(await conversations.read("alice", { room: "lobby" }, 0)).toEqual({ unread: UNREAD_CAP });
    const lobby = (await conversations.list("alice")).find((row) => "room" in row.conversation)!;
    expect(lobby).toMatchObject({ unread: UNREAD_CAP, lastReadId: 0 });
    expect(await conversations.read("alice", { room: "lobby" }, ids[10]!)).toEqual({ unread: UNREAD_CAP });
    expect(await conversations.read("alice", { room: "lobby" }, ids.at(-8)!)).toEqual({ unread: 4 });
    expect((await conversations.list("alice"))[0]).toMatchObject({ unread: 4, lastReadId: ids.at(-8) });
  });
});

describe("conversation:list runs a constant number of statements", () => {
  /** Counts the statements run while `fn` runs (every prepared statement's all/get/run/iterate). */
  async function statementsRun(db: Database.Database, fn: () => Promise<unknown>): Promise<number> {
    const proto = Object.getPrototypeOf(db.prepare("SELECT 1")) as Record<string, (...args: unknown[]) => unknown>;
    const originals = { all: proto["all"]!, get: proto["get"]!, run: proto["run"]!, iterate: proto["iterate"]! };
    let count = 0;
    for (const [name, original] of Object.entries(originals)) {
      proto[name] = function (this: unknown, ...args: unknown[]) {
        count += 1;
        return original.apply(this, args);
      };
    }
    try {
      await fn();
    } finally {
      Object.assign(proto, originals);
    }
    return count;
  }

  async function member(store: SqliteStore, rooms: number, peers: number): Promise<void> {
    await users(store, "alice", "bob");
    for (let r = 0; r < rooms; r++) await room(store, `room${r}`, "bob", "alice");
    for (let p = 0; p < peers; p++) await users(store, `peer${p}`);
    await append(store, [
      ...Array.from({ length: rooms }, (_, r) => group("bob", `room${r}`)),
      ...Array.from({ length: peers }, (_, p) => single(`peer${p}`, "alice")),
      broadcast(),
    ]);
  }

  it("runs as many statements for 3 rooms and 2 direct conversations as for 60 rooms and 30", async () => {
    const small = openStore();
    await member(small, 3, 2);
    const large = openStore();
    await member(large, 60, 30);
    const listOf = (store: SqliteStore) => new ConversationService(quietDelivery, store, () => clock).list("alice");
    expect(await listOf(small)).toHaveLength(1 + 3 + 2 + 1);
    expect(await listOf(large)).toHaveLength(1 + 60 + 30 + 1);
    const few = await statementsRun(small.database, () => listOf(small));
    const many = await statementsRun(large.database, () => listOf(large));
    expect(many).toBe(few);
    expect(few).toBeLessThan(15);
  });

  it("lists a caller in 400 rooms as reading each conversation on its own would", async () => {
    const store = openStore();
    await users(store, "alice", "bob", "carol", "dave");
    for (let r = 0; r < 400; r++) await room(store, `room${r}`, "bob", "alice");
    const drafts: MessageDraft[] = [];
    for (let r = 0; r < 400; r += 3) {
      for (let k = 0; k < (r % 5) + 1; k++) drafts.push(group(k % 2 ? "alice" : "bob", `room${r}`));
    }
    drafts.push(single("carol", "alice"), single("alice", "dave"), toUser("alice"), broadcast());
    const ids = await append(store, drafts);
    await store.deleteMessage(ids[3]!, { author: "bob", at: ++clock });
    const conversations = new ConversationService(quietDelivery, store, () => clock);
    for (let r = 0; r < 400; r += 7) await conversations.read("alice", { room: `room${r}` }, ids[r]!);
    await conversations.read("alice", { user: "carol" }, ids.at(-4)!);

    // The same list built conversation by conversation from the store's single-conversation reads.
    const expected: { row: ConversationSummary; activity: number }[] = [];
    const one = async (keys: ConversationKeys, readKey: string, since: number) => {
      const lastMessage: StoredMessage | undefined = (await store.conversationPage(keys, { limit: 1 })).messages[0];
      const lastReadId = await store.readPosition("alice", readKey);
      const unread = await store.unreadCount("alice", keys, lastReadId);
      return { lastMessage, lastReadId, unread, activity: lastMessage?.createAt ?? since };
    };
    for (const joined of await store.roomsOf("alice")) {
      const key = roomConversation(joined.id);
      const s = await one(key, key, (await store.joinedAt(joined.id, "alice"))!);
      const row: ConversationSummary = { conversation: { room: joined.id }, name: joined.name, ...s };
      delete (row as { activity?: number }).activity;
      if (!s.lastMessage) delete row.lastMessage;
      expected.push({ row, activity: s.activity });
    }
    for (const peer of ["carol", "dave", "system"]) {
      const keys: ConversationKeys =
        peer === "system" ? [systemConversation("alice"), BROADCAST_CONVERSATION] : directConversation("alice", peer);
      const s = await one(keys, typeof keys === "string" ? keys : keys[0], 0);
      const name = peer === "system" ? "System" : `${peer}'s name`;
      const row: ConversationSummary = { conversation: { user: peer }, name, ...s };
      delete (row as { activity?: number }).activity;
      expected.push({ row, activity: s.activity });
    }
    expected.sort((a, b) => b.activity - a.activity);

    const listed = await conversations.list("alice");
    expect(listed).toHaveLength(1 + 400 + 3);
    expect(listed).toEqual(expected.map((entry) => entry.row));
    expect(listed.some((row) => row.unread > 0 && row.lastReadId > 0)).toBe(true);
  });
});
