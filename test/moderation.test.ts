import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import type { Room, RoomMemberChange, RoomRemoved, StoredMessage } from "../shared/schemas.js";
import { roomChannel } from "../server/socket/channels.js";
import { SqliteStore } from "../server/store/sqlite/store.js";
import {
  cleanup,
  connect,
  ok,
  request,
  serverSocketOf,
  startServer,
  storedUploads,
  until,
  type Connected,
  type TestServer,
} from "./support/harness.js";
import { PNG, upload } from "./state-support.js";

afterEach(cleanup);

/** A connected user that records the moderation events its socket receives. */
type Watched = Connected & { changes: RoomMemberChange[]; removed: RoomRemoved[]; updated: Room[] };

async function watch(server: TestServer, userId: string): Promise<Watched> {
  const connected = await connect(server, userId);
  const changes: RoomMemberChange[] = [];
  const removed: RoomRemoved[] = [];
  const updated: Room[] = [];
  connected.socket.on("room:member", (change) => changes.push(change));
  connected.socket.on("room:removed", (event) => removed.push(event));
  connected.socket.on("room:updated", (room) => updated.push(room));
  return Object.assign(connected, { changes, removed, updated });
}

const refused = (code: string) => ({ ok: false, error: expect.objectContaining({ code }) });
const EMPTY = { ok: true, data: {} };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Makes a user an admin through the users table's flag (the admin API's effect), on either store. */
async function flagAdmin(server: TestServer, userId: string): Promise<void> {
  const store = server.server.store;
  if (store instanceof SqliteStore) {
    store.database.prepare("UPDATE users SET admin = 1 WHERE id = ?").run(userId);
    return;
  }
  const client = new pg.Client({ connectionString: server.databaseUrl });
  await client.connect();
  try {
    await client.query("UPDATE users SET admin = true WHERE id = $1", [userId]);
  } finally {
    await client.end();
  }
}

/** A public room owned by `owner`, with the others joined. */
async function roomWith(owner: Watched, others: Watched[], visibility: "public" | "private" = "public") {
  const room = await ok(owner.socket, "room:create", { name: "den", visibility });
  for (const other of others) {
    if (visibility === "private")
      await ok(owner.socket, "room:invite", { roomId: room.id, userId: other.session.user.id });
    await ok(other.socket, "room:join", { roomId: room.id });
  }
  return room;
}

const say = (who: Connected, roomId: string, content: string) =>
  request(who.socket, "message:send", { messageType: "group", mediaType: "text", to: roomId, content });

/** The room's audit entries as `[action, actor, target]`, oldest first. */
async function auditTrail(who: Connected, roomId: string) {
  const page = await ok(who.socket, "room:audit", { roomId, limit: 200 });
  return page.entries.map((entry) => [entry.action, entry.actor, entry.targetUserId]).reverse();
}

describe("room roles (section 11)", () => {
  it("lets the owner make a member a moderator and back; members see `room:member` change role and roles in room:members", async () => {
    const server = await startServer();
    const alice = await watch(server, "alice");
    const bob = await watch(server, "bob");
    const carol = await watch(server, "carol");
    const room = await roomWith(alice, [bob, carol]);
    expect(await request(alice.socket, "room:role", { roomId: room.id, userId: "bob", role: "moderator" })).toEqual(
      EMPTY,
    );
    await until(() => carol.changes.some((c) => c.change === "role") && bob.changes.some((c) => c.change === "role"));
    expect(carol.changes.find((c) => c.change === "role")).toEqual({
      roomId: room.id,
      userId: "bob",
      name: "bob",
      change: "role",
      role: "moderator",
    });
    const members = await ok(carol.socket, "room:members", { roomId: room.id });
    expect(members.members.map((m) => [m.userId, m.role])).toEqual([
      ["alice", "owner"],
      ["bob", "moderator"],
      ["carol", "member"],
    ]);
    await ok(alice.socket, "room:role", { roomId: room.id, userId: "bob", role: "member" });
    expect((await ok(bob.socket, "room:members", { roomId: room.id })).members[1]).toMatchObject({ role: "member" });
    expect(await auditTrail(alice, room.id)).toEqual([
      ["room.role.moderator", "alice", "bob"],
      ["room.role.member", "alice", "bob"],
    ]);
  });

  it("refuses roles to moderators and members, on the owner, and for non-members; changes nothing", async () => {
    const server = await startServer();
    const alice = await watch(server, "alice");
    const bob = await watch(server, "bob");
    const carol = await watch(server, "carol");
    await connect(server, "dave");
    const room = await roomWith(alice, [bob, carol]);
    await ok(alice.socket, "room:role", { roomId: room.id, userId: "bob", role: "moderator" });
    expect(
      await request(bob.socket, "room:role", { roomId: room.id, userId: "carol", role: "moderator" }),
    ).toMatchObject(refused("FORBIDDEN"));
    expect(
      await request(carol.socket, "room:role", { roomId: room.id, userId: "carol", role: "moderator" }),
    ).toMatchObject(refused("FORBIDDEN"));
    expect(
      await request(alice.socket, "room:role", { roomId: room.id, userId: "alice", role: "member" }),
    ).toMatchObject(refused("FORBIDDEN"));
    expect(
      await request(alice.socket, "room:role", { roomId: room.id, userId: "dave", role: "moderator" }),
    ).toMatchObject(refused("NOT_FOUND"));
    expect(
      await request(alice.socket, "room:role", { roomId: "nowhere", userId: "bob", role: "member" }),
    ).toMatchObject(refused("NOT_FOUND"));
    const members = await ok(alice.socket, "room:members", { roomId: room.id });
    expect(members.members.map((m) => m.role)).toEqual(["owner", "moderator", "member"]);
    expect((await auditTrail(alice, room.id)).length).toBe(1);
  });

  it("lets an admin (ADMIN_USERS) set roles in a room it is not in, and in the lobby", async () => {
    const server = await startServer({ ADMIN_USERS: "root" });
    const alice = await watch(server, "alice");
    const bob = await watch(server, "bob");
    const root = await watch(server, "root");
    const room = await roomWith(alice, [bob]);
    expect(await request(root.socket, "room:role", { roomId: room.id, userId: "bob", role: "moderator" })).toEqual(
      EMPTY,
    );
    expect(await request(root.socket, "room:role", { roomId: "lobby", userId: "bob", role: "moderator" })).toEqual(
      EMPTY,
    );
    const lobby = await ok(bob.socket, "room:members", { roomId: "lobby" });
    expect(lobby.members.find((m) => m.userId === "bob")).toMatchObject({ role: "moderator" });
    expect(lobby.members.find((m) => m.userId === "root")).toMatchObject({ role: "member" });
  });
});

