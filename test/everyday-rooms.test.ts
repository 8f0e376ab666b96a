import { afterEach, describe, expect, it } from "vitest";
import type { PresenceStatus, RoomMemberChange } from "../shared/schemas.js";
import { loadConfig } from "../server/config.js";
import { MAX_LISTED_INVITATIONS } from "../server/rooms/service.js";
import {
  cleanup,
  connect,
  nodeUrl,
  ok,
  request,
  startServer,
  tempDir,
  until,
  type Connected,
} from "./support/harness.js";

afterEach(cleanup);

/** Connects and records every `room:member` and `presence` event the socket receives. */
async function member(server: Awaited<ReturnType<typeof startServer>>, userId: string) {
  const connected = await connect(server, userId);
  const changes: RoomMemberChange[] = [];
  const presence: PresenceStatus[] = [];
  connected.socket.on("room:member", (change) => changes.push(change));
  connected.socket.on("presence", (status) => presence.push(status));
  return Object.assign(connected, { changes, presence });
}

const refused = (code: string) => ({ ok: false, error: expect.objectContaining({ code }) });

describe("invitations (section 9)", () => {
  it("lists pending invitations in room:list, newest first, for an invitee who was offline when invited", async () => {
    const server = await startServer();
    const alice = await member(server, "alice");
    const bob = await member(server, "bob");
    bob.socket.disconnect();
    const first = await ok(alice.socket, "room:create", { name: "first", visibility: "private" });
    const second = await ok(alice.socket, "room:create", { name: "second", visibility: "private" });
    const open = await ok(alice.socket, "room:create", { name: "open" });
    await ok(alice.socket, "room:invite", { roomId: first.id, userId: "bob" });
    await new Promise((resolve) => setTimeout(resolve, 5));
    await ok(alice.socket, "room:invite", { roomId: second.id, userId: "bob" });
    // An invitation to a public room is answered but never pending: anyone may join it.
    await ok(alice.socket, "room:invite", { roomId: open.id, userId: "bob" });
    const back = await connect(server, "bob");
    const lists = await ok(back.socket, "room:list", {});
    expect(lists.invited.map((i) => [i.room.id, i.by])).toEqual([
      [second.id, "alice"],
      [first.id, "alice"],
    ]);
    expect(lists.invited[0]!.at).toBeGreaterThanOrEqual(lists.invited[1]!.at);
    expect(lists.invited[0]!.room).toMatchObject({ name: "second", visibility: "private", members: 1 });
    expect(lists.discoverable.map((r) => r.id)).toContain(open.id);
  });

  it("drops an invitation on room:decline (then NOT_FOUND, and the room stays closed) and on joining", async () => {
    const server = await startServer();
    const alice = await member(server, "alice");
    const bob = await member(server, "bob");
    const declined = await ok(alice.socket, "room:create", { name: "no thanks", visibility: "private" });
    const accepted = await ok(alice.socket, "room:create", { name: "yes please", visibility: "private" });
    for (const room of [declined, accepted]) await ok(alice.socket, "room:invite", { roomId: room.id, userId: "bob" });
    expect(await request(bob.socket, "room:decline", { roomId: declined.id })).toEqual({
      ok: true,
      data: { roomId: declined.id },
    });
    expect(await request(bob.socket, "room:decline", { roomId: declined.id })).toMatchObject(refused("NOT_FOUND"));
    expect(await request(bob.socket, "room:join", { roomId: declined.id })).toMatchObject(refused("FORBIDDEN"));
    await ok(bob.socket, "room:join", { roomId: accepted.id });
    expect((await ok(bob.socket, "room:list", {})).invited).toEqual([]);
    // Joining used the invitation up: after leaving, a private room needs a new one.
    await ok(bob.socket, "room:leave", { roomId: accepted.id });
    expect(await request(bob.socket, "room:join", { roomId: accepted.id })).toMatchObject(refused("FORBIDDEN"));
    expect(await request(bob.socket, "room:decline", { roomId: "nope" })).toMatchObject(refused("NOT_FOUND"));
    expect(await request(bob.socket, "room:decline", {} as never)).toMatchObject(refused("INVALID_PAYLOAD"));
  });

  it(`lists at most MAX_LISTED_INVITATIONS (${MAX_LISTED_INVITATIONS}) pending invitations, the newest`, async () => {
    const server = await startServer({ MAX_ROOMS_PER_USER: "1000" });
    const alice = await connect(server, "alice");
    const bob = await connect(server, "bob");
    const rooms: string[] = [];
    for (let i = 0; i < MAX_LISTED_INVITATIONS + 5; i += 1) {
      const room = await ok(alice.socket, "room:create", { name: `r${i}`, visibility: "private" });
      await ok(alice.socket, "room:invite", { roomId: room.id, userId: "bob" });
      rooms.push(room.id);
    }
    const invited = (await ok(bob.socket, "room:list", {})).invited;
    expect(invited).toHaveLength(MAX_LISTED_INVITATIONS);
    expect(new Set(invited.map((i) => i.room.id)).size).toBe(MAX_LISTED_INVITATIONS);
    expect(invited.every((i) => rooms.includes(i.room.id))).toBe(true);
  });

  it("keeps a pending invitation across a restart", async () => {
    const dataDir = tempDir();
    const first = await startServer({}, dataDir);
    const alice = await connect(first, "alice");
    await connect(first, "bob");
    const room = await ok(alice.socket, "room:create", { name: "kept", visibility: "private" });
    await ok(alice.socket, "room:invite", { roomId: room.id, userId: "bob" });
    await first.stop();
    const second = await startServer({}, dataDir);
    const bob = await connect(second, "bob");
    expect((await ok(bob.socket, "room:list", {})).invited.map((i) => i.room.id)).toEqual([room.id]);
  });
});

