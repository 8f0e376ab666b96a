import { SYSTEM_USER_ID } from "../../shared/ids.js";
import type { Conversation } from "../../shared/schemas.js";
import { forbidden, notFound } from "../errors.js";
import {
  BROADCAST_CONVERSATION,
  directConversation,
  roomConversation,
  systemConversation,
} from "../messages/conversation.js";
import type { ConversationKey, ConversationKeys, Store } from "../store/types.js";

/** A conversation as the caller named it, checked and turned into storage keys. */
export interface ResolvedConversation {
  /** As the caller sees it. */
  conversation: Conversation;
  /** Where its messages are stored (two keys for the system conversation: to the user, and to all). */
  keys: ConversationKeys;
  /** Where the caller's read position is kept. */
  readKey: ConversationKey;
  /** The other user of a direct conversation (not for rooms; `system` for the system conversation). */
  peer?: string;
}

/** Throws NOT_FOUND for a room that does not exist and FORBIDDEN when the user is not in it. */
export async function requireMember(store: Store, roomId: string, userId: string): Promise<void> {
  const membership = await store.membership(roomId, userId);
  if (membership === "no-room") throw notFound("room");
  if (membership === "outsider") throw forbidden("not a member of this room");
}

/**
 * Checks that the caller may use a conversation (a room it belongs to, an existing user, or `system`) and
 * returns its storage keys. A room that does not exist or a user that does not is NOT_FOUND; a room the
 * caller is not in is FORBIDDEN.
 */
export async function resolveConversation(
  store: Store,
  userId: string,
  conversation: Conversation,
): Promise<ResolvedConversation> {
  if ("room" in conversation) {
    await requireMember(store, conversation.room, userId);
    const key = roomConversation(conversation.room);
    return { conversation, keys: key, readKey: key };
  }
  const peer = conversation.user;
  if (peer === SYSTEM_USER_ID) {
    const own = systemConversation(userId);
    return { conversation, keys: [own, BROADCAST_CONVERSATION], readKey: own, peer };
  }
  if (!(await store.userExists(peer))) throw notFound("user");
  const key = directConversation(userId, peer);
  return { conversation, keys: key, readKey: key, peer };
}

/** Who a stored conversation key belongs to: a room, everyone, or the two users of a direct conversation. */
export type KeyOwner = { room: string } | { all: true } | { users: [string, string] };

/** Reads a conversation key back. */
export function ownerOf(key: ConversationKey): KeyOwner {
  if (key === BROADCAST_CONVERSATION) return { all: true };
  if (key.startsWith("r:")) return { room: key.slice(2) };
  const [a, b] = key.slice(2).split("|") as [string, string];
  return { users: [a, b] };
}

/** True when the user may see messages stored under this key. */
export async function canSee(store: Store, userId: string, key: ConversationKey): Promise<boolean> {
  const owner = ownerOf(key);
  if ("all" in owner) return true;
  if ("room" in owner) return store.isMember(owner.room, userId);
  return owner.users.includes(userId);
}