describe("kick (section 11)", () => {
  it("removes a member from the room on all its sockets; it gets room:removed, the room room:member kicked; it may join again", async () => {
    const server = await startServer();
    const alice = await watch(server, "alice");
    const bob = await watch(server, "bob");
    const bob2 = await watch(server, "bob");
    const carol = await watch(server, "carol");
    const room = await roomWith(alice, [bob, carol]);
    await ok(alice.socket, "room:role", { roomId: room.id, userId: "carol", role: "moderator" });
    // With two nodes, the harness puts bob's two sockets on different nodes: one of them is not carol's.
    const nodeOf = (who: Connected) =>
      (server.servers ?? [server.server]).findIndex((node) => node.io.of("/").sockets.has(who.socket.id!));
    if (server.urls.length > 1) expect(nodeOf(bob)).not.toBe(nodeOf(bob2));
    expect(await request(carol.socket, "room:kick", { roomId: room.id, userId: "bob", reason: "spam" })).toEqual(EMPTY);
    // Every socket of bob's, on whichever node, is out of the room's channel when the ack comes.
    for (const socket of [bob, bob2]) {
      expect(serverSocketOf(server, socket.socket.id!)?.rooms.has(roomChannel(room.id))).toBe(false);
    }
    await until(() => bob.removed.length === 1 && bob2.removed.length === 1);
    expect(bob.removed[0]).toEqual({ roomId: room.id, by: "carol", reason: "spam", kind: "kick" });
    await until(
      () => alice.changes.some((c) => c.change === "kicked") && bob.changes.some((c) => c.change === "kicked"),
    );
    expect(alice.changes.find((c) => c.change === "kicked")).toMatchObject({ roomId: room.id, userId: "bob" });
    expect(await say(bob, room.id, "still here?")).toMatchObject(refused("FORBIDDEN"));
    await ok(alice.socket, "message:send", {
      messageType: "group",
      mediaType: "text",
      to: room.id,
      content: "bye bob",
    });
    await ok(bob.socket, "room:join", { roomId: room.id });
    expect(await say(bob, room.id, "back")).toMatchObject({ ok: true });
    // Nothing of the room reached bob's sockets while it was out (they left before the ack).
    expect(bob.received.concat(bob2.received).some((m) => "content" in m && m.content === "bye bob")).toBe(false);
    expect(await auditTrail(alice, room.id)).toContainEqual(["room.kick", "carol", "bob"]);
  });

  it("refuses a kick by a member, of the owner, another moderator or an admin by a moderator, of oneself, of a non-member", async () => {
    const server = await startServer({ ADMIN_USERS: "root" });
    const alice = await watch(server, "alice");
    const bob = await watch(server, "bob");
    const carol = await watch(server, "carol");
    const dave = await watch(server, "dave");
    const root = await watch(server, "root");
    const eve = await watch(server, "eve");
    const room = await roomWith(alice, [bob, carol, dave, root]);
    await ok(alice.socket, "room:role", { roomId: room.id, userId: "bob", role: "moderator" });
    await ok(alice.socket, "room:role", { roomId: room.id, userId: "carol", role: "moderator" });
    const kick = (who: Connected, userId: string) => request(who.socket, "room:kick", { roomId: room.id, userId });
    expect(await kick(dave, "eve")).toMatchObject(refused("FORBIDDEN"));
    expect(await kick(dave, "bob")).toMatchObject(refused("FORBIDDEN"));
    expect(await kick(bob, "alice")).toMatchObject(refused("FORBIDDEN"));
    expect(await kick(bob, "carol")).toMatchObject(refused("FORBIDDEN"));
    expect(await kick(bob, "root")).toMatchObject(refused("FORBIDDEN"));
    expect(await kick(bob, "bob")).toMatchObject(refused("FORBIDDEN"));
    expect(await kick(alice, "alice")).toMatchObject(refused("FORBIDDEN"));
    expect(await kick(root, "root")).toMatchObject(refused("FORBIDDEN"));
    expect(await kick(alice, "eve")).toMatchObject(refused("NOT_FOUND"));
    expect(await kick(eve, "dave")).toMatchObject(refused("FORBIDDEN"));
    expect((await ok(alice.socket, "room:members", { roomId: room.id })).members.length).toBe(5);
    // The owner and admins act on moderators; an admin on the owner.
    expect(await kick(alice, "carol")).toEqual(EMPTY);
    expect(await kick(root, "alice")).toEqual(EMPTY);
    expect(dave.removed).toEqual([]);
  });

  it("seats a user kicked from the lobby back in it at its next connect; a ban keeps it out until it lapses", async () => {
    const server = await startServer({ ADMIN_USERS: "root" });
    const root = await watch(server, "root");
    const bob = await watch(server, "bob");
    expect(await request(root.socket, "room:kick", { roomId: "lobby", userId: "bob" })).toEqual(EMPTY);
    await until(() => bob.removed.length === 1);
    bob.socket.disconnect();
    // Every user belongs to the lobby: the next connect seats bob again, and the lobby hears it.
    const again = await watch(server, "bob");
    expect(again.session.rooms.map((room) => room.id)).toContain("lobby");
    await until(() => root.changes.some((change) => change.userId === "bob" && change.change === "joined"));
    expect((await say(again, "lobby", "back")).ok).toBe(true);
    // Banned: the connect leaves bob out (sending to the lobby is FORBIDDEN) until the ban's `until`.
    const until_ = Date.now() + 1500;
    expect(await request(root.socket, "room:ban", { roomId: "lobby", userId: "bob", until: until_ })).toEqual(EMPTY);
    again.socket.disconnect();
    const banned = await watch(server, "bob");
    expect(banned.session.rooms.map((room) => room.id)).not.toContain("lobby");
    expect(await say(banned, "lobby", "let me in")).toMatchObject(refused("FORBIDDEN"));
    banned.socket.disconnect();
    await sleep(Math.max(0, until_ - Date.now()) + 50);
    const lapsed = await watch(server, "bob");
    expect(lapsed.session.rooms.map((room) => room.id)).toContain("lobby");
    expect((await say(lapsed, "lobby", "back again")).ok).toBe(true);
  });

  it("lets an admin by the users table's flag kick from the lobby", async () => {
    const server = await startServer();
    const bob = await watch(server, "bob");
    const boss = await watch(server, "boss");
    expect(await request(boss.socket, "room:kick", { roomId: "lobby", userId: "bob" })).toMatchObject(
      refused("FORBIDDEN"),
    );
    await flagAdmin(server, "boss");
    expect(await request(boss.socket, "room:kick", { roomId: "lobby", userId: "bob" })).toEqual(EMPTY);
    await until(() => bob.removed.length === 1);
    expect(bob.removed[0]).toEqual({ roomId: "lobby", by: "boss", kind: "kick" });
    // A moderator cannot act on an admin made by the flag either.
    const alice = await watch(server, "alice");
    const room = await roomWith(alice, [bob, boss]);
    await ok(alice.socket, "room:role", { roomId: room.id, userId: "bob", role: "moderator" });
    expect(await request(bob.socket, "room:kick", { roomId: room.id, userId: "boss" })).toMatchObject(
      refused("FORBIDDEN"),
    );
  });
});

