import type { Server } from "socket.io";
import { SYSTEM_USER_ID } from "../../shared/ids.js";
import type { HistoryList, MessagePage, SendMessage, StoredMessage } from "../../shared/schemas.js";
import type { ClientToServerEvents, InterServerEvents, ServerToClientEvents, SocketData } from "../../shared/events.js";
import { AppError, forbidden, notFound } from "../errors.js";
import { roomChannel, userChannel } from "../socket/channels.js";
import type { Store } from "../store/types.js";
import { BROADCAST_CONVERSATION, directConversation, roomConversation, systemConversation } from "./conversation.js";

type ChatIo = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

/** Where a system message goes. */
export type SystemTarget = { user: string } | { room: string } | { all: true };

/** Hooks the message service reports to (metrics). */
export interface MessageEvents {
  accepted?: (message: StoredMessage) => void;
  delivered?: (sockets: number) => void;
}

/** A system message and the number of sockets it reached at once. */
export interface SystemSendResult {
  message: StoredMessage;
  delivered: number;
}

/**
 * Accepts, stores and routes messages, and answers history and sync: the one place that knows who may
 * see what (a room's current members; a direct conversation's two users; a system message's target).
 */
export class MessageService {
  constructor(
    private readonly io: ChatIo,
    private readonly store: Store,
    private readonly now: () => number,
    private readonly events: MessageEvents = {},
  ) {}

  /**
   * Stores a user's message, then delivers it: a single message to every socket of the recipient and the
   * sender's other sockets, a group message to every member's sockets but the sending one. A resend with
   * a used `clientMsgId` returns the first message and delivers nothing.
   */
  async send(senderId: string, input: SendMessage, originSocketId?: string): Promise<StoredMessage> {
    const draftBase = {
      mediaType: input.mediaType,
      from: senderId,
      to: input.to,
      content: input.content,
      fileId: input.fileId,
      clientMsgId: input.clientMsgId,
      createAt: this.now(),
    };
    let channels: string[];
    let draft;
    if (input.messageType === "single") {
      if (input.to === SYSTEM_USER_ID) throw forbidden("the system user does not take messages");
      if (!(await this.store.getUser(input.to))) throw notFound("user");
      draft = {
        ...draftBase,
        messageType: "single" as const,
        conversation: directConversation(senderId, input.to),
        recipientUser: input.to,
      };
      channels = [userChannel(input.to), userChannel(senderId)];
    } else {
      if (!(await this.store.getRoom(input.to))) throw notFound("room");
      if (!(await this.store.isMember(input.to, senderId))) throw forbidden("not a member of this room");
      draft = {
        ...draftBase,
        messageType: "group" as const,
        conversation: roomConversation(input.to),
        recipientUser: null,
      };
      channels = [roomChannel(input.to)];
    }
    if (input.fileId !== undefined) {
      const file = await this.store.getFile(input.fileId);
      if (!file || file.owner !== senderId) throw notFound("file");
      if (input.mediaType === "image" && file.mediaType !== "image") {
        throw new AppError("INVALID_PAYLOAD", "an image message needs an image file");
      }
    }
    const { message, created } = await this.store.appendMessage(draft);
    if (created) {
      this.events.accepted?.(message);
      const target = originSocketId ? this.io.to(channels).except(originSocketId) : this.io.to(channels);
      target.emit("message", message);
      this.events.delivered?.(this.reach(channels, originSocketId));
    }
    return message;
  }

  /** Stores a system message to a user, a room or everyone and delivers it to who is connected now. */
  async sendSystem(target: SystemTarget, content: string): Promise<SystemSendResult> {
    let channels: string[] | undefined;
    let draft;
    const base = {
      messageType: "system" as const,
      mediaType: "text" as const,
      from: SYSTEM_USER_ID,
      content,
      createAt: this.now(),
    };
    if ("user" in target) {
      if (target.user === SYSTEM_USER_ID || !(await this.store.getUser(target.user))) throw notFound("user");
      draft = { ...base, to: target.user, conversation: systemConversation(target.user), recipientUser: target.user };
      channels = [userChannel(target.user)];
    } else if ("room" in target) {
      if (!(await this.store.getRoom(target.room))) throw notFound("room");
      draft = { ...base, to: target.room, conversation: roomConversation(target.room), recipientUser: null };
      channels = [roomChannel(target.room)];
    } else {
      draft = { ...base, to: "*", conversation: BROADCAST_CONVERSATION, recipientUser: null };
    }
    const { message } = await this.store.appendMessage(draft);
    this.events.accepted?.(message);
    (channels ? this.io.to(channels) : this.io).emit("message", message);
    const delivered = this.reach(channels);
    this.events.delivered?.(delivered);
    return { message, delivered };
  }

  /** How many sockets on this server a message to these channels reaches (all sockets when none given). */
  private reach(channels: string[] | undefined, except?: string): number {
    const nsp = this.io.of("/");
    if (!channels) return nsp.sockets.size;
    const ids = new Set<string>();
    for (const channel of channels) {
      for (const id of nsp.adapter.rooms.get(channel) ?? []) if (nsp.sockets.has(id)) ids.add(id);
    }
    if (except !== undefined) ids.delete(except);
    return ids.size;
  }

  /** One page of a room's or a direct conversation's history, if the caller may see it. */
  async history(userId: string, query: HistoryList): Promise<MessagePage> {
    let conversation: string;
    if (query.room !== undefined) {
      if (!(await this.store.getRoom(query.room))) throw notFound("room");
      if (!(await this.store.isMember(query.room, userId))) throw forbidden("not a member of this room");
      conversation = roomConversation(query.room);
    } else {
      const peer = query.user!;
      if (peer !== SYSTEM_USER_ID && !(await this.store.getUser(peer))) throw notFound("user");
      conversation = directConversation(userId, peer);
    }
    return this.store.conversationPage(conversation, query);
  }

  /** Every message the caller may see with id > after, ascending. */
  sync(userId: string, after: number, limit: number): Promise<MessagePage> {
    return this.store.visibleAfter(userId, after, limit);
  }
}
