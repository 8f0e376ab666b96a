import { SYSTEM_USER_ID } from "../../shared/ids.js";
import type { Conversation, ConversationSummary, StoredMessage } from "../../shared/schemas.js";
import { fileUrl } from "../files/urls.js";
import type { Delivery } from "../delivery/deliver.js";
import type { ConversationKeys, ConversationRow, Store } from "../store/types.js";
import { resolveConversation, type ResolvedConversation } from "./keys.js";

/** A start is relayed at most this often per user and conversation. */
const TYPING_RELAY_MS = 1000;
/** A start with no new start for this long is stopped by the server. */
const TYPING_EXPIRY_MS = 6000;

interface TypingState {
  lastRelay: number;
  active: boolean;
  timer: NodeJS.Timeout | undefined;
  /** Starts of this entry waiting for the cluster's gate: while any is, its timers do not remove it. */
  gated: number;
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
     * The cluster's throttle of typing starts (true: relay this one), so that a user typing in tabs on
     * several nodes is relayed at most once a second in all. @default none: this node's throttle alone
     */
    private readonly typingGate?: (key: string, ms: number) => Promise<boolean>,
  ) {}

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
    let entry = this.typing.get(key);
    if (!entry) {
      entry = { lastRelay: -Infinity, active: false, timer: undefined, gated: 0 };
      this.typing.set(key, entry);
    }
    const current = entry;
    const relay = (relayed: "start" | "stop") => this.relayTyping(userId, resolved, relayed);
    // A timer that fires while a start awaits the gate leaves the entry in place: removed then, the start
    // would go on with an entry nobody finds, and the stop that follows would not be relayed.
    const remove = () => {
      if (current.gated === 0) this.typing.delete(key);
    };
    // Each entry has one timer: the expiry of an active start, or its own removal once the throttle passed.
    const schedule = (ms: number, then: () => void) => {
      clearTimeout(current.timer);
      current.timer = setTimeout(then, ms);
    };
    const forget = () => schedule(Math.max(0, current.lastRelay + TYPING_RELAY_MS - this.now()), remove);
    if (state === "start") {
      try {
        const at = this.now();
        if (at - current.lastRelay >= TYPING_RELAY_MS) {
          current.lastRelay = at;
          // Another node relayed this user's start within the second: its own expiry will stop it.
          if (await this.passesGate(current, key)) {
            current.active = true;
            relay("start");
          }
        }
      } finally {
        // Also when the gate failed: whatever fired while it answered, the entry has its timer again.
        if (current.active) {
          schedule(TYPING_EXPIRY_MS, () => {
            current.active = false;
            relay("stop");
            remove();
          });
        } else {
          forget();
        }
      }
    } else {
      if (current.active) {
        current.active = false;
        relay("stop");
      }
      forget();
    }
    return {};
  }

  /** Asks the cluster's gate whether this start may be relayed (always, alone); the entry stays while it answers. */
  private async passesGate(entry: TypingState, key: string): Promise<boolean> {
    if (!this.typingGate) return true;
    entry.gated += 1;
    try {
      return await this.typingGate(key, TYPING_RELAY_MS);
    } finally {
      entry.gated -= 1;
    }
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
  }
}