describe("ban (section 11)", () => {
  it("removes the user, blocks join and invitation until `until`, then lets it join again without a restart", async () => {
    const server = await startServer();
    const alice = await watch(server, "alice");
    const bob = await watch(server, "bob");
    const room = await roomWith(alice, [bob], "private");
    const until_ = Date.now() + 600;
    expect(
      await request(alice.socket, "room:ban", { roomId: room.id, userId: "bob", until: until_, reason: "rude" }),
    ).toEqual(EMPTY);
    await until(() => bob.removed.length === 1);
    expect(bob.removed[0]).toEqual({ roomId: room.id, by: "alice", reason: "rude", kind: "ban" });
    await until(() => alice.changes.some((c) => c.change === "banned"));
    expect(await request(alice.socket, "room:invite", { roomId: room.id, userId: "bob" })).toMatchObject(
      refused("FORBIDDEN"),
    );
    expect(await request(bob.socket, "room:join", { roomId: room.id })).toMatchObject({
      ok: false,
      error: { code: "FORBIDDEN", message: `you are banned from this room until ${new Date(until_).toISOString()}` },
    });
    expect((await ok(bob.socket, "room:list", {})).invited).toEqual([]);
    await sleep(Math.max(0, until_ - Date.now()) + 20);
    await ok(alice.socket, "room:invite", { roomId: room.id, userId: "bob" });
    expect(await request(bob.socket, "room:join", { roomId: room.id })).toMatchObject({ ok: true });
    const ban = (await ok(alice.socket, "room:audit", { roomId: room.id })).entries.find(
      (e) => e.action === "room.ban",
    );
    expect(ban).toMatchObject({ actor: "alice", targetUserId: "bob", roomId: room.id, reason: "rude", until: until_ });
  });

  it("bans for good without `until`, before joining too, until room:unban (NOT_FOUND when not banned)", async () => {
    const server = await startServer();
    const alice = await watch(server, "alice");
    const bob = await watch(server, "bob");
    const room = await ok(alice.socket, "room:create", { name: "open" });
    const offered = async () => (await ok(bob.socket, "room:list", {})).discoverable.map((r) => r.id);
    expect(await offered()).toContain(room.id);
    expect(await request(alice.socket, "room:ban", { roomId: room.id, userId: "bob" })).toEqual(EMPTY);
    expect(bob.removed).toEqual([]);
    // A room one may not join is not offered to join.
    expect(await offered()).not.toContain(room.id);
    expect(await request(bob.socket, "room:join", { roomId: room.id })).toMatchObject({
      ok: false,
      error: { code: "FORBIDDEN", message: "you are banned from this room for good" },
    });
    expect(await request(alice.socket, "room:invite", { roomId: room.id, userId: "bob" })).toMatchObject(
      refused("FORBIDDEN"),
    );
    expect(await request(alice.socket, "room:unban", { roomId: room.id, userId: "bob" })).toEqual(EMPTY);
    expect(await request(alice.socket, "room:unban", { roomId: room.id, userId: "bob" })).toMatchObject(
      refused("NOT_FOUND"),
    );
    expect(await offered()).toContain(room.id);
    await ok(bob.socket, "room:join", { roomId: room.id });
    expect(await auditTrail(alice, room.id)).toEqual([
      ["room.ban", "alice", "bob"],
      ["room.unban", "alice", "bob"],
    ]);
  });

  it("refuses a ban by a member, of the owner by a moderator, and of oneself", async () => {
    const server = await startServer();
    const alice = await watch(server, "alice");
    const bob = await watch(server, "bob");
    const carol = await watch(server, "carol");
    const room = await roomWith(alice, [bob, carol]);
    await ok(alice.socket, "room:role", { roomId: room.id, userId: "bob", role: "moderator" });
    expect(await request(carol.socket, "room:ban", { roomId: room.id, userId: "bob" })).toMatchObject(
      refused("FORBIDDEN"),
    );
    expect(await request(bob.socket, "room:ban", { roomId: room.id, userId: "alice" })).toMatchObject(
      refused("FORBIDDEN"),
    );
    expect(await request(bob.socket, "room:ban", { roomId: room.id, userId: "bob" })).toMatchObject(
      refused("FORBIDDEN"),
    );
    expect(await request(carol.socket, "room:unban", { roomId: room.id, userId: "bob" })).toMatchObject(
      refused("FORBIDDEN"),
    );
    expect((await ok(alice.socket, "room:members", { roomId: room.id })).members.length).toBe(3);
  });
});

