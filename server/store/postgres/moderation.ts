import type pg from "pg";
import type { AuditEntry, AuditPage, Room, RoomBansPage } from "../../../shared/schemas.js";
import { roomConversation } from "../../messages/conversation.js";
import { authorize, effectiveRole, type Party, type Refusal, type RoomAction } from "../../rooms/authorization.js";
import {
  BANS_PAGE_SQL,
  bansPage,
  type BanRow,
  type AuditDraft,
  type AuditQuery,
  type DeletedRoom,
  type Moderated,
  type ModeratedDelete,
  type ModerationActor,
  type ModerationRepository,
  type RoomChanges,
  type Standing,
} from "../moderation.js";
import { moderatedMember } from "../outbox.js";
import { changedAt, messageColumns, toRoom, type MessageRow, type RoomRow } from "../rows.js";
import { appendAudit, auditPage } from "./audit.js";
import { query, queryArrays, rollback, transaction, type PgDatabase } from "./db.js";
import { emitEvents } from "./outbox.js";
import { takeRevs } from "./revs.js";

/** A ban in force: `$1` room, `$2` user, `$3` time. */
const BANNED_SQL = "SELECT until FROM room_bans WHERE room_id = $1 AND user_id = $2 AND (until IS NULL OR until > $3)";
/** A mute in force: `$1` room, `$2` user, `$3` time. */
const MUTED_SQL = "SELECT until FROM room_mutes WHERE room_id = $1 AND user_id = $2 AND until > $3";
const BANS_SQL = BANS_PAGE_SQL.replace("$room", "$1")
  .replace("$at", "$2")
  .replace("$after", "$3")
  .replace("$limit", "$4");

/** A refusal as a moderation outcome. */
const refused = <T>(refusal: Refusal): Moderated<T> => ({ ok: false, refusal });

/**
 * Roles, bans, mutes, room updates and deletions, moderators' deletes and the audit log, on PostgreSQL. Each
 * action is one transaction that first locks the room's row (FOR NO KEY UPDATE; a deletion FOR UPDATE): the
 * actions of one room take turns with each other and with joins (whose member count update locks that row),
 * so the roles read after the lock are the ones the write relies on.
 */
export class PgModeration implements ModerationRepository {
  constructor(private readonly db: PgDatabase) {}

  private async party(
    client: pg.PoolClient,
    room: RoomRow,
    userId: string,
    admins: ReadonlySet<string>,
  ): Promise<Party> {
    const row = await query<{ role: string | null; admin: boolean | null }>(
      client,
      `SELECT (SELECT role FROM room_members WHERE room_id = $1 AND user_id = $2) AS role,
         (SELECT admin FROM users WHERE id = $2) AS admin`,
      [room.id, userId],
    );
    const { role, admin } = row.rows[0]!;
    return { userId, role: effectiveRole(room.created_by, userId, role), admin: admin === true || admins.has(userId) };
  }

  /**
   * One moderation action as one transaction: locks the room, reads the standings, asks the authorization
   * module, then `write` writes the change and its audit entry. A refusal rolls back.
   */
  private act<T>(
    action: RoomAction,
    roomId: string,
    by: ModerationActor,
    target: { userId: string; member: boolean } | undefined,
    write: (client: pg.PoolClient, room: RoomRow, target: Party | undefined) => Promise<Moderated<T>>,
    before?: (client: pg.PoolClient) => Promise<void>,
  ): Promise<Moderated<T>> {
    return transaction<Moderated<T>>(this.db.pool, async (client) => {
      await before?.(client);
      const lock = action === "delete" ? "FOR UPDATE" : "FOR NO KEY UPDATE";
      const found = await query<RoomRow>(client, `SELECT * FROM rooms WHERE id = $1 ${lock}`, [roomId]);
      const room = found.rows[0];
      if (!room) return rollback(refused<T>("no-room"));
      const actor = await this.party(client, room, by.userId, by.admins);
      const early = authorize(action, roomId, actor);
      if (early) return rollback(refused<T>(early));
      const subject = target && (await this.party(client, room, target.userId, by.admins));
      if (target?.member && subject?.role === undefined) return rollback(refused<T>("no-target"));
      const refusal = authorize(action, roomId, actor, subject);
      if (refusal) return rollback(refused<T>(refusal));
      const outcome = await write(client, room, subject);
      return outcome.ok ? outcome : rollback(outcome);
    });
  }

