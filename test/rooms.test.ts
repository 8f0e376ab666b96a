import { afterEach, describe, expect, it } from "vitest";
import type { ErrorCode, Result } from "../shared/errors.js";
import type { Message, Room, StoredMessage } from "../shared/schemas.js";
import {
  barrier,
  cleanup,
  connect,
  ok,
  request,
  startServer,
  tempDir,
  waitForMessage,
  type Connected,
} from "./support/harness.js";

afterEach(cleanup);

/** Asserts that a request was refused with `code`. */
async function expectError(pending: Promise<Result<unknown>>, code: ErrorCode): Promise<void> {
  const result = await pending;
  expect(result).toMatchObject({ ok: false, error: { code } });
}

/** Sends a group text message that must be accepted. */
function say(from: Connected, roomId: string, content: string): Promise<StoredMessage> {
  return ok(from.socket, "message:send", { messageType: "group", mediaType: "text", to: roomId, content });
}

/** True for the stored message with that id. */
const withId =
  (id: number) =>
  (message: Message): boolean =>
    "id" in message && message.id === id;

/** The group messages of a room among what a client received. */
const groupMessagesOf = (connected: Connected, roomId: string): Message[] =>
  connected.received.filter((m) => m.messageType === "group" && m.to === roomId);

const ids = (rooms: Room[]): string[] => rooms.map((room) => room.id);

describe("room:create", () => {
  it("returns a public room with its creator as the only member", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const before = Date.now();
    const room = await ok(alice.socket, "room:create", { name: "Book club" });
    expect(room).toEqual({
      id: expect.any(String),
      name: "Book club",
      visibility: "public",
      createdBy: "alice",
      createAt: expect.any(Number),
      members: 1,
    });
    expect(room.id).not.toBe("lobby");
    expect(room.createAt).toBeGreaterThanOrEqual(before - 1000);
    expect(room.createAt).toBeLessThanOrEqual(Date.now() + 1000);
  });

  it("creates a private room when asked", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const room = await ok(alice.socket, "room:create", { name: "Secret", visibility: "private" });
    expect(room).toMatchObject({ name: "Secret", visibility: "private", createdBy: "alice", members: 1 });
  });

  it("gives every new room its own id", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const first = await ok(alice.socket, "room:create", { name: "Same" });
    const second = await ok(alice.socket, "room:create", { name: "Same" });
    expect(second.id).not.toBe(first.id);
  });

  it("trims the room name", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const room = await ok(alice.socket, "room:create", { name: "  Book club \t" });
    expect(room.name).toBe("Book club");
  });

  it("accepts a name of 64 characters", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const room = await ok(alice.socket, "room:create", { name: "n".repeat(64) });
    expect(room.name).toBe("n".repeat(64));
  });

  it("refuses an empty, blank or 65-character name as INVALID_PAYLOAD and creates nothing", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    await expectError(request(alice.socket, "room:create", { name: "" }), "INVALID_PAYLOAD");
    await expectError(request(alice.socket, "room:create", { name: "   " }), "INVALID_PAYLOAD");
    await expectError(request(alice.socket, "room:create", { name: "n".repeat(65) }), "INVALID_PAYLOAD");
    await expectError(
      request(alice.socket, "room:create", { name: "Room", visibility: "secret" as "private" }),
      "INVALID_PAYLOAD",
    );
    const list = await ok(alice.socket, "room:list", {});
    expect(ids(list.joined)).toEqual(["lobby"]);
    expect(list.discoverable).toEqual([]);
  });

  it("makes every socket of the creator a member: a group message reaches the creator's other tab", async () => {
    const server = await startServer();
    const tab1 = await connect(server, "alice");
    const tab2 = await connect(server, "alice");
    const room = await ok(tab1.socket, "room:create", { name: "Tabs" });
    const sent = await say(tab1, room.id, "to my other tab");
    const got = await waitForMessage(tab2, withId(sent.id));
    expect(got).toEqual(sent);
  });

  it("delivers a member's group message to the creator's sockets", async () => {
    const server = await startServer();
    const tab1 = await connect(server, "alice");
    const tab2 = await connect(server, "alice");
    const bob = await connect(server, "bob");
    const room = await ok(tab1.socket, "room:create", { name: "Club" });
    await ok(bob.socket, "room:join", { roomId: room.id });
    const sent = await say(bob, room.id, "hello creator");
    await Promise.all([waitForMessage(tab1, withId(sent.id)), waitForMessage(tab2, withId(sent.id))]);
  });
});

