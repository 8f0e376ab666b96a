import type {
  AuditPage,
  Room,
  RoomBansPage,
  RoomMemberChange,
  RoomRemoved,
  StoredMessage,
} from "../../shared/schemas.js";
import { canSee } from "../conversations/keys.js";
import type { Delivery } from "../delivery/deliver.js";
import { forbidden, invalid, notFound } from "../errors.js";
import type { MessageService } from "../messages/service.js";
import { roomConversation } from "../messages/conversation.js";
import type { Moderated, ModerationActor, RoomChanges } from "../store/moderation.js";
import type { Store } from "../store/types.js";
import { authorize, refusalError } from "./authorization.js";

/** Options of the moderation service. */
export interface ModerationServiceOptions {
  now: () => number;
  /** `ADMIN_USERS`: admins whatever the users table's flag says. */
  adminUsers: ReadonlySet<string>;
  /** Releases a file once nothing references it (messages of a deleted room, a deleted message's file). */
  files?: { releaseIfUnreferenced(fileId: string): Promise<void> };
}

/** The value of a moderation write that went through, or its refusal thrown as the error the client gets. */
function done<T>(outcome: Moderated<T>): T {
  if (!outcome.ok) throw refusalError(outcome.refusal);
  return outcome.value;
}

const EMPTY: Record<string, never> = {};

/**
 * Room roles and moderation (section 11): the store decides, in the transaction that writes, whether the
 * actor may (rooms/authorization.ts) and records the audit entry; this service then tells who must know and
 * moves sockets. Removed users leave the room's channel on every node before the ack.
 */
export class ModerationService {
  constructor(
    private readonly delivery: Delivery,
    private readonly store: Store,
    private readonly messages: MessageService,
    private readonly options: ModerationServiceOptions,
  ) {}

  private actor(userId: string): ModerationActor {
    return { userId, admins: this.options.adminUsers, at: this.options.now() };
  }

  private async announce(roomId: string, userId: string, change: Omit<RoomMemberChange, "roomId" | "userId" | "name">) {
    const name = (await this.store.getUser(userId))?.name ?? userId;
    this.delivery.roomMember({ roomId, userId, name, ...change });
  }

  /** Tells a removed user why, then takes every socket of it out of the room (on every node). */
  private async remove(roomId: string, userId: string, removed: RoomRemoved): Promise<void> {
    this.delivery.roomRemoved(userId, removed);
    await this.delivery.leaveRoom(userId, roomId);
  }

  /** `room:role`: the owner or an admin makes a member a moderator, or a moderator a member. */
  async setRole(actorId: string, roomId: string, userId: string, role: "moderator" | "member") {
    done(await this.store.setRole(roomId, userId, role, this.actor(actorId)));
    await this.announce(roomId, userId, { change: "role", role });
    return EMPTY;
  }

  /** `room:kick`: the member leaves the room on all its sockets; it may join again (public rooms). */
  async kick(actorId: string, roomId: string, userId: string, reason: string | undefined) {
    done(await this.store.kick(roomId, userId, reason, this.actor(actorId)));
    // Told before the sockets leave the channel, so the subject's other members' lists and its own agree.
    await this.announce(roomId, userId, { change: "kicked" });
    await this.remove(roomId, userId, withReason({ roomId, by: actorId, kind: "kick" }, reason));
    return EMPTY;
  }

  /** `room:ban`: as a kick (when a member), and no join or invitation until `until` (for good without it). */
  async ban(actorId: string, roomId: string, userId: string, until: number | undefined, reason: string | undefined) {
    if (until !== undefined) this.future(until);
    const { wasMember } = done(await this.store.ban(roomId, userId, { until, reason }, this.actor(actorId)));
    if (wasMember) {
      await this.announce(roomId, userId, { change: "banned" });
      await this.remove(roomId, userId, withReason({ roomId, by: actorId, kind: "ban" }, reason));
    }
    return EMPTY;
  }

  /** A ban's or mute's end must be ahead: one that passed would change nothing but the audit (INVALID_PAYLOAD). */
  private future(until: number): void {
    if (until <= this.options.now()) throw invalid("until is not in the future");
  }

  /** `room:unban`: lifts a ban in force (NOT_FOUND when there is none). */
  async unban(actorId: string, roomId: string, userId: string) {
    done(await this.store.unban(roomId, userId, this.actor(actorId)));
    return EMPTY;
  }

