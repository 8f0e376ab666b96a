import { afterEach, describe, expect, it } from "vitest";
import type { Conversation, ConversationSummary } from "../shared/schemas.js";
import { barrier, ok, request, startServer } from "./support/harness.js";
import { client, expectRefused, finish, say, startClockedServer, untilLength, type Client } from "./state-support.js";

afterEach(finish);

const list = (who: Client) => ok(who.socket, "conversation:list", {});
const read = (who: Client, conversation: Conversation, lastReadId: number) =>
  ok(who.socket, "conversation:read", { conversation, lastReadId });
const key = (conversation: Conversation) =>
  "room" in conversation ? `room:${conversation.room}` : `user:${conversation.user}`;
/** The row of one conversation in the caller's list. */
async function row(who: Client, conversation: Conversation): Promise<ConversationSummary | undefined> {
  return (await list(who)).find((entry) => key(entry.conversation) === key(conversation));
}

describe("conversation:list", () => {
  it("lists the caller's rooms and the direct conversations it has messages in, not users it never talked to", async () => {
    const server = await startServer();
    const alice = await client(server, "alice");
    const bob = await client(server, "bob");
    const carol = await client(server, "carol");
    const dave = await client(server, "dave");
    await ok(carol.socket, "room:create", { name: "carol's" });
    const team = await ok(alice.socket, "room:create", { name: "team" });
    await say(alice, "bob", "hi bob");
    await say(carol, "dave", "hi dave");
    const keys = async (who: Client) => (await list(who)).map((entry) => key(entry.conversation)).sort();
    expect(await keys(alice)).toEqual(["room:lobby", `room:${team.id}`, "user:bob"].sort());
    expect(await keys(bob)).toEqual(["room:lobby", "user:alice"]);
    expect(await keys(dave)).toEqual(["room:lobby", "user:carol"]);
  });

  it("names a room by its name and a direct conversation by the other user's name", async () => {
    const server = await startServer();
    const alice = await client(server, "alice", "Alice Liddell");
    const bob = await client(server, "bob", "Bob Dylan");
    const team = await ok(alice.socket, "room:create", { name: "The Team" });
    await say(alice, "bob", "hi");
    const names = async (who: Client) =>
      Object.fromEntries((await list(who)).map((entry) => [key(entry.conversation), entry.name]));
    expect(await names(alice)).toEqual({
      "room:lobby": "Lobby",
      [`room:${team.id}`]: "The Team",
      "user:bob": "Bob Dylan",
    });
    expect(await names(bob)).toEqual({ "room:lobby": "Lobby", "user:alice": "Alice Liddell" });
  });

  it("orders by newest activity: the newest message's createAt, or when the caller joined a room without messages", async () => {
    const server = await startClockedServer();
    const t0 = server.now();
    server.setNow(t0 + 1_000);
    const alice = await client(server, "alice");
    const bob = await client(server, "bob");
    await client(server, "carol");
    server.setNow(t0 + 2_000);
    const early = await ok(bob.socket, "room:create", { name: "early" });
    server.setNow(t0 + 3_000);
    await say(alice, "carol", "to carol");
    server.setNow(t0 + 4_000);
    const quiet = await ok(alice.socket, "room:create", { name: "quiet" });
    server.setNow(t0 + 5_000);
    await say(bob, "lobby", "lobby news", "group");
    server.setNow(t0 + 6_000);
    await ok(alice.socket, "room:join", { roomId: early.id });
    server.setNow(t0 + 7_000);
    await say(bob, "alice", "to alice");
    expect((await list(alice)).map((entry) => key(entry.conversation))).toEqual([
      "user:bob",
      `room:${early.id}`,
      "room:lobby",
      `room:${quiet.id}`,
      "user:carol",
    ]);
  });

  it("does not count edits and reactions as activity, though lastMessage shows them", async () => {
    const server = await startClockedServer();
    const t0 = server.now();
    const alice = await client(server, "alice");
    const bob = await client(server, "bob");
    const carol = await client(server, "carol");
    server.setNow(t0 + 1_000);
    const old = await say(alice, "carol", "old news");
    server.setNow(t0 + 2_000);
    const lobbyMessage = await say(bob, "lobby", "newer", "group");
    server.setNow(t0 + 3_000);
    await say(bob, "alice", "newest");
    const order = async () => (await list(alice)).map((entry) => key(entry.conversation));
    const before = await order();
    expect(before).toEqual(["user:bob", "room:lobby", "user:carol"]);
    server.setNow(t0 + 10_000);
    const edited = await ok(alice.socket, "message:edit", { id: old.id, content: "old news, edited" });
    const reacted = await ok(carol.socket, "message:react", { id: old.id, emoji: "👍", on: true });
    await ok(alice.socket, "message:react", { id: lobbyMessage.id, emoji: "👀", on: true });
    expect(await order()).toEqual(before);
    expect((await row(alice, { user: "carol" }))!.lastMessage).toEqual(reacted);
    expect(reacted).toMatchObject({ content: edited.content, createAt: t0 + 1_000 });
  });

  it("omits lastMessage when a conversation has none and gives the tombstone when the newest was deleted", async () => {
    const server = await startServer();
    const alice = await client(server, "alice");
    const bob = await client(server, "bob");
    const quiet = await ok(alice.socket, "room:create", { name: "quiet" });
    const first = await say(alice, "bob", "first");
    const second = await say(alice, "bob", "second");
    const quietRow = await row(alice, { room: quiet.id });
    expect(quietRow).toMatchObject({ name: "quiet", unread: 0, lastReadId: 0 });
    expect(quietRow).not.toHaveProperty("lastMessage");
    expect((await row(bob, { user: "alice" }))!.lastMessage).toEqual(second);
    const tombstone = await ok(alice.socket, "message:delete", { id: second.id });
    expect((await row(bob, { user: "alice" }))!.lastMessage).toEqual(tombstone);
    expect((await row(alice, { user: "bob" }))!.lastMessage).toEqual(tombstone);
    expect(tombstone.id).toBeGreaterThan(first.id);
  });

  it("puts system messages to the caller and to everyone in the System conversation, which history:list reads", async () => {
    const server = await startServer();
    const alice = await client(server, "alice");
    const bob = await client(server, "bob");
    const carol = await client(server, "carol");
    const { hub } = server.server;
    const { message: toAlice } = await hub.sendToUser("alice", "for alice");
    const { message: toBob } = await hub.sendToUser("bob", "for bob");
    const { message: toAll } = await hub.sendToAll("for everyone");
    for (const [who, own] of [
      [alice, toAlice],
      [bob, toBob],
    ] as const) {
      expect(await row(who, { user: "system" })).toMatchObject({
        conversation: { user: "system" },
        name: "System",
        lastMessage: toAll,
      });
      const history = await ok(who.socket, "history:list", { user: "system" });
      expect(history.messages.map((m) => m.id)).toEqual([own.id, toAll.id]);
    }
    expect((await row(carol, { user: "system" }))!.lastMessage).toEqual(toAll);
    expect((await ok(carol.socket, "history:list", { user: "system" })).messages.map((m) => m.id)).toEqual([toAll.id]);
  });

  it("puts a system message to a room in that room's conversation, not the System one", async () => {
    const server = await startServer();
    const alice = await client(server, "alice");
    const { message } = await server.server.hub.sendToRoom("lobby", "room notice");
    expect((await row(alice, { room: "lobby" }))!.lastMessage).toEqual(message);
    expect(await row(alice, { user: "system" })).toBeUndefined();
    expect((await ok(alice.socket, "history:list", { room: "lobby" })).messages.map((m) => m.id)).toEqual([message.id]);
    expect((await ok(alice.socket, "history:list", { user: "system" })).messages).toEqual([]);
  });
});

