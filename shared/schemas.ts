import { z } from "zod";
import { roomIdSchema, userIdSchema, usernameSchema } from "./ids.js";

const cursor = z.int().min(0);

/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** True when a string is well-formed UTF-16 (no lone surrogate): what is acked is then what is stored. */
export const isWellFormed = (value: string): boolean => !LONE_SURROGATE.test(value);

/** True when a string holds no U+0000, which PostgreSQL's text cannot store (so neither store takes it). */
export const hasNoNul = (value: string): boolean => !value.includes("\u0000");

/**
 * A string of `min` to `max` UTF-16 code units, as JavaScript's `length` counts them, with no lone
 * surrogate (SQLite and JSON would turn one into U+FFFD) and no U+0000. zod 4 measures `.max()` in code
 * points, so an emoji counts one there and two here; the contract counts code units.
 */
function text(min: number, max: number) {
  return z
    .string()
    .refine((value) => value.length >= min && value.length <= max, {
      message: `expected ${min}-${max} UTF-16 code units`,
    })
    .refine(isWellFormed, { message: "contains a lone UTF-16 surrogate" })
    .refine(hasNoNul, { message: "contains U+0000" })
    .describe(`${min}-${max} UTF-16 code units, no lone surrogate, no U+0000`);
}

/** Like `text`, after trimming white space at both ends. */
function trimmedText(min: number, max: number) {
  return z
    .string()
    .trim()
    .refine((value) => value.length >= min && value.length <= max, {
      message: `expected ${min}-${max} UTF-16 code units`,
    })
    .refine(isWellFormed, { message: "contains a lone UTF-16 surrogate" })
    .refine(hasNoNul, { message: "contains U+0000" })
    .describe(`${min}-${max} UTF-16 code units after trimming, no lone surrogate, no U+0000`);
}

/** Media carried by a message. */
export const mediaTypeSchema = z.enum(["text", "image", "file"]);
/** Every kind of message on the wire. */
export const messageTypeSchema = z.enum(["single", "group", "system", "online", "offline"]);

/** Longest text content, in UTF-16 code units. */
export const MAX_CONTENT_LENGTH = 4000;

/** `message:send` payload. */
export const sendMessageSchema = z
  .object({
    messageType: z.enum(["single", "group"]),
    mediaType: mediaTypeSchema,
    to: z.string().min(1).max(64),
    content: text(1, MAX_CONTENT_LENGTH).optional(),
    fileId: text(1, 64).optional(),
    clientMsgId: text(1, 64).optional(),
    replyTo: z.int().min(1).optional(),
  })
  .superRefine((value, ctx) => {
    if (value.mediaType === "text") {
      if (value.content === undefined) ctx.addIssue({ code: "custom", message: "a text message needs content" });
      if (value.fileId !== undefined) ctx.addIssue({ code: "custom", message: "a text message carries no fileId" });
    } else if (value.fileId === undefined) {
      ctx.addIssue({ code: "custom", message: `an ${value.mediaType} message needs a fileId` });
    }
  });

/** `history:list` payload: one conversation, one paging direction. */
export const historyListSchema = z
  .object({
    room: roomIdSchema.optional(),
    user: userIdSchema.optional(),
    before: cursor.optional(),
    after: cursor.optional(),
    limit: z.int().min(1).max(100).default(50),
  })
  .superRefine((value, ctx) => {
    if ((value.room === undefined) === (value.user === undefined)) {
      ctx.addIssue({ code: "custom", message: "give exactly one of room or user" });
    }
    if (value.before !== undefined && value.after !== undefined) {
      ctx.addIssue({ code: "custom", message: "give before or after, not both" });
    }
  });

/** `sync` payload. */
export const syncSchema = z.object({
  after: cursor,
  limit: z.int().min(1).max(500).default(500),
});

/** `room:create` payload. */
export const roomCreateSchema = z.object({
  name: trimmedText(1, 64),
  visibility: z.enum(["public", "private"]).default("public"),
});

/** `room:join` and `room:leave` payload. */
export const roomRefSchema = z.object({ roomId: roomIdSchema });

/** `room:invite` payload. */
export const roomInviteSchema = z.object({ roomId: roomIdSchema, userId: userIdSchema });

/** `room:list` payload (nothing to give). */
export const roomListSchema = z.object({});

