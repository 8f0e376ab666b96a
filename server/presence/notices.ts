import type { PresenceMessage, PresenceStatus, Room } from "../../shared/schemas.js";
import type { Delivery } from "../delivery/deliver.js";
import type { Store } from "../store/types.js";

/**
 * Sends an online or offline notice about a user to every socket that shares a room with it, once per
 * socket, except the user's own. Rooms with more than `roomLimit` members carry no notices: a notice per
 * connect to every member of a huge room grows with the square of the users. `known` are the user's rooms
 * when the caller has just read them (the handshake has).
 */
export function createPresenceNotifier(delivery: Delivery, store: Store, roomLimit: number, now: () => number) {
  return async (messageType: "online" | "offline", userId: string, known?: readonly Room[]): Promise<void> => {
    const rooms = (known ?? (await store.roomsOf(userId))).filter((room) => room.members <= roomLimit);
    if (rooms.length === 0) return;
    const at = now();
    const notice: PresenceMessage = {
      messageType,
      mediaType: "text",
      from: userId,
      to: "*",
      createAt: at,
      updateAt: at,
    };
    delivery.presenceNotice(
      rooms.map((room) => room.id),
      notice,
    );
  };
}

/** A `presence` event for a user's change. */
export function presenceEvent(userId: string, online: boolean, lastSeenAt?: number): PresenceStatus {
  return online || lastSeenAt === undefined ? { userId, online } : { userId, online, lastSeenAt };
}