describe("room:member (section 9)", () => {
  it("tells every member's sockets, the subject's own included, of joins and leaves, with roles", async () => {
    const server = await startServer();
    const alice = await member(server, "alice");
    const alice2 = await member(server, "alice");
    const bob = await member(server, "bob");
    const carol = await member(server, "carol");
    const room = await ok(alice.socket, "room:create", { name: "club" });
    await until(() => alice.changes.length === 1 && alice2.changes.length === 1);
    expect(alice.changes[0]).toEqual({
      roomId: room.id,
      userId: "alice",
      name: "alice",
      change: "joined",
      role: "owner",
    });
    await ok(bob.socket, "room:join", { roomId: room.id });
    const joined = { roomId: room.id, userId: "bob", name: "bob", change: "joined", role: "member" };
    await until(() => alice2.changes.length === 2 && bob.changes.length === 1);
    expect(alice.changes[1]).toEqual(joined);
    expect(alice2.changes[1]).toEqual(joined);
    expect(bob.changes).toEqual([joined]);
    // Joining again changes nothing and tells nobody.
    await ok(bob.socket, "room:join", { roomId: room.id });
    await ok(bob.socket, "room:leave", { roomId: room.id });
    const left = { roomId: room.id, userId: "bob", name: "bob", change: "left" };
    await until(() => bob.changes.length === 2 && alice.changes.length === 3);
    expect(bob.changes[1]).toEqual(left);
    expect(alice.changes[2]).toEqual(left);
    expect(carol.changes).toEqual([]);
    const members = await ok(alice.socket, "room:members", { roomId: room.id });
    expect(members.members).toEqual([{ userId: "alice", name: "alice", online: true, role: "owner" }]);
  });
});

