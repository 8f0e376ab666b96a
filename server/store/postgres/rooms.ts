import type pg from "pg";
import { SYSTEM_USER_ID } from "../../../shared/ids.js";
import type { Room, RoomInvitation, RoomRole } from "../../../shared/schemas.js";
import { ROLE_SQL } from "../moderation.js";
import { toRoom, toSession, type RoomRow, type SessionRow } from "../rows.js";
import { LAST_VISIBLE_SQL } from "./messages.js";

/** User `$1`'s rooms (by when it joined, then id) with the newest rev it can see on every row (`sessionOf`). */
export const SESSION_SQL = `SELECT r.*, last.last AS session_last_id FROM (${LAST_VISIBLE_SQL}) last
  LEFT JOIN (room_members rm JOIN rooms r ON r.id = rm.room_id) ON rm.user_id = $1
  ORDER BY rm.joined_at, r.id`;
import type { JoinOutcome, MemberRow, OutboxEvent, RoomDraft, RoomRepository, SessionState } from "../types.js";
import type { PgDatabase } from "./db.js";
import { query, rollback, transaction } from "./db.js";
import { emitEvents } from "./outbox.js";

/** First key of the advisory locks that serialise one user's room creations (the owned-room cap): "room". */
const ROOM_CAP_LOCK = 0x726f6f6d;

/**
 * Adds a member in one statement and counts it in the room's member_count only when the row is new; answers
 * whether it was. A concurrent insert of the same member waits on the unique key, then does nothing.
 */
const ADD_MEMBER = `
  WITH added AS (
    INSERT INTO room_members (room_id, user_id, joined_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING room_id)
  UPDATE rooms SET member_count = member_count + 1 WHERE id IN (SELECT room_id FROM added) RETURNING id`;

/** Seats `$2` in room `$1` (see ADD_MEMBER) on an open transaction or the pool; true when it was new. */
export async function addMember(on: pg.Pool | pg.PoolClient, roomId: string, userId: string, at: number) {
  return (await query(on, ADD_MEMBER, [roomId, userId, at])).rowCount === 1;
}

/** The webhook event of a membership change. */
const memberEvent = (roomId: string, userId: string, change: "joined" | "left", at: number): OutboxEvent => ({
  type: "room.member",
  at,
  data: { roomId, userId, change },
});

/** Rooms, their members and pending invitations, on PostgreSQL. */
export class PgRooms implements RoomRepository {
  constructor(private readonly db: PgDatabase) {}

  async createRoom(room: RoomDraft, maxOwned = Infinity): Promise<Room | undefined> {
    const capped = room.createdBy !== SYSTEM_USER_ID && maxOwned !== Infinity;
    return transaction<Room | undefined>(this.db.pool, async (client) => {
      if (capped) {
        // The count and the insert it guards are one transaction, and one creator's transactions take turns
        // on this lock: parallel creations on any nodes cannot pass the cap.
        await query(client, "SELECT pg_advisory_xact_lock($1, hashtext($2))", [ROOM_CAP_LOCK, room.createdBy]);
        const owned = await query<{ n: number }>(client, "SELECT COUNT(*) AS n FROM rooms WHERE created_by = $1", [
          room.createdBy,
        ]);
        if (owned.rows[0]!.n >= maxOwned) return rollback(undefined);
      }
      const inserted = await query(
        client,
        `INSERT INTO rooms (id, name, visibility, created_by, create_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (id) DO NOTHING`,
        [room.id, room.name, room.visibility, room.createdBy, room.createAt],
      );
      // Rooms the server makes for itself (e.g. a task's log room) have no creator to seat.
      const seated =
        room.createdBy !== SYSTEM_USER_ID && (await addMember(client, room.id, room.createdBy, room.createAt));
      const row = await query<RoomRow>(client, "SELECT * FROM rooms WHERE id = $1", [room.id]);
      const stored = toRoom(row.rows[0]!);
      const events: OutboxEvent[] = [];
      if (inserted.rowCount === 1) events.push({ type: "room.created", at: room.createAt, data: { room: stored } });
      if (seated) events.push(memberEvent(room.id, room.createdBy, "joined", room.createAt));
      await emitEvents(client, events);
      return stored;
    });
  }

  async getRoom(id: string): Promise<Room | undefined> {
    const row = (await query<RoomRow>(this.db.pool, "SELECT * FROM rooms WHERE id = $1", [id])).rows[0];
    return row && toRoom(row);
  }

