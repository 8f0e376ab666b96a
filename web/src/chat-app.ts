import { createChatClient, type ChatClient } from "../../client/index.js";
import type { StoredMessage, User } from "../../shared/schemas.js";
import { LOBBY, SYSTEM, directKey, keyOf, refOf, roomKey, type ConversationKey } from "./conversations.js";
import { h } from "./dom.js";
import { formatAgo } from "./format.js";
import { Inbox } from "./inbox.js";
import { Invitations } from "./invitations.js";
import { rendersAsLog } from "./log-rule.js";
import { Notifier } from "./notifications.js";
import { showUnread } from "./tab-badge.js";
import { MentionPicker } from "./views/mention-picker.js";
import { ChatState, type Conversation } from "./chat-state.js";
import { Outbox } from "./outbox.js";
import { Presence } from "./presence.js";
import { Profile } from "./profile.js";
import { History } from "./history.js";
import { Receipts } from "./receipts.js";
import { RoomMembers } from "./room-members.js";
import { RoomActions } from "./room-actions.js";
import { saveLocalState, type StoredSession } from "./storage.js";
import { searchMessages } from "./search.js";
import { bridgeSdk } from "./sdk-bridge.js";
import { Typing } from "./typing.js";
import { BannerView } from "./views/banner.js";
import { ChatHeaderView } from "./views/chat-header.js";
import { ComposerView } from "./views/composer.js";
import { confirmDialog } from "./views/dialogs.js";
import { acceptDroppedFiles } from "./views/drop-zone.js";
import { MembersView } from "./views/members.js";
import { MessageListView, type RenderMode } from "./views/message-list.js";
import { SidebarView, type SidebarItem } from "./views/sidebar.js";
import { Toasts } from "./views/toasts.js";
import { background } from "./background.js";

const WIDE = "(min-width: 1100px)";

/**
 * The signed-in chat: wires the SDK client, the state store (chat-state.ts), the controllers (history, room
 * members, room actions, receipts, typing, invitations, presence, notifications, outbox, profile, search) and
 * the views; the SDK bridge (sdk-bridge.ts) routes the client's events to them; re-renders the views from the state.
 */
export class ChatApp {
  private readonly client: ChatClient;
  private readonly state: ChatState;
  private readonly me: User;
  private membersOpen = window.matchMedia(WIDE).matches;
  private saveTimer: ReturnType<typeof setTimeout> | undefined;
  private renderQueued = false;
  private readonly teardown: (() => void)[] = [];
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
  private readonly receipts: Receipts;
  private readonly roomActions: RoomActions;
  private readonly history: History;
  private readonly roomMembers: RoomMembers;
  private readonly profile: Profile;
  private readonly notifier: Notifier;
  private readonly inbox: Inbox;