describe("presence:subscribe (section 12)", () => {
  it("answers like presence:query and then sends presence when a followed user goes online and offline", async () => {
    const server = await startServer({ PRESENCE_GRACE_MS: "100" });
    const watcher = await member(server, "watcher");
    const bob = await connect(server, "bob");
    await ok(bob.socket, "message:send", { messageType: "single", mediaType: "text", to: "watcher", content: "hi" });
    bob.socket.disconnect();
    await until(() => watcher.received.some((m) => m.messageType === "offline" && m.from === "bob"));
    const answer = await ok(watcher.socket, "presence:subscribe", { userIds: ["bob", "nobody", "bob"] });
    expect(answer).toEqual([
      { userId: "bob", online: false, lastSeenAt: expect.any(Number) },
      { userId: "nobody", online: false },
    ]);
    const again = await connect(server, "bob");
    await until(() => watcher.presence.length === 1);
    expect(watcher.presence[0]).toEqual({ userId: "bob", online: true });
    again.socket.disconnect();
    await until(() => watcher.presence.length === 2);
    expect(watcher.presence[1]).toEqual({ userId: "bob", online: false, lastSeenAt: expect.any(Number) });
    // A new list replaces the old one: bob is no longer followed.
    expect(await ok(watcher.socket, "presence:subscribe", { userIds: [] })).toEqual([]);
    const third = await connect(server, "bob");
    await ok(third.socket, "room:list", {});
    await ok(watcher.socket, "room:list", {});
    expect(watcher.presence).toHaveLength(2);
  });

  it("reaches every subscribed socket of a user, and refuses more than 500 ids", async () => {
    const server = await startServer();
    const tab1 = await member(server, "watcher");
    const tab2 = await member(server, "watcher");
    const other: Connected = await member(server, "other");
    await ok(tab1.socket, "presence:subscribe", { userIds: ["dave"] });
    await ok(tab2.socket, "presence:subscribe", { userIds: ["dave", "erin"] });
    await connect(server, "dave");
    await until(() => tab1.presence.length === 1 && tab2.presence.length === 1);
    tab1.socket.disconnect();
    tab2.socket.disconnect();
    await until(() => server.server.io.of("/").sockets.size === 2);
    expect(
      await request(other.socket, "presence:subscribe", { userIds: Array.from({ length: 501 }, (_, i) => `u${i}`) }),
    ).toMatchObject(refused("INVALID_PAYLOAD"));
    expect(
      (await ok(other.socket, "presence:subscribe", { userIds: Array.from({ length: 500 }, (_, i) => `u${i}`) }))
        .length,
    ).toBe(500);
  });

  it("defaults PRESENCE_ROOM_LIMIT to 100", () => {
    expect(loadConfig({}).presenceRoomLimit).toBe(100);
  });
});

describe("SDK helpers for sections 9 and 12", () => {
  it("declines an invitation, follows presence and hands over room:member and presence events", async () => {
    const { createChatClient } = await import("../client/index.js");
    const { signToken } = await import("./support/harness.js");
    const server = await startServer({ PRESENCE_GRACE_MS: "50" });
    const alice = await connect(server, "alice");
    const bob = createChatClient({
      url: nodeUrl(server),
      token: signToken("bob"),
      socket: { transports: ["websocket"] },
    });
    try {
      await bob.whenOnline();
      const statuses: PresenceStatus[] = [];
      const changes: RoomMemberChange[] = [];
      bob.on("status", (status) => statuses.push(status));
      bob.on("member", (change) => changes.push(change));
      const room = await ok(alice.socket, "room:create", { name: "private", visibility: "private" });
      await ok(alice.socket, "room:invite", { roomId: room.id, userId: "bob" });
      expect(await bob.declineInvitation(room.id)).toEqual({ ok: true, data: { roomId: room.id } });
      expect(await bob.subscribePresence(["alice"])).toEqual({ ok: true, data: [{ userId: "alice", online: true }] });
      alice.socket.disconnect();
      await until(() => statuses.length === 1);
      expect(statuses[0]).toMatchObject({ userId: "alice", online: false });
      const open = await connect(server, "carol");
      const club = await ok(open.socket, "room:create", { name: "club" });
      const joined = await bob.request("room:join", { roomId: club.id });
      expect(joined.ok).toBe(true);
      await until(() => changes.length === 1);
      expect(changes[0]).toMatchObject({ roomId: club.id, userId: "bob", change: "joined", role: "member" });
    } finally {
      bob.close();
    }
  });
});
