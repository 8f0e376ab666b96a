import type { RoomMember, RoomMemberChange } from "../../shared/schemas.js";

/** The members a conversation has loaded: `room:members` pages, kept live by `room:member` changes. */
export interface MemberList {
  list: RoomMember[];
  hasMore: boolean;
  loading: boolean;
  /** Asked to load while a load was under way, whose answer may predate the change. */
  again?: boolean;
}

/** Whether a change takes its subject out of the room. */
export const removes = (change: RoomMemberChange): boolean =>
  change.change === "left" || change.change === "kicked" || change.change === "banned";

/**
 * Applies a `room:member` change to the loaded members; answers whether the room's member count changes
 * (a join of someone not listed yet, a departure of someone listed or of someone the list cannot tell about).
 * Pages come in user id order and the next one starts after the last id held, so a joiner past the loaded
 * page is left for "Show more".
 */
export function applyMemberChange(members: MemberList, change: RoomMemberChange, online: boolean): boolean {
  const index = members.list.findIndex((member) => member.userId === change.userId);
  // A page under way may predate the change: load again once it is in.
  if (members.loading) members.again = true;
  if (removes(change)) {
    // A loaded list always holds me: an empty one was never loaded and cannot tell.
    const complete = members.list.length > 0 && !members.hasMore;
    if (index >= 0) members.list.splice(index, 1);
    return index >= 0 || !complete;
  }
  const role = change.role ?? members.list[index]?.role ?? "member";
  if (index >= 0) {
    const row = { ...members.list[index]!, name: change.name, role };
    if (change.change === "muted" && change.until !== undefined) row.mutedUntil = change.until;
    if (change.change === "unmuted") delete row.mutedUntil;
    members.list[index] = row;
    return false;
  }
  // A role change or a mute says nothing of membership: one of someone not listed adds no one.
  if (change.change === "role" || change.change === "muted" || change.change === "unmuted") return false;
  const last = members.list.at(-1)?.userId;
  if (!members.hasMore || (last !== undefined && change.userId < last)) {
    members.list.push({ userId: change.userId, name: change.name, online, role });
    members.list.sort((a, b) => (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0));
  }
  return true;
}