describe("mute (section 11)", () => {
  it("refuses a mute or ban whose `until` has passed with INVALID_PAYLOAD, changing nothing", async () => {
    const server = await startServer();
    const alice = await watch(server, "alice");
    const bob = await watch(server, "bob");
    const room = await roomWith(alice, [bob]);
    const past = Date.now() - 1;
    expect(await request(alice.socket, "room:mute", { roomId: room.id, userId: "bob", until: past })).toMatchObject(
      refused("INVALID_PAYLOAD"),
    );
    expect(await request(alice.socket, "room:ban", { roomId: room.id, userId: "bob", until: past })).toMatchObject(
      refused("INVALID_PAYLOAD"),
    );
    // Bob is still a member, neither muted nor banned, and nobody was told anything.
    expect(await say(bob, room.id, "still here")).toMatchObject({ ok: true });
    const members = await ok(alice.socket, "room:members", { roomId: room.id });
    expect(members.members.find((m) => m.userId === "bob")).not.toHaveProperty("mutedUntil");
    expect(bob.changes.filter((c) => c.change === "muted" || c.change === "banned")).toEqual([]);
    const actions = (await ok(alice.socket, "room:audit", { roomId: room.id })).entries.map((e) => e.action);
    expect(actions.filter((action) => action === "room.mute" || action === "room.ban")).toEqual([]);
  });

  it("keeps a muted member reading but refuses its message:send until `until`, telling the room muted with until", async () => {
    const server = await startServer();
    const alice = await watch(server, "alice");
    const bob = await watch(server, "bob");
    const room = await roomWith(alice, [bob]);
    const until_ = Date.now() + 600;
    expect(await request(alice.socket, "room:mute", { roomId: room.id, userId: "bob", until: until_ })).toEqual(EMPTY);
    await until(() => bob.changes.some((c) => c.change === "muted"));
    expect(bob.changes.find((c) => c.change === "muted")).toEqual({
      roomId: room.id,
      userId: "bob",
      name: "bob",
      change: "muted",
      until: until_,
    });
    expect(await say(bob, room.id, "let me talk")).toMatchObject(refused("FORBIDDEN"));
    // A client loading the member list (after a reload, say) learns of the mute in force.
    const muted = await ok(bob.socket, "room:members", { roomId: room.id });
    expect(muted.members.find((m) => m.userId === "bob")).toMatchObject({ mutedUntil: until_ });
    expect(muted.members.find((m) => m.userId === "alice")).not.toHaveProperty("mutedUntil");
    // Leaving and joining again does not end a mute.
    await ok(bob.socket, "room:leave", { roomId: room.id });
    await ok(bob.socket, "room:join", { roomId: room.id });
    expect(await say(bob, room.id, "again")).toMatchObject(refused("FORBIDDEN"));
    // It still reads.
    const sent = await ok(alice.socket, "message:send", {
      messageType: "group",
      mediaType: "text",
      to: room.id,
      content: "hi",
    });
    await until(() => bob.received.some((m) => "id" in m && m.id === sent.id));
    // Its direct messages and other rooms are not affected.
    expect(await say(bob, "lobby", "lobby is fine")).toMatchObject({ ok: true });
    await sleep(Math.max(0, until_ - Date.now()) + 20);
    expect(await say(bob, room.id, "free")).toMatchObject({ ok: true });
    const free = await ok(bob.socket, "room:members", { roomId: room.id });
    expect(free.members.find((m) => m.userId === "bob")).not.toHaveProperty("mutedUntil");
  });

  it("ends a mute early with room:unmute (room:member unmuted); NOT_FOUND when not muted; a moderator cannot mute a moderator", async () => {
    const server = await startServer();
    const alice = await watch(server, "alice");
    const bob = await watch(server, "bob");
    const carol = await watch(server, "carol");
    const room = await roomWith(alice, [bob, carol]);
    await ok(alice.socket, "room:role", { roomId: room.id, userId: "carol", role: "moderator" });
    await ok(carol.socket, "room:mute", {
      roomId: room.id,
      userId: "bob",
      until: Date.now() + 60_000,
      reason: "cool off",
    });
    expect(await say(bob, room.id, "x")).toMatchObject(refused("FORBIDDEN"));
    expect(await request(bob.socket, "room:unmute", { roomId: room.id, userId: "bob" })).toMatchObject(
      refused("FORBIDDEN"),
    );
    expect(await request(carol.socket, "room:unmute", { roomId: room.id, userId: "bob" })).toEqual(EMPTY);
    await until(() => bob.changes.some((c) => c.change === "unmuted"));
    expect(await say(bob, room.id, "thanks")).toMatchObject({ ok: true });
    expect(await request(carol.socket, "room:unmute", { roomId: room.id, userId: "bob" })).toMatchObject(
      refused("NOT_FOUND"),
    );
    await ok(alice.socket, "room:role", { roomId: room.id, userId: "bob", role: "moderator" });
    expect(
      await request(carol.socket, "room:mute", { roomId: room.id, userId: "bob", until: Date.now() + 60_000 }),
    ).toMatchObject(refused("FORBIDDEN"));
    expect(
      await request(carol.socket, "room:mute", { roomId: room.id, userId: "carol", until: Date.now() + 60_000 }),
    ).toMatchObject(refused("FORBIDDEN"));
    const mute = (await ok(alice.socket, "room:audit", { roomId: room.id })).entries.find(
      (e) => e.action === "room.mute",
    );
    expect(mute).toMatchObject({ actor: "carol", targetUserId: "bob", reason: "cool off" });
  });
});

