import type { ChatClient } from "../../client/index.js";
import { background } from "./background.js";
import type { ChatState, Conversation } from "./chat-state.js";
import { historyTarget, type ConversationKey } from "./conversations.js";
import type { RenderMode } from "./views/message-list.js";
import type { Toasts } from "./views/toasts.js";

const PAGE_SIZE = 50;
/** Pages `reach` loads back at most, looking for a message (a search result, a quoted message). */
const REACH_PAGES = 20;

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What loading history needs from the app. */
export interface HistoryContext {
  client: ChatClient;
  state: ChatState;
  toasts: Toasts;
  /** The message list does not fill its viewport yet. */
  underfilled(): boolean;
  /** A conversation's timeline changed: redraw it if it is on screen. */
  changed(conversation: Conversation, mode: RenderMode): void;
  /** Opens a conversation (the lobby, when the open one turned out to be gone). */
  open(key: ConversationKey): void;
  save(): void;
}

/**
 * A conversation's history: its newest page when first opened (online), older pages on request or until the
 * list can scroll, and what to do when the server says it is gone or forbidden.
 */
export class History {
  constructor(private readonly context: HistoryContext) {}

  /** Loads a conversation's newest page unless it is loaded, loading, or the client is offline. */
  ensureLoaded(conversation: Conversation): void {
    const { client, state } = this.context;
    if (conversation.loaded || conversation.loading || client.state !== "online") return;
    conversation.loading = true;
    background(
      client.request("history:list", { ...historyTarget(conversation.ref), limit: PAGE_SIZE }).then((page) => {
        conversation.loading = false;
        if (!page.ok) return this.unavailable(conversation, page.error.code, page.error.message);
        for (const message of page.data.messages) conversation.timeline.add(message);
        conversation.loaded = true;
        conversation.hasOlder = page.data.hasMore;
        if (conversation.key === state.active) state.markRead(conversation.key, conversation.timeline.newestId);
        this.context.changed(conversation, "update");
        this.fillViewport(conversation);
      }),
    );
  }

  /** Loads the page before the oldest message of the open conversation. */
  async loadOlder(): Promise<void> {
    const { client, state } = this.context;
    const conversation = state.conversation(state.active);
    const before = conversation.timeline.oldestId;
    if (!conversation.loaded || conversation.loadingOlder || !conversation.hasOlder || before === undefined) return;
    conversation.loadingOlder = true;
    this.context.changed(conversation, "update");
    const page = await client.request("history:list", {
      ...historyTarget(conversation.ref),
      before,
      limit: PAGE_SIZE,
    });
    conversation.loadingOlder = false;
    if (page.ok) {
      for (const message of page.data.messages) conversation.timeline.add(message);
      conversation.hasOlder = page.data.hasMore;
    }
    this.context.changed(conversation, "older");
    this.fillViewport(conversation);
  }

  /**
   * Pages back through the open conversation until message `id` is loaded, at most REACH_PAGES pages (and
   * never beyond the conversation's start); true once it is. For a search result or a quote to jump to.
   */
  async reach(id: number): Promise<boolean> {
    const { state } = this.context;
    const key = state.active;
    const conversation = state.conversation(key);
    let pages = 0;
    // Each look waits a little while the newest page or another older page is still on its way.
    for (let looks = 0; looks < 200 && state.active === key; looks++) {
      const oldest = conversation.timeline.oldestId;
      if (conversation.loaded && oldest !== undefined && oldest <= id) return true;
      if (conversation.loaded && !conversation.loadingOlder) {
        if (!conversation.hasOlder || pages >= REACH_PAGES) return false;
        pages += 1;
        await this.loadOlder();
      } else {
        await pause(50);
      }
    }
    return false;
  }

  /** Loads older pages until the list can scroll, so "scroll up for more" always works. */
  private fillViewport(conversation: Conversation): void {
    if (conversation.key === this.context.state.active && conversation.hasOlder && this.context.underfilled()) {
      requestAnimationFrame(() => background(this.loadOlder()));
    }
  }

  /** The server refused the history: say why; a conversation that is gone or forbidden is forgotten. */
  private unavailable(conversation: Conversation, code: string, message: string): void {
    const { state } = this.context;
    this.context.toasts.show(`${state.titleOf(conversation.ref)}: ${message}`, { kind: "error" });
    if (code !== "NOT_FOUND" && code !== "FORBIDDEN") return;
    state.conversations.delete(conversation.key);
    if (conversation.ref.kind === "direct")
      state.local.directs = state.local.directs.filter((id) => id !== conversation.ref.id);
    else state.rooms.delete(conversation.ref.id);
    if (conversation.key === state.active) this.context.open(state.home());
    this.context.save();
  }
}