describe("unread", () => {
  it("counts the messages by others after the read position, never the caller's own", async () => {
    const server = await startServer();
    const alice = await client(server, "alice");
    const bob = await client(server, "bob");
    const carol = await client(server, "carol");
    await say(bob, "lobby", "b1", "group");
    await say(carol, "lobby", "c1", "group");
    await say(bob, "lobby", "b2", "group");
    await say(carol, "lobby", "c2", "group");
    await say(carol, "lobby", "c3", "group");
    expect(await row(alice, { room: "lobby" })).toMatchObject({ unread: 5, lastReadId: 0 });
    expect((await row(bob, { room: "lobby" }))!.unread).toBe(2);
    expect((await row(carol, { room: "lobby" }))!.unread).toBe(0);
  });

  it("no longer counts a message once it is deleted", async () => {
    const server = await startServer();
    const alice = await client(server, "alice");
    const bob = await client(server, "bob");
    const kept = await say(bob, "alice", "kept");
    const gone = await say(bob, "alice", "gone");
    expect((await row(alice, { user: "bob" }))!.unread).toBe(2);
    await ok(bob.socket, "message:delete", { id: gone.id });
    expect((await row(alice, { user: "bob" }))!.unread).toBe(1);
    expect(await read(alice, { user: "bob" }, kept.id)).toEqual({ unread: 0 });
  });
});

