import type { Server } from "socket.io";
import type {
  ClientToServerEvents,
  InterServerEvents,
  ServerNotice,
  ServerToClientEvents,
  SessionTarget,
  SocketData,
} from "../../shared/events.js";
import type {
  Conversation,
  PresenceMessage,
  PresenceStatus,
  Receipt,
  Room,
  RoomMemberChange,
  RoomRemoved,
  StoredMessage,
  TypingNotice,
  User,
} from "../../shared/schemas.js";
import { presenceChannel, roomChannel, userChannel } from "../socket/channels.js";
import type { ConversationKey } from "../store/types.js";
import { channelsOf } from "./audience.js";
import { ConversationOrder, type OrderTag } from "./order.js";

type ChatIo = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

/** Options of the delivery module. */
export interface DeliveryOptions {
  /**
   * True when nodes share a cluster adapter: channel joins and leaves are asked of every other node too,
   * and wait for their answers (the adapter's own `socketsJoin` does not wait for other nodes; the
   * adapter gives up on a node after 5 s).
   */
  cluster?: boolean;
  /**
   * Told how many sockets of this node a stored message reached (for metrics): on every node, for the
   * messages sent from any node.
   */
  onDelivered?: (sockets: number) => void;
  /**
   * Told when another node did not answer a channel change in time (it is dying, or stalled; its sockets
   * get the change when they reconnect, and `sync` fills what they missed). Never fatal.
   */
  onClusterTimeout?: (error: unknown) => void;
  /**
   * False while this node cannot reach the other nodes (the adapter's Redis connection is down): sends then
   * go to this node's sockets at once, instead of each one waiting in the adapter's queue for Redis to come
   * back (the adapter publishes before it delivers locally). The other nodes' sockets miss them live and
   * get them from `sync` when they reconnect.
   */
  linked?: () => boolean;
  /**
   * The newest message id when this node started (with `cluster`): the node then delivers the messages of a
   * conversation in id order, whichever node stored them.
   */
  floor?: number;
}

/** How long a message waits for the one before it, how many conversations and held messages are kept. */
const ORDER = { waitMs: 2000, maxTracked: 100_000, maxHeld: 10_000 };

/** What `hookBroadcasts` uses of Socket.IO's adapters (socket.io-adapter 2.5). */
interface HookedAdapter {
  broadcast(packet: TaggedPacket, options: unknown): unknown;
  _encode(packet: TaggedPacket, options: unknown): unknown;
  apply(options: unknown, callback: (socket: unknown) => void): void;
}

/** A broadcast packet; a stored message's carries its order tag across nodes (the stream keeps the whole packet). */
interface TaggedPacket {
  data?: unknown[];
  order?: OrderTag;
}

/**
 * Hooks into the adapter's broadcasts, on this node's side of every one (sent from here or received from another
 * node through the cluster adapter, each ends in the in-memory adapter's `broadcast`, which encodes the packet
 * once with `_encode` and then visits each recipient with `apply`):
 * - `tagged` puts an order tag on the packet of the broadcast `send` makes (the cluster adapter publishes the packet as it
 *   is, so other nodes read the tag too; socket.io's encoder sends only `type`, `nsp`, `data` and `id`);
 * - with `order`, a tagged packet's visit waits until the message before it in its conversation was delivered;
 * - with `onDelivered`, each stored message's visit counts the sockets it reached (for remote messages too:
 *   the sending node cannot know how many sockets other nodes reach).
 * `test/cluster.test.ts` fails if these internals change.
 */
