import type Database from "better-sqlite3";
import type { AuditEntry, AuditPage, Room, RoomBansPage } from "../../../shared/schemas.js";
import { roomConversation } from "../../messages/conversation.js";
import { authorize, effectiveRole, type Party, type RoomAction } from "../../rooms/authorization.js";
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
import { BANNED_SQL } from "./moderation-sql.js";
import type { SqliteContext } from "./database.js";
import { messageRows } from "./message-rows.js";
import { prepareSeating, type Seating } from "./rooms.js";

type Outcome<T> = Moderated<T>;

/** Roles, bans, mutes, room updates and deletions, moderators' deletes and the audit log, in SQLite. */
export class SqliteModeration implements ModerationRepository {
  private readonly db: Database.Database;
  private readonly seating: Seating;
  private readonly statements;

  constructor(private readonly context: SqliteContext) {
    const db = (this.db = context.db);
    this.seating = prepareSeating(db);
    this.statements = {
      room: db.prepare<[string], RoomRow>("SELECT * FROM rooms WHERE id = ?"),
      standing: db.prepare<[string, string, string], { role: string | null; admin: number | null }>(
        `SELECT (SELECT role FROM room_members WHERE room_id = ? AND user_id = ?) AS role,
           (SELECT admin FROM users WHERE id = ?) AS admin`,
      ),
      setRole: db.prepare<[string, string, string]>(
        "UPDATE room_members SET role = ? WHERE room_id = ? AND user_id = ?",
      ),
      ban: db.prepare<[string, string, number | null, string | null, string, number]>(
        `INSERT INTO room_bans (room_id, user_id, until, reason, banned_by, create_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT DO UPDATE SET until = excluded.until, reason = excluded.reason, banned_by = excluded.banned_by,
           create_at = excluded.create_at`,
      ),
      banned: db.prepare<[string, string, number], { one: number }>(BANNED_SQL),
      banUntil: db.prepare<[string, string, number], { until: number | null }>(
        "SELECT until FROM room_bans WHERE room_id = ? AND user_id = ? AND (until IS NULL OR until > ?)",
      ),
      unban: db.prepare<[string, string]>("DELETE FROM room_bans WHERE room_id = ? AND user_id = ?"),
      bansPage: db.prepare<{ room: string; at: number; after: string; limit: number }, BanRow>(
        BANS_PAGE_SQL.replace(/\$(room|at|after|limit)/g, "@$1"),
      ),
      mute: db.prepare<[string, string, number, string, number]>(
        `INSERT INTO room_mutes (room_id, user_id, until, muted_by, create_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT DO UPDATE SET until = excluded.until, muted_by = excluded.muted_by, create_at = excluded.create_at`,
      ),
      muteUntil: db.prepare<[string, string, number], { until: number }>(
        "SELECT until FROM room_mutes WHERE room_id = ? AND user_id = ? AND until > ?",
      ),
      unmute: db.prepare<[string, string]>("DELETE FROM room_mutes WHERE room_id = ? AND user_id = ?"),
      dropInvite: db.prepare<[string, string]>("DELETE FROM room_invites WHERE room_id = ? AND user_id = ?"),
      insertInvite: db.prepare<[string, string, string, number]>(
        `INSERT INTO room_invites (room_id, user_id, invited_by, create_at) VALUES (?, ?, ?, ?)
         ON CONFLICT DO UPDATE SET invited_by = excluded.invited_by, create_at = excluded.create_at`,
      ),
      updateRoom: db.prepare<[string | null, number, string | null, string | null, string]>(
        `UPDATE rooms SET name = COALESCE(?, name), topic = CASE WHEN ? = 1 THEN NULLIF(?, '') ELSE topic END,
           visibility = COALESCE(?, visibility) WHERE id = ?`,
      ),
      memberIds: db.prepare<[string], string>("SELECT user_id FROM room_members WHERE room_id = ?").pluck(),
      fileIds: db
        .prepare<[string], string>(
          "SELECT DISTINCT file_id FROM messages WHERE conversation = ? AND file_id IS NOT NULL",
        )
        .pluck(),
      // The rows already in the full-text index are taken out of it first, with the values they were indexed
      // with (deleting an indexed row of an external-content index without telling it would corrupt it).
      // Told directly rather than by emptying each row's text for the update trigger: that rewrote every row
      // and its covering index entry, twice the cost (measured: 0.6 s against 0.18 s for 100,000 messages).
      unindex: db.prepare<[string]>(
        `INSERT INTO messages_fts (messages_fts, rowid, content, scope)
         SELECT 'delete', id, content, 'k' || hex(conversation) FROM messages
         WHERE conversation = ? AND content IS NOT NULL AND id <= (SELECT indexed_upto FROM search_index WHERE id = 1)`,
      ),
      dropRevisions: db.prepare<[string]>(
        "DELETE FROM message_revisions WHERE message_id IN (SELECT id FROM messages WHERE conversation = ?)",
      ),
      dropMessages: db.prepare<[string]>("DELETE FROM messages WHERE conversation = ?"),
      dropReadPositions: db.prepare<[string]>("DELETE FROM read_positions WHERE conversation = ?"),
      dropRoomRows: ["room_invites", "room_members", "room_bans", "room_mutes"].map((table) =>
        db.prepare<[string]>(`DELETE FROM ${table} WHERE room_id = ?`),
      ),
      dropRoom: db.prepare<[string]>("DELETE FROM rooms WHERE id = ?"),
      message: messageRows<[number]>(db, `SELECT ${messageColumns()} FROM messages WHERE id = ?`),
      dropMessageRevisions: db.prepare<[number]>("DELETE FROM message_revisions WHERE message_id = ?"),
      tombstone: messageRows<[number, number, number, string | null, number]>(
        db,
        `UPDATE messages SET content = NULL, file_id = NULL, deleted_at = ?, update_at = ?, rev = ?, deleted_by = ?
         WHERE id = ? RETURNING ${messageColumns()}`,
      ),
    };
  }

