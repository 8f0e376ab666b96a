import type { Room } from "../../shared/schemas.js";
import { LOBBY, SYSTEM } from "./conversations.js";
import type { Timeline } from "./timeline.js";

/** How many of the newest loaded messages must all be system messages for a room to show as a log. */
export const LOG_TAIL = 20;

/**
 * Whether a conversation shows as a log (compact monospace lines, windowed) rather than as chat:
 * - a room created by the system user (`createdBy: "system"`: a worker's task room) always does, but the lobby
 *   (which the system creates too);
 * - any other room does while its newest {@link LOG_TAIL} loaded messages are all system messages (a room fed
 *   by the push API); a person's message among them turns it back into chat.
 * Direct conversations, the System one included, keep the chat rendering: their notices are few and each is
 * worth its card.
 */
export function rendersAsLog(room: Room | undefined, timeline: Timeline): boolean {
  if (!room) return false;
  if (room.createdBy === SYSTEM && room.id !== LOBBY) return true;
  const tail = timeline.stored.slice(-LOG_TAIL);
  return tail.length === LOG_TAIL && tail.every((message) => message.messageType === "system");
}
