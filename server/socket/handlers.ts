import {
  historyListSchema,
  roomCreateSchema,
  roomInviteSchema,
  roomListSchema,
  roomMembersSchema,
  roomRefSchema,
  sendMessageSchema,
  syncSchema,
} from "../../shared/schemas.js";
import type { MessageService } from "../messages/service.js";
import type { RoomService } from "../rooms/service.js";
import { defineHandler, type HandlerTable } from "./define-handler.js";

/** The client events of the contract, each bound to the service that serves it. */
export function createHandlerTable(messages: MessageService, rooms: RoomService): HandlerTable {
  return {
    "message:send": defineHandler(sendMessageSchema, (ctx, input) => messages.send(ctx.user.id, input, ctx.socketId)),
    "history:list": defineHandler(historyListSchema, (ctx, input) => messages.history(ctx.user.id, input)),
    sync: defineHandler(syncSchema, (ctx, input) => messages.sync(ctx.user.id, input.after, input.limit)),
    "room:create": defineHandler(roomCreateSchema, (ctx, input) =>
      rooms.create(ctx.user.id, input.name, input.visibility),
    ),
    "room:join": defineHandler(roomRefSchema, (ctx, input) => rooms.join(ctx.user.id, input.roomId)),
    "room:leave": defineHandler(roomRefSchema, (ctx, input) => rooms.leave(ctx.user.id, input.roomId)),
    "room:invite": defineHandler(roomInviteSchema, (ctx, input) =>
      rooms.invite(ctx.user.id, input.roomId, input.userId),
    ),
    "room:list": defineHandler(roomListSchema, (ctx) => rooms.list(ctx.user.id)),
    "room:members": defineHandler(roomMembersSchema, (ctx, input) =>
      rooms.members(ctx.user.id, input.roomId, input.after, input.limit),
    ),
  };
}