  /** The party a user is in a room created by `createdBy`. */
  private party(room: RoomRow, userId: string, admins: ReadonlySet<string>): Party {
    const row = this.statements.standing.get(room.id, userId, userId)!;
    return {
      userId,
      role: effectiveRole(room.created_by, userId, row.role),
      admin: row.admin === 1 || admins.has(userId),
    };
  }

  /**
   * Runs one moderation action as one transaction: reads the room and the actor's (and target's) standing,
   * asks the authorization module, and only then calls `write`, which writes the change and its audit entry.
   */
  private act<T>(
    action: RoomAction,
    roomId: string,
    by: ModerationActor,
    target: { userId: string; member: boolean } | undefined,
    write: (room: RoomRow, target: Party | undefined) => Outcome<T>,
  ): Promise<Outcome<T>> {
    // async: an SQLite error rejects the promise like PostgreSQL's would, rather than throwing at the call.
    return (async () =>
      this.db.transaction((): Outcome<T> => {
        const room = this.statements.room.get(roomId);
        if (!room) return { ok: false, refusal: "no-room" };
        const actor = this.party(room, by.userId, by.admins);
        const early = authorize(action, roomId, actor);
        if (early) return { ok: false, refusal: early };
        const subject = target && this.party(room, target.userId, by.admins);
        if (target?.member && subject?.role === undefined) return { ok: false, refusal: "no-target" };
        const refusal = authorize(action, roomId, actor, subject);
        if (refusal) return { ok: false, refusal };
        return write(room, subject);
      })())();
  }

  private audit(entry: AuditDraft): AuditEntry {
    return appendAudit(this.db, entry);
  }

  async standing(roomId: string, userId: string, admins: ReadonlySet<string>): Promise<Standing> {
    const room = this.statements.room.get(roomId);
    const row = this.statements.standing.get(roomId, userId, userId)!;
    const admin = row.admin === 1 || admins.has(userId);
    return { role: room ? effectiveRole(room.created_by, userId, row.role) : undefined, admin };
  }

