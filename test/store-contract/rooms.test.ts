import { describe, expect, it } from "vitest";
import type { RoomDraft, Store } from "../../server/store/types.js";
import {
  addUsers,
  appendAll,
  changed,
  describeStores,
  group,
  single,
  system,
  tick,
  upload,
} from "../support/stores.js";

/** A room draft: public unless said, created by `createdBy` at `createAt`. */
const draft = (id: string, createdBy: string, createAt: number, extra: Partial<RoomDraft> = {}): RoomDraft => ({
  id,
  name: id.toUpperCase(),
  visibility: "public",
  createdBy,
  createAt,
  ...extra,
});

/** The ids of rooms, in order. */
const roomIds = (rooms: { id: string }[]) => rooms.map((room) => room.id);

/** The room's member count and its member ids (sorted), to see that they agree. */
async function memberState(store: Store, roomId: string): Promise<{ count: number | undefined; ids: string[] }> {
  return { count: (await store.getRoom(roomId))?.members, ids: (await store.memberIds(roomId)).sort() };
}

describeStores("Store contract: rooms", (open) => {
  it("creates a room with its creator as the only member, joined at the room's creation", async () => {
    const store = await open();
    await addUsers(store, "alice");
    const room = await store.createRoom(draft("r1", "alice", 2, { visibility: "private" }));
    expect(room).toEqual({ id: "r1", name: "R1", visibility: "private", createdBy: "alice", createAt: 2, members: 1 });
    expect(await store.getRoom("r1")).toEqual(room);
    expect(await store.memberIds("r1")).toEqual(["alice"]);
    expect(await store.joinedAt("r1", "alice")).toBe(2);
    expect(await store.getRoom("nowhere")).toBeUndefined();
  });

  it("seats no one in a room made by system, and never caps what system makes", async () => {
    const store = await open();
    expect(await store.createRoom(draft("logs", "system", 2), 0)).toMatchObject({ createdBy: "system", members: 0 });
    expect(await store.memberIds("logs")).toEqual([]);
  });

  it("refuses a room beyond the creator's maxOwned, creating nothing; other creators have their own count", async () => {
    const store = await open();
    await addUsers(store, "alice", "bob");
    expect(await store.createRoom(draft("a1", "alice", 2), 2)).toBeDefined();
    expect(await store.createRoom(draft("a2", "alice", 3), 2)).toBeDefined();
    expect(await store.createRoom(draft("a3", "alice", 4), 2)).toBeUndefined();
    expect(await store.getRoom("a3")).toBeUndefined();
    expect(await store.isMember("a3", "alice")).toBe(false);
    expect(await store.createRoom(draft("b1", "bob", 5), 2)).toBeDefined();
    expect(roomIds(await store.roomsOf("alice"))).toEqual(["lobby", "a1", "a2"]);
  });

  it("tells a member, an outsider and a room that does not exist apart in one read", async () => {
    const store = await open();
    await addUsers(store, "alice", "bob");
    await store.createRoom(draft("den", "alice", 5, { visibility: "private" }));
    expect(await store.membership("den", "alice")).toBe("member");
    expect(await store.membership("den", "bob")).toBe("outsider");
    expect(await store.membership("nowhere", "alice")).toBe("no-room");
    await store.removeMember("den", "alice");
    expect(await store.membership("den", "alice")).toBe("outsider");
  });

  it("keeps the member count right through create, add, duplicate add, remove and duplicate remove", async () => {
    const store = await open();
    await addUsers(store, "alice", "bob", "carol");
    await store.createRoom(draft("r1", "alice", 2, { visibility: "private" }));
    expect(await store.addMember("r1", "bob", 3)).toBe(true);
    expect(await store.addMember("r1", "bob", 4)).toBe(false);
    expect(await store.addMember("r1", "alice", 4)).toBe(false);
    expect(await store.getRoom("r1")).toMatchObject({ members: 2 });
    expect(await store.addMember("r1", "carol", 5)).toBe(true);
    expect(await store.getRoom("r1")).toMatchObject({ members: 3 });
    expect(await store.isMember("r1", "carol")).toBe(true);
    expect(await store.removeMember("r1", "bob")).toBe(true);
    expect(await store.removeMember("r1", "bob")).toBe(false);
    expect(await store.removeMember("r1", "nobody")).toBe(false);
    expect(await store.isMember("r1", "bob")).toBe(false);
    expect(await memberState(store, "r1")).toEqual({ count: 2, ids: ["alice", "carol"] });
    expect(await store.getRoom("lobby")).toMatchObject({ members: 3 });
  });

  it("knows when a member joined, and nothing for one who is not a member", async () => {
    const store = await open();
    await addUsers(store, "alice", "bob");
    await store.createRoom(draft("r1", "alice", 2));
    await store.addMember("r1", "bob", 7);
    expect(await store.joinedAt("r1", "bob")).toBe(7);
    await store.removeMember("r1", "bob");
    expect(await store.joinedAt("r1", "bob")).toBeUndefined();
    expect(await store.joinedAt("nowhere", "alice")).toBeUndefined();
  });

  it("lists a user's rooms by when it joined, then by id", async () => {
    const store = await open();
    await addUsers(store, "alice", "bob");
    await store.createRoom(draft("c", "bob", 3));
    await store.createRoom(draft("b", "alice", 5));
    await store.createRoom(draft("a", "bob", 5));
    await store.addMember("a", "alice", 5);
    await store.addMember("c", "alice", 9);
    expect(roomIds(await store.roomsOf("alice"))).toEqual(["lobby", "a", "b", "c"]);
    expect(roomIds(await store.roomsOf("bob"))).toEqual(["lobby", "c", "a"]);
    expect(await store.roomsOf("nobody")).toEqual([]);
  });

  it("answers a session's rooms and newest visible rev in one read, as roomsOf and lastVisibleId answer them", async () => {
    const store = await open();
    await addUsers(store, "alice", "bob", "carol");
    // No rooms and nothing visible: no room, rev 0.
    await store.removeMember("lobby", "carol");
    expect(await store.sessionOf("carol")).toEqual({ rooms: [], lastId: 0 });
    expect(await store.sessionOf("nobody")).toEqual({ rooms: [], lastId: 0 });
    await store.createRoom(draft("c", "bob", 3));
    await store.createRoom(draft("b", "alice", 5));
    await store.addMember("c", "alice", 9);
    const [, , broadcast, , inC] = await appendAll(store, [
      group("bob", "lobby"),
      single("alice", "bob"),
      system("*"),
      single("bob", "carol"),
      group("bob", "c"),
    ]);
    // A broadcast is visible with no room at all; a direct message to carol too.
    expect(await store.sessionOf("carol")).toEqual({ rooms: [], lastId: (await store.lastVisibleId("carol"))! });
    expect((await store.sessionOf("carol")).lastId).toBeGreaterThan(broadcast!);
    const edited = changed(await store.editMessage(inC!, { author: "bob", content: "e", at: tick(), createdFrom: 0 }));
    for (const user of ["alice", "bob", "carol", "nobody"]) {
      expect(await store.sessionOf(user), user).toEqual({
        rooms: await store.roomsOf(user),
        lastId: await store.lastVisibleId(user),
      });
    }
    expect(roomIds((await store.sessionOf("alice")).rooms)).toEqual(["lobby", "b", "c"]);
    expect((await store.sessionOf("alice")).lastId).toBe(edited.rev);
  });

  it("lists every room oldest first, at most `limit`", async () => {
    const store = await open({ now: () => 1000 });
    await addUsers(store, "alice");
    await store.createRoom(draft("late", "alice", 3000));
    await store.createRoom(draft("early", "alice", 2000));
    expect(roomIds(await store.allRooms())).toEqual(["lobby", "early", "late"]);
    expect(roomIds(await store.allRooms(2))).toEqual(["lobby", "early"]);
    expect(await store.allRooms(1)).toEqual([await store.getRoom("lobby")]);
  });

  it("offers the public rooms a user is not in: never a private one, nor one it joined", async () => {
    const store = await open();
    await addUsers(store, "alice", "bob");
    await store.createRoom(draft("open", "bob", 2));
    await store.createRoom(draft("shut", "bob", 3, { visibility: "private" }));
    await store.createRoom(draft("mine", "alice", 4));
    await store.createRoom(draft("joined", "bob", 5));
    await store.addMember("joined", "alice", 6);
    expect(roomIds(await store.discoverableRooms("alice", 10))).toEqual(["open"]);
    expect(await store.discoverableRooms("alice", 10)).toEqual([await store.getRoom("open")]);
    await store.removeMember("joined", "alice");
    expect(roomIds(await store.discoverableRooms("alice", 10)).sort()).toEqual(["joined", "open"]);
    expect(roomIds(await store.discoverableRooms("bob", 10))).toEqual(["mine"]);
  });

  it("does not offer a public room the user is banned from while the ban is in force", async () => {
    const store = await open();
    await addUsers(store, "alice", "bob");
    await store.createRoom(draft("open", "bob", 2));
    await store.createRoom(draft("other", "bob", 3));
    const bob = (at: number) => ({ userId: "bob", admins: new Set<string>(), at });
    expect(await store.ban("open", "alice", { until: 500 }, bob(100))).toMatchObject({ ok: true });
    expect(roomIds(await store.discoverableRooms("alice", 499))).toEqual(["other"]);
    // Lapsed: offered again (joining is allowed again too).
    expect(roomIds(await store.discoverableRooms("alice", 500))).toEqual(["open", "other"]);
    expect(await store.ban("other", "alice", {}, bob(600))).toMatchObject({ ok: true });
    expect(roomIds(await store.discoverableRooms("alice", Number.MAX_SAFE_INTEGER))).toEqual(["open"]);
    // Someone else's ban hides nothing from alice; bob owns both and sees neither.
    await addUsers(store, "carol");
    expect(roomIds(await store.discoverableRooms("carol", 700))).toEqual(["open", "other"]);
    expect(await store.unban("other", "alice", bob(800))).toMatchObject({ ok: true });
    expect(roomIds(await store.discoverableRooms("alice", 900))).toEqual(["open", "other"]);
  });

  it("pages members by user id after a cursor, each with its name, avatar and role (the creator owns the room)", async () => {
    const store = await open();
    const userIds = ["u3", "u1", "u5", "u2", "u4"];
    for (const id of userIds) await store.createUser({ id, name: `User ${id}`, passwordHash: null, createAt: 1 });
    await store.createFile(upload("F", "u2"));
    await store.updateUser("u2", { avatarFileId: "F" });
    await store.createRoom(draft("r", "u3", 2));
    for (const id of userIds) await store.addMember("r", id, 3);
    const row = (id: string) => ({
      userId: id,
      name: `User ${id}`,
      avatarFileId: id === "u2" ? "F" : null,
      role: id === "u3" ? "owner" : "member",
      mutedUntil: null,
    });
    expect(await store.members("r", undefined, 2)).toEqual([row("u1"), row("u2")]);
    expect(await store.members("r", "u2", 2)).toEqual([row("u3"), row("u4")]);
    expect(await store.members("r", "u4", 2)).toEqual([row("u5")]);
    expect(await store.members("r", "u5", 2)).toEqual([]);
    expect(await store.members("r", "u10", 10)).toEqual(["u2", "u3", "u4", "u5"].map(row));
    expect(await store.members("nowhere", undefined, 10)).toEqual([]);
  });

  it("records a pending invitation, refreshes it when invited again, and drops it once", async () => {
    const store = await open();
    await addUsers(store, "alice", "bob", "carol");
    const room = (await store.createRoom(draft("r", "alice", 2, { visibility: "private" })))!;
    expect(await store.hasInvite("r", "bob")).toBe(false);
    await store.addInvite("r", "bob", "alice", 10);
    expect(await store.hasInvite("r", "bob")).toBe(true);
    expect(await store.hasInvite("r", "carol")).toBe(false);
    await store.addInvite("r", "bob", "carol", 20);
    expect(await store.pendingInvites("bob", 10)).toEqual([{ room, by: "carol", at: 20 }]);
    expect(await store.dropInvite("r", "bob")).toBe(true);
    expect(await store.dropInvite("r", "bob")).toBe(false);
    expect(await store.hasInvite("r", "bob")).toBe(false);
    expect(await store.pendingInvites("bob", 10)).toEqual([]);
  });

  it("lists a user's pending invitations newest first, at most `limit`, with each room as it is now", async () => {
    const store = await open();
    await addUsers(store, "alice", "bob", "carol");
    const invitedAt = { r1: 10, r2: 40, r3: 20, r4: 30 };
    for (const [id, at] of Object.entries(invitedAt)) {
      await store.createRoom(draft(id, "alice", 2, { visibility: "private" }));
      await store.addInvite(id, "bob", "alice", at);
    }
    await store.addInvite("r1", "carol", "alice", 50);
    await store.addMember("r4", "carol", 3);
    const pending = await store.pendingInvites("bob", 10);
    expect(pending.map((invite) => [invite.room.id, invite.at])).toEqual([
      ["r2", 40],
      ["r4", 30],
      ["r3", 20],
      ["r1", 10],
    ]);
    expect(pending[1]).toEqual({ room: await store.getRoom("r4"), by: "alice", at: 30 });
    expect(pending[1]!.room.members).toBe(2);
    expect((await store.pendingInvites("bob", 3)).map((invite) => invite.room.id)).toEqual(["r2", "r4", "r3"]);
    expect((await store.pendingInvites("carol", 10)).map((invite) => invite.room.id)).toEqual(["r1"]);
  });

  it("joins a public room; answers already for a member and no-room for a room that does not exist", async () => {
    const store = await open();
    await addUsers(store, "alice", "bob");
    await store.createRoom(draft("pub", "alice", 2));
    expect(await store.joinRoom("pub", "bob", 5)).toBe("joined");
    expect(await store.joinedAt("pub", "bob")).toBe(5);
    expect(await store.joinRoom("pub", "bob", 6)).toBe("already");
    expect(await store.joinRoom("pub", "alice", 6)).toBe("already");
    expect(await store.joinRoom("nowhere", "bob", 6)).toBe("no-room");
    expect(await memberState(store, "pub")).toEqual({ count: 2, ids: ["alice", "bob"] });
  });

  it("joins a private room only with a pending invitation, which the join uses up", async () => {
    const store = await open();
    await addUsers(store, "alice", "bob", "carol");
    await store.createRoom(draft("den", "alice", 2, { visibility: "private" }));
    expect(await store.joinRoom("den", "bob", 3)).toBe("not-invited");
    expect(await store.isMember("den", "bob")).toBe(false);
    await store.addInvite("den", "bob", "alice", 4);
    expect(await store.joinRoom("den", "carol", 5)).toBe("not-invited");
    expect(await store.joinRoom("den", "bob", 5)).toBe("joined");
    expect(await store.hasInvite("den", "bob")).toBe(false);
    expect(await store.pendingInvites("bob", 10)).toEqual([]);
    await store.removeMember("den", "bob");
    expect(await store.joinRoom("den", "bob", 6)).toBe("not-invited");
    expect(await memberState(store, "den")).toEqual({ count: 1, ids: ["alice"] });
  });

  describe("with many calls in flight at once", () => {
    it("lets an invitee's 20 simultaneous joins of a private room join it once, using the invitation up", async () => {
      const store = await open();
      await addUsers(store, "alice", "bob");
      await store.createRoom(draft("den", "alice", 2, { visibility: "private" }));
      await store.addInvite("den", "bob", "alice", 3);
      const outcomes = await Promise.all(Array.from({ length: 20 }, (_, i) => store.joinRoom("den", "bob", 10 + i)));
      expect(outcomes.filter((outcome) => outcome === "joined")).toHaveLength(1);
      // A loser saw the member (already) or found the invitation used up (not-invited); never joined twice.
      for (const outcome of outcomes) expect(["joined", "already", "not-invited"]).toContain(outcome);
      expect(await memberState(store, "den")).toEqual({ count: 2, ids: ["alice", "bob"] });
      expect(await store.hasInvite("den", "bob")).toBe(false);
    });

    it("counts 20 users joining a public room at once as 20 members", async () => {
      const store = await open();
      const users = Array.from({ length: 20 }, (_, i) => `u${String(i).padStart(2, "0")}`);
      await addUsers(store, "alice", ...users);
      await store.createRoom(draft("pub", "alice", 2));
      const outcomes = await Promise.all(users.map((user) => store.joinRoom("pub", user, 5)));
      expect(outcomes).toEqual(users.map(() => "joined"));
      expect(await memberState(store, "pub")).toEqual({ count: 21, ids: ["alice", ...users] });
    });

    it("keeps the member count equal to the members through simultaneous adds and removes", async () => {
      const store = await open();
      const users = ["b", "c", "d", "e"];
      await addUsers(store, "a", ...users);
      await store.createRoom(draft("r", "a", 2));
      const calls = users.flatMap((user, i) => [
        store.addMember("r", user, 3 + i),
        store.removeMember("r", user),
        store.addMember("r", user, 4 + i),
        store.addMember("r", user, 5 + i),
        store.removeMember("r", "a"),
      ]);
      await Promise.all(calls);
      const { count, ids } = await memberState(store, "r");
      expect(count).toBe(ids.length);
    });

    it("creates exactly maxOwned rooms when one user asks for more at once", async () => {
      const store = await open();
      await addUsers(store, "alice");
      const created = await Promise.all(
        Array.from({ length: 10 }, (_, i) => store.createRoom(draft(`r${i}`, "alice", 2 + i), 3)),
      );
      const made = created.filter((room) => room !== undefined);
      expect(made).toHaveLength(3);
      expect(roomIds(await store.allRooms()).filter((id) => id !== "lobby")).toHaveLength(3);
      expect(roomIds(await store.roomsOf("alice")).sort()).toEqual(["lobby", ...roomIds(made)].sort());
    });
  });
});