describe("room:join", () => {
  it("joins a public room and answers it with the new member count", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const bob = await connect(server, "bob");
    const room = await ok(alice.socket, "room:create", { name: "Open" });
    const joined = await ok(bob.socket, "room:join", { roomId: room.id });
    expect(joined).toEqual({ ...room, members: 2 });
  });

  it("makes every socket of the joiner receive later group messages of the room", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const bob1 = await connect(server, "bob");
    const bob2 = await connect(server, "bob");
    const room = await ok(alice.socket, "room:create", { name: "Open" });
    await ok(bob1.socket, "room:join", { roomId: room.id });
    const sent = await say(alice, room.id, "welcome");
    const [got1, got2] = await Promise.all([
      waitForMessage(bob1, withId(sent.id)),
      waitForMessage(bob2, withId(sent.id)),
    ]);
    expect(got1).toEqual(sent);
    expect(got2).toEqual(sent);
  });

  it("lets the joiner send to the room and read its history", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const bob = await connect(server, "bob");
    const room = await ok(alice.socket, "room:create", { name: "Open" });
    const earlier = await say(alice, room.id, "before bob");
    await ok(bob.socket, "room:join", { roomId: room.id });
    const sent = await say(bob, room.id, "hi all");
    await waitForMessage(alice, withId(sent.id));
    const page = await ok(bob.socket, "history:list", { room: room.id });
    expect(page.messages.map((m) => m.id)).toEqual([earlier.id, sent.id]);
  });

  it("refuses a private room without an invitation as FORBIDDEN", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const bob = await connect(server, "bob");
    const room = await ok(alice.socket, "room:create", { name: "Secret", visibility: "private" });
    await expectError(request(bob.socket, "room:join", { roomId: room.id }), "FORBIDDEN");
    const members = await ok(alice.socket, "room:members", { roomId: room.id });
    expect(members.members.map((m) => m.userId)).toEqual(["alice"]);
    await expectError(request(bob.socket, "history:list", { room: room.id }), "FORBIDDEN");
  });

  it("joins a private room the caller was invited to", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const bob = await connect(server, "bob");
    const room = await ok(alice.socket, "room:create", { name: "Secret", visibility: "private" });
    await ok(alice.socket, "room:invite", { roomId: room.id, userId: "bob" });
    const joined = await ok(bob.socket, "room:join", { roomId: room.id });
    expect(joined).toMatchObject({ id: room.id, visibility: "private", members: 2 });
  });

  it("answers NOT_FOUND for a room that does not exist", async () => {
    const server = await startServer();
    const bob = await connect(server, "bob");
    await expectError(request(bob.socket, "room:join", { roomId: "no-such-room" }), "NOT_FOUND");
  });

  it("refuses a payload without a room id as INVALID_PAYLOAD", async () => {
    const server = await startServer();
    const bob = await connect(server, "bob");
    await expectError(request(bob.socket, "room:join", {} as { roomId: string }), "INVALID_PAYLOAD");
    await expectError(request(bob.socket, "room:join", { roomId: "" }), "INVALID_PAYLOAD");
  });

  it("accepts joining twice without counting the member twice", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const bob = await connect(server, "bob");
    const room = await ok(alice.socket, "room:create", { name: "Open" });
    await ok(bob.socket, "room:join", { roomId: room.id });
    const again = await ok(bob.socket, "room:join", { roomId: room.id });
    expect(again.members).toBe(2);
    const members = await ok(alice.socket, "room:members", { roomId: room.id });
    expect(members.members.map((m) => m.userId)).toEqual(["alice", "bob"]);
    const lobbyAgain = await ok(bob.socket, "room:join", { roomId: "lobby" });
    expect(lobbyAgain.members).toBe(2);
  });

  it("delivers a group message once to a socket that joined twice", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const bob = await connect(server, "bob");
    const room = await ok(alice.socket, "room:create", { name: "Open" });
    await ok(bob.socket, "room:join", { roomId: room.id });
    await ok(bob.socket, "room:join", { roomId: room.id });
    const sent = await say(alice, room.id, "once");
    await barrier(alice, [bob]);
    expect(bob.received.filter(withId(sent.id))).toHaveLength(1);
  });
});