  setRole(roomId: string, target: string, role: "moderator" | "member", by: ModerationActor): Promise<Outcome<void>> {
    return this.act("role", roomId, by, { userId: target, member: true }, () => {
      this.statements.setRole.run(role, roomId, target);
      this.audit({ at: by.at, actor: by.userId, action: `room.role.${role}`, roomId, targetUserId: target });
      this.context.outbox.add(moderatedMember(roomId, target, { change: "role", role }, by));
      return { ok: true, value: undefined };
    });
  }

  kick(roomId: string, target: string, reason: string | undefined, by: ModerationActor): Promise<Outcome<void>> {
    return this.act("kick", roomId, by, { userId: target, member: true }, () => {
      this.seating.unseat(roomId, target);
      this.audit({ at: by.at, actor: by.userId, action: "room.kick", roomId, targetUserId: target, reason });
      this.context.outbox.add(moderatedMember(roomId, target, { change: "kicked" }, by));
      return { ok: true, value: undefined };
    });
  }

  ban(
    roomId: string,
    target: string,
    ban: { until?: number | undefined; reason?: string | undefined },
    by: ModerationActor,
  ): Promise<Outcome<{ wasMember: boolean }>> {
    return this.act("ban", roomId, by, { userId: target, member: false }, () => {
      this.statements.ban.run(roomId, target, ban.until ?? null, ban.reason ?? null, by.userId, by.at);
      const wasMember = this.seating.unseat(roomId, target);
      this.statements.dropInvite.run(roomId, target);
      this.audit({
        at: by.at,
        actor: by.userId,
        action: "room.ban",
        roomId,
        targetUserId: target,
        reason: ban.reason,
        until: ban.until,
      });
      // As `room:member`: a ban of a user who was not a member changes no membership.
      if (wasMember) this.context.outbox.add(moderatedMember(roomId, target, { change: "banned" }, by));
      return { ok: true, value: { wasMember } };
    });
  }

  unban(roomId: string, target: string, by: ModerationActor): Promise<Outcome<void>> {
    return this.act("unban", roomId, by, { userId: target, member: false }, () => {
      if (this.statements.banned.get(roomId, target, by.at) === undefined) return { ok: false, refusal: "no-ban" };
      this.statements.unban.run(roomId, target);
      this.audit({ at: by.at, actor: by.userId, action: "room.unban", roomId, targetUserId: target });
      return { ok: true, value: undefined };
    });
  }

  mute(
    roomId: string,
    target: string,
    mute: { until: number; reason?: string | undefined },
    by: ModerationActor,
  ): Promise<Outcome<void>> {
    return this.act("mute", roomId, by, { userId: target, member: true }, () => {
      this.statements.mute.run(roomId, target, mute.until, by.userId, by.at);
      this.audit({
        at: by.at,
        actor: by.userId,
        action: "room.mute",
        roomId,
        targetUserId: target,
        reason: mute.reason,
        until: mute.until,
      });
      this.context.outbox.add(moderatedMember(roomId, target, { change: "muted", until: mute.until }, by));
      return { ok: true, value: undefined };
    });
  }

  unmute(roomId: string, target: string, by: ModerationActor): Promise<Outcome<void>> {
    return this.act("unmute", roomId, by, { userId: target, member: false }, () => {
      if (this.statements.muteUntil.get(roomId, target, by.at) === undefined) return { ok: false, refusal: "no-mute" };
      this.statements.unmute.run(roomId, target);
      this.audit({ at: by.at, actor: by.userId, action: "room.unmute", roomId, targetUserId: target });
      this.context.outbox.add(moderatedMember(roomId, target, { change: "unmuted" }, by));
      return { ok: true, value: undefined };
    });
  }

  async activeBan(roomId: string, userId: string, at: number): Promise<number | null | undefined> {
    return this.statements.banUntil.get(roomId, userId, at)?.until;
  }

  async activeMute(roomId: string, userId: string, at: number): Promise<number | undefined> {
    return this.statements.muteUntil.get(roomId, userId, at)?.until;
  }