function hookBroadcasts(
  adapter: unknown,
  hooks: { order?: ConversationOrder | undefined; onDelivered?: ((sockets: number) => void) | undefined },
): { tagged(tag: OrderTag, send: () => void): void } {
  const target = adapter as HookedAdapter;
  const broadcast = target.broadcast.bind(target);
  const encode = target._encode.bind(target);
  const apply = target.apply.bind(target);
  let next: OrderTag | undefined;
  let current: { counting: boolean; order: OrderTag | undefined } | undefined;
  target.broadcast = (packet, options) => {
    if (next !== undefined) {
      packet.order = next;
      next = undefined;
    }
    return broadcast(packet, options);
  };
  target._encode = (packet, options) => {
    // Stored messages only (they have an id): online/offline notices are `message` events too.
    const counting =
      hooks.onDelivered !== undefined &&
      packet.data?.[0] === "message" &&
      typeof (packet.data[1] as { id?: unknown } | undefined)?.id === "number";
    current = counting || packet.order !== undefined ? { counting, order: packet.order } : undefined;
    return encode(packet, options);
  };
  target.apply = (options, callback) => {
    const visit = current;
    current = undefined;
    if (visit === undefined) return apply(options, callback);
    const run = () => {
      if (!visit.counting) return apply(options, callback);
      let sockets = 0;
      apply(options, (socket) => {
        sockets += 1;
        callback(socket);
      });
      hooks.onDelivered!(sockets);
    };
    if (visit.order !== undefined && hooks.order !== undefined) hooks.order.admit(visit.order, run);
    else run();
  };
  return {
    // Socket.IO's `emit` calls the adapter's `broadcast` before it returns.
    tagged(tag, send) {
      next = tag;
      try {
        send();
      } finally {
        next = undefined;
      }
    },
  };
}

/** What each notice tells the user. */
const NOTICES: Record<ServerNotice["reason"], string> = {
  shutdown: "the server is shutting down; reconnect shortly",
  "signed-out": "this session was signed out; sign in again",
  "token-expired": "the session's token expired; sign in again",
  disabled: "this account is disabled",
  kicked: "an admin ended this session",
};

/** Whether a socket is one of those `target` names. */
function matches(data: Partial<SocketData>, target: SessionTarget): boolean {
  if (target.userId !== undefined && data.user?.id !== target.userId) return false;
  const access = data.access;
  if (target.issuedBefore !== undefined && (access === undefined || access.issuedAt >= target.issuedBefore)) {
    return false;
  }
  if (target.tokenHash !== undefined && access?.hash !== target.tokenHash) return false;
  return true;
}

/** Followed users one socket may have (the contract's bound on `presence:subscribe`). */
const MAX_FOLLOWED = 500;

/**
 * The only place that sends to channels: services hand it what happened (a stored message, a membership,
 * a receipt), it knows who may see it and sends it. With a cluster adapter every send reaches every node;
 * a channel change of a user's sockets completes on every node before it resolves.
 */
export class Delivery {
  constructor(
    private readonly io: ChatIo,
    private readonly options: DeliveryOptions = {},
  ) {
    if (options.cluster) {
      io.on("membership", (change, answer) => {
        this.moveLocal(change.userId, change.channel, change.join);
        answer(true);
      });
      io.on("reach", (channels, answer) => answer(this.localReach(channels ?? undefined)));
      io.on("renamed", (userId, name) => this.renameLocal(userId, name));
      io.on("end-sessions", (target, answer) => answer(this.endLocal(target)));
      io.on("dissolve", (channel, answer) => {
        this.io.local.in(channel).socketsLeave(channel);
        answer(true);
      });
    }
    // In a cluster, messages of one conversation are delivered in id order whichever node stored them.
    this.order =
      options.cluster && options.floor !== undefined
        ? new ConversationOrder({ floor: options.floor, ...ORDER })
        : undefined;
    this.broadcasts = hookBroadcasts(io.of("/").adapter, { order: this.order, onDelivered: options.onDelivered });
  }

  private readonly order: ConversationOrder | undefined;
  private readonly broadcasts: { tagged(tag: OrderTag, send: () => void): void };

  /** Messages waiting on this node for the one before them in their conversation (see ConversationOrder). */
  get heldForOrder(): number {
    return this.order?.waiting ?? 0;
  }

  /** Stops what waits on timers (held messages are dropped: the node is closing). */
  close(): void {
    this.order?.close();
  }

