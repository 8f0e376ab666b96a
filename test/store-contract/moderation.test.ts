import { describe, expect, it } from "vitest";
import type { ModerationActor } from "../../server/store/moderation.js";
import type { Store } from "../../server/store/types.js";
import { roomConversation } from "../../server/messages/conversation.js";
import { MAX_AUDIT_PAGE } from "../../shared/schemas.js";
import { addUsers, describeStores, group, upload } from "../support/stores.js";

const NO_ADMINS: ReadonlySet<string> = new Set();

/** `userId` acting at `at` (default 1000), with `admins` as ADMIN_USERS. */
const by = (userId: string, at = 1000, admins = NO_ADMINS): ModerationActor => ({ userId, admins, at });

/** alice owns the public room `r`; bob is its moderator; carol and dave are members; eve is outside. */
async function moderatedRoom(store: Store): Promise<void> {
  await addUsers(store, "alice", "bob", "carol", "dave", "eve");
  await store.createRoom({ id: "r", name: "R", visibility: "public", createdBy: "alice", createAt: 2 });
  for (const id of ["bob", "carol", "dave"]) await store.addMember("r", id, 3);
  expect(await store.setRole("r", "bob", "moderator", by("alice"))).toEqual({ ok: true, value: undefined });
}

/** The room's audit entries as `[action, actor, target]`, oldest first. */
async function trail(store: Store, roomId = "r") {
  const page = await store.auditPage({ roomId, limit: 200 });
  return page.entries.map((e) => [e.action, e.actor, e.targetUserId]).reverse();
}