describe("room:leave", () => {
  it("refuses to leave the lobby as FORBIDDEN", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const bob = await connect(server, "bob");
    await expectError(request(bob.socket, "room:leave", { roomId: "lobby" }), "FORBIDDEN");
    const sent = await say(alice, "lobby", "still here?");
    await waitForMessage(bob, withId(sent.id));
  });

  it("answers the room id and lowers the member count", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const bob = await connect(server, "bob");
    const room = await ok(alice.socket, "room:create", { name: "Open" });
    await ok(bob.socket, "room:join", { roomId: room.id });
    expect(await ok(bob.socket, "room:leave", { roomId: room.id })).toEqual({ roomId: room.id });
    const list = await ok(bob.socket, "room:list", {});
    expect(ids(list.joined)).toEqual(["lobby"]);
    expect(list.discoverable).toEqual([{ ...room, members: 1 }]);
    const members = await ok(alice.socket, "room:members", { roomId: room.id });
    expect(members.members.map((m) => m.userId)).toEqual(["alice"]);
  });

  it("stops group messages of the room reaching any of the leaver's sockets", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const bob1 = await connect(server, "bob");
    const bob2 = await connect(server, "bob");
    const room = await ok(alice.socket, "room:create", { name: "Open" });
    await ok(bob1.socket, "room:join", { roomId: room.id });
    const before = await say(alice, room.id, "before leaving");
    await Promise.all([waitForMessage(bob1, withId(before.id)), waitForMessage(bob2, withId(before.id))]);

    await ok(bob1.socket, "room:leave", { roomId: room.id });
    const after = await say(alice, room.id, "after leaving");
    await barrier(alice, [bob1, bob2]);
    expect(bob1.received.filter(withId(after.id))).toEqual([]);
    expect(bob2.received.filter(withId(after.id))).toEqual([]);
    expect(groupMessagesOf(bob1, room.id)).toHaveLength(1);
    expect(groupMessagesOf(bob2, room.id)).toHaveLength(1);
  });

  it("refuses the room's history and sending to it after leaving as FORBIDDEN", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const bob = await connect(server, "bob");
    const room = await ok(alice.socket, "room:create", { name: "Open" });
    await ok(bob.socket, "room:join", { roomId: room.id });
    await say(alice, room.id, "seen while a member");
    await ok(bob.socket, "room:leave", { roomId: room.id });
    await expectError(request(bob.socket, "history:list", { room: room.id }), "FORBIDDEN");
    await expectError(
      request(bob.socket, "message:send", { messageType: "group", mediaType: "text", to: room.id, content: "hi" }),
      "FORBIDDEN",
    );
    const page = await ok(alice.socket, "history:list", { room: room.id });
    expect(page.messages.map((m) => m.content)).toEqual(["seen while a member"]);
  });

  it("refuses a room the caller is not in as FORBIDDEN", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const bob = await connect(server, "bob");
    const room = await ok(alice.socket, "room:create", { name: "Open" });
    await expectError(request(bob.socket, "room:leave", { roomId: room.id }), "FORBIDDEN");
    await ok(bob.socket, "room:join", { roomId: room.id });
    await ok(bob.socket, "room:leave", { roomId: room.id });
    await expectError(request(bob.socket, "room:leave", { roomId: room.id }), "FORBIDDEN");
    const members = await ok(alice.socket, "room:members", { roomId: room.id });
    expect(members.members.map((m) => m.userId)).toEqual(["alice"]);
  });

  it("answers NOT_FOUND for a room that does not exist", async () => {
    const server = await startServer();
    const bob = await connect(server, "bob");
    await expectError(request(bob.socket, "room:leave", { roomId: "no-such-room" }), "NOT_FOUND");
  });

  it("lets a user rejoin a public room after leaving it", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const bob = await connect(server, "bob");
    const room = await ok(alice.socket, "room:create", { name: "Open" });
    await ok(bob.socket, "room:join", { roomId: room.id });
    await ok(bob.socket, "room:leave", { roomId: room.id });
    const rejoined = await ok(bob.socket, "room:join", { roomId: room.id });
    expect(rejoined.members).toBe(2);
    const sent = await say(alice, room.id, "welcome back");
    await waitForMessage(bob, withId(sent.id));
  });
});