describe("room:update and room:delete (section 11)", () => {
  it("lets the owner change name, topic and visibility: the ack is the Room, members get room:updated", async () => {
    const server = await startServer();
    const alice = await watch(server, "alice");
    const bob = await watch(server, "bob");
    const room = await roomWith(alice, [bob]);
    const updated = await ok(alice.socket, "room:update", { roomId: room.id, name: "Den 2", topic: "cats only" });
    expect(updated).toEqual({ ...room, members: 2, name: "Den 2", topic: "cats only" });
    await until(() => bob.updated.length === 1);
    expect(bob.updated[0]).toEqual(updated);
    expect(await ok(alice.socket, "room:update", { roomId: room.id, visibility: "private" })).toMatchObject({
      visibility: "private",
      topic: "cats only",
    });
    const cleared = await ok(alice.socket, "room:update", { roomId: room.id, topic: "" });
    expect(cleared).not.toHaveProperty("topic");
    expect((await ok(bob.socket, "room:list", {})).joined.find((r) => r.id === room.id)).toEqual(cleared);
  });

  it("refuses room:update and room:delete to moderators and members, and bad payloads, changing nothing", async () => {
    const server = await startServer();
    const alice = await watch(server, "alice");
    const bob = await watch(server, "bob");
    const room = await roomWith(alice, [bob]);
    await ok(alice.socket, "room:role", { roomId: room.id, userId: "bob", role: "moderator" });
    expect(await request(bob.socket, "room:update", { roomId: room.id, name: "mine" })).toMatchObject(
      refused("FORBIDDEN"),
    );
    expect(await request(bob.socket, "room:delete", { roomId: room.id })).toMatchObject(refused("FORBIDDEN"));
    for (const payload of [
      { roomId: room.id, topic: "x".repeat(257) },
      { roomId: room.id, name: "" },
      { roomId: room.id, visibility: "secret" },
      { roomId: room.id, topic: "\uD800" },
    ]) {
      expect(await request(alice.socket, "room:update", payload as never)).toMatchObject(refused("INVALID_PAYLOAD"));
    }
    expect(await request(alice.socket, "room:delete", {} as never)).toMatchObject(refused("INVALID_PAYLOAD"));
    expect(await request(alice.socket, "room:update", { roomId: "nowhere", name: "x" })).toMatchObject(
      refused("NOT_FOUND"),
    );
    expect((await ok(alice.socket, "room:list", {})).joined.find((r) => r.id === room.id)).toEqual({
      ...room,
      members: 2,
    });
    expect(bob.updated).toEqual([]);
  });

  it("deletes a room for everyone: room:removed deleted to every member, history and sync empty, its files released", async () => {
    const server = await startServer();
    const alice = await watch(server, "alice");
    const bob = await watch(server, "bob");
    const bob2 = await watch(server, "bob");
    const room = await roomWith(alice, [bob]);
    const image = await upload(server, "alice", PNG, "cat.png");
    await ok(alice.socket, "message:send", {
      messageType: "group",
      mediaType: "image",
      to: room.id,
      fileId: image.fileId,
    });
    const text = await ok(bob.socket, "message:send", {
      messageType: "group",
      mediaType: "text",
      to: room.id,
      content: "meow",
    });
    await ok(bob.socket, "message:edit", { id: text.id, content: "meow meow" });
    await ok(bob.socket, "conversation:read", { conversation: { room: room.id }, lastReadId: text.id });
    expect(await storedUploads(server)).toEqual([image.fileId]);
    expect(await request(alice.socket, "room:delete", { roomId: room.id })).toEqual(EMPTY);
    for (const socket of [alice, bob, bob2]) {
      expect(serverSocketOf(server, socket.socket.id!)?.rooms.has(roomChannel(room.id))).toBe(false);
    }
    await until(() => [alice, bob, bob2].every((who) => who.removed.length === 1));
    expect(bob2.removed[0]).toEqual({ roomId: room.id, by: "alice", kind: "deleted" });
    expect(await request(bob.socket, "history:list", { room: room.id })).toMatchObject(refused("NOT_FOUND"));
    expect(await request(bob.socket, "room:join", { roomId: room.id })).toMatchObject(refused("NOT_FOUND"));
    const synced = await ok(bob.socket, "sync", { after: 0 });
    expect(synced.messages.filter((m) => m.to === room.id)).toEqual([]);
    const search = await ok(bob.socket, "history:search", { q: "meow" });
    expect(search.messages).toEqual([]);
    const conversations = await ok(bob.socket, "conversation:list", {});
    expect(conversations.some((c) => "room" in c.conversation && c.conversation.room === room.id)).toBe(false);
    expect(await storedUploads(server)).toEqual([]);
    expect((await fetch(new URL(image.url, server.url))).status).toBe(404);
    const page = await server.server.store.auditPage({ roomId: room.id, limit: 10 });
    expect(page.entries.map((e) => [e.action, e.actor])).toEqual([["room.delete", "alice"]]);
  });

  it("lets an admin delete any room but never the lobby", async () => {
    const server = await startServer({ ADMIN_USERS: "root" });
    const alice = await watch(server, "alice");
    const root = await watch(server, "root");
    const room = await ok(alice.socket, "room:create", { name: "x" });
    expect(await request(root.socket, "room:delete", { roomId: "lobby" })).toMatchObject(refused("FORBIDDEN"));
    expect(await request(root.socket, "room:delete", { roomId: room.id })).toEqual(EMPTY);
    await until(() => alice.removed.length === 1);
    expect(await request(root.socket, "room:delete", { roomId: room.id })).toMatchObject(refused("NOT_FOUND"));
  });
});