  async addMember(roomId: string, userId: string, at: number): Promise<boolean> {
    return transaction(this.db.pool, async (client) => {
      const added = await addMember(client, roomId, userId, at);
      if (added) await emitEvents(client, [memberEvent(roomId, userId, "joined", at)]);
      return added;
    });
  }

  async removeMember(roomId: string, userId: string): Promise<boolean> {
    // One statement: the row's delete and the count move together. A delete waits for group appends that
    // hold the row FOR SHARE (they commit first, as the sender was a member when they checked).
    return transaction(this.db.pool, async (client) => {
      const removed = await query<{ n: number }>(
        client,
        `WITH removed AS (DELETE FROM room_members WHERE room_id = $1 AND user_id = $2 RETURNING room_id),
         counted AS (UPDATE rooms SET member_count = member_count - 1 WHERE id IN (SELECT room_id FROM removed))
         SELECT COUNT(*) AS n FROM removed`,
        [roomId, userId],
      );
      if (removed.rows[0]!.n === 0) return false;
      // The contract's removeMember takes no time: the event's is the wall clock's.
      await emitEvents(client, [memberEvent(roomId, userId, "left", Date.now())]);
      return true;
    });
  }

  async isMember(roomId: string, userId: string): Promise<boolean> {
    const found = await query(this.db.pool, "SELECT 1 FROM room_members WHERE room_id = $1 AND user_id = $2", [
      roomId,
      userId,
    ]);
    return found.rowCount === 1;
  }

  async membership(roomId: string, userId: string): Promise<"member" | "outsider" | "no-room"> {
    const row = await query<{ room: boolean; member: boolean }>(
      this.db.pool,
      `SELECT EXISTS (SELECT 1 FROM rooms WHERE id = $1) AS room,
         EXISTS (SELECT 1 FROM room_members WHERE room_id = $1 AND user_id = $2) AS member`,
      [roomId, userId],
    );
    const { room, member } = row.rows[0]!;
    return member ? "member" : room ? "outsider" : "no-room";
  }

  async addInvite(roomId: string, userId: string, invitedBy: string, at: number): Promise<void> {
    // A new invitation to a room already pending refreshes it (who, when): the newest is what the invitee sees.
    await query(
      this.db.pool,
      `INSERT INTO room_invites (room_id, user_id, invited_by, create_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (room_id, user_id) DO UPDATE SET invited_by = excluded.invited_by, create_at = excluded.create_at`,
      [roomId, userId, invitedBy, at],
    );
  }

  async hasInvite(roomId: string, userId: string): Promise<boolean> {
    const found = await query(this.db.pool, "SELECT 1 FROM room_invites WHERE room_id = $1 AND user_id = $2", [
      roomId,
      userId,
    ]);
    return found.rowCount === 1;
  }

  async dropInvite(roomId: string, userId: string): Promise<boolean> {
    const dropped = await query(this.db.pool, "DELETE FROM room_invites WHERE room_id = $1 AND user_id = $2", [
      roomId,
      userId,
    ]);
    return dropped.rowCount === 1;
  }

  async pendingInvites(userId: string, limit: number): Promise<RoomInvitation[]> {
    const rows = await query<RoomRow & { invited_by: string; invited_at: number }>(
      this.db.pool,
      `SELECT r.*, i.invited_by, i.create_at AS invited_at FROM room_invites i JOIN rooms r ON r.id = i.room_id
       WHERE i.user_id = $1 ORDER BY i.create_at DESC, i.room_id LIMIT $2`,
      [userId, limit],
    );
    return rows.rows.map((row) => ({ room: toRoom(row), by: row.invited_by, at: row.invited_at }));
  }