describe("room:invite", () => {
  it("tells the invitee's sockets about the invitation, which lets it join the private room", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const bob1 = await connect(server, "bob");
    const bob2 = await connect(server, "bob");
    const room = await ok(alice.socket, "room:create", { name: "Secret", visibility: "private" });
    const invited1 = new Promise((resolve) => bob1.socket.once("room:invited", resolve));
    const invited2 = new Promise((resolve) => bob2.socket.once("room:invited", resolve));
    const answer = await ok(alice.socket, "room:invite", { roomId: room.id, userId: "bob" });
    expect(answer).toEqual({ roomId: room.id, userId: "bob" });
    expect(await invited1).toEqual({ room, by: "alice" });
    expect(await invited2).toEqual({ room, by: "alice" });

    const joined = await ok(bob2.socket, "room:join", { roomId: room.id });
    expect(joined.members).toBe(2);
    const sent = await say(alice, room.id, "glad you came");
    await Promise.all([waitForMessage(bob1, withId(sent.id)), waitForMessage(bob2, withId(sent.id))]);
  });

  it("lets any member invite, not only the creator", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const bob = await connect(server, "bob");
    const carol = await connect(server, "carol");
    const room = await ok(alice.socket, "room:create", { name: "Secret", visibility: "private" });
    await ok(alice.socket, "room:invite", { roomId: room.id, userId: "bob" });
    await ok(bob.socket, "room:join", { roomId: room.id });
    await ok(bob.socket, "room:invite", { roomId: room.id, userId: "carol" });
    expect((await ok(carol.socket, "room:join", { roomId: room.id })).members).toBe(3);
  });

  it("refuses an invitation from a non-member as FORBIDDEN, and it grants nothing", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const bob = await connect(server, "bob");
    const carol = await connect(server, "carol");
    const room = await ok(alice.socket, "room:create", { name: "Secret", visibility: "private" });
    const invitations: unknown[] = [];
    carol.socket.on("room:invited", (invite) => invitations.push(invite));
    await expectError(request(bob.socket, "room:invite", { roomId: room.id, userId: "carol" }), "FORBIDDEN");
    await expectError(request(carol.socket, "room:join", { roomId: room.id }), "FORBIDDEN");
    await barrier(alice, [carol]);
    expect(invitations).toEqual([]);
  });

  it("answers NOT_FOUND for an unknown user", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const room = await ok(alice.socket, "room:create", { name: "Secret", visibility: "private" });
    await expectError(request(alice.socket, "room:invite", { roomId: room.id, userId: "nobody" }), "NOT_FOUND");
  });

  it("answers NOT_FOUND for an unknown room", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    await connect(server, "bob");
    await expectError(request(alice.socket, "room:invite", { roomId: "no-such-room", userId: "bob" }), "NOT_FOUND");
  });

  it("refuses an invitee id that is not a user id as INVALID_PAYLOAD", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const room = await ok(alice.socket, "room:create", { name: "Secret", visibility: "private" });
    await expectError(request(alice.socket, "room:invite", { roomId: room.id, userId: "bad id!" }), "INVALID_PAYLOAD");
  });
});

describe("room:list", () => {
  it("lists joined rooms and the public rooms the caller could join, but not others' private rooms", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const bob = await connect(server, "bob");
    const open = await ok(alice.socket, "room:create", { name: "Open" });
    const secret = await ok(alice.socket, "room:create", { name: "Secret", visibility: "private" });

    const bobs = await ok(bob.socket, "room:list", {});
    expect(ids(bobs.joined)).toEqual(["lobby"]);
    expect(bobs.discoverable).toEqual([open]);
    expect(ids(bobs.discoverable)).not.toContain(secret.id);

    const alices = await ok(alice.socket, "room:list", {});
    expect(ids(alices.joined).sort()).toEqual(["lobby", open.id, secret.id].sort());
    expect(alices.discoverable).toEqual([]);
  });

  it("moves a public room from discoverable to joined when the caller joins it", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const bob = await connect(server, "bob");
    const open = await ok(alice.socket, "room:create", { name: "Open" });
    await ok(bob.socket, "room:join", { roomId: open.id });
    const list = await ok(bob.socket, "room:list", {});
    expect(ids(list.joined).sort()).toEqual(["lobby", open.id].sort());
    expect(list.joined.find((room) => room.id === open.id)).toEqual({ ...open, members: 2 });
    expect(list.discoverable).toEqual([]);
  });

  it("lists a private room as joined once the invitee joins it, never as discoverable", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const bob = await connect(server, "bob");
    const secret = await ok(alice.socket, "room:create", { name: "Secret", visibility: "private" });
    await ok(alice.socket, "room:invite", { roomId: secret.id, userId: "bob" });
    expect((await ok(bob.socket, "room:list", {})).discoverable).toEqual([]);
    await ok(bob.socket, "room:join", { roomId: secret.id });
    const list = await ok(bob.socket, "room:list", {});
    expect(ids(list.joined).sort()).toEqual(["lobby", secret.id].sort());
    expect(list.discoverable).toEqual([]);
  });
});

