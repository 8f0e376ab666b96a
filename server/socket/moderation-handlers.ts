import {
  messageRefSchema,
  roomAuditSchema,
  roomBansSchema,
  roomBanSchema,
  roomKickSchema,
  roomMuteSchema,
  roomRefSchema,
  roomRoleSchema,
  roomTargetSchema,
  roomUpdateSchema,
} from "../../shared/schemas.js";
import type { ModerationService } from "../rooms/moderation.js";
import { defineHandler, type HandlerTable } from "./define-handler.js";

/** The client events of room roles and moderation (section 11), `message:delete` included (moderators use it too). */
export type ModerationEventName =
  | "room:role"
  | "room:kick"
  | "room:ban"
  | "room:unban"
  | "room:mute"
  | "room:unmute"
  | "room:update"
  | "room:delete"
  | "room:audit"
  | "room:bans"
  | "message:delete";

/** The moderation events, each bound to the moderation service. */
export function createModerationHandlers(moderation: ModerationService): Pick<HandlerTable, ModerationEventName> {
  return {
    "room:role": defineHandler(roomRoleSchema, (ctx, input) =>
      moderation.setRole(ctx.user.id, input.roomId, input.userId, input.role),
    ),
    "room:kick": defineHandler(roomKickSchema, (ctx, input) =>
      moderation.kick(ctx.user.id, input.roomId, input.userId, input.reason),
    ),
    "room:ban": defineHandler(roomBanSchema, (ctx, input) =>
      moderation.ban(ctx.user.id, input.roomId, input.userId, input.until, input.reason),
    ),
    "room:unban": defineHandler(roomTargetSchema, (ctx, input) =>
      moderation.unban(ctx.user.id, input.roomId, input.userId),
    ),
    "room:mute": defineHandler(roomMuteSchema, (ctx, input) =>
      moderation.mute(ctx.user.id, input.roomId, input.userId, input.until, input.reason),
    ),
    "room:unmute": defineHandler(roomTargetSchema, (ctx, input) =>
      moderation.unmute(ctx.user.id, input.roomId, input.userId),
    ),
    "room:update": defineHandler(roomUpdateSchema, (ctx, { roomId, name, topic, visibility }) =>
      moderation.update(ctx.user.id, roomId, { name, topic, visibility }),
    ),
    "room:delete": defineHandler(roomRefSchema, (ctx, input) => moderation.delete(ctx.user.id, input.roomId)),
    "room:audit": defineHandler(roomAuditSchema, (ctx, input) =>
      moderation.audit(ctx.user.id, input.roomId, input.before, input.limit),
    ),
    "room:bans": defineHandler(roomBansSchema, (ctx, input) =>
      moderation.bans(ctx.user.id, input.roomId, input.after, input.limit),
    ),
    "message:delete": defineHandler(messageRefSchema, (ctx, input) =>
      moderation.deleteMessage(ctx.user.id, input.id, ctx.socketId),
    ),
  };
}
