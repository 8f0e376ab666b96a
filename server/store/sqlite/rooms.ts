import type Database from "better-sqlite3";
import { LOBBY_ROOM_ID, SYSTEM_USER_ID } from "../../../shared/ids.js";
import type { Room, RoomInvitation, RoomRole } from "../../../shared/schemas.js";
import { ROLE_SQL } from "../moderation.js";
import { BANNED_SQL } from "./moderation-sql.js";
import { toRoom, toSession, type RoomRow, type SessionRow } from "../rows.js";
import { LAST_VISIBLE_SQL } from "./messages.js";
import type { JoinOutcome, MemberRow, RoomDraft, RoomRepository, SessionState } from "../types.js";
import type { SqliteContext } from "./database.js";
import type { SqliteOutbox } from "./outbox.js";

/** Whether a user is in a room: one row or none (also checked again by the group commit). */
export const IS_MEMBER_SQL = "SELECT 1 AS one FROM room_members WHERE room_id = ? AND user_id = ?";

/** Seating in rooms, keeping `rooms.member_count` in step; run inside the caller's transaction. */
export interface Seating {
  /** Adds a member; false when already one. */
  seat(roomId: string, userId: string, at: number): boolean;
  /** Removes a member; false when not one. */
  unseat(roomId: string, userId: string): boolean;
}

/** Prepares the statements of Seating on `db` (rooms seat creators and joiners; users seat newcomers in the lobby). */
export function prepareSeating(db: Database.Database): Seating {
  const insertMember = db.prepare(
    "INSERT INTO room_members (room_id, user_id, joined_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
  );
  const deleteMember = db.prepare("DELETE FROM room_members WHERE room_id = ? AND user_id = ?");
  const bumpMembers = db.prepare("UPDATE rooms SET member_count = member_count + ? WHERE id = ?");
  return {
    seat(roomId, userId, at) {
      const added = insertMember.run(roomId, userId, at).changes > 0;
      if (added) bumpMembers.run(1, roomId);
      return added;
    },
    unseat(roomId, userId) {
      const removed = deleteMember.run(roomId, userId).changes > 0;
      if (removed) bumpMembers.run(-1, roomId);
      return removed;
    },
  };
}

/** Rooms, their members and pending invitations, in SQLite. */
export class SqliteRooms implements RoomRepository {
  private readonly db: Database.Database;
  private readonly seating: Seating;
  private readonly outbox: SqliteOutbox;
  private readonly statements;

