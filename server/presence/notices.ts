import type { Server } from "socket.io";
import type { ClientToServerEvents, InterServerEvents, ServerToClientEvents, SocketData } from "../../shared/events.js";
import type { PresenceMessage, Room } from "../../shared/schemas.js";
import { roomChannel, userChannel } from "../socket/channels.js";
import type { Store } from "../store/types.js";

type ChatIo = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

/**
 * Sends an online or offline notice about a user to every socket that shares a room with it, once per
 * socket, except the user's own. Rooms with more than `roomLimit` members carry no notices: a notice per
 * connect to every member of a huge room grows with the square of the users. `known` are the user's rooms
 * when the caller has just read them (the handshake has).
 */
export function createPresenceNotifier(io: ChatIo, store: Store, roomLimit: number, now: () => number) {
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
    io.to(rooms.map((room) => roomChannel(room.id)))
      .except(userChannel(userId))
      .emit("message", notice);
  };
}
