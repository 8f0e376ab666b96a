import type { ChatClient } from "../../client/index.js";
import type { TypingNotice } from "../../shared/schemas.js";
import { background } from "./background.js";
import { SYSTEM, conversationKey, historyTarget, refOf, type ConversationKey } from "./conversations.js";

/** A typing start is sent again after this long while still typing (the server expires one after 6 s). */
const TYPING_REFRESH_MS = 3000;
/** Someone else's typing line goes away after this long without a new start (the server sends a stop at 6 s). */
const TYPING_TIMEOUT_MS = 8000;
/** The server relays at most one typing start a second per user and conversation. */
const TYPING_MIN_GAP_MS = 1100;

/** What the typing controller needs from the app. */
export interface TypingContext {
  client: ChatClient;
  /** The conversation on screen. */
  active(): ConversationKey;
  nameOf(userId: string): string;
  /** Who types in this conversation changed. */
  changed(key: ConversationKey): void;
}

/**
 * Typing, both ways: tells the server when I type in the open conversation (a start again every few seconds,
 * never two within the server's one-second relay gap, a stop when I stop or move away), and keeps who else
 * types where, forgetting a typer whose stop never came.
 */
export class Typing {
  /** Who is typing where, each with the timer that forgets them. */
  private readonly typers = new Map<ConversationKey, Map<string, ReturnType<typeof setTimeout>>>();
  /** Where I last told the server I am typing, and when. */
  private sent: { key: ConversationKey; at: number } | undefined;
  /** When a start was last sent (the server relays at most one a second), and a start waiting for that. */
  private startAt = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly context: TypingContext) {}

  /** A `typing` event from the server. */
  received(notice: TypingNotice): void {
    const key = conversationKey(notice.conversation);
    if (notice.state !== "start") return this.stopped(key, notice.userId);
    let typers = this.typers.get(key);
    if (!typers) this.typers.set(key, (typers = new Map()));
    clearTimeout(typers.get(notice.userId));
    typers.set(
      notice.userId,
      setTimeout(() => this.stopped(key, notice.userId), TYPING_TIMEOUT_MS),
    );
    this.context.changed(key);
  }

  /** Someone stopped typing (a stop, their message arrived, or their start expired). */
  stopped(key: ConversationKey, userId: string): void {
    const typers = this.typers.get(key);
    if (!typers?.has(userId)) return;
    clearTimeout(typers.get(userId));
    typers.delete(userId);
    this.context.changed(key);
  }

  /** The line under a conversation: who types there. */
  line(key: ConversationKey): string {
    const names = [...(this.typers.get(key)?.keys() ?? [])].map((id) => this.context.nameOf(id));
    return names.length === 0
      ? ""
      : names.length === 1
        ? `${names[0]} is typing…`
        : names.length === 2
          ? `${names[0]} and ${names[1]} are typing…`
          : "Several people are typing…";
  }

  /** Tells the others whether I am typing in the open conversation (a start again every few seconds). */
  set(active: boolean): void {
    const { client } = this.context;
    const sent = this.sent;
    const key = this.context.active();
    const ref = refOf(key);
    clearTimeout(this.timer);
    if (active && !(ref.kind === "direct" && ref.id === SYSTEM)) {
      const now = Date.now();
      if (sent?.key === key && now - sent.at < TYPING_REFRESH_MS) return;
      if (sent && sent.key !== key) {
        this.sent = undefined;
        background(client.setTyping(historyTarget(refOf(sent.key)), "stop"));
      }
      // A start within a second of the last would not be relayed: send it once it would be.
      const wait = this.startAt + TYPING_MIN_GAP_MS - now;
      if (wait > 0) {
        this.timer = setTimeout(() => this.set(true), wait);
        return;
      }
      this.sent = { key, at: now };
      this.startAt = now;
      background(client.setTyping(historyTarget(ref), "start"));
    } else if (sent) {
      this.sent = undefined;
      background(client.setTyping(historyTarget(refOf(sent.key)), "stop"));
    }
  }

  /** Forgets every timer (log out). */
  close(): void {
    clearTimeout(this.timer);
    for (const typers of this.typers.values()) for (const timer of typers.values()) clearTimeout(timer);
    this.typers.clear();
  }
}