describe("message:delete by moderators (section 11)", () => {
  it("lets the owner, a moderator or an admin delete others' messages in the room; the tombstone carries deletedBy", async () => {
    const server = await startServer({ ADMIN_USERS: "root" });
    const alice = await watch(server, "alice");
    const bob = await watch(server, "bob");
    const carol = await watch(server, "carol");
    const root = await watch(server, "root");
    const room = await roomWith(alice, [bob, carol]);
    await ok(alice.socket, "room:role", { roomId: room.id, userId: "carol", role: "moderator" });
    const send = async (who: Connected, content: string) =>
      ok(who.socket, "message:send", { messageType: "group", mediaType: "text", to: room.id, content });
    const first = await send(bob, "one");
    const updates: StoredMessage[] = [];
    alice.socket.on("message:updated", (m) => updates.push(m as StoredMessage));
    const tombstone = await ok(carol.socket, "message:delete", { id: first.id });
    expect(tombstone).toMatchObject({ id: first.id, deletedBy: "carol" });
    expect(tombstone).not.toHaveProperty("content");
    await until(() => updates.length === 1);
    expect(updates[0]).toMatchObject({ id: first.id, deletedBy: "carol" });
    // Deleting the tombstone again changes nothing.
    expect(await ok(carol.socket, "message:delete", { id: first.id })).toMatchObject({ rev: tombstone.rev });
    const second = await send(bob, "two");
    expect(await ok(root.socket, "message:delete", { id: second.id })).toMatchObject({ deletedBy: "root" });
    const third = await send(bob, "three");
    expect(await ok(alice.socket, "message:delete", { id: third.id })).toMatchObject({ deletedBy: "alice" });
    const own = await send(bob, "mine");
    expect(await ok(bob.socket, "message:delete", { id: own.id })).not.toHaveProperty("deletedBy");
    // Kept with the tombstone: history and sync say who deleted it too.
    const history = await ok(bob.socket, "history:list", { room: room.id });
    const deleters = (id: number, messages: StoredMessage[]) => messages.find((m) => m.id === id)?.deletedBy;
    expect([first.id, second.id, third.id, own.id].map((id) => deleters(id, history.messages))).toEqual([
      "carol",
      "root",
      "alice",
      undefined,
    ]);
    const synced = await ok(bob.socket, "sync", { after: first.rev - 1 });
    expect(deleters(first.id, synced.messages)).toBe("carol");
    const entries = (await ok(alice.socket, "room:audit", { roomId: room.id })).entries;
    expect(
      entries.filter((e) => e.action === "message.delete").map((e) => [e.actor, e.messageId, e.targetUserId]),
    ).toEqual([
      ["alice", third.id, "bob"],
      ["root", second.id, "bob"],
      ["carol", first.id, "bob"],
    ]);
  });

  it("refuses members and moderators acting on the owner's or a moderator's messages; outsiders get NOT_FOUND", async () => {
    const server = await startServer();
    const alice = await watch(server, "alice");
    const bob = await watch(server, "bob");
    const carol = await watch(server, "carol");
    const dave = await watch(server, "dave");
    const eve = await watch(server, "eve");
    const room = await roomWith(alice, [bob, carol, dave]);
    await ok(alice.socket, "room:role", { roomId: room.id, userId: "carol", role: "moderator" });
    await ok(alice.socket, "room:role", { roomId: room.id, userId: "dave", role: "moderator" });
    const byBob = await ok(bob.socket, "message:send", {
      messageType: "group",
      mediaType: "text",
      to: room.id,
      content: "b",
    });
    const byAlice = await ok(alice.socket, "message:send", {
      messageType: "group",
      mediaType: "text",
      to: room.id,
      content: "a",
    });
    const byDave = await ok(dave.socket, "message:send", {
      messageType: "group",
      mediaType: "text",
      to: room.id,
      content: "d",
    });
    const direct = await ok(bob.socket, "message:send", {
      messageType: "single",
      mediaType: "text",
      to: "alice",
      content: "dm",
    });
    expect(await request(dave.socket, "message:delete", { id: byAlice.id })).toMatchObject(refused("FORBIDDEN"));
    expect(await request(carol.socket, "message:delete", { id: byDave.id })).toMatchObject(refused("FORBIDDEN"));
    expect(await request(bob.socket, "message:delete", { id: byDave.id })).toMatchObject(refused("FORBIDDEN"));
    expect(await request(eve.socket, "message:delete", { id: byBob.id })).toMatchObject(refused("NOT_FOUND"));
    expect(await request(carol.socket, "message:delete", { id: direct.id })).toMatchObject(refused("NOT_FOUND"));
    expect(await request(alice.socket, "message:delete", { id: direct.id })).toMatchObject(refused("FORBIDDEN"));
    const history = await ok(bob.socket, "history:list", { room: room.id });
    expect(history.messages.every((m) => m.deletedAt === undefined)).toBe(true);
  });
});