  /**
   * A new message, to every socket that may see it but the one that sent it. `prev` is the id of the message
   * before it in its conversation, when the store told it (see ConversationOrder).
   */
  message(conversation: ConversationKey, message: StoredMessage, originSocketId?: string, prev?: number): void {
    const channels = channelsOf(conversation);
    const send = () => this.audience(channels, originSocketId).emit("message", message);
    // Untagged while the other nodes cannot be reached: their messages would not come to be waited for.
    if (this.order !== undefined && prev !== undefined && this.linked())
      this.broadcasts.tagged({ key: conversation, id: message.id, prev }, send);
    else send();
  }

  /** A changed message (edit, delete, reaction), to every socket that may see it but the one that changed it. */
  messageUpdated(conversation: ConversationKey, update: StoredMessage, originSocketId?: string): void {
    this.audience(channelsOf(conversation), originSocketId).emit("message:updated", update);
  }

  /**
   * A room's membership changed: its members are told, and the subject's own sockets through its user
   * channel, so that a leave reaching another node before this event (pub/sub and the stream are not
   * ordered with each other) cannot keep it from them.
   */
  roomMember(change: RoomMemberChange): void {
    this.to([roomChannel(change.roomId), userChannel(change.userId)]).emit("room:member", change);
  }

  /** A user was invited to a private room. */
  invited(userId: string, room: Room, by: string): void {
    this.to(userChannel(userId)).emit("room:invited", { room, by });
  }

  /** A read position moved: to the reader's other sockets only, or to the room / the peer as well. */
  receipt(receipt: Receipt, to: { own: string; room?: string; peer?: string }, originSocketId?: string): void {
    const channels = to.room !== undefined ? [roomChannel(to.room)] : [userChannel(to.own)];
    this.audience(channels, originSocketId).emit("receipt", receipt);
    if (to.peer !== undefined) {
      const conversation: Conversation = { user: to.own };
      this.to(userChannel(to.peer)).emit("receipt", { ...receipt, conversation });
    }
  }

  /** Typing in a room (to its other members) or a direct conversation (to the peer). */
  typing(notice: TypingNotice, to: { room: string } | { peer: string }): void {
    if ("room" in to) this.to(roomChannel(to.room)).except(userChannel(notice.userId)).emit("typing", notice);
    else this.to(userChannel(to.peer)).emit("typing", notice);
  }

  /** An online or offline notice, to the sockets sharing one of these rooms with the user, but its own. */
  presenceNotice(roomIds: readonly string[], notice: PresenceMessage): void {
    if (roomIds.length === 0) return;
    this.to(roomIds.map(roomChannel)).except(userChannel(notice.from)).emit("message", notice);
  }

  /** A `presence` event to the sockets that follow the user (on any node). */
  presence(status: PresenceStatus): void {
    const channel = presenceChannel(status.userId);
    // Alone, a node knows when nobody follows the user: then nothing is encoded (one per connect in a storm).
    if (!this.options.cluster && !this.io.of("/").adapter.rooms.has(channel)) return;
    this.to(channel).emit("presence", status);
  }

  /** Replaces the users a socket of this node follows (`presence:subscribe`). */
  async follow(socketId: string, userIds: readonly string[]): Promise<void> {
    const socket = this.io.of("/").sockets.get(socketId);
    if (!socket) return;
    const followed = [...socket.rooms].filter((channel) => channel.startsWith("p:"));
    for (const channel of followed) await socket.leave(channel);
    await socket.join(userIds.slice(0, MAX_FOLLOWED).map(presenceChannel));
  }

  /** Sockets of this node following someone's presence (for tests and stats). */
  get localFollowers(): number {
    let count = 0;
    for (const socket of this.io.of("/").sockets.values()) {
      for (const channel of socket.rooms) {
        if (channel.startsWith("p:")) {
          count += 1;
          break;
        }
      }
    }
    return count;
  }

  /** Every socket of the user, on every node, joins the room's channel; resolves once all have. */
  joinRoom(userId: string, roomId: string): Promise<void> {
    return this.move(userId, roomChannel(roomId), true);
  }