  async standing(roomId: string, userId: string, admins: ReadonlySet<string>): Promise<Standing> {
    const row = await query<{ created_by: string | null; role: string | null; admin: boolean | null }>(
      this.db.pool,
      `SELECT (SELECT created_by FROM rooms WHERE id = $1) AS created_by,
         (SELECT role FROM room_members WHERE room_id = $1 AND user_id = $2) AS role,
         (SELECT admin FROM users WHERE id = $2) AS admin`,
      [roomId, userId],
    );
    const { created_by: createdBy, role, admin } = row.rows[0]!;
    return {
      role: createdBy === null ? undefined : effectiveRole(createdBy, userId, role),
      admin: admin === true || admins.has(userId),
    };
  }

  setRole(roomId: string, target: string, role: "moderator" | "member", by: ModerationActor): Promise<Moderated<void>> {
    return this.act("role", roomId, by, { userId: target, member: true }, async (client) => {
      await query(client, "UPDATE room_members SET role = $1 WHERE room_id = $2 AND user_id = $3", [
        role,
        roomId,
        target,
      ]);
      await appendAudit(client, {
        at: by.at,
        actor: by.userId,
        action: `room.role.${role}`,
        roomId,
        targetUserId: target,
      });
      await emitEvents(client, [moderatedMember(roomId, target, { change: "role", role }, by)]);
      return { ok: true, value: undefined };
    });
  }

  kick(roomId: string, target: string, reason: string | undefined, by: ModerationActor): Promise<Moderated<void>> {
    return this.act("kick", roomId, by, { userId: target, member: true }, async (client) => {
      await unseat(client, roomId, target);
      await appendAudit(client, {
        at: by.at,
        actor: by.userId,
        action: "room.kick",
        roomId,
        targetUserId: target,
        reason,
      });
      await emitEvents(client, [moderatedMember(roomId, target, { change: "kicked" }, by)]);
      return { ok: true, value: undefined };
    });
  }

  ban(
    roomId: string,
    target: string,
    ban: { until?: number | undefined; reason?: string | undefined },
    by: ModerationActor,
  ): Promise<Moderated<{ wasMember: boolean }>> {
    return this.act(
      "ban",
      roomId,
      by,
      { userId: target, member: false },
      async (client) => {
        await query(
          client,
          `INSERT INTO room_bans (room_id, user_id, until, reason, banned_by, create_at) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (room_id, user_id) DO UPDATE SET until = excluded.until, reason = excluded.reason,
           banned_by = excluded.banned_by, create_at = excluded.create_at`,
          [roomId, target, ban.until ?? null, ban.reason ?? null, by.userId, by.at],
        );
        const wasMember = await unseat(client, roomId, target);
        await appendAudit(client, {
          at: by.at,
          actor: by.userId,
          action: "room.ban",
          roomId,
          targetUserId: target,
          reason: ban.reason,
          until: ban.until,
        });
        // As `room:member`: a ban of a user who was not a member changes no membership.
        if (wasMember) await emitEvents(client, [moderatedMember(roomId, target, { change: "banned" }, by)]);
        return { ok: true, value: { wasMember } };
      },
      async (client) => {
        // Before the room's row is locked, in the order a join takes them (the invitation, then the room): a ban
        // and a join using an invitation cannot deadlock. Invitations of this user take turns on the lock.
        await lockInvitation(client, roomId, target);
        await query(client, "DELETE FROM room_invites WHERE room_id = $1 AND user_id = $2", [roomId, target]);
      },
    );
  }

  unban(roomId: string, target: string, by: ModerationActor): Promise<Moderated<void>> {
    return this.act("unban", roomId, by, { userId: target, member: false }, async (client) => {
      const active = await query(client, BANNED_SQL, [roomId, target, by.at]);
      if (active.rowCount === 0) return { ok: false, refusal: "no-ban" };
      await query(client, "DELETE FROM room_bans WHERE room_id = $1 AND user_id = $2", [roomId, target]);
      await appendAudit(client, { at: by.at, actor: by.userId, action: "room.unban", roomId, targetUserId: target });
      return { ok: true, value: undefined };
    });
  }

  mute(
    roomId: string,
    target: string,
    mute: { until: number; reason?: string | undefined },
    by: ModerationActor,
  ): Promise<Moderated<void>> {
    return this.act("mute", roomId, by, { userId: target, member: true }, async (client) => {
      // The member's row is locked first: a group commit holding it FOR SHARE commits before the mute, and
      // one that comes later reads the mute after taking it (see checkDrafts in messages.ts).
      await query(client, "SELECT 1 FROM room_members WHERE room_id = $1 AND user_id = $2 FOR NO KEY UPDATE", [
        roomId,
        target,
      ]);
      await query(
        client,
        `INSERT INTO room_mutes (room_id, user_id, until, muted_by, create_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (room_id, user_id) DO UPDATE SET until = excluded.until, muted_by = excluded.muted_by,
           create_at = excluded.create_at`,
        [roomId, target, mute.until, by.userId, by.at],
      );
      await appendAudit(client, {
        at: by.at,
        actor: by.userId,
        action: "room.mute",
        roomId,
        targetUserId: target,
        reason: mute.reason,
        until: mute.until,
      });
      await emitEvents(client, [moderatedMember(roomId, target, { change: "muted", until: mute.until }, by)]);
      return { ok: true, value: undefined };
    });
  }

