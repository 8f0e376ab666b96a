import type {
  AuditEntry,
  AuditPage,
  Room,
  RoomBan,
  RoomBansPage,
  RoomRole,
  StoredMessage,
} from "../../shared/schemas.js";
import type { Refusal } from "../rooms/authorization.js";

/** A member's effective role, in SQL over `room_members rm` joined with its `rooms r` (both stores): the creator owns the room. */
export const ROLE_SQL = "CASE WHEN rm.user_id = r.created_by THEN 'owner' ELSE rm.role END";

/**
 * A page of a room's bans in force at `$at`, by user id after `$after` ('' for the first page), `$limit` rows:
 * both stores' SQL with the parameters named (each store numbers them its way).
 */
export const BANS_PAGE_SQL = `
  SELECT b.user_id, COALESCE(u.name, b.user_id) AS name, b.until, b.reason, b.banned_by, b.create_at
  FROM room_bans b LEFT JOIN users u ON u.id = b.user_id
  WHERE b.room_id = $room AND (b.until IS NULL OR b.until > $at) AND b.user_id > $after
  ORDER BY b.user_id LIMIT $limit`;

/** A row of BANS_PAGE_SQL. */
export interface BanRow {
  user_id: string;
  name: string;
  until: number | string | null;
  reason: string | null;
  banned_by: string;
  create_at: number | string;
}

/** Turns rows of BANS_PAGE_SQL (fetched with `limit + 1`) into a page. */
export function bansPage(rows: BanRow[], limit: number): RoomBansPage {
  const bans = rows.slice(0, limit).map((row): RoomBan => {
    const ban: RoomBan = { userId: row.user_id, name: row.name, by: row.banned_by, at: Number(row.create_at) };
    if (row.until !== null) ban.until = Number(row.until);
    if (row.reason !== null) ban.reason = row.reason;
    return ban;
  });
  return { bans, hasMore: rows.length > limit };
}

/** An audit entry before the store gives it an id. */
export type AuditDraft = Omit<AuditEntry, "id">;

/** A page of the audit log: entries with an id below `before`, newest first, filtered by what is given. */
export interface AuditQuery {
  before?: number | undefined;
  limit: number;
  actor?: string | undefined;
  action?: string | undefined;
  roomId?: string | undefined;
  targetUserId?: string | undefined;
}

/**
 * Who acts: a user id, and the users that are admins whatever the store says (`ADMIN_USERS`). The store reads
 * the actor's role and admin flag, and the target's, in the transaction that writes, and asks the
 * authorization module there.
 */
export interface ModerationActor {
  userId: string;
  /** `ADMIN_USERS`: admins by configuration (the users table's flag makes the others). */
  admins: ReadonlySet<string>;
  at: number;
}

/** A conditional moderation write's outcome: what it did, or why nothing changed. */
export type Moderated<T> = { ok: true; value: T } | { ok: false; refusal: Refusal };

/** The fields `room:update` may change (`topic: ""` removes the topic). */
export interface RoomChanges {
  name?: string | undefined;
  topic?: string | undefined;
  visibility?: "public" | "private" | undefined;
}

/** What a room's deletion took with it, for the events and the file lifecycle afterwards. */
export interface DeletedRoom {
  room: Room;
  /** Who was a member, each told `room:removed`. */
  members: string[];
  /** Files its messages referenced: each is released if nothing else holds it. */
  fileIds: string[];
}

/** What a moderator's delete of a message answers: the tombstone (with `deletedBy`), and its room. */
export interface ModeratedDelete {
  message: StoredMessage;
  changed: boolean;
  roomId: string;
}

/** A member's effective role and admin status, as the authorization module weighs them. */
export interface Standing {
  role: RoomRole | undefined;
  admin: boolean;
}

/**
 * Room roles, bans, mutes, room updates and deletions, moderators' message deletes, and the audit log. Every
 * write checks who may (rooms/authorization.ts) and writes its audit entry in the one transaction that
 * changes the room: a demotion and a kick by the demoted moderator cannot both pass.
 */
export interface ModerationRepository {
  /** A user's standing in a room: its effective role (undefined when not a member) and whether it is an admin. */
  standing(roomId: string, userId: string, admins: ReadonlySet<string>): Promise<Standing>;
  /** Makes a member a moderator or a member again. */
  setRole(roomId: string, target: string, role: "moderator" | "member", by: ModerationActor): Promise<Moderated<void>>;
  /** Removes a member (kick). */
  kick(roomId: string, target: string, reason: string | undefined, by: ModerationActor): Promise<Moderated<void>>;
  /**
   * Bans a user (member or not) until `until` (for good when undefined): removes it from the room and drops its
   * pending invitation. `wasMember` tells whether it was removed.
   */
  ban(
    roomId: string,
    target: string,
    ban: { until?: number | undefined; reason?: string | undefined },
    by: ModerationActor,
  ): Promise<Moderated<{ wasMember: boolean }>>;
  /** Lifts a ban in force; refused as `no-ban` when there is none. */
  unban(roomId: string, target: string, by: ModerationActor): Promise<Moderated<void>>;
  /** Mutes a member until `until`. */
  mute(
    roomId: string,
    target: string,
    mute: { until: number; reason?: string | undefined },
    by: ModerationActor,
  ): Promise<Moderated<void>>;
  /** Lifts a mute in force; refused as `no-mute` when there is none. */
  unmute(roomId: string, target: string, by: ModerationActor): Promise<Moderated<void>>;
  /** When a ban of the user from the room ends (null: for good), or undefined when none is in force at `at`. */
  activeBan(roomId: string, userId: string, at: number): Promise<number | null | undefined>;
  /** When a mute of the user in the room ends, or undefined when none is in force at `at`. */
  activeMute(roomId: string, userId: string, at: number): Promise<number | undefined>;
  /** Records a pending invitation unless the invitee is banned at `at` (then false, nothing written). */
  inviteUnlessBanned(roomId: string, userId: string, invitedBy: string, at: number): Promise<boolean>;
  /** Changes a room's name, topic or visibility; answers the room as it is now. */
  updateRoom(roomId: string, changes: RoomChanges, by: ModerationActor): Promise<Moderated<Room>>;
  /**
   * Deletes a room with its members, invitations, bans, mutes, read positions and messages (their revisions,
   * their search index entries); never the lobby.
   */
  deleteRoom(roomId: string, by: ModerationActor): Promise<Moderated<DeletedRoom>>;
  /**
   * Turns a room's message into a tombstone, by a moderator of its room (or an admin) who is not its author;
   * a tombstone is answered unchanged (`changed: false`, no audit entry).
   */
  moderateDeleteMessage(id: number, by: ModerationActor): Promise<Moderated<ModeratedDelete>>;
  /** A page of the audit log, newest first; `limit` is bounded by the caller (MAX_AUDIT_PAGE). */
  auditPage(query: AuditQuery): Promise<AuditPage>;
  /**
   * The bans of a room in force at `at`, by user id, after `after`; `limit` is bounded by the caller
   * (MAX_BANS_PAGE). Each with the user's name (its id when the user is unknown).
   */
  bansPage(roomId: string, at: number, after: string | undefined, limit: number): Promise<RoomBansPage>;
  /** Appends one audit entry on its own (admin actions that change nothing else in the store). */
  appendAudit(entry: AuditDraft): Promise<AuditEntry>;
}