describe("conversation:read", () => {
  /** Alice (two sockets) and bob share the room "team", where bob wrote three messages; carol is not in it. */
  async function teamScene() {
    const server = await startServer();
    const a1 = await client(server, "alice");
    const a2 = await client(server, "alice");
    const bob = await client(server, "bob");
    const carol = await client(server, "carol");
    const witness = await client(server, "zed");
    const team = await ok(bob.socket, "room:create", { name: "team" });
    await ok(a1.socket, "room:join", { roomId: team.id });
    const m1 = await say(bob, team.id, "one", "group");
    const m2 = await say(bob, team.id, "two", "group");
    const m3 = await say(bob, team.id, "three", "group");
    const room = { room: team.id };
    const settle = () => barrier(witness, [a1, a2, bob, carol]);
    return { server, a1, a2, bob, carol, witness, room, m1, m2, m3, settle };
  }

  it("moves the read position and answers the unread count after it", async () => {
    const { a1, room, m2, m3 } = await teamScene();
    expect(await read(a1, room, m2.id)).toEqual({ unread: 1 });
    expect(await row(a1, room)).toMatchObject({ lastReadId: m2.id, unread: 1 });
    expect(await read(a1, room, m3.id)).toEqual({ unread: 0 });
    expect(await row(a1, room)).toMatchObject({ lastReadId: m3.id, unread: 0 });
  });

  it("moves forward only: a lower lastReadId changes nothing and emits no receipt", async () => {
    const { a1, a2, bob, room, m1, m2, settle } = await teamScene();
    await read(a1, room, m2.id);
    await settle();
    expect(a2.receipts).toHaveLength(1);
    expect(bob.receipts).toHaveLength(1);
    expect(await read(a1, room, m1.id)).toEqual({ unread: 1 });
    expect(await read(a1, room, m2.id)).toEqual({ unread: 1 });
    await settle();
    expect((await row(a1, room))!.lastReadId).toBe(m2.id);
    expect(a2.receipts).toHaveLength(1);
    expect(bob.receipts).toHaveLength(1);
  });

  it("sends one receipt when two tabs read to the same message at once", async () => {
    const { a1, a2, bob, room, m1, m2, m3, settle } = await teamScene();
    // Each round both tabs send their read in the same instant: only the one that moved the position tells.
    for (const target of [m1, m2, m3]) {
      await Promise.all([read(a1, room, target.id), read(a2, room, target.id)]);
    }
    await settle();
    expect(bob.receipts.map((receipt) => receipt.lastReadId)).toEqual([m1.id, m2.id, m3.id]);
  });

  it("clamps a lastReadId beyond the newest message of the conversation to it", async () => {
    const { a1, bob, room, m3 } = await teamScene();
    expect(await read(a1, room, 1_000_000_000)).toEqual({ unread: 0 });
    expect((await row(a1, room))!.lastReadId).toBe(m3.id);
    await untilLength(bob.receipts, 1);
    expect(bob.receipts).toEqual([{ conversation: room, userId: "alice", lastReadId: m3.id }]);
    const next = await say(bob, room.room, "four", "group");
    expect(await row(a1, room)).toMatchObject({ lastReadId: m3.id, unread: 1 });
    expect(next.id).toBeGreaterThan(m3.id);
  });

  it("gives lastReadId 0 to a conversation the caller never read", async () => {
    const { a1, bob, room } = await teamScene();
    await say(bob, "alice", "direct");
    expect(await row(a1, room)).toMatchObject({ lastReadId: 0, unread: 3 });
    expect(await row(a1, { user: "bob" })).toMatchObject({ lastReadId: 0, unread: 1 });
  });

  it("moves the sender's read position to its own message, silently", async () => {
    const { a1, a2, bob, carol, room, settle } = await teamScene();
    const own = await say(a1, room.room, "caught up", "group");
    const direct = await say(a1, "carol", "hi carol");
    expect(await row(a1, room)).toMatchObject({ lastReadId: own.id, unread: 0 });
    expect(await row(a1, { user: "carol" })).toMatchObject({ lastReadId: direct.id, unread: 0 });
    await settle();
    for (const socket of [a1, a2, bob, carol]) expect(socket.receipts).toEqual([]);
  });

  it("sends a room receipt to the reader's other sockets and the other members, not the reading socket or outsiders", async () => {
    const { a1, a2, bob, carol, room, m2, settle } = await teamScene();
    await read(a1, room, m2.id);
    await settle();
    const receipt = { conversation: room, userId: "alice", lastReadId: m2.id };
    expect(a2.receipts).toEqual([receipt]);
    expect(bob.receipts).toEqual([receipt]);
    expect(a1.receipts).toEqual([]);
    expect(carol.receipts).toEqual([]);
  });

  it("writes a direct receipt as { user: reader } for the peer and { user: peer } for the reader's other tabs", async () => {
    const { server, a1, a2, bob, carol, witness } = await teamScene();
    const b2 = await client(server, "bob");
    const direct = await say(bob, "alice", "ping");
    await read(a1, { user: "bob" }, direct.id);
    await barrier(witness, [a1, a2, bob, b2, carol]);
    expect(bob.receipts).toEqual([{ conversation: { user: "alice" }, userId: "alice", lastReadId: direct.id }]);
    expect(b2.receipts).toEqual(bob.receipts);
    expect(a2.receipts).toEqual([{ conversation: { user: "bob" }, userId: "alice", lastReadId: direct.id }]);
    expect(a1.receipts).toEqual([]);
    expect(carol.receipts).toEqual([]);
  });

  it("with readReceipts off, sends the reader's receipts only to its own other sockets", async () => {
    const { a1, a2, bob, room, m1, m2, settle } = await teamScene();
    expect(await ok(a2.socket, "user:update", { readReceipts: false })).toMatchObject({ readReceipts: false });
    const direct = await say(bob, "alice", "ping");
    await read(a1, room, m1.id);
    await read(a1, { user: "bob" }, direct.id);
    await settle();
    expect(a2.receipts).toEqual([
      { conversation: room, userId: "alice", lastReadId: m1.id },
      { conversation: { user: "bob" }, userId: "alice", lastReadId: direct.id },
    ]);
    expect(bob.receipts).toEqual([]);
    await ok(a2.socket, "user:update", { readReceipts: true });
    await read(a1, room, m2.id);
    await settle();
    expect(bob.receipts).toEqual([{ conversation: room, userId: "alice", lastReadId: m2.id }]);
  });

  it("refuses a room the caller is not in with FORBIDDEN", async () => {
    const { carol, room, m1 } = await teamScene();
    expectRefused(
      await request(carol.socket, "conversation:read", { conversation: room, lastReadId: m1.id }),
      "FORBIDDEN",
    );
  });
});

