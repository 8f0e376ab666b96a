import { afterEach, describe, expect, it } from "vitest";
import type { Message, StoredMessage, TypingNotice } from "../shared/schemas.js";
import { ADMIN_KEY, barrier, ok, request, startServer, waitForMessage, type TestServer } from "./support/harness.js";
import { client, disconnect, expectRefused, finish, say, untilLength, type Client } from "./state-support.js";

afterEach(finish);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const typing = (who: Client, conversation: { room: string } | { user: string }, state: "start" | "stop") =>
  ok(who.socket, "typing", { conversation, state });
const search = async (
  who: Client,
  q: string,
  extra: { limit?: number; conversation?: { room: string } | { user: string } } = {},
) => (await ok(who.socket, "history:search", { q, ...extra })).messages;
const ids = (messages: StoredMessage[]) => messages.map((m) => m.id);
const isOffline = (userId: string) => (m: Message) => m.messageType === "offline" && m.from === userId;

describe("typing", () => {
  /** Alice and bob, two sockets each, share the room "team"; carol is not in it; zed only sends barriers. */
  async function scene() {
    const server = await startServer();
    const a1 = await client(server, "alice");
    const a2 = await client(server, "alice");
    const b1 = await client(server, "bob");
    const b2 = await client(server, "bob");
    const carol = await client(server, "carol");
    const witness = await client(server, "zed");
    const team = await ok(b1.socket, "room:create", { name: "team" });
    await ok(a1.socket, "room:join", { roomId: team.id });
    const room = { room: team.id };
    const settle = () => barrier(witness, [a1, a2, b1, b2, carol]);
    return { server, a1, a2, b1, b2, carol, witness, room, settle };
  }

  it("relays typing in a room to the other members' sockets, not the typer's other sockets or outsiders", async () => {
    const { a1, a2, b1, b2, carol, room, settle } = await scene();
    expect(await typing(a1, room, "start")).toEqual({});
    await typing(a1, room, "stop");
    await settle();
    const expected: TypingNotice[] = [
      { conversation: room, userId: "alice", state: "start" },
      { conversation: room, userId: "alice", state: "stop" },
    ];
    expect(b1.typing).toEqual(expected);
    expect(b2.typing).toEqual(expected);
    for (const socket of [a1, a2, carol]) expect(socket.typing).toEqual([]);
  });

  it("relays typing in a direct conversation to the other user's sockets as { user: typer }", async () => {
    const { a1, a2, b1, b2, carol, settle } = await scene();
    await typing(a1, { user: "bob" }, "start");
    await settle();
    const expected = [{ conversation: { user: "alice" }, userId: "alice", state: "start" }];
    expect(b1.typing).toEqual(expected);
    expect(b2.typing).toEqual(expected);
    for (const socket of [a1, a2, carol]) expect(socket.typing).toEqual([]);
  });

  it("relays a start at most once per second per user and conversation", async () => {
    const { a1, a2, b1, carol, room, settle } = await scene();
    await ok(carol.socket, "room:join", { roomId: room.room });
    await typing(a1, room, "start");
    const firstRelayed = Date.now();
    await typing(a1, room, "start");
    await typing(a2, room, "start");
    await typing(a1, { user: "bob" }, "start");
    await typing(carol, room, "start");
    await settle();
    expect(b1.typing).toEqual([
      { conversation: room, userId: "alice", state: "start" },
      { conversation: { user: "alice" }, userId: "alice", state: "start" },
      { conversation: room, userId: "carol", state: "start" },
    ]);
    await sleep(firstRelayed + 1100 - Date.now());
    await typing(a2, room, "start");
    await settle();
    expect(b1.typing.filter((notice) => "room" in notice.conversation && notice.userId === "alice")).toEqual([
      { conversation: room, userId: "alice", state: "start" },
      { conversation: room, userId: "alice", state: "start" },
    ]);
  });

  it("relays a stop only while a relayed start has not been stopped", async () => {
    const { a1, b1, room, settle } = await scene();
    await typing(a1, room, "stop");
    await typing(a1, room, "start");
    await typing(a1, room, "stop");
    await typing(a1, room, "stop");
    // Within the second since the relayed start: this start is not relayed, so neither is its stop.
    await typing(a1, room, "start");
    await typing(a1, room, "stop");
    await settle();
    expect(b1.typing.map((notice) => notice.state)).toEqual(["start", "stop"]);
  });

  it("relays a stop sent from the typer's other tab (on two nodes, the other node), once", async () => {
    const { a1, a2, b1, room, settle } = await scene();
    await typing(a1, room, "start");
    await typing(a2, room, "stop");
    await settle();
    expect(b1.typing.map((notice) => notice.state)).toEqual(["start", "stop"]);
    // Stopped already: the first tab's stop relays nothing more.
    await typing(a1, room, "stop");
    await settle();
    expect(b1.typing.map((notice) => notice.state)).toEqual(["start", "stop"]);
  });

  it("relays a stop itself when 6 s pass without a new start", async () => {
    const { a1, a2, b1, room } = await scene();
    await typing(a1, room, "start");
    await sleep(500);
    // Not relayed (within the second), but it is a new start: the 6 s count from here. From the other tab
    // (on two nodes, the other node): the typer's tabs are one typer.
    await typing(a2, room, "start");
    const lastStart = Date.now();
    await untilLength(b1.typing, 2, 9000);
    const stoppedAfter = Date.now() - lastStart;
    expect(b1.typing).toEqual([
      { conversation: room, userId: "alice", state: "start" },
      { conversation: room, userId: "alice", state: "stop" },
    ]);
    expect(stoppedAfter).toBeGreaterThanOrEqual(5_900);
    expect(stoppedAfter).toBeLessThan(7_500);
    expect(a2.typing).toEqual([]);
  });

  it("refuses typing in a room the caller is not in with FORBIDDEN, relaying nothing", async () => {
    const { b1, carol, room, settle } = await scene();
    expectRefused(await request(carol.socket, "typing", { conversation: room, state: "start" }), "FORBIDDEN");
    expectRefused(
      await request(carol.socket, "typing", { conversation: { user: "nobody" }, state: "start" }),
      "NOT_FOUND",
    );
    await settle();
    expect(b1.typing).toEqual([]);
  });
});

