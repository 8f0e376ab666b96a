import type { PresenceMessage, StoredMessage } from "../../shared/schemas.js";
import { background } from "./background.js";
import type { ChatState } from "./chat-state.js";
import { LOBBY, conversationOf, refOf, roomKey, type ConversationKey } from "./conversations.js";
import { mentions } from "./mentions.js";
import type { Notifier } from "./notifications.js";
import type { Presence } from "./presence.js";
import type { Receipts } from "./receipts.js";
import type { RoomActions } from "./room-actions.js";
import type { RoomMembers } from "./room-members.js";
import type { Typing } from "./typing.js";

/** What receiving needs from the app. */
export interface InboxContext {
  state: ChatState;
  notifier: Notifier;
  presence: Presence;
  receipts: Receipts;
  typing: Typing;
  roomActions: RoomActions;
  roomMembers: RoomMembers;
  /** Keep what changed for the next visit (debounced). */
  save(): void;
  /** Something the views show changed: redraw (soon). */
  changed(): void;
}

/**
 * What arrives into the timelines: new messages (with the unread counts, mention marks and desktop
 * notifications they raise), newer versions of messages (edits, deletions, reactions) and the online/offline
 * notices shown in the conversations a person shares with me.
 */
export class Inbox {
  constructor(private readonly context: InboxContext) {}

  /** A stored message, live or from a catch-up (mine from another tab too). */
  received(message: StoredMessage): void {
    const { receipts, state, typing } = this.context;
    const me = state.me.id;
    const key = conversationOf(message, me);
    if (key.startsWith("user:")) state.touchDirect(refOf(key).id);
    if (message.messageType === "group" && !state.rooms.has(message.to)) background(this.context.roomActions.refresh());
    const conversation = state.conversations.get(key);
    conversation?.timeline.add(message);
    typing.stopped(key, message.from);
    if (message.from === me) receipts.moved(key, message.id);
    const seenNow = key === state.active && document.visibilityState === "visible";
    if (message.from === me || seenNow) {
      // Sending (from another tab too) reads the conversation up to there.
      state.markRead(key, message.id);
    } else if (message.id > (state.local.lastRead[key] ?? 0)) {
      // Arriving in the open conversation while the tab is hidden: "New messages" shows where I left off.
      if (key === state.active) state.markNewSince(key, false);
      state.local.unread[key] = (state.local.unread[key] ?? 0) + 1;
      this.alert(key, message);
    }
    this.context.save();
    this.context.changed();
  }

  /** A newer version of a message (edited, deleted, reacted to), from others or answering my own change. */
  updated(message: StoredMessage): void {
    const { state } = this.context;
    if (state.conversations.get(conversationOf(message, state.me.id))?.timeline.update(message)) this.context.changed();
  }

  /** Someone went online or offline: their dot, and a notice in every conversation shared with them. */
  presenceNotice(notice: PresenceMessage): void {
    const { state } = this.context;
    const isOnline = notice.messageType === "online";
    const known = state.people.has(notice.from);
    this.context.presence.set({
      userId: notice.from,
      online: isOnline,
      lastSeenAt: isOnline ? undefined : notice.createAt,
    });
    for (const conversation of state.conversations.values()) {
      const shares =
        conversation.members.list.some((m) => m.userId === notice.from) ||
        (conversation.ref.kind === "direct" && conversation.ref.id === notice.from) ||
        conversation.key === roomKey(LOBBY);
      if (shares) conversation.timeline.addNotice(notice);
    }
    // Someone new (just registered): the lobby's member list should show them.
    if (!known && isOnline) {
      state.people.setName(notice.from, notice.from);
      const lobby = state.conversations.get(roomKey(LOBBY));
      if (lobby) background(this.context.roomMembers.load(lobby));
    }
    this.context.changed();
  }

  /** Notes a mention of me and notifies of a direct message or a mention. */
  private alert(key: ConversationKey, message: StoredMessage): void {
    const { state } = this.context;
    const mention = message.messageType !== "system" && mentions(message.content, state.me.id);
    if (mention) state.mentioned.add(key);
    if (message.messageType !== "single" && !mention) return;
    const from = state.nameOf(message.from);
    this.context.notifier.notify({
      key,
      title: message.messageType === "single" ? from : `${from} mentioned you in #${state.titleOf(refOf(key))}`,
      body: message.content ?? (message.mediaType === "image" ? "sent an image" : "sent a file"),
      mention,
    });
  }
}