describe("room:audit (section 11)", () => {
  it("pages a room's entries newest first with before and limit, for the owner, moderators and admins only", async () => {
    const server = await startServer({ ADMIN_USERS: "root" });
    const alice = await watch(server, "alice");
    const bob = await watch(server, "bob");
    const carol = await watch(server, "carol");
    const root = await watch(server, "root");
    const room = await roomWith(alice, [bob, carol]);
    for (let i = 0; i < 3; i++) {
      await ok(alice.socket, "room:mute", { roomId: room.id, userId: "bob", until: Date.now() + 60_000 });
      await ok(alice.socket, "room:unmute", { roomId: room.id, userId: "bob" });
    }
    const first = await ok(alice.socket, "room:audit", { roomId: room.id, limit: 4 });
    expect(first.hasMore).toBe(true);
    expect(first.entries.map((e) => e.action)).toEqual(["room.unmute", "room.mute", "room.unmute", "room.mute"]);
    expect(first.entries[0]!.id).toBeGreaterThan(first.entries[1]!.id);
    const rest = await ok(alice.socket, "room:audit", { roomId: room.id, limit: 4, before: first.entries[3]!.id });
    expect(rest.hasMore).toBe(false);
    expect(rest.entries.map((e) => e.action)).toEqual(["room.unmute", "room.mute"]);
    expect(rest.entries[0]).toMatchObject({ actor: "alice", roomId: room.id, targetUserId: "bob" });
    expect(typeof rest.entries[0]!.at).toBe("number");
    expect(await request(bob.socket, "room:audit", { roomId: room.id })).toMatchObject(refused("FORBIDDEN"));
    await ok(alice.socket, "room:role", { roomId: room.id, userId: "carol", role: "moderator" });
    expect((await ok(carol.socket, "room:audit", { roomId: room.id, limit: 1 })).entries[0]!.action).toBe(
      "room.role.moderator",
    );
    expect((await ok(root.socket, "room:audit", { roomId: room.id })).entries.length).toBe(7);
    expect(await request(alice.socket, "room:audit", { roomId: room.id, limit: 201 })).toMatchObject(
      refused("INVALID_PAYLOAD"),
    );
    expect(await request(alice.socket, "room:audit", { roomId: "nowhere" })).toMatchObject(refused("NOT_FOUND"));
  });
});