describe("room:members", () => {
  /** Users whose code-unit order ("B" < "Z9" < "_x" < "a") differs from a case-insensitive one. */
  const CODE_UNIT_ORDER = ["B", "Z9", "_x", "a"];

  async function roomOfFour() {
    const server = await startServer();
    const a = await connect(server, "a");
    const room = await ok(a.socket, "room:create", { name: "Mixed case" });
    const others: Record<string, Connected> = {};
    for (const id of ["_x", "Z9", "B"]) {
      others[id] = await connect(server, id);
      await ok(others[id]!.socket, "room:join", { roomId: room.id });
    }
    return { server, a, room, others };
  }

  it("lists the members ordered by user id in code-unit order, with names", async () => {
    const { a, room } = await roomOfFour();
    const page = await ok(a.socket, "room:members", { roomId: room.id });
    expect(page.hasMore).toBe(false);
    expect(page.members.map((m) => m.userId)).toEqual(CODE_UNIT_ORDER);
    expect(page.members.map((m) => m.name)).toEqual(CODE_UNIT_ORDER);
  });

  it("pages with limit and after, saying whether more members follow", async () => {
    const { a, room } = await roomOfFour();
    const first = await ok(a.socket, "room:members", { roomId: room.id, limit: 2 });
    expect(first.members.map((m) => m.userId)).toEqual(["B", "Z9"]);
    expect(first.hasMore).toBe(true);
    const second = await ok(a.socket, "room:members", { roomId: room.id, after: "Z9", limit: 2 });
    expect(second.members.map((m) => m.userId)).toEqual(["_x", "a"]);
    expect(second.hasMore).toBe(false);
    const exact = await ok(a.socket, "room:members", { roomId: room.id, limit: 4 });
    expect(exact.members).toHaveLength(4);
    expect(exact.hasMore).toBe(false);
    const three = await ok(a.socket, "room:members", { roomId: room.id, limit: 3 });
    expect(three.members.map((m) => m.userId)).toEqual(["B", "Z9", "_x"]);
    expect(three.hasMore).toBe(true);
  });

  it("takes any string as after, member or not", async () => {
    const { a, room } = await roomOfFour();
    const afterC = await ok(a.socket, "room:members", { roomId: room.id, after: "C" });
    expect(afterC.members.map((m) => m.userId)).toEqual(["Z9", "_x", "a"]);
    const afterEmpty = await ok(a.socket, "room:members", { roomId: room.id, after: "" });
    expect(afterEmpty.members.map((m) => m.userId)).toEqual(CODE_UNIT_ORDER);
    const afterLast = await ok(a.socket, "room:members", { roomId: room.id, after: "a" });
    expect(afterLast).toEqual({ members: [], hasMore: false });
    const afterAll = await ok(a.socket, "room:members", { roomId: room.id, after: "~" });
    expect(afterAll).toEqual({ members: [], hasMore: false });
    const long = await ok(a.socket, "room:members", { roomId: room.id, after: "B".repeat(200) });
    expect(long.members.map((m) => m.userId)).toEqual(["Z9", "_x", "a"]);
    const unicode = await ok(a.socket, "room:members", { roomId: room.id, after: "é" });
    expect(unicode).toEqual({ members: [], hasMore: false });
  });

  it("refuses a limit outside 1..1000 as INVALID_PAYLOAD", async () => {
    const { a, room } = await roomOfFour();
    await expectError(request(a.socket, "room:members", { roomId: room.id, limit: 0 }), "INVALID_PAYLOAD");
    await expectError(request(a.socket, "room:members", { roomId: room.id, limit: 1001 }), "INVALID_PAYLOAD");
  });

  it("marks connected members online and members whose offline notice went out offline", async () => {
    const { a, room, others } = await roomOfFour();
    others["Z9"]!.socket.disconnect();
    others["_x"]!.socket.disconnect();
    await Promise.all(["Z9", "_x"].map((id) => waitForMessage(a, (m) => m.messageType === "offline" && m.from === id)));
    const page = await ok(a.socket, "room:members", { roomId: room.id });
    expect(page.members).toEqual([
      { userId: "B", name: "B", online: true, role: "member" },
      { userId: "Z9", name: "Z9", online: false, role: "member" },
      { userId: "_x", name: "_x", online: false, role: "member" },
      { userId: "a", name: "a", online: true, role: "owner" },
    ]);
  });

  it("answers FORBIDDEN to a non-member, even for a public room", async () => {
    const { server, room } = await roomOfFour();
    const outsider = await connect(server, "outsider");
    await expectError(request(outsider.socket, "room:members", { roomId: room.id }), "FORBIDDEN");
  });

  it("answers FORBIDDEN to a member who left", async () => {
    const { room, others } = await roomOfFour();
    await ok(others["B"]!.socket, "room:leave", { roomId: room.id });
    await expectError(request(others["B"]!.socket, "room:members", { roomId: room.id }), "FORBIDDEN");
  });

  it("answers NOT_FOUND for a room that does not exist", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    await expectError(request(alice.socket, "room:members", { roomId: "no-such-room" }), "NOT_FOUND");
  });
});