describeStores("Store contract: room roles and moderation", (open) => {
  it("tells each user's standing: the creator owns the room, stored roles, admins by flag or ADMIN_USERS", async () => {
    const store = await open();
    await moderatedRoom(store);
    expect(await store.standing("r", "alice", NO_ADMINS)).toEqual({ role: "owner", admin: false });
    expect(await store.standing("r", "bob", NO_ADMINS)).toEqual({ role: "moderator", admin: false });
    expect(await store.standing("r", "carol", NO_ADMINS)).toEqual({ role: "member", admin: false });
    expect(await store.standing("r", "eve", new Set(["eve"]))).toEqual({ role: undefined, admin: true });
    expect(await store.standing("nowhere", "alice", NO_ADMINS)).toEqual({ role: undefined, admin: false });
    expect(await store.standing("lobby", "alice", NO_ADMINS)).toEqual({ role: "member", admin: false });
    expect((await store.members("r", undefined, 10)).map((m) => [m.userId, m.role])).toEqual([
      ["alice", "owner"],
      ["bob", "moderator"],
      ["carol", "member"],
      ["dave", "member"],
    ]);
  });

  it("sets roles for the owner and admins only, never on the owner or a non-member, with an audit entry each", async () => {
    const store = await open();
    await moderatedRoom(store);
    expect(await store.setRole("r", "carol", "moderator", by("bob"))).toEqual({ ok: false, refusal: "not-allowed" });
    expect(await store.setRole("r", "alice", "member", by("alice"))).toEqual({ ok: false, refusal: "protected" });
    expect(await store.setRole("r", "eve", "moderator", by("alice"))).toEqual({ ok: false, refusal: "no-target" });
    expect(await store.setRole("nowhere", "bob", "member", by("alice"))).toEqual({ ok: false, refusal: "no-room" });
    expect(await store.setRole("r", "carol", "moderator", by("eve", 1000, new Set(["eve"])))).toMatchObject({
      ok: true,
    });
    expect((await store.standing("r", "carol", NO_ADMINS)).role).toBe("moderator");
    expect(await trail(store)).toEqual([
      ["room.role.moderator", "alice", "bob"],
      ["room.role.moderator", "eve", "carol"],
    ]);
    // A role lives on the membership: leaving and joining again starts as a member.
    await store.removeMember("r", "carol");
    await store.joinRoom("r", "carol", 2000);
    expect((await store.standing("r", "carol", NO_ADMINS)).role).toBe("member");
  });

  it("kicks a member (counted out of the room) unless refused, which changes nothing", async () => {
    const store = await open();
    await moderatedRoom(store);
    expect(await store.kick("r", "alice", undefined, by("bob"))).toEqual({ ok: false, refusal: "protected" });
    expect(await store.kick("r", "bob", undefined, by("bob"))).toEqual({ ok: false, refusal: "self" });
    expect(await store.kick("r", "dave", undefined, by("carol"))).toEqual({ ok: false, refusal: "not-allowed" });
    expect(await store.kick("r", "eve", undefined, by("bob"))).toEqual({ ok: false, refusal: "no-target" });
    expect((await store.getRoom("r"))?.members).toBe(4);
    expect(await store.kick("r", "carol", "spam", by("bob"))).toEqual({ ok: true, value: undefined });
    expect(await store.isMember("r", "carol")).toBe(false);
    expect((await store.getRoom("r"))?.members).toBe(3);
    const [kick] = (await store.auditPage({ roomId: "r", limit: 1 })).entries;
    expect(kick).toMatchObject({ action: "room.kick", actor: "bob", targetUserId: "carol", reason: "spam", at: 1000 });
    expect(await store.joinRoom("r", "carol", 2000)).toBe("joined");
  });

  it("bans until a time: join and invitation refused while it holds, pending invitation dropped, then allowed", async () => {
    const store = await open();
    await addUsers(store, "alice", "bob");
    await store.createRoom({ id: "p", name: "P", visibility: "private", createdBy: "alice", createAt: 2 });
    await store.addInvite("p", "bob", "alice", 5);
    expect(await store.ban("p", "bob", { until: 5000, reason: "rude" }, by("alice"))).toEqual({
      ok: true,
      value: { wasMember: false },
    });
    expect(await store.hasInvite("p", "bob")).toBe(false);
    expect(await store.inviteUnlessBanned("p", "bob", "alice", 4999)).toBe(false);
    expect(await store.joinRoom("p", "bob", 4999)).toBe("banned");
    expect(await store.activeBan("p", "bob", 4999)).toBe(5000);
    expect(await store.activeBan("p", "bob", 5000)).toBeUndefined();
    expect(await store.inviteUnlessBanned("p", "bob", "alice", 5000)).toBe(true);
    expect(await store.joinRoom("p", "bob", 5000)).toBe("joined");
    // A ban of a member removes it; for good without `until`, until unbanned.
    expect(await store.ban("p", "bob", {}, by("alice", 6000))).toEqual({ ok: true, value: { wasMember: true } });
    expect(await store.isMember("p", "bob")).toBe(false);
    expect(await store.activeBan("p", "bob", 9e15)).toBeNull();
    expect(await store.unban("p", "bob", by("alice", 7000))).toEqual({ ok: true, value: undefined });
    expect(await store.unban("p", "bob", by("alice", 7000))).toEqual({ ok: false, refusal: "no-ban" });
    expect(await trail(store, "p")).toEqual([
      ["room.ban", "alice", "bob"],
      ["room.ban", "alice", "bob"],
      ["room.unban", "alice", "bob"],
    ]);
    expect((await store.auditPage({ roomId: "p", limit: 10 })).entries[2]).toMatchObject({
      until: 5000,
      reason: "rude",
    });
  });

  it("pages a room's bans in force at a time by user id, with names (the id for an unknown user)", async () => {
    const store = await open();
    await moderatedRoom(store);
    await store.ban("r", "carol", { until: 5000 }, by("alice"));
    await store.ban("r", "dave", { reason: "spam" }, by("bob", 1500));
    await store.ban("r", "ghost", {}, by("alice", 1600));
    await store.ban("r", "eve", { until: 1200 }, by("alice"));
    expect(await store.bansPage("r", 1100, undefined, 10)).toEqual({
      bans: [
        { userId: "carol", name: "carol", until: 5000, by: "alice", at: 1000 },
        { userId: "dave", name: "dave", reason: "spam", by: "bob", at: 1500 },
        { userId: "eve", name: "eve", until: 1200, by: "alice", at: 1000 },
        { userId: "ghost", name: "ghost", by: "alice", at: 1600 },
      ],
      hasMore: false,
    });
    // Ended at 1200 and 5000; paged after a user id.
    expect((await store.bansPage("r", 5000, undefined, 10)).bans.map((ban) => ban.userId)).toEqual(["dave", "ghost"]);
    expect(await store.bansPage("r", 1100, undefined, 2)).toMatchObject({
      bans: [{ userId: "carol" }, { userId: "dave" }],
      hasMore: true,
    });
    expect(await store.bansPage("r", 1100, "dave", 2)).toMatchObject({
      bans: [{ userId: "eve" }, { userId: "ghost" }],
      hasMore: false,
    });
    expect(await store.bansPage("elsewhere", 1100, undefined, 10)).toEqual({ bans: [], hasMore: false });
  });

  it("mutes a member: its group messages are refused at commit while the mute holds, other rooms are not", async () => {
    const store = await open();
    await moderatedRoom(store);
    expect(await store.mute("r", "carol", { until: 5000 }, by("bob"))).toEqual({ ok: true, value: undefined });
    expect(await store.mute("r", "eve", { until: 5000 }, by("bob"))).toEqual({ ok: false, refusal: "no-target" });
    expect(await store.activeMute("r", "carol", 4999)).toBe(5000);
    await expect(store.appendMessage(group("carol", "r", { createAt: 4999 }))).rejects.toMatchObject({
      code: "FORBIDDEN",
    });
    expect((await store.appendMessage(group("carol", "lobby", { createAt: 4999 }))).created).toBe(true);
    expect((await store.appendMessage(group("carol", "r", { createAt: 5000 }))).created).toBe(true);
    await store.mute("r", "carol", { until: 9000 }, by("bob", 6000));
    expect(await store.unmute("r", "carol", by("carol", 6001))).toEqual({ ok: false, refusal: "not-allowed" });
    // A muted moderator cannot lift its own mute either.
    await store.mute("r", "bob", { until: 9000 }, by("alice", 6000));
    expect(await store.unmute("r", "bob", by("bob", 6001))).toEqual({ ok: false, refusal: "self" });
    expect(await store.unmute("r", "carol", by("bob", 6001))).toEqual({ ok: true, value: undefined });
    expect(await store.unmute("r", "carol", by("bob", 6002))).toEqual({ ok: false, refusal: "no-mute" });
    expect((await store.appendMessage(group("carol", "r", { createAt: 6003 }))).created).toBe(true);
  });

  it("updates a room's name, topic and visibility for the owner; an empty topic removes it", async () => {
    const store = await open();
    await moderatedRoom(store);
    expect(await store.updateRoom("r", { name: "X" }, by("bob"))).toEqual({ ok: false, refusal: "not-allowed" });
    const updated = await store.updateRoom("r", { topic: "hello", visibility: "private" }, by("alice"));
    expect(updated).toMatchObject({ ok: true, value: { id: "r", name: "R", topic: "hello", visibility: "private" } });
    expect(await store.getRoom("r")).toMatchObject({ topic: "hello", visibility: "private" });
    const renamed = await store.updateRoom("r", { name: "R2" }, by("alice"));
    expect(renamed).toMatchObject({ ok: true, value: { name: "R2", topic: "hello" } });
    const cleared = await store.updateRoom("r", { topic: "" }, by("alice"));
    expect(cleared.ok && cleared.value).not.toHaveProperty("topic");
  });

  it("deletes a room with its members, invitations, bans, mutes, read positions, messages and search entries", async () => {
    const store = await open();
    await moderatedRoom(store);
    await store.createFile(upload("F", "carol"));
    await store.appendMessage(group("carol", "r", { mediaType: "image", fileId: "F", content: undefined }));
    const text = await store.appendMessage(group("dave", "r", { content: "findable words" }));
    await store.editMessage(text.message.id, {
      author: "dave",
      content: "findable words again",
      at: 2000,
      createdFrom: 0,
    });
    await store.moveReadPosition("carol", roomConversation("r"), text.message.id);
    await store.addInvite("r", "eve", "alice", 5);
    await store.ban("r", "dave", {}, by("alice"));
    await store.mute("r", "carol", { until: 9e12 }, by("alice"));
    expect(await store.search("eve", ["findable"], undefined, 10)).toHaveLength(0);
    expect(await store.search("carol", ["findable"], undefined, 10)).toHaveLength(1);
    expect(await store.deleteRoom("r", by("bob"))).toEqual({ ok: false, refusal: "not-allowed" });
    expect(await store.deleteRoom("lobby", by("root", 1000, new Set(["root"])))).toEqual({
      ok: false,
      refusal: "lobby",
    });
    const deleted = await store.deleteRoom("r", by("alice", 3000));
    expect(deleted).toMatchObject({ ok: true, value: { room: { id: "r" }, fileIds: ["F"] } });
    expect(deleted.ok && [...deleted.value.members].sort()).toEqual(["alice", "bob", "carol"]);
    expect(await store.getRoom("r")).toBeUndefined();
    expect(await store.memberIds("r")).toEqual([]);
    expect(await store.pendingInvites("eve", 10)).toEqual([]);
    expect(await store.conversationPage(roomConversation("r"), { limit: 10 })).toEqual({
      messages: [],
      hasMore: false,
    });
    expect(await store.getMessage(text.message.id)).toBeUndefined();
    expect(await store.readPosition("carol", roomConversation("r"))).toBe(0);
    expect(await store.search("carol", ["findable"], undefined, 10)).toEqual([]);
    expect((await store.visibleAfter("carol", 0, 100)).messages.filter((m) => m.to === "r")).toEqual([]);
    expect(await store.releaseFile("F", 4000)).toBe(true);
    // A new room of the same id starts clean: no ban, no mute, no history.
    await store.createRoom({ id: "r", name: "again", visibility: "public", createdBy: "eve", createAt: 5000 });
    expect(await store.joinRoom("r", "dave", 5001)).toBe("joined");
    expect(await store.activeMute("r", "carol", 5001)).toBeUndefined();
    // The audit log keeps what happened to the deleted room.
    expect((await trail(store)).at(-1)).toEqual(["room.delete", "alice", undefined]);
  });

  it("lets a moderator or an admin turn others' room messages into tombstones with deletedBy, never the owner's", async () => {
    const store = await open();
    await moderatedRoom(store);
    const byCarol = (await store.appendMessage(group("carol", "r"))).message;
    const byAlice = (await store.appendMessage(group("alice", "r"))).message;
    const direct = await store.appendMessage({
      messageType: "single",
      mediaType: "text",
      from: "carol",
      to: "dave",
      conversation: "d:carol|dave",
      recipientUser: "dave",
      content: "hi",
      createAt: 5,
    });
    expect(await store.moderateDeleteMessage(byAlice.id, by("bob"))).toEqual({ ok: false, refusal: "protected" });
    expect(await store.moderateDeleteMessage(byCarol.id, by("dave"))).toEqual({ ok: false, refusal: "not-allowed" });
    expect(await store.moderateDeleteMessage(direct.message.id, by("bob"))).toEqual({ ok: false, refusal: "no-room" });
    expect(await store.moderateDeleteMessage(999_999, by("bob"))).toEqual({ ok: false, refusal: "no-room" });
    const deleted = await store.moderateDeleteMessage(byCarol.id, by("bob", byCarol.createAt + 3000));
    expect(deleted).toMatchObject({ ok: true, value: { changed: true, roomId: "r", message: { deletedBy: "bob" } } });
    const tombstone = deleted.ok ? deleted.value.message : undefined;
    expect(tombstone?.deletedAt).toBe(byCarol.createAt + 3000);
    expect(tombstone?.content).toBeUndefined();
    expect(tombstone!.rev).toBeGreaterThan(byAlice.id);
    const again = await store.moderateDeleteMessage(byCarol.id, by("bob", 4000));
    expect(again).toMatchObject({ ok: true, value: { changed: false, message: { rev: tombstone!.rev } } });
    const admin = await store.moderateDeleteMessage(byAlice.id, by("eve", 5000, new Set(["eve"])));
    expect(admin).toMatchObject({ ok: true, value: { message: { deletedBy: "eve" } } });
    const entries = (await store.auditPage({ action: "message.delete", limit: 10 })).entries;
    expect(entries.map((e) => [e.actor, e.messageId, e.targetUserId, e.roomId])).toEqual([
      ["eve", byAlice.id, "alice", "r"],
      ["bob", byCarol.id, "carol", "r"],
    ]);
    // Never dated before the message's last change (a clock read before an edit stored later).
    const late = (await store.appendMessage(group("carol", "r"))).message;
    const edited = await store.editMessage(late.id, {
      author: "carol",
      content: "x",
      at: late.createAt + 9000,
      createdFrom: 0,
    });
    expect(edited.ok).toBe(true);
    const early = await store.moderateDeleteMessage(late.id, by("bob", late.createAt + 1));
    expect(early.ok && [early.value.message.deletedAt, early.value.message.updateAt]).toEqual([
      late.createAt + 9000,
      late.createAt + 9000,
    ]);
  });

  it("pages the audit log newest first with before/limit/hasMore, filtered by actor, action, room and target", async () => {
    const store = await open();
    const appended = [];
    for (let i = 0; i < 5; i++) {
      appended.push(
        await store.appendAudit({
          at: 100 + i,
          actor: i % 2 === 0 ? "root" : "admin-key",
          action: i < 3 ? "user.disable" : "user.enable",
          targetUserId: `u${i}`,
          ...(i === 4 ? { roomId: "x", reason: "why", until: 7, messageId: 3 } : {}),
        }),
      );
    }
    expect(appended[4]).toEqual({
      id: appended[4]!.id,
      at: 104,
      actor: "root",
      action: "user.enable",
      targetUserId: "u4",
      roomId: "x",
      reason: "why",
      until: 7,
      messageId: 3,
    });
    expect(appended[0]).toEqual({
      id: appended[0]!.id,
      at: 100,
      actor: "root",
      action: "user.disable",
      targetUserId: "u0",
    });
    const first = await store.auditPage({ limit: 2 });
    expect(first.entries.map((e) => e.at)).toEqual([104, 103]);
    expect(first.hasMore).toBe(true);
    const next = await store.auditPage({ limit: 2, before: first.entries[1]!.id });
    expect(next.entries.map((e) => e.at)).toEqual([102, 101]);
    const last = await store.auditPage({ limit: 2, before: next.entries[1]!.id });
    expect(last).toEqual({ entries: [appended[0]], hasMore: false });
    expect((await store.auditPage({ limit: 10, actor: "root" })).entries.map((e) => e.at)).toEqual([104, 102, 100]);
    expect((await store.auditPage({ limit: 10, action: "user.enable" })).entries.map((e) => e.at)).toEqual([104, 103]);
    expect((await store.auditPage({ limit: 10, targetUserId: "u1" })).entries.map((e) => e.at)).toEqual([101]);
    expect((await store.auditPage({ limit: 10, roomId: "x", actor: "root" })).entries.map((e) => e.at)).toEqual([104]);
    expect((await store.auditPage({ limit: 10, roomId: "x", actor: "admin-key" })).entries).toEqual([]);
  });

  it(`answers at most MAX_AUDIT_PAGE (${MAX_AUDIT_PAGE}) entries a page, whatever limit it is asked for`, async () => {
    const store = await open();
    for (let i = 0; i <= MAX_AUDIT_PAGE; i++) {
      await store.appendAudit({ at: i, actor: "root", action: "user.disable", targetUserId: `u${i}` });
    }
    const page = await store.auditPage({ limit: 10_000 });
    expect(page.entries).toHaveLength(MAX_AUDIT_PAGE);
    expect(page.hasMore).toBe(true);
    expect(page.entries[0]!.at).toBe(MAX_AUDIT_PAGE);
  });

  describe("concurrent callers", () => {
    it("never lets a moderator's kick pass after the owner's demotion of that moderator committed", async () => {
      const store = await open();
      await addUsers(store, "alice", "bob", "carol");
      for (let round = 0; round < 8; round++) {
        const roomId = `k${round}`;
        await store.createRoom({ id: roomId, name: roomId, visibility: "public", createdBy: "alice", createAt: 2 });
        for (const id of ["bob", "carol"]) await store.addMember(roomId, id, 3);
        await store.setRole(roomId, "bob", "moderator", by("alice"));
        const [demoted, kicked] = await Promise.all([
          store.setRole(roomId, "bob", "member", by("alice")),
          store.kick(roomId, "carol", undefined, by("bob")),
        ]);
        expect(demoted.ok).toBe(true);
        const order = (await trail(store, roomId)).map((entry) => entry[0]);
        if (kicked.ok) {
          // The kick went first: its entry precedes the demotion's.
          expect(order).toEqual(["room.role.moderator", "room.kick", "room.role.member"]);
          expect(await store.isMember(roomId, "carol")).toBe(false);
        } else {
          expect(kicked.refusal).toBe("not-allowed");
          expect(order).toEqual(["room.role.moderator", "room.role.member"]);
          expect(await store.isMember(roomId, "carol")).toBe(true);
        }
      }
    });

    it("lets exactly one of two moderators' kicks of the same member pass, with one audit entry", async () => {
      const store = await open();
      await moderatedRoom(store);
      await store.setRole("r", "dave", "moderator", by("alice"));
      const outcomes = await Promise.all([
        store.kick("r", "carol", undefined, by("bob")),
        store.kick("r", "carol", undefined, by("dave")),
      ]);
      expect(outcomes.filter((o) => o.ok)).toHaveLength(1);
      expect(outcomes.find((o) => !o.ok)).toEqual({ ok: false, refusal: "no-target" });
      expect((await store.auditPage({ action: "room.kick", limit: 10 })).entries).toHaveLength(1);
      expect((await store.getRoom("r"))?.members).toBe(3);
    });

    it("never leaves a banned user seated or invited when the ban races its join and an invitation", async () => {
      const store = await open();
      await addUsers(store, "alice", "bob");
      for (let round = 0; round < 8; round++) {
        const roomId = `b${round}`;
        await store.createRoom({ id: roomId, name: roomId, visibility: "public", createdBy: "alice", createAt: 2 });
        await Promise.all([
          store.joinRoom(roomId, "bob", 10),
          store.ban(roomId, "bob", {}, by("alice", 10)),
          store.inviteUnlessBanned(roomId, "bob", "alice", 10),
        ]);
        expect(await store.isMember(roomId, "bob")).toBe(false);
        expect(await store.hasInvite(roomId, "bob")).toBe(false);
        expect((await store.getRoom(roomId))?.members).toBe(1);
      }
    });

    it("keeps no message of a room deleted while messages to it were being appended", async () => {
      const store = await open();
      await moderatedRoom(store);
      const appends = Array.from({ length: 10 }, (_, i) =>
        store.appendMessage(group(i % 2 === 0 ? "carol" : "dave", "r")).then(
          () => "stored",
          (error: unknown) => (error as { code?: string }).code,
        ),
      );
      const deleted = await store.deleteRoom("r", by("alice"));
      const outcomes = await Promise.all(appends);
      expect(deleted.ok).toBe(true);
      expect(outcomes.every((o) => o === "stored" || o === "FORBIDDEN")).toBe(true);
      expect(await store.conversationPage(roomConversation("r"), { limit: 100 })).toEqual({
        messages: [],
        hasMore: false,
      });
    });

    it("refuses a muted member's append racing the mute, or stores it before the mute; never after", async () => {
      const store = await open();
      await moderatedRoom(store);
      const [stored] = await Promise.all([
        store.appendMessage(group("carol", "r", { createAt: 1500 })).then(
          (result) => result.message.id,
          () => undefined,
        ),
        store.mute("r", "carol", { until: 9e12 }, by("bob", 1000)),
      ]);
      const later = store.appendMessage(group("carol", "r", { createAt: 1600 }));
      await expect(later).rejects.toMatchObject({ code: "FORBIDDEN" });
      const page = await store.conversationPage(roomConversation("r"), { limit: 10 });
      expect(page.messages.map((m) => m.id)).toEqual(stored === undefined ? [] : [stored]);
    });
  });
});