describe("room:bans", () => {
  it("lists the bans in force by user id, in pages, for the owner, moderators and admins; unban and expiry drop them", async () => {
    const server = await startServer({ ADMIN_USERS: "root" });
    const alice = await watch(server, "alice");
    const bob = await watch(server, "bob");
    const carol = await watch(server, "carol");
    const root = await watch(server, "root");
    const room = await roomWith(alice, [bob, carol]);
    expect(await ok(alice.socket, "room:bans", { roomId: room.id })).toEqual({ bans: [], hasMore: false });
    const soon = Date.now() + 400;
    await ok(alice.socket, "room:ban", { roomId: room.id, userId: "dave", reason: "spam" });
    await ok(alice.socket, "room:ban", { roomId: room.id, userId: "bob", until: soon });
    await ok(alice.socket, "room:ban", { roomId: room.id, userId: "erin" });
    const first = await ok(alice.socket, "room:bans", { roomId: room.id, limit: 2 });
    expect(first.hasMore).toBe(true);
    expect(first.bans).toEqual([
      { userId: "bob", name: "bob", until: soon, by: "alice", at: expect.any(Number) },
      { userId: "dave", name: "dave", reason: "spam", by: "alice", at: expect.any(Number) },
    ]);
    const rest = await ok(alice.socket, "room:bans", { roomId: room.id, after: "dave", limit: 2 });
    expect(rest).toEqual({ bans: [expect.objectContaining({ userId: "erin" })], hasMore: false });

    // A member may not read them; a moderator and an admin may.
    expect(await request(carol.socket, "room:bans", { roomId: room.id })).toMatchObject(refused("FORBIDDEN"));
    await ok(alice.socket, "room:role", { roomId: room.id, userId: "carol", role: "moderator" });
    expect((await ok(carol.socket, "room:bans", { roomId: room.id })).bans).toHaveLength(3);
    expect((await ok(root.socket, "room:bans", { roomId: room.id })).bans).toHaveLength(3);

    // Lifted and ended bans are not listed.
    await ok(carol.socket, "room:unban", { roomId: room.id, userId: "dave" });
    await sleep(Math.max(0, soon - Date.now()) + 20);
    expect((await ok(alice.socket, "room:bans", { roomId: room.id })).bans.map((ban) => ban.userId)).toEqual(["erin"]);
    expect(await request(alice.socket, "room:bans", { roomId: "nowhere" })).toMatchObject(refused("NOT_FOUND"));
    for (const payload of [
      { roomId: room.id, limit: 0 },
      { roomId: room.id, limit: 201 },
      { roomId: room.id, after: "bad id!" },
    ]) {
      expect(await request(alice.socket, "room:bans", payload)).toMatchObject(refused("INVALID_PAYLOAD"));
    }
  });
});

describe("bad payloads (section 11)", () => {
  it("answers INVALID_PAYLOAD to malformed moderation requests and changes nothing", async () => {
    const server = await startServer();
    const alice = await watch(server, "alice");
    const bob = await watch(server, "bob");
    const room = await roomWith(alice, [bob]);
    const cases: [string, unknown][] = [
      ["room:role", { roomId: room.id, userId: "bob", role: "owner" }],
      ["room:role", { roomId: room.id, userId: "bob" }],
      ["room:kick", { roomId: room.id }],
      ["room:kick", { roomId: room.id, userId: "bob", reason: "x".repeat(501) }],
      ["room:kick", { roomId: room.id, userId: "bad id!" }],
      ["room:ban", { roomId: room.id, userId: "bob", until: -1 }],
      ["room:ban", { roomId: room.id, userId: "bob", until: "soon" }],
      ["room:ban", { roomId: room.id, userId: "bob", reason: "" }],
      ["room:mute", { roomId: room.id, userId: "bob" }],
      ["room:mute", { roomId: room.id, userId: "bob", until: 1.5 }],
      ["room:unmute", { roomId: room.id }],
      ["room:unban", { userId: "bob" }],
      ["room:audit", { roomId: room.id, before: 0 }],
      ["room:delete", { roomId: 5 }],
      ["message:delete", { id: "1" }],
    ];
    for (const [event, payload] of cases) {
      const emit = alice.socket.timeout(5000).emitWithAck as (e: string, p: unknown) => Promise<unknown>;
      expect(await emit.call(alice.socket.timeout(5000), event, payload), event).toMatchObject(
        refused("INVALID_PAYLOAD"),
      );
    }
    expect((await ok(alice.socket, "room:members", { roomId: room.id })).members.map((m) => m.role)).toEqual([
      "owner",
      "member",
    ]);
    expect(await say(bob, room.id, "fine")).toMatchObject({ ok: true });
    expect((await ok(alice.socket, "room:audit", { roomId: room.id })).entries).toEqual([]);
    expect(bob.removed).toEqual([]);
  });
});