  constructor(
    root: HTMLElement,
    private readonly session: StoredSession,
    private readonly onLogout: (message?: string) => void,
  ) {
    this.state = new ChatState(session.user);
    this.me = this.state.me;
    this.notifier = new Notifier({ userId: this.me.id, open: (key) => this.open(key), changed: () => this.render() });

    this.sidebar = new SidebarView({
      onOpen: (key) => this.open(key),
      onCreateRoom: () => this.roomActions.create(),
      onBrowseRooms: () => this.roomActions.browse(),
      onLogout: () => this.logout(),
      onSearch: (query) =>
        background(
          searchMessages(
            {
              client: this.client,
              me: this.me.id,
              titleOf: (key) => this.state.titleOf(refOf(key)),
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
      onInvite: () => this.roomActions.invite(),
      onLeave: () => this.roomActions.leave(),
      onToggleMembers: () => this.toggleMembers(),
      onToggleMute: () => this.notifier.toggleMute(this.state.active),
    });
    this.banner = new BannerView(() => this.client.connect());
    this.list = new MessageListView({
      me: this.me.id,
      nameOf: (id) => this.nameOf(id),
      avatarOf: (id) => this.state.people.avatarOf(id),
      onRetry: (id) => this.outbox.retry(this.state.conversations.values(), id),
      onDiscard: (id) => this.outbox.discard(this.state.conversations.values(), id),
      onLoadOlder: () => background(this.history.loadOlder()),
      onEdit: async (id, content) => {
        const result = await this.client.edit(id, content);
        if (!result.ok) return result.error.message;
        this.inbox.updated(result.data);
        return undefined;
      },
      onDelete: (id) => this.confirmDelete(id),
      onAtBottom: () => this.receipts.report(),
      onReact: (id, emoji, on) =>
        background(
          this.client.react(id, emoji, on).then((result) => {
            if (result.ok) this.inbox.updated(result.data);
            else this.toasts.show(result.error.message, { kind: "error" });
          }),
        ),
      onReply: (message) => {
        this.replyTo = { key: this.state.active, message };
        this.renderReply();
        this.composer.focus();
      },
    });
    this.composer = new ComposerView({
      onSend: (text) => {
        const replyTo = this.replyTo?.key === this.state.active ? this.replyTo.message.id : undefined;
        this.replyTo = undefined;
        this.renderReply();
        this.outbox.sendText(this.state.conversation(this.state.active), text, replyTo);
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
      this.state
        .conversation(this.state.active)
        .members.list.filter((member) => member.userId !== this.me.id)
        .map((member) => ({ id: member.userId, name: member.name })),
    );
    this.composer.element.append(picker.element);
    this.typingLine = h("p", { class: "typing-line", "aria-live": "polite" });
    this.members = new MembersView({
      avatarOf: (id) => this.state.people.avatarOf(id),
      onOpenDirect: (userId) => this.open(directKey(userId)),
      onLoadMore: () => background(this.roomMembers.load(this.state.conversation(this.state.active), true)),
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

    this.client = createChatClient({ token: () => this.session.token, cursor: this.state.local.cursor });
    this.outbox = new Outbox({
      client: this.client,
      token: () => this.session.token,
      changed: () => this.scheduleRender(),
      sent: (conversation, message) => {
        this.state.markRead(conversation.key, message.id);
        // Sending moves my read position on the server too.
        this.receipts.moved(conversation.key, message.id);
        if (conversation.ref.kind === "direct") this.state.touchDirect(conversation.ref.id);
        this.save();
      },
    });
    this.invitations = new Invitations({
      client: this.client,
      toasts: this.toasts,
      nameOf: (id) => this.nameOf(id),
      isMember: (roomId) => this.state.rooms.has(roomId),
      join: (roomId) => this.roomActions.join(roomId),
      changed: () => this.renderSidebar(),
    });
    this.roomActions = new RoomActions({
      client: this.client,
      state: this.state,
      toasts: this.toasts,
      invitations: () => this.invitations,
      open: (key) => this.open(key),
      changed: (everything) => (everything ? this.render() : this.renderSidebar()),
      save: () => this.save(),
    });
    this.history = new History({
      client: this.client,
      state: this.state,
      toasts: this.toasts,
      underfilled: () => this.list.underfilled,
      changed: (conversation, mode) => this.renderIfActive(conversation, mode),
      open: (key) => this.open(key),
      save: () => this.save(),
    });
    this.receipts = new Receipts({
      client: this.client,
      state: this.state,
      newestInView: () => document.visibilityState === "visible" && this.list.atBottom,
      save: () => this.save(),
      countsChanged: () => this.renderSidebar(),
      changed: (everything) => (everything ? this.render() : this.scheduleRender()),
    });
    this.profile = new Profile({
      client: this.client,
      session: this.session,
      people: this.state.people,
      notifier: this.notifier,
      changed: (me) => this.profileChanged(me),
    });
    this.typing = new Typing({
      client: this.client,
      active: () => this.state.active,
      nameOf: (id) => this.nameOf(id),
      changed: (key) => key === this.state.active && this.renderTyping(),
    });
    this.presence = new Presence({
      client: this.client,
      me: this.me.id,
      visible: () => this.visiblePeople(),
      changed: (status) => {
        for (const conversation of this.state.conversations.values()) {
          const member = conversation.members.list.find((m) => m.userId === status.userId);
          if (member) member.online = status.online;
        }
        this.scheduleRender();
      },
    });
    this.roomMembers = new RoomMembers({
      client: this.client,
      state: this.state,
      presence: this.presence,
      toasts: this.toasts,
      invitations: () => this.invitations,
      roomActions: () => this.roomActions,
      changed: () => this.scheduleRender(),
      changedNow: (conversation) => this.renderIfActive(conversation, "update"),
    });
    this.inbox = new Inbox({
      state: this.state,
      notifier: this.notifier,
      presence: this.presence,
      receipts: this.receipts,
      typing: this.typing,
      roomActions: this.roomActions,
      roomMembers: this.roomMembers,
      save: () => this.save(),
      changed: () => this.scheduleRender(),
    });
    bridgeSdk(this.client, {
      state: this.state,
      inbox: this.inbox,
      history: this.history,
      roomMembers: this.roomMembers,
      receipts: this.receipts,
      typing: this.typing,
      invitations: this.invitations,
      presence: this.presence,
      profile: this.profile,
      outbox: this.outbox,
      connection: (state) => this.banner.set(state, !navigator.onLine),
      open: (key) => this.open(key),
      render: () => this.render(),
      save: () => this.save(),
      signOut: (message) => this.logout(message),
    });
    this.banner.set(this.client.state, !navigator.onLine);
    this.open(this.state.active);
  }

  /** Whose online dots are on screen: direct contacts, then the open conversation's loaded members. */
  private *visiblePeople(): Iterable<string> {
    for (const id of this.state.local.directs) if (id !== SYSTEM) yield id;
    for (const member of this.state.conversation(this.state.active).members.list) yield member.userId;
  }

  // ── conversations ───────────────────────────────────────────────────────────────────────────────

  private open(key: ConversationKey): void {
    const mode: RenderMode = key === this.state.active ? "update" : "reset";
    if (key !== this.state.active) {
      this.typing.set(false);
      this.replyTo = undefined;
      this.renderReply();
    }
    this.state.active = key;
    this.state.local.active = key;
    this.save();
    const conversation = this.state.conversation(key);
    if (conversation.ref.kind === "direct") this.state.touchDirect(conversation.ref.id);
    this.state.markRead(key, conversation.timeline.newestId);
    this.setView("chat");
    if (!window.matchMedia(WIDE).matches) this.membersOpen = false;
    this.renderConversation(mode);
    this.renderSidebar();
    this.history.ensureLoaded(conversation);
    background(this.roomMembers.load(conversation));
    if (window.matchMedia("(pointer: fine)").matches) this.composer.focus();
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

  // ── messages ────────────────────────────────────────────────────────────────────────────────────

  private confirmDelete(id: number): void {
    confirmDialog(
      "Delete message?",
      "Everyone in the conversation will see “This message was deleted.” instead.",
      "Delete message",
      () => this.client.deleteMessage(id),
      (tombstone) => this.inbox.updated(tombstone),
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
    this.typingLine.textContent = this.typing.line(this.state.active);
  }

  // ── sending ─────────────────────────────────────────────────────────────────────────────────────

  private upload(files: File[]): void {
    const conversation = this.state.conversation(this.state.active);
    if (conversation.ref.kind === "direct" && conversation.ref.id === SYSTEM) return;
    this.outbox.upload(conversation, files);
    this.list.scrollToBottom();
  }

  // ── profile ─────────────────────────────────────────────────────────────────────────────────────

  /** My name or avatar changed (here, or in another tab as the session of a connect tells). */
  private profileChanged(me: User): void {
    // My own row of every member list loaded so far (others see the change on their next load).
    for (const conversation of this.state.conversations.values()) {
      const mine = conversation.members.list.find((member) => member.userId === me.id);
      if (mine) mine.name = me.name;
    }
    this.scheduleRender();
  }

  // ── bookkeeping ─────────────────────────────────────────────────────────────────────────────────

  private nameOf(userId: string): string {
    return this.state.nameOf(userId);
  }

  private isOnline(userId: string): boolean {
    return this.presence.isOnline(userId);
  }

  private save(): void {
    clearTimeout(this.saveTimer);
    this.saveTimer = setTimeout(() => this.saveNow(), 300);
  }

  private saveNow(): void {
    clearTimeout(this.saveTimer);
    saveLocalState(this.me.id, { ...this.state.local, cursor: this.client.cursor });
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
      this.state.markRead(this.state.active, this.state.conversation(this.state.active).timeline.newestId);
      this.render();
      // Names and avatars change without an event (PROTOCOL.md section 8): coming back is a moment to look.
      background(this.roomMembers.load(this.state.conversation(this.state.active)));
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
    acceptDroppedFiles(this.main, (files) => this.upload(files));
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
    if (conversation.key === this.state.active) this.renderConversation(mode);
  }

  private render(): void {
    this.renderConversation("update");
    this.renderSidebar();
  }

  private renderConversation(mode: RenderMode): void {
    const conversation = this.state.conversation(this.state.active);
    const ref = conversation.ref;
    const room = ref.kind === "room" ? this.state.rooms.get(ref.id) : undefined;
    const title = this.state.titleOf(ref);
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
      muted: this.notifier.isMuted(this.state.active),
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
        seen: this.receipts.seenBy(conversation),
        log: rendersAsLog(room, conversation.timeline),
      },
      mode,
    );
    this.renderTyping();
    this.jump();
    this.receipts.report();
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
        title: this.state.titleOf(ref),
        isPrivate: kind === "room" && this.state.rooms.get(ref.id)?.visibility === "private",
        isSystem: kind === "direct" && ref.id === SYSTEM,
        unread: this.state.local.unread[key] ?? 0,
        mention: this.state.mentioned.has(key),
        muted: this.notifier.isMuted(key),
        online: kind === "direct" && ref.id !== SYSTEM && this.isOnline(ref.id),
        person: kind === "direct" ? this.state.people.person(ref.id) : undefined,
        active: key === this.state.active,
      };
    };
    const rooms = [...this.state.rooms.values()]
      .sort((a, b) => (a.id === LOBBY ? -1 : b.id === LOBBY ? 1 : a.name.localeCompare(b.name)))
      .map((room) => item(roomKey(room.id), "room"));
    const directs = [...this.state.local.directs];
    if (this.state.active.startsWith("user:") && !directs.includes(refOf(this.state.active).id))
      directs.unshift(refOf(this.state.active).id);
    this.sidebar.render({
      me: this.me,
      rooms,
      directs: directs.map((id) => item(keyOf({ kind: "direct", id }), "direct")),
      invitations: this.invitations.items(),
    });
    // Muted conversations stay out of the tab title and favicon (the sidebar still counts them).
    const counted = (Object.keys(this.state.local.unread) as ConversationKey[]).filter(
      (key) => !this.notifier.isMuted(key),
    );
    showUnread(
      counted.reduce((sum, key) => sum + (this.state.local.unread[key] ?? 0), 0),
      counted.some((key) => this.state.mentioned.has(key)),
    );
    this.presence.update();
  }
}