  unmute(roomId: string, target: string, by: ModerationActor): Promise<Moderated<void>> {
    return this.act("unmute", roomId, by, { userId: target, member: false }, async (client) => {
      const active = await query(client, MUTED_SQL, [roomId, target, by.at]);
      if (active.rowCount === 0) return { ok: false, refusal: "no-mute" };
      await query(client, "DELETE FROM room_mutes WHERE room_id = $1 AND user_id = $2", [roomId, target]);
      await appendAudit(client, { at: by.at, actor: by.userId, action: "room.unmute", roomId, targetUserId: target });
      await emitEvents(client, [moderatedMember(roomId, target, { change: "unmuted" }, by)]);
      return { ok: true, value: undefined };
    });
  }

  async activeBan(roomId: string, userId: string, at: number): Promise<number | null | undefined> {
    const rows = await query<{ until: number | null }>(this.db.pool, BANNED_SQL, [roomId, userId, at]);
    return rows.rows[0]?.until;
  }

  async activeMute(roomId: string, userId: string, at: number): Promise<number | undefined> {
    const rows = await query<{ until: number }>(this.db.pool, MUTED_SQL, [roomId, userId, at]);
    return rows.rows[0]?.until;
  }

  inviteUnlessBanned(roomId: string, userId: string, invitedBy: string, at: number): Promise<boolean> {
    return transaction(this.db.pool, async (client) => {
      // Takes turns with a ban of the same user in the same room (which takes this lock first).
      await lockInvitation(client, roomId, userId);
      if ((await query(client, BANNED_SQL, [roomId, userId, at])).rowCount === 1) return false;
      await query(
        client,
        `INSERT INTO room_invites (room_id, user_id, invited_by, create_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (room_id, user_id) DO UPDATE SET invited_by = excluded.invited_by, create_at = excluded.create_at`,
        [roomId, userId, invitedBy, at],
      );
      return true;
    });
  }

  updateRoom(roomId: string, changes: RoomChanges, by: ModerationActor): Promise<Moderated<Room>> {
    return this.act("update", roomId, by, undefined, async (client) => {
      const updated = await query<RoomRow>(
        client,
        `UPDATE rooms SET name = COALESCE($1, name), topic = CASE WHEN $2 THEN NULLIF($3, '') ELSE topic END,
           visibility = COALESCE($4, visibility) WHERE id = $5 RETURNING *`,
        [changes.name ?? null, changes.topic !== undefined, changes.topic ?? null, changes.visibility ?? null, roomId],
      );
      await appendAudit(client, { at: by.at, actor: by.userId, action: "room.update", roomId });
      return { ok: true, value: toRoom(updated.rows[0]!) };
    });
  }

  deleteRoom(roomId: string, by: ModerationActor): Promise<Moderated<DeletedRoom>> {
    return this.act(
      "delete",
      roomId,
      by,
      undefined,
      async (client, row) => {
        const conversation = roomConversation(roomId);
        // Members first: the delete waits for group commits holding their rows FOR SHARE, whose messages the
        // statements below then see and delete too; later ones find no member and are refused.
        const members = await query<{ user_id: string }>(
          client,
          "DELETE FROM room_members WHERE room_id = $1 RETURNING user_id",
          [roomId],
        );
        const files = await query<{ file_id: string }>(
          client,
          "SELECT DISTINCT file_id FROM messages WHERE conversation = $1 AND file_id IS NOT NULL",
          [conversation],
        );
        await query(
          client,
          "DELETE FROM message_revisions WHERE message_id IN (SELECT id FROM messages WHERE conversation = $1)",
          [conversation],
        );
        await query(client, "DELETE FROM messages WHERE conversation = $1", [conversation]);
        await query(client, "DELETE FROM read_positions WHERE conversation = $1", [conversation]);
        // Invitations again: one made between the first delete and the lock would hold the room's row.
        for (const table of ["room_invites", "room_bans", "room_mutes"]) {
          await query(client, `DELETE FROM ${table} WHERE room_id = $1`, [roomId]);
        }
        await query(client, "DELETE FROM rooms WHERE id = $1", [roomId]);
        await appendAudit(client, { at: by.at, actor: by.userId, action: "room.delete", roomId });
        // The room as it was: `row` was read (and locked) before the deletes, its member count included.
        await emitEvents(client, [{ type: "room.deleted", at: by.at, data: { room: toRoom(row) } }]);
        return {
          ok: true,
          value: {
            room: toRoom({ ...row, member_count: 0 }),
            members: members.rows.map((member) => member.user_id),
            fileIds: files.rows.map((file) => file.file_id),
          },
        };
      },
      async (client) => {
        // Invitations first, as a join takes them before the room's row (see ban).
        await query(client, "DELETE FROM room_invites WHERE room_id = $1", [roomId]);
      },
    );
  }