  /** Every socket of the user, on every node, leaves the room's channel; resolves once all have. */
  leaveRoom(userId: string, roomId: string): Promise<void> {
    return this.move(userId, roomChannel(roomId), false);
  }

  /** A system message to everyone (the broadcast conversation), for the push routes. */
  everyone(message: StoredMessage): void {
    (this.linked() ? this.io : this.io.local).emit("message", message);
  }

  /**
   * A user changed its name or avatar: the sockets that follow its presence (they show it: member lists,
   * direct conversations) and its own sockets are told.
   */
  userUpdated(user: User): void {
    this.to([presenceChannel(user.id), userChannel(user.id)]).emit("user:updated", user);
  }

  /** A user changed its name: the sockets carry it for the monitor's session list, on every node. */
  renamed(userId: string, name: string): void {
    this.renameLocal(userId, name);
    if (this.options.cluster) this.io.serverSideEmit("renamed", userId, name);
  }

  /**
   * Ends the sessions `target` names, on every node: each gets `server:notice` with the reason, then is
   * disconnected. Resolves with how many sockets ended, once every node answered (a node that does not
   * answer within 5 s is not counted; its sockets' tokens are refused when they reconnect).
   */
  async endSessions(target: SessionTarget): Promise<number> {
    const local = this.endLocal(target);
    if (!this.options.cluster || (target.socketId !== undefined && local > 0)) return local;
    try {
      const others = await this.io.serverSideEmitWithAck("end-sessions", target);
      return others.reduce((sum, count) => sum + count, local);
    } catch (error) {
      this.options.onClusterTimeout?.(error);
      return local;
    }
  }

  /** Ends the sockets of this node that `target` names (see endSessions); returns how many. */
  endLocal(target: SessionTarget): number {
    const nsp = this.io.of("/");
    const candidates =
      target.socketId !== undefined
        ? [target.socketId]
        : [...(target.userId === undefined ? [] : (nsp.adapter.rooms.get(userChannel(target.userId)) ?? []))];
    let ended = 0;
    for (const id of candidates) {
      const socket = nsp.sockets.get(id);
      if (!socket || !matches(socket.data, target)) continue;
      socket.emit("server:notice", { reason: target.reason, message: NOTICES[target.reason] });
      socket.disconnect(true);
      ended += 1;
    }
    return ended;
  }

  /** The sockets connected now on every node (the user's only, when given), each with what it holds. */
  async sessions(userId?: string): Promise<{ id: string; data: SocketData }[]> {
    const target = userId === undefined ? this.io : this.io.in(userChannel(userId));
    return (await target.fetchSockets()).map((socket) => ({ id: socket.id, data: socket.data }));
  }

  /** One socket on any node (every socket is in a channel named by its id), with what it holds. */
  async session(socketId: string): Promise<{ id: string; data: SocketData } | undefined> {
    const [socket] = await this.io.in(socketId).fetchSockets();
    return socket && { id: socket.id, data: socket.data };
  }

  /** This node's connected sockets, each with what it holds. */
  localSessions(): { id: string; data: SocketData }[] {
    return [...this.io.of("/").sockets.values()].map((socket) => ({ id: socket.id, data: socket.data }));
  }

  /** Ends this node's sockets whose token expired by `now` (ms): `server:notice` "token-expired" first. */
  endExpired(now: number): number {
    let ended = 0;
    for (const socket of this.io.of("/").sockets.values()) {
      const access = socket.data.access as SocketData["access"] | undefined;
      if (access === undefined || access.exp * 1000 > now) continue;
      socket.emit("server:notice", { reason: "token-expired", message: NOTICES["token-expired"] });
      socket.disconnect(true);
      ended += 1;
    }
    return ended;
  }

  /** The shutdown notice, to this node's sockets only (the others keep running). */
  shutdownNotice(): void {
    this.io.local.emit("server:notice", { reason: "shutdown", message: NOTICES.shutdown });
  }

