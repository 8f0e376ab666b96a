import { SYSTEM_USER_ID } from "../../shared/ids.js";
import type { ConversationKey } from "../store/types.js";

/** The conversation of a room: its group messages and the system messages sent to it. */
export const roomConversation = (roomId: string): ConversationKey => `r:${roomId}`;

/**
 * The direct conversation between two users, the same whichever writes. System messages to a user belong
 * to that user's direct conversation with `system`.
 */
export const directConversation = (a: string, b: string): ConversationKey => (a < b ? `d:${a}|${b}` : `d:${b}|${a}`);

/** System messages to everyone. */
export const BROADCAST_CONVERSATION: ConversationKey = "*";

/** The conversation of a system message to one user. */
export const systemConversation = (userId: string): ConversationKey => directConversation(SYSTEM_USER_ID, userId);
