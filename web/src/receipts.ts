import type { ChatClient } from "../../client/index.js";
import type { Receipt } from "../../shared/schemas.js";
import { background } from "./background.js";
import type { ChatState, Conversation } from "./chat-state.js";
import { SYSTEM, conversationKey, historyTarget, type ConversationKey } from "./conversations.js";

/** What the receipts controller needs from the app. */
export interface ReceiptsContext {
  client: ChatClient;
  state: ChatState;
  /** The open conversation's newest message is in view: the tab is visible and its list at the bottom. */
  newestInView(): boolean;
  /** Keep what changed for the next visit (debounced). */
  save(): void;
  /** Unread counts changed: redraw the sidebar. */
  countsChanged(): void;
  /** Read positions of the open conversation, or everything, changed: redraw. */
  changed(everything: boolean): void;
}

/**
 * Read state both ways: my read position per conversation as the server knows it (told when the newest
 * message of the open conversation is in view, and learnt from `conversation:list` on every connect and from
 * my receipts in other tabs), and others' positions from their receipts, for "Seen by".
 */
export class Receipts {
  /** My read position per conversation as the server knows it. */
  private readonly serverRead = new Map<ConversationKey, number>();
  /** Others' read positions learnt from receipts and `conversation:reads`, per conversation. */
  private readonly reads = new Map<ConversationKey, Map<string, number>>();
  /** Conversations whose read positions were asked for since the last connect. */
  private readonly asked = new Set<ConversationKey>();

  constructor(private readonly context: ReceiptsContext) {}

  /** A `receipt` event: mine from another tab (the server has the counts), or someone else's. */
  received(receipt: Receipt): void {
    const key = conversationKey(receipt.conversation);
    if (receipt.userId === this.context.state.me.id) {
      this.moved(key, receipt.lastReadId);
      background(this.sync());
      return;
    }
    this.learn(key, receipt.userId, receipt.lastReadId);
    if (key === this.context.state.active) this.context.changed(false);
  }

  private learn(key: ConversationKey, userId: string, lastReadId: number): void {
    let reads = this.reads.get(key);
    if (!reads) this.reads.set(key, (reads = new Map()));
    reads.set(userId, Math.max(reads.get(userId) ?? 0, lastReadId));
  }

  /**
   * Where the others have read up to in a conversation, from the server (`conversation:reads`: the first 200
   * people by id), once per connect: "Seen by" holds across reloads and reconnects; receipts keep it live.
   */
  loadReads(conversation: Conversation): void {
    const { client, state } = this.context;
    const { key, ref } = conversation;
    if (this.asked.has(key) || client.state !== "online" || (ref.kind === "direct" && ref.id === SYSTEM)) return;
    this.asked.add(key);
    background(
      client.conversationReads(historyTarget(ref), { limit: 200 }).then((result) => {
        if (!result.ok) return void this.asked.delete(key);
        for (const read of result.data.reads) {
          if (read.userId !== state.me.id) this.learn(key, read.userId, read.lastReadId);
        }
        if (key === state.active) this.context.changed(false);
      }),
    );
  }

  /** My read position on the server moved to `id` (sending moves it too, silently). */
  moved(key: ConversationKey, id: number): void {
    this.serverRead.set(key, Math.max(this.serverRead.get(key) ?? 0, id));
  }

  /** Connected (again): receipts sent while this tab was not connected are missed, so others' positions are asked again. */
  connected(): void {
    this.asked.clear();
    this.loadReads(this.context.state.conversation(this.context.state.active));
  }

  /** Unread counts, read positions and direct conversations from the server (every connect). */
  async sync(): Promise<void> {
    const { client, state } = this.context;
    const list = await client.listConversations();
    if (!list.ok) return;
    const directs: string[] = [];
    for (const row of list.data) {
      const key = conversationKey(row.conversation);
      if ("user" in row.conversation) {
        directs.push(row.conversation.user);
        if (row.conversation.user !== SYSTEM) {
          state.people.set({ id: row.conversation.user, name: row.name, avatarUrl: row.avatarUrl });
        }
      }
      const told = this.serverRead.get(key) ?? 0;
      this.serverRead.set(key, Math.max(told, row.lastReadId));
      state.local.lastRead[key] = Math.max(state.local.lastRead[key] ?? 0, row.lastReadId);
      // A row older than a read this tab already sent (answers can cross), or the conversation on screen
      // (read as soon as its newest message shows): keep what this tab knows.
      const stale = told > row.lastReadId;
      const onScreen = key === state.active && document.visibilityState === "visible";
      if (stale || onScreen) continue;
      if (row.unread > 0) state.local.unread[key] = row.unread;
      else delete state.local.unread[key];
    }
    state.local.directs = [...directs, ...state.local.directs.filter((id) => !directs.includes(id))];
    this.context.save();
    this.context.changed(true);
  }

  /** Tells the server the open conversation is read when its newest message is in view. */
  report(): void {
    const { client, state } = this.context;
    const key = state.active;
    const conversation = state.conversations.get(key);
    if (!conversation?.loaded || client.state !== "online") return;
    if (!this.context.newestInView()) return;
    const newest = conversation.timeline.newestId;
    if (newest <= (this.serverRead.get(key) ?? 0)) return;
    this.serverRead.set(key, newest);
    state.markRead(key, newest);
    background(
      client.markRead(historyTarget(conversation.ref), newest).then((result) => {
        if (!result.ok) return;
        if (result.data.unread > 0 && key !== state.active) state.local.unread[key] = result.data.unread;
        this.context.save();
        this.context.countsChanged();
      }),
    );
  }

  /** "Seen by" under my newest message: who read up to it (the peer, or room members whose receipts say so). */
  seenBy(conversation: Conversation): { id: number; names: string[] } | undefined {
    const { me } = this.context.state;
    const mine = conversation.timeline.stored.findLast(
      (m) => m.from === me.id && m.messageType !== "system" && m.deletedAt === undefined,
    );
    if (!mine) return undefined;
    const names = [...(this.reads.get(conversation.key) ?? [])]
      .filter(([userId, position]) => userId !== me.id && position >= mine.id)
      .map(([userId]) => this.context.state.nameOf(userId));
    return { id: mine.id, names };
  }
}