describe("history:search", () => {
  it("finds the messages that contain every word of the query", async () => {
    const server = await startServer();
    const alice = await client(server, "alice");
    const pie = await say(alice, "lobby", "red apple pie", "group");
    const green = await say(alice, "lobby", "green apple", "group");
    await say(alice, "lobby", "red car", "group");
    expect(ids(await search(alice, "apple red"))).toEqual([pie.id]);
    expect(ids(await search(alice, "apple")).sort()).toEqual([pie.id, green.id].sort());
    expect(await search(alice, "apple banana")).toEqual([]);
  });

  it("treats quotes and operators as ordinary characters", async () => {
    const server = await startServer();
    const alice = await client(server, "alice");
    const quoted = await say(alice, "lobby", 'she said "quoted" twice', "group");
    const or = await say(alice, "lobby", "a or b", "group");
    await say(alice, "lobby", "a only", "group");
    const near = await say(alice, "lobby", "near the end", "group");
    const and = await say(alice, "lobby", "this AND that", "group");
    for (const q of [
      "AND",
      '"quoted"',
      "a OR b",
      "NEAR(",
      "NEAR(a b, 2)",
      "apple*",
      "-a",
      "col:umn",
      "(",
      '"',
      "^a",
      "a + b",
      "'",
    ]) {
      expect(await request(alice.socket, "history:search", { q }), q).toMatchObject({ ok: true });
    }
    expect(ids(await search(alice, "AND"))).toEqual([and.id]);
    expect(ids(await search(alice, '"quoted"'))).toEqual([quoted.id]);
    expect(ids(await search(alice, "a OR b"))).toEqual([or.id]);
    expect(ids(await search(alice, "NEAR("))).toEqual([near.id]);
  });

  it("searches only what the caller may see", async () => {
    const server = await startServer();
    const alice = await client(server, "alice");
    const bob = await client(server, "bob");
    const carol = await client(server, "carol");
    const hidden = await ok(bob.socket, "room:create", { name: "hidden", visibility: "private" });
    await say(bob, hidden.id, "secret plan", "group");
    await say(bob, "carol", "secret plan");
    await server.server.hub.sendToUser("bob", "secret plan");
    const visible = [
      await say(alice, "bob", "secret plan"),
      await say(carol, "alice", "secret plan"),
      await say(carol, "lobby", "secret plan", "group"),
      (await server.server.hub.sendToUser("alice", "secret plan")).message,
      (await server.server.hub.sendToAll("secret plan")).message,
    ];
    expect(ids(await search(alice, "secret plan")).sort()).toEqual(ids(visible).sort());
  });

  it("leaves deleted messages out and searches only the current text", async () => {
    const server = await startServer();
    const alice = await client(server, "alice");
    const gone = await say(alice, "lobby", "banana split", "group");
    await ok(alice.socket, "message:delete", { id: gone.id });
    expect(await search(alice, "banana")).toEqual([]);
    const changed = await say(alice, "lobby", "obsolete wording", "group");
    const edited = await ok(alice.socket, "message:edit", { id: changed.id, content: "fresh wording" });
    expect(await search(alice, "obsolete")).toEqual([]);
    expect(await search(alice, "fresh")).toEqual([edited]);
    expect(await search(alice, "wording")).toEqual([edited]);
  });

  it("ranks the best match first, then the newest", async () => {
    const server = await startServer();
    const alice = await client(server, "alice");
    for (let i = 0; i < 10; i++) await say(alice, "lobby", `filler message number ${i}`, "group");
    const best = await say(alice, "lobby", "kiwi kiwi", "group");
    const weaker = await say(alice, "lobby", "kiwi in a long sentence with plenty of other words around it", "group");
    const older = await say(alice, "lobby", "mango", "group");
    const newer = await say(alice, "lobby", "mango", "group");
    expect(ids(await search(alice, "kiwi"))).toEqual([best.id, weaker.id]);
    expect(ids(await search(alice, "mango"))).toEqual([newer.id, older.id]);
  });

  it("answers 20 messages by default and takes a limit of 1 to 50", async () => {
    const server = await startServer();
    const alice = await client(server, "alice");
    await Promise.all(Array.from({ length: 55 }, (_, i) => say(alice, "lobby", `lime ${i}`, "group")));
    expect(await search(alice, "lime")).toHaveLength(20);
    expect(await search(alice, "lime", { limit: 1 })).toHaveLength(1);
    expect(await search(alice, "lime", { limit: 50 })).toHaveLength(50);
    for (const limit of [0, 51]) {
      expectRefused(await request(alice.socket, "history:search", { q: "lime", limit }), "INVALID_PAYLOAD");
    }
  });

  it("takes a query of 1 to 200 characters", async () => {
    const server = await startServer();
    const alice = await client(server, "alice");
    for (const q of ["", "x".repeat(201)]) {
      expectRefused(await request(alice.socket, "history:search", { q }), "INVALID_PAYLOAD");
    }
    expect(await request(alice.socket, "history:search", { q: "x".repeat(200) })).toMatchObject({ ok: true });
  });

  it("narrows the search to one conversation when given", async () => {
    const server = await startServer();
    const alice = await client(server, "alice");
    await client(server, "bob");
    const team = await ok(alice.socket, "room:create", { name: "team" });
    const inLobby = await say(alice, "lobby", "pear", "group");
    const inTeam = await say(alice, team.id, "pear", "group");
    const direct = await say(alice, "bob", "pear");
    expect(ids(await search(alice, "pear")).sort()).toEqual([inLobby.id, inTeam.id, direct.id].sort());
    expect(ids(await search(alice, "pear", { conversation: { user: "bob" } }))).toEqual([direct.id]);
    expect(ids(await search(alice, "pear", { conversation: { room: team.id } }))).toEqual([inTeam.id]);
    expect(ids(await search(alice, "pear", { conversation: { room: "lobby" } }))).toEqual([inLobby.id]);
  });
});

