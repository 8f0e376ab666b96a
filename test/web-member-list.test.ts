import { describe, expect, it } from "vitest";
import type { RoomMember, RoomMemberChange } from "../shared/schemas.js";
import { applyMemberChange, type MemberList } from "../web/src/member-list.js";

const person = (userId: string, role: RoomMember["role"] = "member"): RoomMember => ({
  userId,
  name: userId,
  online: false,
  role,
});

const change = (userId: string, kind: RoomMemberChange["change"], role?: RoomMember["role"]): RoomMemberChange => ({
  roomId: "r",
  userId,
  name: userId.toUpperCase(),
  change: kind,
  ...(role ? { role } : {}),
});

const page = (ids: string[], hasMore = false): MemberList => ({
  list: ids.map((id) => person(id)),
  hasMore,
  loading: false,
});

describe("web member lists kept live by room:member", () => {
  it("adds a joiner in user id order and counts them once", () => {
    const members = page(["alice", "carol"]);
    expect(applyMemberChange(members, change("bob", "joined", "member"), true)).toBe(true);
    expect(members.list.map((m) => [m.userId, m.online])).toEqual([
      ["alice", false],
      ["bob", true],
      ["carol", false],
    ]);
    // The same join again (two events for one fact) changes nothing.
    expect(applyMemberChange(members, change("bob", "joined", "member"), true)).toBe(false);
    expect(members.list).toHaveLength(3);
  });

  it("leaves a joiner past a partial page to the next page, but still counts them", () => {
    const members = page(["alice", "bob"], true);
    expect(applyMemberChange(members, change("zed", "joined", "member"), false)).toBe(true);
    expect(members.list.map((m) => m.userId)).toEqual(["alice", "bob"]);
  });

  it("removes whoever left, was kicked or banned, and counts a departure only when the list cannot rule it out", () => {
    const members = page(["alice", "bob", "carol"]);
    expect(applyMemberChange(members, change("bob", "left"), false)).toBe(true);
    expect(applyMemberChange(members, change("carol", "banned"), false)).toBe(true);
    expect(members.list.map((m) => m.userId)).toEqual(["alice"]);
    // Not in a complete list: already gone.
    expect(applyMemberChange(members, change("dave", "kicked"), false)).toBe(false);
    // A partial or never-loaded list cannot tell.
    expect(applyMemberChange(page(["alice"], true), change("zed", "left"), false)).toBe(true);
    expect(applyMemberChange(page([]), change("zed", "left"), false)).toBe(true);
  });

  it("updates a member's role and name without counting", () => {
    const members = page(["alice", "bob"]);
    expect(applyMemberChange(members, change("bob", "role", "moderator"), true)).toBe(false);
    expect(members.list[1]).toEqual({ userId: "bob", name: "BOB", online: false, role: "moderator" });
    expect(applyMemberChange(members, change("nobody", "role", "moderator"), true)).toBe(false);
    expect(members.list).toHaveLength(2);
    // A mute and its end (section 11) neither add nor count anyone.
    expect(applyMemberChange(members, change("bob", "muted"), true)).toBe(false);
    expect(applyMemberChange(members, change("nobody", "muted"), true)).toBe(false);
    expect(applyMemberChange(members, change("nobody", "unmuted"), true)).toBe(false);
    expect(members.list.map((m) => [m.userId, m.role])).toEqual([
      ["alice", "member"],
      ["bob", "moderator"],
    ]);
  });

  it("asks for a reload when a page was loading as the change came", () => {
    const members = { ...page(["alice"]), loading: true };
    applyMemberChange(members, change("bob", "joined", "member"), false);
    expect(members.again).toBe(true);
  });
});
