import type { LOBBY_ROOM_ID, SYSTEM_USER_ID } from "../../shared/ids.js";
import type { StoredMessage } from "../../shared/schemas.js";

// The values of shared/ids.ts, checked against it by type: importing the module itself would bundle zod.
/** The room every user belongs to. */
export const LOBBY: typeof LOBBY_ROOM_ID = "lobby";
/** The sender of system messages. */
export const SYSTEM: typeof SYSTEM_USER_ID = "system";

/** A conversation: a room, or the direct conversation with one user (`system` for system notices). */
export type ConversationRef = { kind: "room"; id: string } | { kind: "direct"; id: string };

/** A conversation as a map key: `room:<id>` or `user:<id>`. */
export type ConversationKey = `room:${string}` | `user:${string}`;

/** The key of a room's conversation. */
export const roomKey = (roomId: string): ConversationKey => `room:${roomId}`;
/** The key of the direct conversation with a user. */
export const directKey = (userId: string): ConversationKey => `user:${userId}`;

/** The key of a reference. */
export const keyOf = (ref: ConversationRef): ConversationKey =>
  ref.kind === "room" ? roomKey(ref.id) : directKey(ref.id);

/** The reference of a key. */
export function refOf(key: ConversationKey): ConversationRef {
  return key.startsWith("room:") ? { kind: "room", id: key.slice(5) } : { kind: "direct", id: key.slice(5) };
}

/** A conversation as `history:list` takes it. */
export const historyTarget = (ref: ConversationRef): { room: string } | { user: string } =>
  ref.kind === "room" ? { room: ref.id } : { user: ref.id };

/**
 * The conversation a stored message belongs to, from `me`'s side: a group message to its room, a single
 * message to the other user, a system message to its room or (to me or to everyone) to the System
 * conversation.
 */
export function conversationOf(message: StoredMessage, me: string): ConversationKey {
  switch (message.messageType) {
    case "group":
      return roomKey(message.to);
    case "single":
      return directKey(message.from === me ? message.to : message.from);
    case "system":
      return message.to === me || message.to === "*" ? directKey(SYSTEM) : roomKey(message.to);
  }
}

/** The key of a conversation as section-8 events name it (`{ room }` or `{ user }`, from my side). */
export const conversationKey = (conversation: { room: string } | { user: string }): ConversationKey =>
  "room" in conversation ? roomKey(conversation.room) : directKey(conversation.user);
