import { createChatClient, type ChatClient } from "../../client/index.js";
import type { PresenceMessage, Room, RoomMemberChange, StoredMessage, User } from "../../shared/schemas.js";
import {
  LOBBY,
  SYSTEM,
  conversationKey,
  conversationOf,
  directKey,
  historyTarget,
  keyOf,
  refOf,
  roomKey,
  type ConversationKey,
  type ConversationRef,
} from "./conversations.js";
import { h } from "./dom.js";
import { formatAgo } from "./format.js";
import { Invitations } from "./invitations.js";
import { rendersAsLog } from "./log-rule.js";
import { mentions } from "./mentions.js";
import { Notifier } from "./notifications.js";
import { showUnread } from "./tab-badge.js";
import { MentionPicker } from "./views/mention-picker.js";
import { applyMemberChange, removes, type MemberList } from "./member-list.js";
import { Outbox } from "./outbox.js";
import { People } from "./people.js";
import { Presence } from "./presence.js";
import { Profile } from "./profile.js";
import { loadLocalState, saveLocalState, type LocalState, type StoredSession } from "./storage.js";
import { searchMessages } from "./search.js";
import { Timeline } from "./timeline.js";
import { Typing } from "./typing.js";
import { BannerView } from "./views/banner.js";
import { ChatHeaderView } from "./views/chat-header.js";
import { ComposerView } from "./views/composer.js";
import { browseRoomsDialog, confirmDialog, createRoomDialog, inviteDialog } from "./views/dialogs.js";
import { MembersView } from "./views/members.js";
import { MessageListView, type RenderMode } from "./views/message-list.js";
import { SidebarView, type SidebarItem } from "./views/sidebar.js";
import { Toasts } from "./views/toasts.js";
import { background } from "./background.js";

/** One conversation this tab has opened. */
interface Conversation {
  key: ConversationKey;
  ref: ConversationRef;
  timeline: Timeline;
  loaded: boolean;
  loading: boolean;
  hasOlder: boolean;
  loadingOlder: boolean;
  members: MemberList;
}

const PAGE_SIZE = 50;
const WIDE = "(min-width: 1100px)";

/**
 * The signed-in chat: owns the SDK client, what this tab knows (rooms, names, presence, timelines, unread
 * counts) and the views, which it re-renders from that state.
 */
export class ChatApp {
  private readonly client: ChatClient;
  private readonly me: User;
  private readonly local: LocalState;
  private readonly rooms = new Map<string, Room>();
  private readonly conversations = new Map<ConversationKey, Conversation>();
  private readonly people = new People();
  private active: ConversationKey;
  private membersOpen = window.matchMedia(WIDE).matches;
  private saveTimer: ReturnType<typeof setTimeout> | undefined;
  private renderQueued = false;
  private readonly teardown: (() => void)[] = [];
  /** My read position per conversation as the server knows it. */
  private readonly serverRead = new Map<ConversationKey, number>();
  /** Others' read positions learnt from receipts, per conversation. */
  private readonly reads = new Map<ConversationKey, Map<string, number>>();
  private readonly typingLine: HTMLElement;
  /** A message to scroll to once its conversation shows it (a search result). */
  private jumpTo: number | undefined;
  /** The message the composer replies to. */
  private replyTo: { key: ConversationKey; message: StoredMessage } | undefined;

  private readonly shell: HTMLElement;
  private readonly main: HTMLElement;
  private readonly sidebar: SidebarView;
  private readonly header: ChatHeaderView;
  private readonly banner: BannerView;
  private readonly list: MessageListView;
  private readonly composer: ComposerView;
  private readonly members: MembersView;
  private readonly toasts = new Toasts();
  private readonly outbox: Outbox;
  private readonly invitations: Invitations;
  private readonly presence: Presence;
  private readonly typing: Typing;
  private readonly profile: Profile;
  private readonly notifier: Notifier;
  /** Conversations with an unread message that mentions me (this visit). */
  private readonly mentioned = new Set<ConversationKey>();