  constructor(context: SqliteContext) {
    const db = (this.db = context.db);
    this.seating = prepareSeating(db);
    this.outbox = context.outbox;
    this.statements = {
      insertRoom: db.prepare(
        "INSERT INTO rooms (id, name, visibility, created_by, create_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
      ),
      getRoom: db.prepare<[string], RoomRow>("SELECT * FROM rooms WHERE id = ?"),
      roomsCreatedBy: db.prepare<[string], number>("SELECT COUNT(*) FROM rooms WHERE created_by = ?").pluck(),
      isMember: db.prepare<[string, string], { one: number }>(IS_MEMBER_SQL),
      membership: db
        .prepare<[string, string, string], [number, number]>(
          `SELECT EXISTS (SELECT 1 FROM rooms WHERE id = ?),
             EXISTS (SELECT 1 FROM room_members WHERE room_id = ? AND user_id = ?)`,
        )
        .raw(true),
      // A new invitation to a room already pending refreshes it (who, when): the newest is what the invitee sees.
      insertInvite: db.prepare(
        `INSERT INTO room_invites (room_id, user_id, invited_by, create_at) VALUES (?, ?, ?, ?)
         ON CONFLICT DO UPDATE SET invited_by = excluded.invited_by, create_at = excluded.create_at`,
      ),
      deleteInvite: db.prepare<[string, string]>("DELETE FROM room_invites WHERE room_id = ? AND user_id = ?"),
      pendingInvites: db.prepare<[string, number], RoomRow & { invited_by: string; invited_at: number }>(
        `SELECT r.*, i.invited_by, i.create_at AS invited_at FROM room_invites i JOIN rooms r ON r.id = i.room_id
         WHERE i.user_id = ? ORDER BY i.create_at DESC, i.room_id LIMIT ?`,
      ),
      hasInvite: db.prepare<[string, string], { one: number }>(
        "SELECT 1 AS one FROM room_invites WHERE room_id = ? AND user_id = ?",
      ),
      roomsOf: db.prepare<[string], RoomRow>(
        `SELECT r.* FROM room_members rm JOIN rooms r ON r.id = rm.room_id
         WHERE rm.user_id = ? ORDER BY rm.joined_at, r.id`,
      ),
      // One statement, so one read transaction (each costs this VM a lock, an unlock and an fstat).
      sessionOf: db.prepare<{ user: string }, SessionRow>(
        `SELECT r.*, COALESCE(last.last, 0) AS session_last_id FROM (${LAST_VISIBLE_SQL}) last
         LEFT JOIN (room_members rm JOIN rooms r ON r.id = rm.room_id) ON rm.user_id = @user
         ORDER BY rm.joined_at, r.id`,
      ),
      discoverable: db.prepare<{ user: string; at: number }, RoomRow>(
        `SELECT r.* FROM rooms r WHERE r.visibility = 'public'
         AND NOT EXISTS (SELECT 1 FROM room_members rm WHERE rm.room_id = r.id AND rm.user_id = @user)
         AND NOT EXISTS (SELECT 1 FROM room_bans b WHERE b.room_id = r.id AND b.user_id = @user
           AND (b.until IS NULL OR b.until > @at))
         ORDER BY r.create_at, r.id LIMIT 500`,
      ),
      allRooms: db.prepare<[number], RoomRow>("SELECT * FROM rooms ORDER BY create_at, id LIMIT ?"),
      roomsPage: db.prepare<[string, number], RoomRow>("SELECT * FROM rooms WHERE id > ? ORDER BY id LIMIT ?"),
      members: db.prepare<
        [string, string, number],
        { user_id: string; name: string; avatar_file_id: string | null; role: RoomRole; muted_until: number | null }
      >(
        `SELECT rm.user_id, u.name, u.avatar_file_id, ${ROLE_SQL} AS role, mu.until AS muted_until
         FROM room_members rm JOIN users u ON u.id = rm.user_id JOIN rooms r ON r.id = rm.room_id
         LEFT JOIN room_mutes mu ON mu.room_id = rm.room_id AND mu.user_id = rm.user_id
         WHERE rm.room_id = ? AND rm.user_id > ? ORDER BY rm.user_id LIMIT ?`,
      ),
      banned: db.prepare<[string, string, number], { one: number }>(BANNED_SQL),
      memberIds: db.prepare<[string], { user_id: string }>("SELECT user_id FROM room_members WHERE room_id = ?"),
      joinedAt: db.prepare<[string, string], { joined_at: number }>(
        "SELECT joined_at FROM room_members WHERE room_id = ? AND user_id = ?",
      ),
    };
  }

  /** Creates the lobby, created at `at`, if the database has none yet. */
  ensureLobby(at: number): void {
    this.statements.insertRoom.run(LOBBY_ROOM_ID, "Lobby", "public", SYSTEM_USER_ID, at);
  }

  async createRoom(room: RoomDraft, maxOwned = Infinity): Promise<Room | undefined> {
    const created = this.db.transaction(() => {
      // The count and the insert it guards are one transaction: parallel creations cannot pass the cap.
      if (room.createdBy !== SYSTEM_USER_ID && this.statements.roomsCreatedBy.get(room.createdBy)! >= maxOwned) {
        return false;
      }
      this.statements.insertRoom.run(room.id, room.name, room.visibility, room.createdBy, room.createAt);
      // Rooms the server makes for itself (e.g. a task's log room) have no creator to seat.
      const seated = room.createdBy !== SYSTEM_USER_ID && this.seating.seat(room.id, room.createdBy, room.createAt);
      const stored = toRoom(this.statements.getRoom.get(room.id)!);
      this.outbox.add({ type: "room.created", at: room.createAt, data: { room: stored } });
      if (seated) this.memberChanged(room.id, room.createdBy, "joined", room.createAt);
      return stored;
    })();
    return created === false ? undefined : created;
  }

  async getRoom(id: string): Promise<Room | undefined> {
    const row = this.statements.getRoom.get(id);
    return row && toRoom(row);
  }

