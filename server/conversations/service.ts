import { randomBytes } from "node:crypto";
import type { ClusterTyping } from "../cluster/typing.js";
import { SYSTEM_USER_ID } from "../../shared/ids.js";
import type { Conversation, ConversationSummary, ReadPositionsPage, StoredMessage } from "../../shared/schemas.js";
import { fileUrl } from "../files/urls.js";
import type { Delivery } from "../delivery/deliver.js";
import type { ConversationKeys, ConversationRow, Store } from "../store/types.js";
import { resolveConversation, type ResolvedConversation } from "./keys.js";

/** A start is relayed at most this often per user and conversation. */
const TYPING_RELAY_MS = 1000;
/** A start with no new start for this long is stopped by the server. */
const TYPING_EXPIRY_MS = 6000;

/** How long the cluster keeps a pending start past its expiry (when the node holding the timer died). */
const TYPING_KEEP_MARGIN_MS = 5000;

interface TypingState {
  lastRelay: number;
  active: boolean;
  timer: NodeJS.Timeout | undefined;
}

/** Timings of typing (the contract's; shorter in tests). */
export interface TypingTimings {
  relayMs: number;
  expiryMs: number;
}

/**
 * Conversation state: the list with last message and unread counts, read positions and receipts, and typing
 * notices. Conversations in events are written from the receiver's point of view.
 */
export class ConversationService {
  private readonly typing = new Map<string, TypingState>();

  constructor(
    private readonly delivery: Delivery,
    private readonly store: Store,
    private readonly now: () => number,
    /**
     * Typing state shared by the nodes (a user's tabs on several nodes throttle, stop and expire as one).
     * @default none: this node's state alone
     */
    private readonly clusterTyping?: ClusterTyping,
    private readonly timings: TypingTimings = { relayMs: TYPING_RELAY_MS, expiryMs: TYPING_EXPIRY_MS },
  ) {}

  /** Per typing key, the expiry timer of the newest start this node made in the cluster, and its token. */
  private readonly expiries = new Map<string, { token: string; timer: NodeJS.Timeout }>();
  /** Tokens of this node's starts: unique in the cluster (several services may share a process in tests). */
  private readonly tokenPrefix = randomBytes(6).toString("base64url");
  private tokens = 0;

  private async newest(keys: ConversationKeys): Promise<StoredMessage | undefined> {
    return (await this.store.conversationPage(keys, { limit: 1 })).messages[0];
  }

  private async summary(userId: string, resolved: ResolvedConversation, name: string, since: number) {
    const lastMessage = await this.newest(resolved.keys);
    const lastReadId = await this.store.readPosition(userId, resolved.readKey);
    const unread = await this.store.unreadCount(userId, resolved.keys, lastReadId);
    const row: ConversationSummary = { conversation: resolved.conversation, name, unread, lastReadId };
    if (lastMessage) row.lastMessage = lastMessage;
    return { row, activity: lastMessage?.createAt ?? since };
  }

  /**
   * The caller's rooms and the direct conversations it has messages in, newest activity first. Rooms and
   * direct conversations come from the store in a constant number of queries, whatever their number; only
   * the system conversation (two keys: the caller's own and the broadcasts) is summed up on its own.
   */
  async list(userId: string): Promise<ConversationSummary[]> {
    const rows: { row: ConversationSummary; activity: number }[] = [];
    const { rooms, direct } = await this.store.conversationRows(userId);
    const add = (conversation: Conversation, entry: ConversationRow, name: string, since: number) => {
      const row: ConversationSummary = { conversation, name, unread: entry.unread, lastReadId: entry.lastReadId };
      if (entry.lastMessage) row.lastMessage = entry.lastMessage;
      rows.push({ row, activity: entry.lastMessage?.createAt ?? since });
    };
    for (const room of rooms) add({ room: room.id }, room, room.name ?? room.id, room.joinedAt);
    const system = async () => {
      const resolved = await resolveConversation(this.store, userId, { user: SYSTEM_USER_ID });
      const entry = await this.summary(userId, resolved, "System", 0);
      if (entry.row.lastMessage) rows.push(entry);
    };
    let systemListed = false;
    for (const peer of direct) {
      if (peer.id === SYSTEM_USER_ID) {
        systemListed = true;
        await system();
      } else if (peer.lastMessage) {
        add({ user: peer.id }, peer, peer.name ?? peer.id, 0);
        if (peer.avatarFileId !== undefined) rows.at(-1)!.row.avatarUrl = fileUrl(peer.avatarFileId);
      }
    }
    // Broadcasts belong to everyone's system conversation, whether or not a system message named them.
    if (!systemListed) await system();
    rows.sort((a, b) => b.activity - a.activity);
    return rows.map((entry) => entry.row);
  }

