import {
  authRefreshSchema,
  conversationListSchema,
  conversationReadSchema,
  conversationReadsSchema,
  historyListSchema,
  historySearchSchema,
  messageEditSchema,
  messageReactSchema,
  messageRefSchema,
  presenceQuerySchema,
  presenceSubscribeSchema,
  typingSchema,
  userUpdateSchema,
  roomCreateSchema,
  roomInviteSchema,
  roomListSchema,
  roomMembersSchema,
  roomRefSchema,
  sendMessageSchema,
  syncSchema,
} from "../../shared/schemas.js";
import type { AccountService } from "../auth/accounts.js";
import type { ConversationService } from "../conversations/service.js";
import type { Delivery } from "../delivery/deliver.js";
import type { MessageService } from "../messages/service.js";
import type { RoomService } from "../rooms/service.js";
import type { UserService } from "../users/service.js";
import { defineHandler, type HandlerTable } from "./define-handler.js";
import type { ModerationEventName } from "./moderation-handlers.js";

/** The client events of the contract, each bound to the service that serves it (moderation's: moderation-handlers.ts). */
export function createHandlerTable(services: {
  messages: MessageService;
  rooms: RoomService;
  conversations: ConversationService;
  users: UserService;
  /** Where a socket's `presence:subscribe` is recorded (as channels, so a change on any node reaches it). */
  delivery: Delivery;
  accounts: AccountService;
}): Omit<HandlerTable, ModerationEventName> {
  const { messages, rooms, conversations, users, delivery, accounts } = services;
  return {
    "message:send": defineHandler(sendMessageSchema, (ctx, input) =>
      messages.send(ctx.user.id, input, ctx.socketId, ctx.sequenced),
    ),
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
    "room:decline": defineHandler(roomRefSchema, (ctx, input) => rooms.decline(ctx.user.id, input.roomId)),
    "room:members": defineHandler(roomMembersSchema, (ctx, input) =>
      rooms.members(ctx.user.id, input.roomId, input.after, input.limit),
    ),
    "conversation:list": defineHandler(conversationListSchema, (ctx) => conversations.list(ctx.user.id)),
    "conversation:read": defineHandler(conversationReadSchema, (ctx, input) =>
      conversations.read(ctx.user.id, input.conversation, input.lastReadId, ctx.socketId),
    ),
    "conversation:reads": defineHandler(conversationReadsSchema, (ctx, input) =>
      conversations.reads(ctx.user.id, input.conversation, input.after, input.limit),
    ),
    typing: defineHandler(typingSchema, (ctx, input) =>
      conversations.setTyping(ctx.user.id, input.conversation, input.state),
    ),
    "message:edit": defineHandler(messageEditSchema, (ctx, input) =>
      messages.edit(ctx.user.id, input.id, input.content, ctx.socketId),
    ),
    "message:revisions": defineHandler(messageRefSchema, (ctx, input) => messages.revisions(ctx.user.id, input.id)),
    "message:react": defineHandler(messageReactSchema, (ctx, input) =>
      messages.react(ctx.user.id, input.id, input.emoji, input.on, ctx.socketId),
    ),
    "history:search": defineHandler(historySearchSchema, async (ctx, input) => ({
      messages: await messages.search(ctx.user.id, input.q, input.conversation, input.limit),
    })),
    "presence:query": defineHandler(presenceQuerySchema, (_ctx, input) => users.presence(input.userIds)),
    "presence:subscribe": defineHandler(presenceSubscribeSchema, async (ctx, input) => {
      await delivery.follow(ctx.socketId, input.userIds);
      return users.presence(input.userIds);
    }),
    "user:update": defineHandler(userUpdateSchema, (ctx, input) => users.update(ctx.user.id, input)),
    "auth:refresh": defineHandler(authRefreshSchema, (ctx, input) =>
      accounts.refresh(ctx.user.id, ctx.socketId, input.token),
    ),
  };
}
