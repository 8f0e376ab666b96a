import { SYSTEM_USER_ID } from "../../shared/ids.js";
import { ownerOf } from "../conversations/keys.js";
import { roomChannel, userChannel } from "../socket/channels.js";
import type { ConversationKey } from "../store/types.js";

/**
 * The Socket.IO channels that reach everyone who may see messages of this key (undefined: everyone): a
 * room's members, the two users of a direct conversation, or the one user of a system conversation.
 */
export function channelsOf(key: ConversationKey): string[] | undefined {
  const owner = ownerOf(key);
  if ("all" in owner) return undefined;
  if ("room" in owner) return [roomChannel(owner.room)];
  return owner.users.filter((user) => user !== SYSTEM_USER_ID).map(userChannel);
}