/** `room:members` payload. */
export const roomMembersSchema = z.object({
  roomId: roomIdSchema,
  // Any string (the frame limit bounds it): members whose id sorts after it.
  after: z.string().optional(),
  limit: z.int().min(1).max(1000).default(200),
});

/** Body of `POST /api/auth/register` and `POST /api/auth/login`. */
export const credentialsSchema = z.object({
  username: usernameSchema,
  password: z.string().min(8).max(256).refine(isWellFormed, { message: "contains a lone UTF-16 surrogate" }),
});

/** Body of `POST /api/auth/login`: any strings; a username that cannot exist is just a wrong username (401). */
export const loginSchema = z.object({
  username: z.string().min(1).max(256),
  password: z.string().min(1).max(256),
});

/** A new password: 8–256 characters of well-formed text. */
const newPasswordSchema = z
  .string()
  .min(8)
  .max(256)
  .refine(isWellFormed, { message: "contains a lone UTF-16 surrogate" });

/** Body of `POST /api/auth/password`. */
export const passwordChangeSchema = z.object({
  currentPassword: z.string().min(1).max(256),
  newPassword: newPasswordSchema,
});

/** Body of `POST /api/auth/logout` (may be absent). */
export const logoutSchema = z.object({ everywhere: z.boolean().default(false) }).default({ everywhere: false });

/** Body of `POST /api/admin/users/:id/password`. */
export const passwordResetSchema = z.object({ password: newPasswordSchema });

/** `auth:refresh` payload: a newer token of the same user. */
export const authRefreshSchema = z.object({ token: z.string().min(1).max(8192) });
/** `auth:refresh` payload. */
export type AuthRefreshInput = z.input<typeof authRefreshSchema>;

/** Body of `POST /api/push`. */
export const pushSchema = z.object({
  to: z.union([
    z.object({ user: userIdSchema }).strict(),
    z.object({ room: roomIdSchema }).strict(),
    z.object({ all: z.literal(true) }).strict(),
  ]),
  content: text(1, MAX_CONTENT_LENGTH),
  mediaType: z.literal("text").default("text"),
});

/** Fields of the compatibility route `POST /send`. */
export const legacySendSchema = z.object({
  uid: userIdSchema,
  message: text(1, MAX_CONTENT_LENGTH),
});

/** A user as clients see it. */
export const userSchema = z.object({ id: z.string(), name: z.string(), avatarUrl: z.string().optional() });

/** A room as clients see it. */
export const roomSchema = z.object({
  id: z.string(),
  name: z.string(),
  visibility: z.enum(["public", "private"]),
  createdBy: z.string(),
  createAt: z.number(),
  members: z.number(),
  /** Set with `room:update` (0–256 UTF-16 code units); absent when the room has none. */
  topic: z.string().optional(),
});

/** A message that was stored and has an id. */
export const storedMessageSchema = z.object({
  id: z.number(),
  messageType: z.enum(["single", "group", "system"]),
  mediaType: mediaTypeSchema,
  from: z.string(),
  to: z.string(),
  content: z.string().optional(),
  fileId: z.string().optional(),
  url: z.string().optional(),
  clientMsgId: z.string().optional(),
  createAt: z.number(),
  updateAt: z.number(),
  /** Same counter as `id`; equals `id` until the message changes, then a new, higher value on every change. */
  rev: z.number(),
  editedAt: z.number().optional(),
  /** Set on a tombstone: content, fileId and url are gone. */
  deletedAt: z.number().optional(),
  replyTo: z.number().optional(),
  /** Emoji → user ids, in the order they reacted. */
  reactions: z.record(z.string(), z.array(z.string())).optional(),
  /** On a tombstone deleted by someone other than its author (a room's owner or moderator, an admin). */
  deletedBy: z.string().optional(),
});

/** A live-only online/offline notice. */
export const presenceMessageSchema = z.object({
  messageType: z.enum(["online", "offline"]),
  mediaType: z.literal("text"),
  from: z.string(),
  to: z.literal("*"),
  createAt: z.number(),
  updateAt: z.number(),
});

/**
 * A conversation: a room, or the direct conversation with a user (`{ user: "system" }` holds system messages
 * to the caller and to everyone). Exactly one of the two keys.
 */
export const conversationSchema = z
  .object({ room: roomIdSchema.optional(), user: userIdSchema.optional() })
  .refine((value) => (value.room === undefined) !== (value.user === undefined), "give exactly one of room or user")
  .transform((value): Conversation => (value.room !== undefined ? { room: value.room } : { user: value.user! }));