  /** Writes the webhook event of a membership change (inside the transaction that made it). */
  private memberChanged(roomId: string, userId: string, change: "joined" | "left", at: number): void {
    this.outbox.add({ type: "room.member", at, data: { roomId, userId, change } });
  }

  async addMember(roomId: string, userId: string, at: number): Promise<boolean> {
    return this.db.transaction(() => {
      const added = this.seating.seat(roomId, userId, at);
      if (added) this.memberChanged(roomId, userId, "joined", at);
      return added;
    })();
  }

  async removeMember(roomId: string, userId: string): Promise<boolean> {
    return this.db.transaction(() => {
      const removed = this.seating.unseat(roomId, userId);
      // The contract's removeMember takes no time: the event's is the wall clock's.
      if (removed) this.memberChanged(roomId, userId, "left", Date.now());
      return removed;
    })();
  }

  async isMember(roomId: string, userId: string): Promise<boolean> {
    return this.statements.isMember.get(roomId, userId) !== undefined;
  }

  async membership(roomId: string, userId: string): Promise<"member" | "outsider" | "no-room"> {
    const [room, member] = this.statements.membership.get(roomId, roomId, userId)!;
    return member === 1 ? "member" : room === 1 ? "outsider" : "no-room";
  }

  async addInvite(roomId: string, userId: string, invitedBy: string, at: number): Promise<void> {
    this.statements.insertInvite.run(roomId, userId, invitedBy, at);
  }

  async hasInvite(roomId: string, userId: string): Promise<boolean> {
    return this.statements.hasInvite.get(roomId, userId) !== undefined;
  }

  async dropInvite(roomId: string, userId: string): Promise<boolean> {
    return this.statements.deleteInvite.run(roomId, userId).changes > 0;
  }

  async pendingInvites(userId: string, limit: number): Promise<RoomInvitation[]> {
    return this.statements.pendingInvites
      .all(userId, limit)
      .map((row) => ({ room: toRoom(row), by: row.invited_by, at: row.invited_at }));
  }

  async joinRoom(roomId: string, userId: string, at: number): Promise<JoinOutcome> {
    // The checks (room, visibility, invitation) and the write are one transaction: a decline or a leave
    // cannot slip in between. Joining uses the invitation up.
    return this.db.transaction((): JoinOutcome => {
      const room = this.statements.getRoom.get(roomId);
      if (!room) return "no-room";
      if (this.statements.isMember.get(roomId, userId) !== undefined) return "already";
      if (this.statements.banned.get(roomId, userId, at) !== undefined) return "banned";
      const invited = this.statements.deleteInvite.run(roomId, userId).changes > 0;
      if (room.visibility === "private" && !invited) return "not-invited";
      this.seating.seat(roomId, userId, at);
      this.memberChanged(roomId, userId, "joined", at);
      return "joined";
    })();
  }

  async roomsOf(userId: string): Promise<Room[]> {
    return this.statements.roomsOf.all(userId).map(toRoom);
  }

  async sessionOf(userId: string): Promise<SessionState> {
    return toSession(this.statements.sessionOf.all({ user: userId }));
  }

  async allRooms(limit = 1000): Promise<Room[]> {
    return this.statements.allRooms.all(limit).map(toRoom);
  }

  async roomsPage(after: string | undefined, limit: number): Promise<Room[]> {
    return this.statements.roomsPage.all(after ?? "", limit).map(toRoom);
  }

  async discoverableRooms(userId: string, at: number): Promise<Room[]> {
    return this.statements.discoverable.all({ user: userId, at }).map(toRoom);
  }

  async members(roomId: string, after: string | undefined, limit: number): Promise<MemberRow[]> {
    return this.statements.members.all(roomId, after ?? "", limit).map((row) => ({
      userId: row.user_id,
      name: row.name,
      avatarFileId: row.avatar_file_id,
      role: row.role,
      mutedUntil: row.muted_until,
    }));
  }

  async memberIds(roomId: string): Promise<string[]> {
    return this.statements.memberIds.all(roomId).map((row) => row.user_id);
  }

  async joinedAt(roomId: string, userId: string): Promise<number | undefined> {
    return this.statements.joinedAt.get(roomId, userId)?.joined_at;
  }
}