  /**
   * Moves the caller's read position forward (clamped to the newest message) and answers the unread count.
   * A move is told to the reader's other sockets and, unless the reader turned receipts off, to the others.
   */
  async read(
    userId: string,
    conversation: Conversation,
    lastReadId: number,
    originSocketId?: string,
  ): Promise<{ unread: number }> {
    const resolved = await resolveConversation(this.store, userId, conversation);
    const newestId = (await this.newest(resolved.keys))?.id ?? 0;
    const target = Math.min(lastReadId, newestId);
    const before = await this.store.readPosition(userId, resolved.readKey);
    let position = before;
    if (target > before) {
      // Another request (another tab) may have moved it meanwhile: the receipt goes out once per move.
      const move = await this.store.moveReadPosition(userId, resolved.readKey, target);
      position = move.position;
      if (move.moved) await this.emitReceipt(userId, resolved, position, originSocketId);
    }
    return { unread: await this.store.unreadCount(userId, resolved.keys, position) };
  }

  /**
   * `conversation:reads`: where the people of a conversation the caller may see have read up to, by user id
   * (a page of a room's members; both users of a direct conversation; nobody in the system conversation),
   * leaving out those who turned read receipts off.
   */
  async reads(userId: string, conversation: Conversation, after: string | undefined, limit: number) {
    const resolved = await resolveConversation(this.store, userId, conversation);
    if (resolved.peer === SYSTEM_USER_ID) return { reads: [], hasMore: false } satisfies ReadPositionsPage;
    const people = "room" in conversation ? { room: conversation.room } : { users: [userId, resolved.peer!] };
    return this.store.readPositions(resolved.readKey, people, after, limit);
  }

  private async emitReceipt(userId: string, resolved: ResolvedConversation, lastReadId: number, origin?: string) {
    const receiptsOn = (await this.store.getUser(userId))?.readReceipts ?? true;
    const receipt = { conversation: resolved.conversation, userId, lastReadId };
    // With receipts off, only the reader's own other sockets learn of it.
    if ("room" in resolved.conversation) {
      this.delivery.receipt(
        receipt,
        receiptsOn ? { own: userId, room: resolved.conversation.room } : { own: userId },
        origin,
      );
      return;
    }
    const peer = resolved.peer!;
    const peerTold = receiptsOn && peer !== userId && peer !== SYSTEM_USER_ID;
    this.delivery.receipt(receipt, peerTold ? { own: userId, peer } : { own: userId }, origin);
  }

  /**
   * Relays typing to the other members' sockets (in a direct conversation, the other user's): a start at
   * most once a second, a stop whenever a relayed start is pending, and a stop of its own after 6 s.
   */
  async setTyping(userId: string, conversation: Conversation, state: "start" | "stop"): Promise<Record<string, never>> {
    const resolved = await resolveConversation(this.store, userId, conversation);
    const key = `${userId}\n${resolved.readKey}`;
    const relay = (relayed: "start" | "stop") => this.relayTyping(userId, resolved, relayed);
    if (this.clusterTyping) await this.clusterTypingChange(this.clusterTyping, key, state, relay);
    else this.localTypingChange(key, state, relay);
    return {};
  }