/** `conversation:list` payload (nothing to give). */
export const conversationListSchema = z.object({});

/** `conversation:read` payload. */
export const conversationReadSchema = z.object({ conversation: conversationSchema, lastReadId: cursor });

/** Most read positions `conversation:reads` answers at once. */
export const MAX_READS_PAGE = 200;

/** `conversation:reads` payload: the read positions of a conversation's people, by user id after `after`. */
export const conversationReadsSchema = z.object({
  conversation: conversationSchema,
  after: userIdSchema.optional(),
  limit: z.int().min(1).max(MAX_READS_PAGE).default(100),
});

/** One person's read position in a conversation (0: never read), as `conversation:reads` lists it. */
export interface ReadPosition {
  userId: string;
  lastReadId: number;
}

/** A page of `conversation:reads`: by user id; people who turned read receipts off are left out. */
export interface ReadPositionsPage {
  reads: ReadPosition[];
  hasMore: boolean;
}

/** `typing` payload. */
export const typingSchema = z.object({ conversation: conversationSchema, state: z.enum(["start", "stop"]) });

/** `message:edit` payload. */
export const messageEditSchema = z.object({ id: z.int().min(1), content: text(1, MAX_CONTENT_LENGTH) });

/** `message:delete` and `message:revisions` payload. */
export const messageRefSchema = z.object({ id: z.int().min(1) });

/** `message:react` payload: one emoji (1–32 UTF-16 code units), on or off. */
export const messageReactSchema = z.object({ id: z.int().min(1), emoji: text(1, 32), on: z.boolean() });

/** `history:search` payload: plain words, all of which must match. */
export const historySearchSchema = z.object({
  q: text(1, 200),
  conversation: conversationSchema.optional(),
  limit: z.int().min(1).max(50).default(20),
});

/** `presence:query` payload: 1–200 user ids (unknown ids are answered as offline). */
export const presenceQuerySchema = z.object({ userIds: z.array(z.string().min(1).max(256)).min(1).max(200) });

/** `presence:subscribe` payload: the users this socket follows from now on (replacing the previous list). */
export const presenceSubscribeSchema = z.object({ userIds: z.array(z.string().min(1).max(256)).max(500) });

/** `user:update` payload; `{}` answers the current values. */
export const userUpdateSchema = z.object({
  name: trimmedText(1, 64).optional(),
  readReceipts: z.boolean().optional(),
  /** An image the caller uploaded, shown as its avatar; `null` removes it. */
  avatarFileId: text(1, 64).nullable().optional(),
});

/** A conversation as events and requests name it, from the receiver's point of view. */
export type Conversation = { room: string } | { user: string };

/** One row of `conversation:list`. */
export interface ConversationSummary {
  conversation: Conversation;
  name: string;
  /** A direct conversation's other user's avatar, when it has one. */
  avatarUrl?: string;
  lastMessage?: StoredMessage;
  unread: number;
  lastReadId: number;
}

/** A read receipt. */
export interface Receipt {
  conversation: Conversation;
  userId: string;
  lastReadId: number;
}

/** A typing notice. */
export interface TypingNotice {
  conversation: Conversation;
  userId: string;
  state: "start" | "stop";
}

/** One earlier text of an edited message. */
export interface Revision {
  content: string;
  editedAt: number;
}

/** A user's presence as `presence:query` answers it. */
export interface PresenceStatus {
  userId: string;
  online: boolean;
  lastSeenAt?: number;
}

/** The caller's own settings. */
export interface UserSettings {
  id: string;
  name: string;
  readReceipts: boolean;
  /** Where the avatar image is fetched, when the user has one. */
  avatarUrl?: string;
}

export type ConversationReadInput = z.input<typeof conversationReadSchema>;
export type ConversationReadsInput = z.input<typeof conversationReadsSchema>;
export type TypingInput = z.input<typeof typingSchema>;
export type MessageEditInput = z.input<typeof messageEditSchema>;
export type MessageRefInput = z.input<typeof messageRefSchema>;
export type MessageReactInput = z.input<typeof messageReactSchema>;
export type HistorySearchInput = z.input<typeof historySearchSchema>;
export type HistorySearch = z.output<typeof historySearchSchema>;
export type PresenceQueryInput = z.input<typeof presenceQuerySchema>;
export type PresenceSubscribeInput = z.input<typeof presenceSubscribeSchema>;
export type UserUpdateInput = z.input<typeof userUpdateSchema>;