  async moderateDeleteMessage(id: number, by: ModerationActor): Promise<Moderated<ModeratedDelete>> {
    const found = await query<{ conversation: string; sender: string }>(
      this.db.pool,
      "SELECT conversation, sender FROM messages WHERE id = $1",
      [id],
    );
    const named = found.rows[0];
    if (!named?.conversation.startsWith("r:")) return { ok: false, refusal: "no-room" };
    const roomId = named.conversation.slice(2);
    return this.act(
      "delete-message",
      roomId,
      by,
      { userId: named.sender, member: false },
      async (client): Promise<Moderated<ModeratedDelete>> => {
        const [current] = await queryArrays<MessageRow>(
          client,
          `SELECT ${messageColumns()} FROM messages WHERE id = $1 FOR UPDATE`,
          [id],
        );
        if (!current) return { ok: false, refusal: "no-room" };
        // A tombstone is answered as it is (with who deleted it, if not its author).
        if (current[12] !== null)
          return { ok: true, value: { message: this.db.toMessage(current), changed: false, roomId } };
        await query(client, "DELETE FROM message_revisions WHERE message_id = $1", [id]);
        const at = changedAt(by.at, current);
        const rev = await takeRevs(client, 1);
        const [tombstone] = await queryArrays<MessageRow>(
          client,
          `UPDATE messages SET content = NULL, file_id = NULL, search = NULL, deleted_at = $1, update_at = $1, rev = $2,
           deleted_by = $4 WHERE id = $3 RETURNING ${messageColumns()}`,
          [at, rev, id, current[3] === by.userId ? null : by.userId],
        );
        await appendAudit(client, {
          at: by.at,
          actor: by.userId,
          action: "message.delete",
          roomId,
          targetUserId: current[3],
          messageId: id,
        });
        // The tombstone as stored (with `deletedBy`): the room's sockets, history and `sync` show the same.
        const message = this.db.toMessage(tombstone!);
        await emitEvents(client, [{ type: "message.deleted", at, data: { message } }]);
        return { ok: true, value: { message, changed: true, roomId } };
      },
    );
  }

  auditPage(page: AuditQuery): Promise<AuditPage> {
    return auditPage(this.db.pool, page);
  }

  async bansPage(roomId: string, at: number, after: string | undefined, limit: number): Promise<RoomBansPage> {
    const rows = await query<BanRow>(this.db.pool, BANS_SQL, [roomId, at, after ?? "", limit + 1]);
    return bansPage(rows.rows, limit);
  }

  appendAudit(entry: AuditDraft): Promise<AuditEntry> {
    return appendAudit(this.db.pool, entry);
  }
}

/** Removes a member and counts it out of the room, in the caller's transaction; true when it was one. */
async function unseat(client: pg.PoolClient, roomId: string, userId: string): Promise<boolean> {
  const removed = await query<{ n: number }>(
    client,
    `WITH removed AS (DELETE FROM room_members WHERE room_id = $1 AND user_id = $2 RETURNING room_id),
     counted AS (UPDATE rooms SET member_count = member_count - 1 WHERE id IN (SELECT room_id FROM removed))
     SELECT COUNT(*) AS n FROM removed`,
    [roomId, userId],
  );
  return removed.rows[0]!.n > 0;
}

/** First key of the advisory locks that serialise a user's invitations to a room with its bans: "invt". */
const INVITATION_LOCK = 0x696e7674;

/** Takes the (room, user) invitation lock until the transaction ends. */
async function lockInvitation(client: pg.PoolClient, roomId: string, userId: string): Promise<void> {
  await query(client, "SELECT pg_advisory_xact_lock($1, hashtext($2))", [INVITATION_LOCK, `${roomId}\n${userId}`]);
}