  async joinRoom(roomId: string, userId: string, at: number): Promise<JoinOutcome> {
    // One transaction whose lock points come first, so its later statements see what a concurrent join,
    // decline or leave committed: the invitation's delete waits for another transaction using it, the member
    // insert for another inserting the same row. An outcome other than "joined" rolls back (the invitation
    // stays pending).
    return transaction<JoinOutcome>(this.db.pool, async (client) => {
      const room = await query<{ visibility: string }>(client, "SELECT visibility FROM rooms WHERE id = $1", [roomId]);
      if (room.rowCount === 0) return "no-room";
      const invited =
        (await query(client, "DELETE FROM room_invites WHERE room_id = $1 AND user_id = $2", [roomId, userId]))
          .rowCount === 1;
      if (!(await addMember(client, roomId, userId, at))) return rollback("already");
      // After the seat, whose member count update locked the room's row: a ban committed first is seen here,
      // and one still running (it locks that row first) waits for this join and then removes the member.
      const banned = await query(
        client,
        "SELECT 1 FROM room_bans WHERE room_id = $1 AND user_id = $2 AND (until IS NULL OR until > $3)",
        [roomId, userId, at],
      );
      if (banned.rowCount === 1) return rollback("banned");
      if (room.rows[0]!.visibility === "private" && !invited) return rollback("not-invited");
      await emitEvents(client, [memberEvent(roomId, userId, "joined", at)]);
      return "joined";
    });
  }

  async roomsOf(userId: string): Promise<Room[]> {
    const rows = await query<RoomRow>(
      this.db.pool,
      `SELECT r.* FROM room_members rm JOIN rooms r ON r.id = rm.room_id
       WHERE rm.user_id = $1 ORDER BY rm.joined_at, r.id`,
      [userId],
    );
    return rows.rows.map(toRoom);
  }

  /** One statement: one round trip where `roomsOf` and `lastVisibleId` took two. */
  async sessionOf(userId: string): Promise<SessionState> {
    return toSession((await query<SessionRow>(this.db.pool, SESSION_SQL, [userId])).rows);
  }

  async allRooms(limit = 1000): Promise<Room[]> {
    const rows = await query<RoomRow>(this.db.pool, "SELECT * FROM rooms ORDER BY create_at, id LIMIT $1", [limit]);
    return rows.rows.map(toRoom);
  }

  async roomsPage(after: string | undefined, limit: number): Promise<Room[]> {
    const rows = await query<RoomRow>(this.db.pool, "SELECT * FROM rooms WHERE id > $1 ORDER BY id LIMIT $2", [
      after ?? "",
      limit,
    ]);
    return rows.rows.map(toRoom);
  }

  async discoverableRooms(userId: string, at: number): Promise<Room[]> {
    const rows = await query<RoomRow>(
      this.db.pool,
      `SELECT r.* FROM rooms r WHERE r.visibility = 'public'
       AND NOT EXISTS (SELECT 1 FROM room_members rm WHERE rm.room_id = r.id AND rm.user_id = $1)
       AND NOT EXISTS (SELECT 1 FROM room_bans b WHERE b.room_id = r.id AND b.user_id = $1
         AND (b.until IS NULL OR b.until > $2))
       ORDER BY r.create_at, r.id LIMIT 500`,
      [userId, at],
    );
    return rows.rows.map(toRoom);
  }

  async members(roomId: string, after: string | undefined, limit: number): Promise<MemberRow[]> {
    const rows = await query<{
      user_id: string;
      name: string;
      avatar_file_id: string | null;
      role: RoomRole;
      muted_until: number | null;
    }>(
      this.db.pool,
      `SELECT rm.user_id, u.name, u.avatar_file_id, ${ROLE_SQL} AS role, mu.until AS muted_until
       FROM room_members rm JOIN users u ON u.id = rm.user_id JOIN rooms r ON r.id = rm.room_id
       LEFT JOIN room_mutes mu ON mu.room_id = rm.room_id AND mu.user_id = rm.user_id
       WHERE rm.room_id = $1 AND rm.user_id > $2 ORDER BY rm.user_id LIMIT $3`,
      [roomId, after ?? "", limit],
    );
    return rows.rows.map((row) => ({
      userId: row.user_id,
      name: row.name,
      avatarFileId: row.avatar_file_id,
      role: row.role,
      mutedUntil: row.muted_until,
    }));
  }

  async memberIds(roomId: string): Promise<string[]> {
    const rows = await query<{ user_id: string }>(
      this.db.pool,
      "SELECT user_id FROM room_members WHERE room_id = $1 ORDER BY user_id",
      [roomId],
    );
    return rows.rows.map((row) => row.user_id);
  }

  async joinedAt(roomId: string, userId: string): Promise<number | undefined> {
    const rows = await query<{ joined_at: number }>(
      this.db.pool,
      "SELECT joined_at FROM room_members WHERE room_id = $1 AND user_id = $2",
      [roomId, userId],
    );
    return rows.rows[0]?.joined_at;
  }
}