  /**
   * How many sockets a send to these channels reaches now, on every node (every socket when undefined).
   * A node that does not answer within 5 s is not counted.
   */
  async countSockets(channels: readonly string[] | undefined): Promise<number> {
    const local = this.localReach(channels);
    if (!this.options.cluster) return local;
    const others = await this.io
      .serverSideEmitWithAck("reach", channels ? [...channels] : null)
      .catch((): number[] => []);
    return others.reduce((sum, count) => sum + count, local);
  }

  /**
   * How many sockets of this node a send to these channels reaches (every socket when undefined), less
   * the origin when it is among them.
   */
  localReach(channels: readonly string[] | undefined, except?: string): number {
    const nsp = this.io.of("/");
    if (!channels) return nsp.sockets.size;
    if (channels.length === 1) {
      // One room: its size, less the sender's socket when it is in it (sockets still in the handshake
      // middleware are counted; they are few and brief).
      const room = nsp.adapter.rooms.get(channels[0]!);
      return (room?.size ?? 0) - (except !== undefined && room?.has(except) ? 1 : 0);
    }
    const ids = new Set<string>();
    for (const channel of channels) {
      for (const id of nsp.adapter.rooms.get(channel) ?? []) if (nsp.sockets.has(id)) ids.add(id);
    }
    if (except !== undefined) ids.delete(except);
    return ids.size;
  }

  /** Sends to `channels`: on every node, or on this one alone while the others cannot be reached. */
  private to(channels: string | string[]) {
    return this.linked() ? this.io.to(channels) : this.io.local.to(channels);
  }

  private linked(): boolean {
    return this.options.linked?.() ?? true;
  }

  private audience(channels: readonly string[] | undefined, except: string | undefined) {
    const target = channels ? this.to([...channels]) : this.linked() ? this.io.except([]) : this.io.local;
    return except === undefined ? target : target.except(except);
  }

  /** A user was kicked or banned from a room: its own sockets are told (they leave the channel next). */
  roomRemoved(userId: string, removed: RoomRemoved): void {
    this.to(userChannel(userId)).emit("room:removed", removed);
  }

  /** A room changed its name, topic or visibility: its members' sockets are told. */
  roomUpdated(room: Room): void {
    this.to(roomChannel(room.id)).emit("room:updated", room);
  }

  /**
   * A room was deleted: its (former) members' sockets are told, then every socket leaves its channel, on every node;
   * resolves once all have (or another node did not answer in time).
   */
  async roomDeleted(roomId: string, members: readonly string[], removed: RoomRemoved): Promise<void> {
    const channel = roomChannel(roomId);
    // Through the members' own channels (as `roomMember` does): the channel leave below may reach a node
    // before this event does, and the event must still reach every member's sockets.
    if (members.length > 0) this.to(members.map(userChannel)).emit("room:removed", removed);
    this.io.local.in(channel).socketsLeave(channel);
    if (!this.options.cluster) return;
    try {
      await this.io.serverSideEmitWithAck("dissolve", channel);
    } catch (error) {
      this.options.onClusterTimeout?.(error);
    }
  }

  private renameLocal(userId: string, name: string): void {
    const nsp = this.io.of("/");
    for (const id of nsp.adapter.rooms.get(userChannel(userId)) ?? []) {
      const socket = nsp.sockets.get(id);
      if (socket) socket.data.user = { ...socket.data.user, name };
    }
  }

  private moveLocal(userId: string, channel: string, join: boolean): void {
    const local = this.io.local.in(userChannel(userId));
    if (join) local.socketsJoin(channel);
    else local.socketsLeave(channel);
  }

  private async move(userId: string, channel: string, join: boolean): Promise<void> {
    this.moveLocal(userId, channel, join);
    if (!this.options.cluster) return;
    try {
      await this.io.serverSideEmitWithAck("membership", { userId, channel, join });
    } catch (error) {
      this.options.onClusterTimeout?.(error);
    }
  }
}