describe("presence:query", () => {
  it("answers online users, unknown ids as offline without lastSeenAt, and each id once", async () => {
    const server = await startServer();
    const alice = await client(server, "alice");
    await client(server, "bob");
    const answer = await ok(alice.socket, "presence:query", { userIds: ["bob", "nobody", "bob", "alice", "nobody"] });
    expect(answer).toHaveLength(3);
    expect(answer).toEqual(
      expect.arrayContaining([
        { userId: "bob", online: true },
        { userId: "nobody", online: false },
        { userId: "alice", online: true },
      ]),
    );
  });

  it("takes 1 to 200 user ids", async () => {
    const server = await startServer();
    const alice = await client(server, "alice");
    const many = (n: number) => Array.from({ length: n }, (_, i) => `user${i}`);
    for (const userIds of [[], many(201)]) {
      expectRefused(await request(alice.socket, "presence:query", { userIds }), "INVALID_PAYLOAD");
    }
    expect(await ok(alice.socket, "presence:query", { userIds: many(200) })).toHaveLength(200);
  });

  it("counts a user online through the grace (stats count live sockets only), then offline with lastSeenAt at its last socket's close", async () => {
    // A grace long enough that a loaded machine answers the checks below within it (1 s once was not).
    const server = await startServer({ PRESENCE_GRACE_MS: "2500" });
    const alice = await client(server, "alice");
    const bob = await client(server, "bob");
    const closing = Date.now();
    await disconnect(server, bob);
    const closed = Date.now();
    expect(await ok(alice.socket, "presence:query", { userIds: ["bob"] })).toEqual([{ userId: "bob", online: true }]);
    // Stats count live sockets only: bob, in his grace, is not among them.
    const stats = await fetch(`${server.url}/api/admin/stats`, { headers: { Authorization: `Bearer ${ADMIN_KEY}` } });
    expect(await stats.json()).toMatchObject({ connections: 1, users: 1 });
    await waitForMessage(alice, isOffline("bob"), 8000);
    const [status] = await ok(alice.socket, "presence:query", { userIds: ["bob"] });
    expect(status).toMatchObject({ userId: "bob", online: false });
    expect(status!.lastSeenAt).toBeGreaterThanOrEqual(closing);
    expect(status!.lastSeenAt).toBeLessThanOrEqual(closed);
    await client(server, "bob");
    expect(await ok(alice.socket, "presence:query", { userIds: ["bob"] })).toEqual([{ userId: "bob", online: true }]);
  });

  it("keeps lastSeenAt across a restart", async () => {
    const first: TestServer = await startServer();
    const alice = await client(first, "alice");
    const bob = await client(first, "bob");
    await disconnect(first, bob);
    await waitForMessage(alice, isOffline("bob"));
    const [before] = await ok(alice.socket, "presence:query", { userIds: ["bob"] });
    expect(before!.lastSeenAt).toEqual(expect.any(Number));
    await first.stop();
    const second = await startServer({}, first.config.dataDir);
    const carol = await client(second, "carol");
    expect(await ok(carol.socket, "presence:query", { userIds: ["bob"] })).toEqual([before]);
  });
});