describe("lobby and sessions", () => {
  it("puts every user in the public lobby named Lobby", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const bob = await connect(server, "bob");
    for (const session of [alice.session, bob.session]) {
      expect(session.rooms).toHaveLength(1);
      expect(session.rooms[0]).toMatchObject({ id: "lobby", name: "Lobby", visibility: "public" });
    }
    const members = await ok(bob.socket, "room:members", { roomId: "lobby" });
    expect(members.members.map((m) => m.userId)).toEqual(["alice", "bob"]);
  });

  it("lists the rooms the user belongs to in the session on reconnect, and not a room it left", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const bob = await connect(server, "bob");
    const open = await ok(alice.socket, "room:create", { name: "Open" });
    const secret = await ok(alice.socket, "room:create", { name: "Secret", visibility: "private" });
    const left = await ok(alice.socket, "room:create", { name: "Left" });
    const joined = await ok(bob.socket, "room:create", { name: "Bob's" });
    await ok(alice.socket, "room:join", { roomId: joined.id });
    await ok(alice.socket, "room:leave", { roomId: left.id });
    alice.socket.disconnect();

    const again = await connect(server, "alice");
    expect(ids(again.session.rooms).sort()).toEqual(["lobby", open.id, secret.id, joined.id].sort());
    expect(again.session.rooms.find((room) => room.id === "lobby")).toMatchObject({
      name: "Lobby",
      visibility: "public",
    });
    expect(again.session.rooms.find((room) => room.id === secret.id)).toEqual(secret);
    expect(again.session.rooms.find((room) => room.id === joined.id)).toEqual({ ...joined, members: 2 });
  });

  it("keeps memberships, invitations and private rooms across a server restart", async () => {
    const dataDir = tempDir();
    const first = await startServer({}, dataDir);
    const alice = await connect(first, "alice");
    const bob = await connect(first, "bob");
    await connect(first, "carol");
    const open = await ok(alice.socket, "room:create", { name: "Open" });
    const secret = await ok(alice.socket, "room:create", { name: "Secret", visibility: "private" });
    await ok(bob.socket, "room:join", { roomId: open.id });
    await ok(alice.socket, "room:invite", { roomId: secret.id, userId: "carol" });
    const left = await ok(alice.socket, "room:create", { name: "Left" });
    await ok(bob.socket, "room:join", { roomId: left.id });
    await ok(bob.socket, "room:leave", { roomId: left.id });
    await first.stop();

    const second = await startServer({}, dataDir);
    const bobAgain = await connect(second, "bob");
    expect(ids(bobAgain.session.rooms).sort()).toEqual(["lobby", open.id].sort());
    expect(bobAgain.session.rooms.find((room) => room.id === open.id)).toEqual({ ...open, members: 2 });
    const members = await ok(bobAgain.socket, "room:members", { roomId: open.id });
    expect(members.members.map((m) => m.userId)).toEqual(["alice", "bob"]);
    const list = await ok(bobAgain.socket, "room:list", {});
    expect(ids(list.discoverable)).toEqual([left.id]);
    expect(list.discoverable[0]).toEqual({ ...left, members: 1 });

    const carolAgain = await connect(second, "carol");
    expect(await ok(carolAgain.socket, "room:join", { roomId: secret.id })).toMatchObject({ members: 2 });
    const aliceAgain = await connect(second, "alice");
    expect(ids(aliceAgain.session.rooms).sort()).toEqual(["lobby", open.id, secret.id, left.id].sort());
    const sent = await say(aliceAgain, open.id, "after restart");
    await waitForMessage(bobAgain, withId(sent.id));
  });
});
