import type { Server } from "socket.io";
import type { AdminStats } from "../shared/http.js";
import type {
  ClientToServerEvents,
  InterServerEvents,
  NodeView,
  ServerToClientEvents,
  SocketData,
} from "../shared/events.js";
import type { StoredMessage } from "../shared/schemas.js";
import type { MessageService, SystemSendResult, SystemTarget } from "./messages/service.js";
import type { Delivery } from "./delivery/deliver.js";
import { roomChannel, userChannel } from "./socket/channels.js";
import type { Store } from "./store/types.js";
import type { WorkerManager } from "./workers/manager.js";

type ChatIo = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

/** A socket of this node or of another (`fetchSockets` answers both). */
interface SocketLike {
  id: string;
  data: SocketData;
  handshake: { issued: number; address: string };
}

const sessionView = (socket: SocketLike): SessionView => ({
  socketId: socket.id,
  userId: socket.data.user.id,
  name: socket.data.user.name,
  connectedAt: socket.handshake.issued,
  address: socket.handshake.address,
});

/** One connected socket, as the monitor shows it. */
export interface SessionView {
  socketId: string;
  userId: string;
  name: string;
  connectedAt: number;
  address: string;
}

/** The hub's state, as `GET /api/admin/stats` reports it. */
export type HubStats = AdminStats;

/**
 * The server's library API for code that embeds it (and for the push and monitor routes, which call it):
 * send system messages, count and list who is connected.
 * @example
 * const { message, delivered } = await server.hub.sendToUser("alice", "Your export is ready");
 */
export class ChatHub {
  constructor(
    private readonly io: ChatIo,
    private readonly store: Store,
    private readonly messages: MessageService,
    private readonly delivery: Delivery,
    private readonly workers: WorkerManager,
    private readonly nodes: () => Promise<NodeView[]>,
  ) {}

  /** Stores a system message to a user, a room or everyone and delivers it to the sockets connected now. */
  send(target: SystemTarget, content: string): Promise<SystemSendResult> {
    return this.messages.sendSystem(target, content);
  }

  /** A system message to one user (NOT_FOUND when there is no such user). */
  sendToUser(userId: string, content: string): Promise<SystemSendResult> {
    return this.send({ user: userId }, content);
  }

  /** A system message to a room's members (NOT_FOUND when there is no such room). */
  sendToRoom(roomId: string, content: string): Promise<SystemSendResult> {
    return this.send({ room: roomId }, content);
  }

  /** A system message to everyone. */
  sendToAll(content: string): Promise<SystemSendResult> {
    return this.send({ all: true }, content);
  }

  /** A system message to each of a set of users (each stored in that user's system conversation). */
  async sendToUsers(userIds: Iterable<string>, content: string): Promise<SystemSendResult[]> {
    const results: SystemSendResult[] = [];
    for (const userId of new Set(userIds)) results.push(await this.sendToUser(userId, content));
    return results;
  }

  /** Deletes any message (an admin's delete: no author check), leaving a tombstone; tells who may see it. */
  deleteMessage(id: number): Promise<StoredMessage> {
    return this.messages.delete("system", id, undefined, true);
  }

  /** Sockets connected now, on every node: of one user, or of a room's members. */
  countSockets(target: { user: string } | { room: string }): Promise<number> {
    return this.delivery.countSockets(["user" in target ? userChannel(target.user) : roomChannel(target.room)]);
  }

  /** The sockets connected now in a room (its members' sockets), on every node. */
  async roomSessions(roomId: string): Promise<SessionView[]> {
    return (await this.io.in(roomChannel(roomId)).fetchSockets()).map(sessionView);
  }

  /** Connections, users, each room's members / online members / sockets, and the running workers. */
  async stats(): Promise<HubStats> {
    const [rooms, sockets, nodes] = await Promise.all([this.store.allRooms(), this.io.fetchSockets(), this.nodes()]);
    const byChannel = new Map<string, SessionView[]>();
    for (const socket of sockets) {
      const session = sessionView(socket);
      for (const channel of socket.rooms) {
        if (!channel.startsWith("r:")) continue;
        let list = byChannel.get(channel);
        if (!list) byChannel.set(channel, (list = []));
        list.push(session);
      }
    }
    return {
      connections: sockets.length,
      users: new Set(sockets.map((socket) => socket.data.user.id)).size,
      rooms: rooms.map((room) => {
        const sessions = byChannel.get(roomChannel(room.id)) ?? [];
        return {
          id: room.id,
          name: room.name,
          members: room.members,
          online: new Set(sessions.map((session) => session.userId)).size,
          sockets: sessions.length,
        };
      }),
      workers: this.workers.list(),
      nodes,
    };
  }
}