describe("conversation:reads", () => {
  const reads = (who: Client, conversation: Conversation, page: { after?: string; limit?: number } = {}) =>
    ok(who.socket, "conversation:reads", { conversation, ...page });

  it("lists a room's members' read positions by user id in pages, 0 for never read, without those with receipts off", async () => {
    const server = await startServer();
    const alice = await client(server, "alice");
    const bob = await client(server, "bob");
    const carol = await client(server, "carol");
    const dave = await client(server, "dave");
    const outsider = await client(server, "zed");
    const team = await ok(bob.socket, "room:create", { name: "team" });
    for (const who of [alice, carol, dave]) await ok(who.socket, "room:join", { roomId: team.id });
    const room = { room: team.id };
    const m1 = await say(bob, team.id, "one", "group");
    const m2 = await say(bob, team.id, "two", "group");
    await read(alice, room, m2.id);
    await read(carol, room, m1.id);
    await ok(dave.socket, "user:update", { readReceipts: false });
    await read(dave, room, m2.id);
    // bob's position moved to his own message when he sent it.
    expect(await reads(alice, room)).toEqual({
      reads: [
        { userId: "alice", lastReadId: m2.id },
        { userId: "bob", lastReadId: m2.id },
        { userId: "carol", lastReadId: m1.id },
      ],
      hasMore: false,
    });
    const first = await reads(carol, room, { limit: 2 });
    expect(first).toEqual({
      reads: [expect.objectContaining({ userId: "alice" }), expect.objectContaining({ userId: "bob" })],
      hasMore: true,
    });
    expect(await reads(carol, room, { after: "bob", limit: 2 })).toEqual({
      reads: [{ userId: "carol", lastReadId: m1.id }],
      hasMore: false,
    });
    expectRefused(await request(outsider.socket, "conversation:reads", { conversation: room }), "FORBIDDEN");
    expectRefused(
      await request(alice.socket, "conversation:reads", { conversation: room, limit: 201 }),
      "INVALID_PAYLOAD",
    );
    expectRefused(await request(alice.socket, "conversation:reads", { conversation: { user: "nobody" } }), "NOT_FOUND");
  });

  it("gives both users of a direct conversation, and nobody in the system conversation", async () => {
    const server = await startServer();
    const alice = await client(server, "alice");
    const bob = await client(server, "bob");
    const hi = await say(alice, "bob", "hi bob");
    expect(await reads(alice, { user: "bob" })).toEqual({
      reads: [
        { userId: "alice", lastReadId: hi.id },
        { userId: "bob", lastReadId: 0 },
      ],
      hasMore: false,
    });
    await read(bob, { user: "alice" }, hi.id);
    expect((await reads(alice, { user: "bob" })).reads[1]).toEqual({ userId: "bob", lastReadId: hi.id });
    expect(await reads(bob, { user: "alice" }, { after: "alice" })).toEqual({
      reads: [{ userId: "bob", lastReadId: hi.id }],
      hasMore: false,
    });
    expect(await reads(alice, { user: "bob" }, { limit: 1 })).toEqual({
      reads: [{ userId: "alice", lastReadId: hi.id }],
      hasMore: true,
    });
    expect(await reads(alice, { user: "system" })).toEqual({ reads: [], hasMore: false });
  });
});