  constructor(
    root: HTMLElement,
    private readonly session: StoredSession,
    private readonly onLogout: (message?: string) => void,
  ) {
    this.me = session.user;
    this.people.set(this.me);
    this.people.setName(SYSTEM, "System");
    this.local = loadLocalState(this.me.id);
    // A reload comes back to the conversation it left (one that is gone falls back to the lobby once known).
    this.active = this.local.active ?? roomKey(LOBBY);
    this.notifier = new Notifier({ userId: this.me.id, open: (key) => this.open(key), changed: () => this.render() });

    this.sidebar = new SidebarView({
      onOpen: (key) => this.open(key),
      onCreateRoom: () => this.createRoom(),
      onBrowseRooms: () => this.browseRooms(),
      onLogout: () => this.logout(),
      onSearch: (query) =>
        background(
          searchMessages(
            {
              client: this.client,
              me: this.me.id,
              titleOf: (key) => this.titleOf(refOf(key)),
              nameOf: (id) => this.nameOf(id),
              show: (key, messageId) => {
                this.jumpTo = messageId;
                this.open(key);
              },
            },
            query,
          ),
        ),
      onAcceptInvitation: (roomId) => this.invitations.accept(roomId),
      onDeclineInvitation: (roomId) => background(this.invitations.decline(roomId)),
      onOpenProfile: () => this.profile.open(),
    });
    this.header = new ChatHeaderView({
      onBack: () => this.setView("list"),
      onInvite: () => this.invite(),
      onLeave: () => this.leave(),
      onToggleMembers: () => this.toggleMembers(),
      onToggleMute: () => this.notifier.toggleMute(this.active),
    });
    this.banner = new BannerView(() => this.client.connect());
    this.list = new MessageListView({
      me: this.me.id,
      nameOf: (id) => this.nameOf(id),
      avatarOf: (id) => this.people.avatarOf(id),
      onRetry: (id) => this.outbox.retry(this.conversations.values(), id),
      onDiscard: (id) => this.outbox.discard(this.conversations.values(), id),
      onLoadOlder: () => background(this.loadOlder()),
      onEdit: async (id, content) => {
        const result = await this.client.edit(id, content);
        if (!result.ok) return result.error.message;
        this.applyUpdate(result.data);
        return undefined;
      },
      onDelete: (id) => this.confirmDelete(id),
      onAtBottom: () => this.reportRead(),
      onReact: (id, emoji, on) =>
        background(
          this.client.react(id, emoji, on).then((result) => {
            if (result.ok) this.applyUpdate(result.data);
            else this.toasts.show(result.error.message, { kind: "error" });
          }),
        ),
      onReply: (message) => {
        this.replyTo = { key: this.active, message };
        this.renderReply();
        this.composer.focus();
      },
    });
    this.composer = new ComposerView({
      onSend: (text) => {
        const replyTo = this.replyTo?.key === this.active ? this.replyTo.message.id : undefined;
        this.replyTo = undefined;
        this.renderReply();
        this.outbox.sendText(this.conversation(this.active), text, replyTo);
        this.list.scrollToBottom();
      },
      onFiles: (files) => this.upload(files),
      onTyping: (typing) => this.typing.set(typing),
      onCancelReply: () => {
        this.replyTo = undefined;
        this.renderReply();
      },
    });
    const picker = new MentionPicker(this.composer.textbox, () =>
      this.conversation(this.active)
        .members.list.filter((member) => member.userId !== this.me.id)
        .map((member) => ({ id: member.userId, name: member.name })),
    );
    this.composer.element.append(picker.element);
    this.typingLine = h("p", { class: "typing-line", "aria-live": "polite" });
    this.members = new MembersView({
      avatarOf: (id) => this.people.avatarOf(id),
      onOpenDirect: (userId) => this.open(directKey(userId)),
      onLoadMore: () => background(this.loadMembers(this.conversation(this.active), true)),
      onClose: () => this.toggleMembers(false),
    });
    this.main = h(
      "main",
      { class: "main" },
      this.header.element,
      this.banner.element,
      this.list.element,
      this.typingLine,
      this.composer.element,
      h("div", { class: "drop-hint", "aria-hidden": "true" }, "Drop files to send them"),
    );
    const scrim = h("div", { class: "scrim", "aria-hidden": "true", onclick: () => this.toggleMembers(false) });
    this.shell = h(
      "div",
      { class: "app", "data-view": "chat" },
      this.sidebar.element,
      this.main,
      scrim,
      this.members.element,
      this.toasts.element,
    );
    // Escape closes the members drawer where it covers the conversation.
    this.members.element.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !window.matchMedia(WIDE).matches) this.toggleMembers(false);
    });
    root.replaceChildren(this.shell);
    this.bindPage();

    this.client = createChatClient({ token: () => this.session.token, cursor: this.local.cursor });
    this.outbox = new Outbox({
      client: this.client,
      token: () => this.session.token,
      changed: () => this.scheduleRender(),
      sent: (conversation, message) => {
        this.markRead(conversation.key, message.id);
        // Sending moves my read position on the server too.
        this.serverRead.set(conversation.key, Math.max(this.serverRead.get(conversation.key) ?? 0, message.id));
        if (conversation.ref.kind === "direct") this.touchDirect(conversation.ref.id);
        this.save();
      },
    });
    this.invitations = new Invitations({
      client: this.client,
      toasts: this.toasts,
      nameOf: (id) => this.nameOf(id),
      isMember: (roomId) => this.rooms.has(roomId),
      join: (roomId) => this.join(roomId),
      changed: () => this.renderSidebar(),
    });
    this.profile = new Profile({
      client: this.client,
      session: this.session,
      people: this.people,
      notifier: this.notifier,
      changed: (me) => this.profileChanged(me),
    });
    this.typing = new Typing({
      client: this.client,
      active: () => this.active,
      nameOf: (id) => this.nameOf(id),
      changed: (key) => key === this.active && this.renderTyping(),
    });
    this.presence = new Presence({
      client: this.client,
      me: this.me.id,
      visible: () => this.visiblePeople(),
      changed: (status) => {
        for (const conversation of this.conversations.values()) {
          const member = conversation.members.list.find((m) => m.userId === status.userId);
          if (member) member.online = status.online;
        }
        this.scheduleRender();
      },
    });
    this.bindClient();
    this.banner.set(this.client.state, !navigator.onLine);
    this.open(this.active);
  }

  // ── client events ────────────────────────────────────────────────────────────────────────────────

  private bindClient(): void {
    const client = this.client;
    client.on("state", (state) => {
      this.banner.set(state, !navigator.onLine);
      if (state !== "online") return;
      // Every (re)connect: history if not loaded yet, fresh members and presence, then what waited to be sent.
      const active = this.conversation(this.active);
      this.ensureLoaded(active);
      background(this.loadMembers(active));
      this.outbox.flush(this.conversations.values());
      background(this.syncConversations());
    });
    client.on("session", (session) => {
      // A name or avatar changed in another tab shows here from the next connect.
      this.profile.apply(session.user);
      this.rooms.clear();
      for (const room of session.rooms) this.rooms.set(room.id, room);
      // Left in another tab while away: back to the lobby.
      const active = refOf(this.active);
      if (active.kind === "room" && !this.rooms.has(active.id)) this.open(roomKey(LOBBY));
      this.render();
    });
    client.on("message", (message) => this.receive(message));
    client.on("updated", (message) => this.applyUpdate(message));
    client.on("reactions", (update) => {
      if (this.conversations.get(conversationOf(update, this.me.id))?.timeline.mergeReactions(update)) {
        this.scheduleRender();
      }
    });
    client.on("receipt", (receipt) => {
      const key = conversationKey(receipt.conversation);
      if (receipt.userId === this.me.id) {
        // Read in another tab: the server has the counts.
        this.serverRead.set(key, Math.max(this.serverRead.get(key) ?? 0, receipt.lastReadId));
        background(this.syncConversations());
        return;
      }
      let reads = this.reads.get(key);
      if (!reads) this.reads.set(key, (reads = new Map()));
      reads.set(receipt.userId, Math.max(reads.get(receipt.userId) ?? 0, receipt.lastReadId));
      if (key === this.active) this.scheduleRender();
    });
    client.on("typing", (notice) => this.typing.received(notice));
    client.on("synced", () => this.save());
    client.on("presence", (notice) => this.presenceNotice(notice));
    client.on("member", (change) => this.memberChanged(change));
    client.on("error", (error) => {
      if (error.code === "UNAUTHORIZED") this.logout("Your session has ended. Please sign in again.");
    });
  }

  private receive(message: StoredMessage): void {
    const key = conversationOf(message, this.me.id);
    if (key.startsWith("user:")) this.touchDirect(refOf(key).id);
    if (message.messageType === "group" && !this.rooms.has(message.to)) background(this.refreshRooms());
    const conversation = this.conversations.get(key);
    conversation?.timeline.add(message);
    this.typing.stopped(key, message.from);
    if (message.from === this.me.id) this.serverRead.set(key, Math.max(this.serverRead.get(key) ?? 0, message.id));
    const seenNow = key === this.active && document.visibilityState === "visible";
    if (message.from === this.me.id || seenNow) {
      // Sending (from another tab too) reads the conversation up to there.
      this.markRead(key, message.id);
    } else if (message.id > (this.local.lastRead[key] ?? 0)) {
      this.local.unread[key] = (this.local.unread[key] ?? 0) + 1;
      this.alert(key, message);
    }
    this.save();
    this.scheduleRender();
  }

  /** Notes a mention of me and notifies of a direct message or a mention. */
  private alert(key: ConversationKey, message: StoredMessage): void {
    const mention = message.messageType !== "system" && mentions(message.content, this.me.id);
    if (mention) this.mentioned.add(key);
    if (message.messageType !== "single" && !mention) return;
    const from = this.nameOf(message.from);
    this.notifier.notify({
      key,
      title: message.messageType === "single" ? from : `${from} mentioned you in #${this.titleOf(refOf(key))}`,
      body: message.content ?? (message.mediaType === "image" ? "sent an image" : "sent a file"),
      mention,
    });
  }

  private presenceNotice(notice: PresenceMessage): void {
    const isOnline = notice.messageType === "online";
    const known = this.people.has(notice.from);
    this.presence.set({ userId: notice.from, online: isOnline, lastSeenAt: isOnline ? undefined : notice.createAt });
    for (const conversation of this.conversations.values()) {
      const shares =
        conversation.members.list.some((m) => m.userId === notice.from) ||
        (conversation.ref.kind === "direct" && conversation.ref.id === notice.from) ||
        conversation.key === roomKey(LOBBY);
      if (shares) conversation.timeline.addNotice(notice);
    }
    // Someone new (just registered): the lobby's member list should show them.
    if (!known && isOnline) {
      this.people.setName(notice.from, notice.from);
      const lobby = this.conversations.get(roomKey(LOBBY));
      if (lobby) background(this.loadMembers(lobby));
    }
    this.scheduleRender();
  }

  /** Whose online dots are on screen: direct contacts, then the open conversation's loaded members. */
  private *visiblePeople(): Iterable<string> {
    for (const id of this.local.directs) if (id !== SYSTEM) yield id;
    for (const member of this.conversation(this.active).members.list) yield member.userId;
  }

  /** Someone joined, left, was removed from or changed role in one of my rooms (me included, in any tab). */
  private memberChanged(change: RoomMemberChange): void {
    this.people.setName(change.userId, change.name);
    const key = roomKey(change.roomId);
    if (change.userId === this.me.id) {
      if (change.change === "joined") {
        this.invitations.done(change.roomId);
        if (!this.rooms.has(change.roomId)) background(this.refreshRooms());
      } else if (removes(change)) {
        if (change.change !== "left") this.toasts.show(`You were removed from ${this.titleOf(refOf(key))}.`);
        return this.forgetRoom(change.roomId);
      }
    }
    const conversation = this.conversations.get(key);
    const counts = conversation ? applyMemberChange(conversation.members, change, this.isOnline(change.userId)) : true;
    const room = this.rooms.get(change.roomId);
    // My own join is counted in the room the join (or `room:list`) answered.
    if (room && counts && change.userId !== this.me.id && change.change !== "role") {
      this.rooms.set(room.id, { ...room, members: Math.max(0, room.members + (removes(change) ? -1 : 1)) });
    }
    this.scheduleRender();
  }

  // ── conversations ───────────────────────────────────────────────────────────────────────────────

  private conversation(key: ConversationKey): Conversation {
    let conversation = this.conversations.get(key);
    if (!conversation) {
      conversation = {
        key,
        ref: refOf(key),
        timeline: new Timeline(),
        loaded: false,
        loading: false,
        hasOlder: false,
        loadingOlder: false,
        members: { list: [], hasMore: false, loading: false },
      };
      this.conversations.set(key, conversation);
    }
    return conversation;
  }

  private open(key: ConversationKey): void {
    const mode: RenderMode = key === this.active ? "update" : "reset";
    if (key !== this.active) {
      this.typing.set(false);
      this.replyTo = undefined;
      this.renderReply();
    }
    this.active = key;
    this.local.active = key;
    this.save();
    const conversation = this.conversation(key);
    if (conversation.ref.kind === "direct") this.touchDirect(conversation.ref.id);
    this.markRead(key, conversation.timeline.newestId);
    this.setView("chat");
    if (!window.matchMedia(WIDE).matches) this.membersOpen = false;
    this.renderConversation(mode);
    this.renderSidebar();
    this.ensureLoaded(conversation);
    background(this.loadMembers(conversation));
    if (window.matchMedia("(pointer: fine)").matches) this.composer.focus();
  }

  private ensureLoaded(conversation: Conversation): void {
    if (conversation.loaded || conversation.loading || this.client.state !== "online") return;
    conversation.loading = true;
    background(
      this.client.request("history:list", { ...historyTarget(conversation.ref), limit: PAGE_SIZE }).then((page) => {
        conversation.loading = false;
        if (!page.ok) return this.unavailable(conversation, page.error.code, page.error.message);
        for (const message of page.data.messages) conversation.timeline.add(message);
        conversation.loaded = true;
        conversation.hasOlder = page.data.hasMore;
        if (conversation.key === this.active) this.markRead(conversation.key, conversation.timeline.newestId);
        this.renderIfActive(conversation, "update");
        this.fillViewport(conversation);
      }),
    );
  }

  private async loadOlder(): Promise<void> {
    const conversation = this.conversation(this.active);
    const before = conversation.timeline.oldestId;
    if (!conversation.loaded || conversation.loadingOlder || !conversation.hasOlder || before === undefined) return;
    conversation.loadingOlder = true;
    this.renderIfActive(conversation, "update");
    const page = await this.client.request("history:list", {
      ...historyTarget(conversation.ref),
      before,
      limit: PAGE_SIZE,
    });
    conversation.loadingOlder = false;
    if (page.ok) {
      for (const message of page.data.messages) conversation.timeline.add(message);
      conversation.hasOlder = page.data.hasMore;
    }
    this.renderIfActive(conversation, "older");
    this.fillViewport(conversation);
  }

  /** Loads older pages until the list can scroll, so "scroll up for more" always works. */
  private fillViewport(conversation: Conversation): void {
    if (conversation.key === this.active && conversation.hasOlder && this.list.underfilled) {
      requestAnimationFrame(() => background(this.loadOlder()));
    }
  }

  private async loadMembers(conversation: Conversation, more = false): Promise<void> {
    const ref = conversation.ref;
    if (ref.kind === "direct") {
      // The System conversation has no members: no panel, no one to follow.
      const people = ref.id === SYSTEM ? [] : ref.id === this.me.id ? [this.me.id] : [this.me.id, ref.id];
      conversation.members.list = people.map((userId) => ({
        userId,
        name: this.nameOf(userId),
        online: this.isOnline(userId),
        role: "member" as const,
      }));
      this.renderIfActive(conversation, "update");
      return;
    }
    if (this.client.state !== "online") return;
    if (conversation.members.loading) {
      conversation.members.again = !more;
      return;
    }
    conversation.members.loading = true;
    const after = more ? conversation.members.list.at(-1)?.userId : undefined;
    const page = await this.client.request("room:members", { roomId: ref.id, limit: 200, ...(after ? { after } : {}) });
    conversation.members.loading = false;
    if (page.ok) {
      conversation.members.list = more ? [...conversation.members.list, ...page.data.members] : page.data.members;
      conversation.members.hasMore = page.data.hasMore;
      for (const member of page.data.members) {
        this.people.set({ id: member.userId, name: member.name, avatarUrl: member.avatarUrl });
        this.presence.noteOnline(member.userId, member.online);
      }
    }
    this.scheduleRender();
    if (conversation.members.again) {
      conversation.members.again = false;
      await this.loadMembers(conversation);
    }
  }

  private unavailable(conversation: Conversation, code: string, message: string): void {
    this.toasts.show(`${this.titleOf(conversation.ref)}: ${message}`, { kind: "error" });
    if (code !== "NOT_FOUND" && code !== "FORBIDDEN") return;
    this.conversations.delete(conversation.key);
    if (conversation.ref.kind === "direct")
      this.local.directs = this.local.directs.filter((id) => id !== conversation.ref.id);
    else this.rooms.delete(conversation.ref.id);
    if (conversation.key === this.active) this.open(roomKey(LOBBY));
    this.save();
  }

  private async refreshRooms(): Promise<void> {
    const list = await this.client.request("room:list", {});
    if (!list.ok) return;
    this.rooms.clear();
    for (const room of list.data.joined) this.rooms.set(room.id, room);
    this.renderSidebar();
  }

  /** Scrolls to (and briefly highlights) the message a search result pointed at, once it is shown. */
  private jump(): void {
    const id = this.jumpTo;
    if (id === undefined) return;
    const element = this.list.element.querySelector<HTMLElement>(`li[data-id="${id}"]`);
    if (!element) return;
    this.jumpTo = undefined;
    element.scrollIntoView({ block: "center" });
    element.classList.add("highlight");
    setTimeout(() => element.classList.remove("highlight"), 2000);
  }

  // ── conversation state ──────────────────────────────────────────────────────────────────────────

  /** Unread counts, read positions and direct conversations from the server (every connect). */
  private async syncConversations(): Promise<void> {
    const list = await this.client.listConversations();
    if (!list.ok) return;
    const directs: string[] = [];
    for (const row of list.data) {
      const key = conversationKey(row.conversation);
      if ("user" in row.conversation) {
        directs.push(row.conversation.user);
        if (row.conversation.user !== SYSTEM) {
          this.people.set({ id: row.conversation.user, name: row.name, avatarUrl: row.avatarUrl });
        }
      }
      const told = this.serverRead.get(key) ?? 0;
      this.serverRead.set(key, Math.max(told, row.lastReadId));
      this.local.lastRead[key] = Math.max(this.local.lastRead[key] ?? 0, row.lastReadId);
      // A row older than a read this tab already sent (answers can cross), or the conversation on screen
      // (read as soon as its newest message shows): keep what this tab knows.
      const stale = told > row.lastReadId;
      const onScreen = key === this.active && document.visibilityState === "visible";
      if (stale || onScreen) continue;
      if (row.unread > 0) this.local.unread[key] = row.unread;
      else delete this.local.unread[key];
    }
    this.local.directs = [...directs, ...this.local.directs.filter((id) => !directs.includes(id))];
    this.save();
    this.render();
  }

  /** Tells the server the open conversation is read when its newest message is in view. */
  private reportRead(): void {
    const key = this.active;
    const conversation = this.conversations.get(key);
    if (!conversation?.loaded || this.client.state !== "online") return;
    if (document.visibilityState !== "visible" || !this.list.atBottom) return;
    const newest = conversation.timeline.newestId;
    if (newest <= (this.serverRead.get(key) ?? 0)) return;
    this.serverRead.set(key, newest);
    this.markRead(key, newest);
    background(
      this.client.markRead(historyTarget(conversation.ref), newest).then((result) => {
        if (!result.ok) return;
        if (result.data.unread > 0 && key !== this.active) this.local.unread[key] = result.data.unread;
        this.save();
        this.renderSidebar();
      }),
    );
  }

  /** A newer version of a message (edited, deleted, reacted to), from others or answering my own change. */
  private applyUpdate(message: StoredMessage): void {
    if (this.conversations.get(conversationOf(message, this.me.id))?.timeline.update(message)) this.scheduleRender();
  }

  private confirmDelete(id: number): void {
    confirmDialog(
      "Delete message?",
      "Everyone in the conversation will see “This message was deleted.” instead.",
      "Delete message",
      () => this.client.deleteMessage(id),
      (tombstone) => this.applyUpdate(tombstone),
    );
  }

  private renderReply(): void {
    const message = this.replyTo?.message;
    this.composer.setReply(
      message && {
        author: message.from === this.me.id ? "yourself" : this.nameOf(message.from),
        text: message.content ?? (message.mediaType === "image" ? "an image" : "a file"),
      },
    );
  }

  private renderTyping(): void {
    this.typingLine.textContent = this.typing.line(this.active);
  }

  /** "Seen by" under my newest message: who read up to it (the peer, or room members whose receipts say so). */
  private seenBy(conversation: Conversation): { id: number; names: string[] } | undefined {
    const mine = conversation.timeline.stored.findLast(
      (m) => m.from === this.me.id && m.messageType !== "system" && m.deletedAt === undefined,
    );
    if (!mine) return undefined;
    const names = [...(this.reads.get(conversation.key) ?? [])]
      .filter(([userId, position]) => userId !== this.me.id && position >= mine.id)
      .map(([userId]) => this.nameOf(userId));
    return { id: mine.id, names };
  }

  // ── sending ─────────────────────────────────────────────────────────────────────────────────────

  private upload(files: File[]): void {
    const conversation = this.conversation(this.active);
    if (conversation.ref.kind === "direct" && conversation.ref.id === SYSTEM) return;
    this.outbox.upload(conversation, files);
    this.list.scrollToBottom();
  }

  // ── rooms ───────────────────────────────────────────────────────────────────────────────────────

  private createRoom(): void {
    createRoomDialog(
      (name, visibility) => this.client.request("room:create", { name, visibility }),
      (room) => {
        this.rooms.set(room.id, room);
        this.open(roomKey(room.id));
      },
    );
  }

  private browseRooms(): void {
    browseRoomsDialog(
      () => this.client.request("room:list", {}),
      (roomId) => this.client.request("room:join", { roomId }),
      (room) => this.joined(room),
    );
  }

  private async join(roomId: string): Promise<void> {
    const result = await this.client.request("room:join", { roomId });
    if (result.ok) return this.joined(result.data);
    this.toasts.show(result.error.message, { kind: "error" });
    // The invitation may be gone (declined in another tab): list what is still pending.
    await this.invitations.refresh();
  }

  private joined(room: Room): void {
    this.rooms.set(room.id, room);
    this.invitations.done(room.id);
    // Joining makes the room's earlier history visible: load it afresh.
    this.conversations.delete(roomKey(room.id));
    this.open(roomKey(room.id));
  }

  private invite(): void {
    const ref = refOf(this.active);
    const room = ref.kind === "room" ? this.rooms.get(ref.id) : undefined;
    if (!room) return;
    const members = new Set(this.conversation(this.active).members.list.map((m) => m.userId));
    const suggestions = [...this.people.entries()]
      .filter(([id]) => !members.has(id) && id !== SYSTEM)
      .map(([id, name]) => ({ id, name }));
    inviteDialog(
      room.name,
      suggestions,
      (userId) => this.client.request("room:invite", { roomId: room.id, userId }),
      (userId) => this.toasts.show(`Invitation sent to ${this.nameOf(userId)}.`),
    );
  }

  private leave(): void {
    const ref = refOf(this.active);
    const room = ref.kind === "room" ? this.rooms.get(ref.id) : undefined;
    if (!room || room.id === LOBBY) return;
    confirmDialog(
      `Leave ${room.name}?`,
      room.visibility === "private"
        ? "You will need a new invitation to come back."
        : "You can join again from Browse rooms.",
      "Leave room",
      () => this.client.request("room:leave", { roomId: room.id }),
      () => this.forgetRoom(room.id),
    );
  }

  /** A room I am no longer in (left here or in another tab, or removed). */
  private forgetRoom(roomId: string): void {
    const key = roomKey(roomId);
    this.rooms.delete(roomId);
    this.conversations.delete(key);
    delete this.local.unread[key];
    if (this.active === key) this.open(roomKey(LOBBY));
    else this.render();
    this.save();
  }

  /** My name or avatar changed (here, or in another tab as the session of a connect tells). */
  private profileChanged(me: User): void {
    // My own row of every member list loaded so far (others see the change on their next load).
    for (const conversation of this.conversations.values()) {
      const mine = conversation.members.list.find((member) => member.userId === me.id);
      if (mine) mine.name = me.name;
    }
    this.scheduleRender();
  }

  // ── bookkeeping ─────────────────────────────────────────────────────────────────────────────────

  private nameOf(userId: string): string {
    return this.people.nameOf(userId);
  }

  private isOnline(userId: string): boolean {
    return this.presence.isOnline(userId);
  }

  private titleOf(ref: ConversationRef): string {
    if (ref.kind === "room") return this.rooms.get(ref.id)?.name ?? ref.id;
    if (ref.id === SYSTEM) return "System";
    return ref.id === this.me.id ? `${this.me.name} (you)` : this.nameOf(ref.id);
  }

  private touchDirect(userId: string): void {
    if (this.local.directs[0] === userId) return;
    this.local.directs = [userId, ...this.local.directs.filter((id) => id !== userId)];
  }

  private markRead(key: ConversationKey, id: number): void {
    this.local.lastRead[key] = Math.max(this.local.lastRead[key] ?? 0, id);
    delete this.local.unread[key];
    this.mentioned.delete(key);
  }

  private save(): void {
    clearTimeout(this.saveTimer);
    this.saveTimer = setTimeout(() => this.saveNow(), 300);
  }

  private saveNow(): void {
    clearTimeout(this.saveTimer);
    saveLocalState(this.me.id, { ...this.local, cursor: this.client.cursor });
  }

  private logout(message?: string): void {
    this.saveNow();
    this.client.close();
    this.client.removeAllListeners();
    this.typing.close();
    for (const undo of this.teardown) undo();
    for (const dialog of document.querySelectorAll("dialog")) dialog.remove();
    showUnread(0, false);
    this.onLogout(message);
  }

  private bindPage(): void {
    const listen = <K extends keyof WindowEventMap>(
      target: Window,
      type: K,
      fn: (event: WindowEventMap[K]) => void,
    ) => {
      target.addEventListener(type, fn);
      this.teardown.push(() => target.removeEventListener(type, fn));
    };
    const connectivity = () => this.banner.set(this.client.state, !navigator.onLine);
    listen(window, "online", connectivity);
    listen(window, "offline", connectivity);
    listen(window, "pagehide", () => this.saveNow());
    // "last seen 5 min ago" ages: refresh the members panel now and then.
    const tick = setInterval(() => this.scheduleRender(), 60_000);
    this.teardown.push(() => clearInterval(tick));
    const visibility = () => {
      if (document.visibilityState !== "visible") return this.saveNow();
      this.markRead(this.active, this.conversation(this.active).timeline.newestId);
      this.render();
      // Names and avatars change without an event (PROTOCOL.md section 8): coming back is a moment to look.
      background(this.loadMembers(this.conversation(this.active)));
    };
    document.addEventListener("visibilitychange", visibility);
    this.teardown.push(() => document.removeEventListener("visibilitychange", visibility));
    const media = window.matchMedia(WIDE);
    const onWidth = () => {
      this.membersOpen = media.matches;
      this.render();
    };
    media.addEventListener("change", onWidth);
    this.teardown.push(() => media.removeEventListener("change", onWidth));
    // Drag and drop files anywhere on the conversation.
    let depth = 0;
    const hasFiles = (event: DragEvent) => event.dataTransfer?.types.includes("Files") === true;
    this.main.addEventListener("dragenter", (event) => {
      if (!hasFiles(event)) return;
      depth += 1;
      this.main.classList.add("dragging");
    });
    this.main.addEventListener("dragleave", () => {
      depth = Math.max(0, depth - 1);
      if (depth === 0) this.main.classList.remove("dragging");
    });
    this.main.addEventListener("dragover", (event) => {
      if (hasFiles(event)) event.preventDefault();
    });
    this.main.addEventListener("drop", (event) => {
      depth = 0;
      this.main.classList.remove("dragging");
      const files = [...(event.dataTransfer?.files ?? [])];
      if (files.length === 0) return;
      event.preventDefault();
      this.upload(files);
    });
  }

  private setView(view: "list" | "chat"): void {
    this.shell.dataset.view = view;
  }

  private toggleMembers(open = !this.membersOpen): void {
    this.membersOpen = open;
    this.render();
  }

  // ── rendering ───────────────────────────────────────────────────────────────────────────────────

  private scheduleRender(): void {
    if (this.renderQueued) return;
    this.renderQueued = true;
    requestAnimationFrame(() => {
      this.renderQueued = false;
      this.render();
    });
  }

  private renderIfActive(conversation: Conversation, mode: RenderMode): void {
    if (conversation.key === this.active) this.renderConversation(mode);
  }

  private render(): void {
    this.renderConversation("update");
    this.renderSidebar();
  }

  private renderConversation(mode: RenderMode): void {
    const conversation = this.conversation(this.active);
    const ref = conversation.ref;
    const room = ref.kind === "room" ? this.rooms.get(ref.id) : undefined;
    const title = this.titleOf(ref);
    const isSystem = ref.kind === "direct" && ref.id === SYSTEM;
    this.header.render({
      title,
      kind: ref.kind === "room" ? "room" : isSystem ? "system" : "direct",
      isPrivate: room?.visibility === "private",
      subtitle:
        ref.kind === "room"
          ? ref.id === LOBBY
            ? "Everyone is here"
            : `${room?.visibility === "private" ? "Private" : "Public"} room · ${room?.members ?? "?"} ${room?.members === 1 ? "member" : "members"}`
          : isSystem
            ? "Notices from the server"
            : this.isOnline(ref.id)
              ? "Online"
              : this.presence.lastSeen.has(ref.id)
                ? `Offline · last seen ${formatAgo(this.presence.lastSeen.get(ref.id)!)}`
                : "Offline",
      online: ref.kind === "direct" && this.isOnline(ref.id),
      canInvite: room?.visibility === "private",
      canLeave: room !== undefined && room.id !== LOBBY,
      hasMembers: !isSystem,
      membersOpen: this.membersOpen,
      muted: this.notifier.isMuted(this.active),
    });
    this.shell.dataset.members = this.membersOpen && !isSystem ? "open" : "closed";
    this.composer.setTarget(ref.kind === "room" ? `#${title}` : title, !isSystem);
    this.list.render(
      {
        title:
          ref.kind === "room" ? `Welcome to ${title}` : isSystem ? "System notices" : `Your conversation with ${title}`,
        timeline: conversation.timeline,
        loaded: conversation.loaded,
        hasOlder: conversation.hasOlder,
        loadingOlder: conversation.loadingOlder,
        seen: this.seenBy(conversation),
        log: rendersAsLog(room, conversation.timeline),
      },
      mode,
    );
    this.renderTyping();
    this.jump();
    this.reportRead();
    this.members.render({
      me: this.me.id,
      members: conversation.members.list,
      hasMore: conversation.members.hasMore,
      loading: conversation.members.loading,
      lastSeen: this.presence.lastSeen,
    });
    // The dots on screen may have changed: follow them (a new subscription only when they did).
    this.presence.update();
  }

  private renderSidebar(): void {
    const item = (key: ConversationKey, kind: "room" | "direct"): SidebarItem => {
      const ref = refOf(key);
      return {
        key,
        kind,
        title: this.titleOf(ref),
        isPrivate: kind === "room" && this.rooms.get(ref.id)?.visibility === "private",
        isSystem: kind === "direct" && ref.id === SYSTEM,
        unread: this.local.unread[key] ?? 0,
        mention: this.mentioned.has(key),
        muted: this.notifier.isMuted(key),
        online: kind === "direct" && ref.id !== SYSTEM && this.isOnline(ref.id),
        person: kind === "direct" ? this.people.person(ref.id) : undefined,
        active: key === this.active,
      };
    };
    const rooms = [...this.rooms.values()]
      .sort((a, b) => (a.id === LOBBY ? -1 : b.id === LOBBY ? 1 : a.name.localeCompare(b.name)))
      .map((room) => item(roomKey(room.id), "room"));
    const directs = [...this.local.directs];
    if (this.active.startsWith("user:") && !directs.includes(refOf(this.active).id))
      directs.unshift(refOf(this.active).id);
    this.sidebar.render({
      me: this.me,
      rooms,
      directs: directs.map((id) => item(keyOf({ kind: "direct", id }), "direct")),
      invitations: this.invitations.items(),
    });
    // Muted conversations stay out of the tab title and favicon (the sidebar still counts them).
    const counted = (Object.keys(this.local.unread) as ConversationKey[]).filter((key) => !this.notifier.isMuted(key));
    showUnread(
      counted.reduce((sum, key) => sum + (this.local.unread[key] ?? 0), 0),
      counted.some((key) => this.mentioned.has(key)),
    );
    this.presence.update();
  }
}