export type MediaType = z.infer<typeof mediaTypeSchema>;
export type MessageType = z.infer<typeof messageTypeSchema>;
export type SendMessageInput = z.input<typeof sendMessageSchema>;
export type SendMessage = z.output<typeof sendMessageSchema>;
export type HistoryListInput = z.input<typeof historyListSchema>;
export type HistoryList = z.output<typeof historyListSchema>;
export type SyncInput = z.input<typeof syncSchema>;
export type RoomCreateInput = z.input<typeof roomCreateSchema>;
export type RoomRef = z.infer<typeof roomRefSchema>;
export type RoomInvite = z.infer<typeof roomInviteSchema>;
export type RoomMembersInput = z.input<typeof roomMembersSchema>;
export type Credentials = z.infer<typeof credentialsSchema>;
export type PushInput = z.input<typeof pushSchema>;
export type User = z.infer<typeof userSchema>;
export type Room = z.infer<typeof roomSchema>;
export type StoredMessage = z.infer<typeof storedMessageSchema>;

export type PresenceMessage = z.infer<typeof presenceMessageSchema>;
export type Message = StoredMessage | PresenceMessage;

/** One page of messages. */
export interface MessagePage {
  messages: StoredMessage[];
  hasMore: boolean;
}

/** A member's role in a room: its creator is the owner; `lobby` has none. */
export type RoomRole = "owner" | "moderator" | "member";

/** One member of a room, as `room:members` lists it. */
export interface RoomMember {
  userId: string;
  name: string;
  avatarUrl?: string;
  online: boolean;
  role: RoomRole;
  /** While the member is muted in the room (section 11): when the mute ends, ms since the epoch. */
  mutedUntil?: number;
}

/** A pending invitation to a private room, as `room:list` lists it. */
export interface RoomInvitation {
  room: Room;
  /** Who invited. */
  by: string;
  /** When, ms since the epoch. */
  at: number;
}

/** `room:list`'s answer. */
export interface RoomLists {
  joined: Room[];
  /** Public rooms the caller is not in. */
  discoverable: Room[];
  /** Private rooms the caller has a pending invitation to, newest first. */
  invited: RoomInvitation[];
}

/** A change of a room's membership or of a member's role, sent to the room's members (the subject included). */
export interface RoomMemberChange {
  roomId: string;
  userId: string;
  name: string;
  change: "joined" | "left" | "kicked" | "banned" | "role" | "muted" | "unmuted";
  /** The subject's role after the change: present for `joined` and `role`. */
  role?: RoomRole;
  /** `muted`: when the mute ends (ms since the epoch). */
  until?: number;
}

/** What the server emits once after a successful connect. */
export interface SessionInfo {
  user: User;
  rooms: Room[];
  lastId: number;
}

/** A file as the upload endpoint (`POST /api/files`) describes it. */
export const uploadedFileSchema = z.object({
  fileId: z.string(),
  /** A path on this server: `/files/<fileId>`. */
  url: z.string(),
  name: z.string(),
  size: z.number(),
  mime: z.string(),
  mediaType: z.enum(["image", "file"]),
});
/** A file as the upload endpoint describes it. */
export type UploadedFile = z.infer<typeof uploadedFileSchema>;

/** Answer of `POST /api/auth/register` and `POST /api/auth/login`. */
export const authResponseSchema = z.object({ token: z.string(), user: userSchema });
/** Answer of register and login. */
export type AuthResponse = z.infer<typeof authResponseSchema>;

/** Answer of `POST /api/push` and `POST /send`: the stored message and how many sockets it reached now. */
export const pushResponseSchema = z.object({ message: storedMessageSchema, delivered: z.int().min(0) });
/** Answer of `POST /api/push` and `POST /send`. */
export type PushResponse = z.infer<typeof pushResponseSchema>;

// Room roles and moderation (section 11).

/** `room:role` payload: the owner (or an admin) makes a member a moderator, or a moderator a member again. */
export const roomRoleSchema = z.object({
  roomId: roomIdSchema,
  userId: userIdSchema,
  role: z.enum(["moderator", "member"]),
});