  /** One node alone: the state is this map's entry, removed by its timer. */
  private localTypingChange(key: string, state: "start" | "stop", relay: (state: "start" | "stop") => void): void {
    const { relayMs, expiryMs } = this.timings;
    let entry = this.typing.get(key);
    if (!entry) {
      entry = { lastRelay: -Infinity, active: false, timer: undefined };
      this.typing.set(key, entry);
    }
    const current = entry;
    // Each entry has one timer: the expiry of an active start, or its own removal once the throttle passed.
    const schedule = (ms: number, then: () => void) => {
      clearTimeout(current.timer);
      current.timer = setTimeout(then, ms);
    };
    const forget = () => schedule(Math.max(0, current.lastRelay + relayMs - this.now()), () => this.typing.delete(key));
    if (state === "start") {
      const at = this.now();
      if (at - current.lastRelay >= relayMs) {
        current.lastRelay = at;
        current.active = true;
        relay("start");
      }
    } else if (current.active) {
      current.active = false;
      relay("stop");
    }
    if (current.active) {
      schedule(expiryMs, () => {
        current.active = false;
        relay("stop");
        this.typing.delete(key);
      });
    } else {
      forget();
    }
  }

  /**
   * Several nodes: the throttle and the pending start live in Redis (see server/cluster/typing.ts); this node
   * keeps the expiry timer of the newest start it made. While Redis does not answer, a start is relayed and a
   * stop too, as a node alone would (typing is a hint).
   */
  private async clusterTypingChange(
    typing: ClusterTyping,
    key: string,
    state: "start" | "stop",
    relay: (state: "start" | "stop") => void,
  ): Promise<void> {
    const { relayMs, expiryMs } = this.timings;
    if (state === "stop") {
      const held = this.expiries.get(key);
      if (held) clearTimeout(held.timer);
      this.expiries.delete(key);
      // A start kept here while Redis did not answer is stopped here; otherwise Redis says whether one was pending
      // (and, not answering, a stop is relayed: it is a hint, and a stray one costs nothing).
      const known = this.typing.has(key);
      const local = this.typing.get(key)?.active === true;
      if (known) this.localTypingChange(key, "stop", relay);
      if ((await typing.stop(key).catch(() => !known)) && !local) relay("stop");
      return;
    }
    const token = `${this.tokenPrefix}.${++this.tokens}`;
    const outcome = await typing.start(key, token, relayMs, expiryMs + TYPING_KEEP_MARGIN_MS).catch(() => undefined);
    // Redis did not answer: this node's own state throttles and expires it, as a node alone does.
    if (outcome === undefined) return this.localTypingChange(key, state, relay);
    if (outcome === "none") return;
    if (outcome === "relay") relay("start");
    const held = this.expiries.get(key);
    if (held) clearTimeout(held.timer);
    const timer = setTimeout(() => {
      if (this.expiries.get(key)?.token === token) this.expiries.delete(key);
      typing.expire(key, token).then(
        (pending) => pending && relay("stop"),
        () => relay("stop"),
      );
    }, expiryMs);
    this.expiries.set(key, { token, timer });
  }

  private relayTyping(userId: string, resolved: ResolvedConversation, state: "start" | "stop"): void {
    if ("room" in resolved.conversation) {
      const room = resolved.conversation.room;
      this.delivery.typing({ conversation: resolved.conversation, userId, state }, { room });
      return;
    }
    const peer = resolved.peer!;
    if (peer === userId || peer === SYSTEM_USER_ID) return;
    this.delivery.typing({ conversation: { user: userId }, userId, state }, { peer });
  }

  /** Cancels pending typing expiries (shutdown). */
  close(): void {
    for (const entry of this.typing.values()) clearTimeout(entry.timer);
    this.typing.clear();
    for (const held of this.expiries.values()) clearTimeout(held.timer);
    this.expiries.clear();
  }
}