describe("user:update", () => {
  it("answers the current values for {}, readReceipts defaulting to true", async () => {
    const server = await startServer();
    const alice = await client(server, "alice", "Alice");
    expect(await ok(alice.socket, "user:update", {})).toEqual({ id: "alice", name: "Alice", readReceipts: true });
    expect(await ok(alice.socket, "user:update", { readReceipts: false })).toEqual({
      id: "alice",
      name: "Alice",
      readReceipts: false,
    });
    expect(await ok(alice.socket, "user:update", {})).toEqual({ id: "alice", name: "Alice", readReceipts: false });
  });

  it("shows a new name in room:members and in the peer's conversation:list; only the user's own sockets (and presence followers) get an event", async () => {
    const server = await startServer();
    const a1 = await client(server, "alice", "Alice");
    const a2 = await client(server, "alice", "Alice");
    const bob = await client(server, "bob");
    const witness = await client(server, "zed");
    await say(a1, "bob", "hi");
    await barrier(witness, [a1, a2, bob]);
    const before = [a1, a2, bob].map((socket) => socket.events.length);
    expect(await ok(a1.socket, "user:update", { name: "Alice Cooper" })).toMatchObject({ name: "Alice Cooper" });
    const members = await ok(bob.socket, "room:members", { roomId: "lobby" });
    expect(members.members.find((member) => member.userId === "alice")).toMatchObject({ name: "Alice Cooper" });
    const rows = await ok(bob.socket, "conversation:list", {});
    expect(rows.find((entry) => "user" in entry.conversation && entry.conversation.user === "alice")).toMatchObject({
      name: "Alice Cooper",
    });
    await barrier(witness, [a1, a2, bob]);
    // Alice's sockets hear user:updated (contract extension); bob, who does not follow her presence, nothing.
    [a1, a2].forEach((socket, i) => expect(socket.events.slice(before[i])).toEqual(["user:updated", "message"]));
    expect(bob.events.slice(before[2])).toEqual(["message"]);
  });

  it("takes a name of 1 to 64 characters", async () => {
    const server = await startServer();
    const alice = await client(server, "alice", "Alice");
    for (const name of ["", "n".repeat(65)]) {
      expectRefused(await request(alice.socket, "user:update", { name }), "INVALID_PAYLOAD");
    }
    expect((await ok(alice.socket, "user:update", {})).name).toBe("Alice");
    expect((await ok(alice.socket, "user:update", { name: "n".repeat(64) })).name).toBe("n".repeat(64));
  });
});