  /** `room:mute`: the member stays and reads, but may not send to the room until `until`. */
  async mute(actorId: string, roomId: string, userId: string, until: number, reason: string | undefined) {
    this.future(until);
    done(await this.store.mute(roomId, userId, { until, reason }, this.actor(actorId)));
    await this.announce(roomId, userId, { change: "muted", until });
    return EMPTY;
  }

  /** `room:unmute`: lifts a mute in force (NOT_FOUND when there is none). */
  async unmute(actorId: string, roomId: string, userId: string) {
    done(await this.store.unmute(roomId, userId, this.actor(actorId)));
    await this.announce(roomId, userId, { change: "unmuted" });
    return EMPTY;
  }

  /** `room:update`: the owner or an admin changes the name, topic or visibility; the members get `room:updated`. */
  async update(actorId: string, roomId: string, changes: RoomChanges): Promise<Room> {
    const room = done(await this.store.updateRoom(roomId, changes, this.actor(actorId)));
    this.delivery.roomUpdated(room);
    return room;
  }

  /**
   * `room:delete`: the room, its memberships, invitations, bans, mutes, read positions and history are gone;
   * every member is told and every socket leaves its channel (on every node); the files its messages held
   * are released when nothing else holds them.
   */
  async delete(actorId: string, roomId: string) {
    const deleted = done(await this.store.deleteRoom(roomId, this.actor(actorId)));
    await this.delivery.roomDeleted(roomId, deleted.members, { roomId, by: actorId, kind: "deleted" });
    for (const fileId of deleted.fileIds) await this.options.files?.releaseIfUnreferenced(fileId);
    return EMPTY;
  }

  /**
   * `message:delete`: the author's own delete, or a room's owner, moderator or an admin deleting someone
   * else's message in that room (the tombstone then carries `deletedBy`). A member without the role gets
   * FORBIDDEN, as before; a message the caller may not see is NOT_FOUND.
   */
  async deleteMessage(actorId: string, id: number, originSocketId?: string): Promise<StoredMessage> {
    const record = await this.store.getMessage(id);
    if (!record || record.message.from === actorId || !record.conversation.startsWith("r:")) {
      return this.messages.delete(actorId, id, originSocketId);
    }
    const roomId = record.conversation.slice(2);
    const standing = await this.store.standing(roomId, actorId, this.options.adminUsers);
    if (!standing.admin && !(await canSee(this.store, actorId, record.conversation))) throw notFound("message");
    const outcome = await this.store.moderateDeleteMessage(id, this.actor(actorId));
    if (!outcome.ok) {
      if (outcome.refusal === "not-allowed") throw forbidden("only the author may change a message");
      if (outcome.refusal === "no-room") throw notFound("message");
      throw refusalError(outcome.refusal);
    }
    const { message, changed } = outcome.value;
    if (changed) {
      this.delivery.messageUpdated(roomConversation(roomId), message, originSocketId);
      if (record.message.fileId !== undefined) await this.options.files?.releaseIfUnreferenced(record.message.fileId);
    }
    return message;
  }

  /** `room:audit`: the room's audit entries, newest first, for its owner, moderators and admins. */
  async audit(actorId: string, roomId: string, before: number | undefined, limit: number): Promise<AuditPage> {
    await this.mayRead("audit", actorId, roomId);
    return this.store.auditPage({ roomId, before, limit });
  }

  /** `room:bans`: the room's bans in force, by user id, for its owner, moderators and admins. */
  async bans(actorId: string, roomId: string, after: string | undefined, limit: number): Promise<RoomBansPage> {
    await this.mayRead("bans", actorId, roomId);
    return this.store.bansPage(roomId, this.options.now(), after, limit);
  }

  /** A read of a room's moderation records: NOT_FOUND without the room, FORBIDDEN unless the actor moderates it. */
  private async mayRead(action: "audit" | "bans", actorId: string, roomId: string): Promise<void> {
    if (!(await this.store.getRoom(roomId))) throw notFound("room");
    const standing = await this.store.standing(roomId, actorId, this.options.adminUsers);
    const refusal = authorize(action, roomId, { userId: actorId, ...standing });
    if (refusal) throw refusalError(refusal);
  }
}

/** `removed` with its reason when one was given. */
function withReason(removed: RoomRemoved, reason: string | undefined): RoomRemoved {
  return reason === undefined ? removed : { ...removed, reason };
}