  async inviteUnlessBanned(roomId: string, userId: string, invitedBy: string, at: number): Promise<boolean> {
    return this.db.transaction(() => {
      if (this.statements.banned.get(roomId, userId, at) !== undefined) return false;
      this.statements.insertInvite.run(roomId, userId, invitedBy, at);
      return true;
    })();
  }

  updateRoom(roomId: string, changes: RoomChanges, by: ModerationActor): Promise<Outcome<Room>> {
    return this.act("update", roomId, by, undefined, () => {
      const topicGiven = changes.topic !== undefined ? 1 : 0;
      this.statements.updateRoom.run(
        changes.name ?? null,
        topicGiven,
        changes.topic ?? null,
        changes.visibility ?? null,
        roomId,
      );
      this.audit({ at: by.at, actor: by.userId, action: "room.update", roomId });
      return { ok: true, value: toRoom(this.statements.room.get(roomId)!) };
    });
  }

  deleteRoom(roomId: string, by: ModerationActor): Promise<Outcome<DeletedRoom>> {
    return this.act("delete", roomId, by, undefined, (row) => {
      const conversation = roomConversation(roomId);
      const st = this.statements;
      const members = st.memberIds.all(roomId);
      const fileIds = st.fileIds.all(conversation);
      st.unindex.run(conversation);
      st.dropRevisions.run(conversation);
      st.dropMessages.run(conversation);
      st.dropReadPositions.run(conversation);
      for (const drop of st.dropRoomRows) drop.run(roomId);
      st.dropRoom.run(roomId);
      this.audit({ at: by.at, actor: by.userId, action: "room.delete", roomId });
      // The room as it was: `row` was read before the deletes, its member count included.
      this.context.outbox.add({ type: "room.deleted", at: by.at, data: { room: toRoom(row) } });
      return { ok: true, value: { room: toRoom({ ...row, member_count: 0 }), members, fileIds } };
    });
  }

  async moderateDeleteMessage(id: number, by: ModerationActor): Promise<Outcome<ModeratedDelete>> {
    const row = this.statements.message.get(id);
    const conversation = row?.[15];
    if (!row || conversation === undefined || !conversation.startsWith("r:")) return { ok: false, refusal: "no-room" };
    const roomId = conversation.slice(2);
    return this.act("delete-message", roomId, by, { userId: row[3], member: false }, (): Outcome<ModeratedDelete> => {
      // Read again inside the transaction: the row above only named the room.
      const current = this.statements.message.get(id);
      if (!current) return { ok: false, refusal: "no-room" };
      // A tombstone is answered as it is (with who deleted it, if not its author).
      if (current[12] !== null)
        return { ok: true, value: { message: this.context.toMessage(current), changed: false, roomId } };
      this.statements.dropMessageRevisions.run(id);
      const deletedBy = current[3] === by.userId ? null : by.userId;
      const at = changedAt(by.at, current);
      const tombstone: MessageRow = this.statements.tombstone.get(at, at, this.context.seq.next(), deletedBy, id)!;
      this.audit({
        at: by.at,
        actor: by.userId,
        action: "message.delete",
        roomId,
        targetUserId: current[3],
        messageId: id,
      });
      // The tombstone as stored (with `deletedBy`): the room's sockets, history and `sync` show the same.
      const message = this.context.toMessage(tombstone);
      this.context.outbox.add({ type: "message.deleted", at, data: { message } });
      return { ok: true, value: { message, changed: true, roomId } };
    });
  }

  async auditPage(query: AuditQuery): Promise<AuditPage> {
    return auditPage(this.db, query);
  }

  async bansPage(roomId: string, at: number, after: string | undefined, limit: number): Promise<RoomBansPage> {
    return bansPage(this.statements.bansPage.all({ room: roomId, at, after: after ?? "", limit: limit + 1 }), limit);
  }

  async appendAudit(entry: AuditDraft): Promise<AuditEntry> {
    return this.db.transaction(() => this.audit(entry))();
  }
}