/** Longest reason a moderator may give, in UTF-16 code units. */
export const MAX_REASON_LENGTH = 500;

/** A time in ms since the epoch (a ban's or a mute's end). */
const epochMs = z.int().min(0).max(8_640_000_000_000_000);

/** `room:kick` payload. */
export const roomKickSchema = z.object({
  roomId: roomIdSchema,
  userId: userIdSchema,
  reason: text(1, MAX_REASON_LENGTH).optional(),
});

/** `room:ban` payload: `until` (ms since the epoch) ends the ban; without it the ban is for good. */
export const roomBanSchema = z.object({
  roomId: roomIdSchema,
  userId: userIdSchema,
  until: epochMs.optional(),
  reason: text(1, MAX_REASON_LENGTH).optional(),
});

/** `room:unban` and `room:unmute` payload. */
export const roomTargetSchema = z.object({ roomId: roomIdSchema, userId: userIdSchema });

/** `room:mute` payload: the member may not send to the room until `until` (ms since the epoch). */
export const roomMuteSchema = z.object({
  roomId: roomIdSchema,
  userId: userIdSchema,
  until: epochMs,
  reason: text(1, MAX_REASON_LENGTH).optional(),
});

/** Longest room topic, in UTF-16 code units. */
export const MAX_TOPIC_LENGTH = 256;

/** `room:update` payload: what to change (an empty topic removes it). */
export const roomUpdateSchema = z.object({
  roomId: roomIdSchema,
  name: trimmedText(1, 64).optional(),
  topic: text(0, MAX_TOPIC_LENGTH).optional(),
  visibility: z.enum(["public", "private"]).optional(),
});

/** Most audit entries one page answers. */
export const MAX_AUDIT_PAGE = 200;

/** `room:audit` payload: entries older than `before` (an entry id), newest first. */
export const roomAuditSchema = z.object({
  roomId: roomIdSchema,
  before: z.int().min(1).optional(),
  limit: z.int().min(1).max(MAX_AUDIT_PAGE).default(50),
});

/** What a moderation action or an admin action did, as the audit log keeps it. */
export interface AuditEntry {
  id: number;
  /** When, ms since the epoch. */
  at: number;
  /** The user who acted (`system` for the admin API key: no user can be `system`). */
  actor: string;
  /** e.g. `room.kick`, `room.ban`, `message.delete`, `user.disable`. */
  action: string;
  roomId?: string;
  targetUserId?: string;
  messageId?: number;
  reason?: string;
  /** A ban's or a mute's end. */
  until?: number;
}

/** A page of the audit log, newest first. */
export interface AuditPage {
  entries: AuditEntry[];
  hasMore: boolean;
}

/** Most bans `room:bans` answers at once. */
export const MAX_BANS_PAGE = 200;

/** `room:bans` payload: the bans in force, by user id, after `after` (a user id). */
export const roomBansSchema = z.object({
  roomId: roomIdSchema,
  after: userIdSchema.optional(),
  limit: z.int().min(1).max(MAX_BANS_PAGE).default(100),
});

/** A ban in force, as `room:bans` lists it. */
export interface RoomBan {
  userId: string;
  /** The user's display name (its id when the user is unknown). */
  name: string;
  /** When the ban ends (ms since the epoch); absent: for good. */
  until?: number;
  reason?: string;
  /** Who banned the user. */
  by: string;
  /** When (ms since the epoch). */
  at: number;
}

/** A page of a room's bans in force, by user id. */
export interface RoomBansPage {
  bans: RoomBan[];
  hasMore: boolean;
}

/** Sent to a user removed from a room (kicked, banned), and to every member of a room that was deleted. */
export interface RoomRemoved {
  roomId: string;
  /** Who removed the user or deleted the room. */
  by: string;
  reason?: string;
  kind: "kick" | "ban" | "deleted";
}

export type RoomRoleInput = z.input<typeof roomRoleSchema>;
export type RoomKickInput = z.input<typeof roomKickSchema>;
export type RoomBanInput = z.input<typeof roomBanSchema>;
export type RoomTargetInput = z.input<typeof roomTargetSchema>;
export type RoomMuteInput = z.input<typeof roomMuteSchema>;
export type RoomUpdateInput = z.input<typeof roomUpdateSchema>;
export type RoomAuditInput = z.input<typeof roomAuditSchema>;
export type RoomBansInput = z.input<typeof roomBansSchema>;
