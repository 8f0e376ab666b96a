import { createChatClient, type ChatClient, type ConnectionState } from "../../client/index.js";
import { Account } from "./account.js";
import type { StoredMessage, User } from "../../shared/schemas.js";
import { SYSTEM, directKey, refOf, type ConversationKey } from "./conversations.js";
import { Inbox } from "./inbox.js";
import { Invitations } from "./invitations.js";
import { Moderation } from "./moderation.js";
import { Notifier } from "./notifications.js";
import { showUnread } from "./tab-badge.js";
import { MentionPicker } from "./views/mention-picker.js";
import { ChatScreen } from "./chat-screen.js";
import { ChatState } from "./chat-state.js";
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
import { SidebarView } from "./views/sidebar.js";
import { Toasts } from "./views/toasts.js";
import { background } from "./background.js";

/**
 * The signed-in chat, wiring only: makes the SDK client, the state store (chat-state.ts), the controllers
 * (inbox, history, room members, room actions, receipts, typing, invitations, presence, notifications, outbox,
 * profile, search), the views and the screen that lays them out and draws them (chat-screen.ts); connects the
 * views' callbacks and the page's events to the controllers, and the client to them through the SDK bridge
 * (sdk-bridge.ts). What is left here: opening a conversation, the reply being written, saving, signing out.
 */
export class ChatApp {
  private readonly client: ChatClient;
  private readonly state: ChatState;
  private readonly me: User;
  private saveTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly teardown: (() => void)[] = [];
  /** The message the composer replies to. */
  private replyTo: { key: ConversationKey; message: StoredMessage } | undefined;

  private readonly screen: ChatScreen;
  private readonly banner: BannerView;
  private readonly list: MessageListView;
  private readonly composer: ComposerView;
  private readonly toasts = new Toasts();
  private readonly outbox: Outbox;
  private readonly invitations: Invitations;
  private readonly presence: Presence;
  private readonly typing: Typing;
  private readonly receipts: Receipts;
  private readonly roomActions: RoomActions;
  private readonly moderation: Moderation;
  private readonly history: History;
  private readonly roomMembers: RoomMembers;
  private readonly profile: Profile;
  private readonly notifier: Notifier;
  private readonly inbox: Inbox;
  private readonly account: Account;
  private loggedOut = false;

  constructor(
    root: HTMLElement,
    private readonly session: StoredSession,
    private readonly onLogout: (message?: string) => void,
  ) {
    this.state = new ChatState(session.user);
    this.me = this.state.me;
    this.notifier = new Notifier({
      userId: this.me.id,
      open: (key) => this.open(key),
      changed: () => this.screen.render(),
    });

    const sidebar = new SidebarView({
      onOpen: (key) => this.open(key),
      onCreateRoom: () => this.roomActions.create(),
      onBrowseRooms: () => this.roomActions.browse(),
      onLogout: () => this.account.signOut(),
      onSearch: (query) =>
        background(
          searchMessages(
            {
              client: this.client,
              me: this.me.id,
              titleOf: (key) => this.state.titleOf(refOf(key)),
              nameOf: (id) => this.nameOf(id),
              show: (key, messageId) => {
                this.open(key);
                this.jumpTo(messageId);
              },
            },
            query,
          ),
        ),
      onAcceptInvitation: (roomId) => this.invitations.accept(roomId),
      onDeclineInvitation: (roomId) => background(this.invitations.decline(roomId)),
      onOpenProfile: () => this.profile.open(),
    });
    const header = new ChatHeaderView({
      onBack: () => this.screen.setView("list"),
      onInvite: () => this.roomActions.invite(),
      onLeave: () => this.roomActions.leave(),
      onEditRoom: () => this.activeRoomId && this.moderation.editRoom(this.activeRoomId),
      onToggleMembers: () => this.screen.toggleMembers(),
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
      onJump: (id) => this.jumpTo(id),
      onEdit: async (id, content) => {
        const result = await this.client.edit(id, content);
        if (!result.ok) return result.error.message;
        this.inbox.updated(result.data);
        return undefined;
      },
      mayDelete: (message) => this.moderation.mayDelete(message),
      onDelete: (message) => this.confirmDelete(message),
      onAtBottom: () => this.receipts.report(),
      onReact: (id, emoji, on) =>
        background(
          this.client.react(id, emoji, on).then((result) => {
            if (result.ok) this.inbox.updated(result.data);
            else this.toasts.show(result.error.message, { kind: "error" });
          }),
        ),
      onReply: (message) => {
        this.reply({ key: this.state.active, message });
        this.composer.focus();
      },
    });
    this.composer = new ComposerView({
      onSend: (text) => {
        const replyTo = this.replyTo?.key === this.state.active ? this.replyTo.message.id : undefined;
        this.reply(undefined);
        this.outbox.sendText(this.state.conversation(this.state.active), text, replyTo);
        this.list.scrollToBottom();
      },
      onFiles: (files) => this.upload(files),
      onTyping: (typing) => this.typing.set(typing),
      onCancelReply: () => this.reply(undefined),
    });
    const picker = new MentionPicker(this.composer.textbox, () =>
      this.state
        .conversation(this.state.active)
        .members.list.filter((member) => member.userId !== this.me.id)
        .map((member) => ({ id: member.userId, name: member.name })),
    );
    this.composer.element.append(picker.element);
    const members = new MembersView({
      avatarOf: (id) => this.state.people.avatarOf(id),
      onOpenDirect: (userId) => this.open(directKey(userId)),
      onLoadMore: () => background(this.roomMembers.load(this.state.conversation(this.state.active), true)),
      onClose: () => this.screen.toggleMembers(false),
      onModerate: (member, action) => this.activeRoomId && this.moderation.act(this.activeRoomId, member, action),
      onUnban: (ban) => this.activeRoomId && this.moderation.unban(this.activeRoomId, ban),
    });

    // The socket asks for the token once the transport is open: `account` exists by then.
    this.client = createChatClient({ token: () => this.account.token(), cursor: this.state.local.cursor });
    this.account = new Account({
      client: this.client,
      session: this.session,
      signOut: (message) => this.logout(message),
      note: (text) => this.toasts.show(text),
      isAdmin: () => {
        this.state.admin = true;
        // Admins moderate every room: the member menus and Edit room show too.
        this.screen.render();
      },
    });
    this.outbox = new Outbox({
      client: this.client,
      token: () => this.session.token,
      changed: () => this.screen.scheduleRender(),
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
      changed: () => this.screen.renderSidebar(),
    });
    this.roomActions = new RoomActions({
      client: this.client,
      state: this.state,
      toasts: this.toasts,
      invitations: () => this.invitations,
      open: (key) => this.open(key),
      changed: (everything) => (everything ? this.screen.render() : this.screen.renderSidebar()),
      save: () => this.save(),
    });
    this.moderation = new Moderation({
      client: this.client,
      state: this.state,
      toasts: this.toasts,
      forget: (roomId) => this.roomActions.forget(roomId),
      changed: () => this.screen.scheduleRender(),
    });
    this.history = new History({
      client: this.client,
      state: this.state,
      toasts: this.toasts,
      underfilled: () => this.list.underfilled,
      changed: (conversation, mode) => this.screen.renderIfActive(conversation, mode),
      open: (key) => this.open(key),
      save: () => this.save(),
    });
    this.receipts = new Receipts({
      client: this.client,
      state: this.state,
      newestInView: () => document.visibilityState === "visible" && this.list.atBottom,
      save: () => this.save(),
      countsChanged: () => this.screen.renderSidebar(),
      changed: (everything) => (everything ? this.screen.render() : this.screen.scheduleRender()),
    });
    this.profile = new Profile({
      client: this.client,
      session: this.session,
      people: this.state.people,
      notifier: this.notifier,
      account: this.account,
      // My name or avatar changed (here, or in another tab as the session of a connect tells).
      changed: (me) => this.roomMembers.updated(me),
    });
    this.typing = new Typing({
      client: this.client,
      active: () => this.state.active,
      nameOf: (id) => this.nameOf(id),
      changed: (key) => key === this.state.active && this.screen.renderTyping(),
    });
    this.presence = new Presence({
      client: this.client,
      me: this.me.id,
      visible: () => this.visiblePeople(),
      changed: (status) => this.roomMembers.presenceChanged(status),
    });
    this.roomMembers = new RoomMembers({
      client: this.client,
      state: this.state,
      presence: this.presence,
      toasts: this.toasts,
      invitations: () => this.invitations,
      roomActions: () => this.roomActions,
      moderation: () => this.moderation,
      changed: () => this.screen.scheduleRender(),
      changedNow: (conversation) => this.screen.renderIfActive(conversation, "update"),
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
      changed: () => this.screen.scheduleRender(),
    });
    this.screen = new ChatScreen(
      root,
      {
        sidebar,
        header,
        banner: this.banner,
        list: this.list,
        composer: this.composer,
        members,
        toasts: this.toasts,
      },
      {
        state: this.state,
        presence: this.presence,
        notifier: this.notifier,
        receipts: this.receipts,
        typing: this.typing,
        invitations: this.invitations,
        moderation: this.moderation,
      },
    );
    this.bindPage();
    bridgeSdk(this.client, {
      state: this.state,
      inbox: this.inbox,
      history: this.history,
      roomMembers: this.roomMembers,
      moderation: this.moderation,
      receipts: this.receipts,
      typing: this.typing,
      invitations: this.invitations,
      presence: this.presence,
      profile: this.profile,
      outbox: this.outbox,
      account: this.account,
      connection: (state) => this.showConnection(state),
      open: (key) => this.open(key),
      render: () => this.screen.render(),
      save: () => this.save(),
      signOut: (message) => this.logout(message),
      note: (text) => this.toasts.show(text, { ms: 20_000 }),
    });
    this.showConnection(this.client.state);
    this.open(this.state.active);
    this.account.checkAdmin();
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
      this.reply(undefined);
      this.moderation.conversationOpened();
    }
    if (mode === "reset" || this.state.newSince === undefined) this.state.markNewSince(key, true);
    this.state.active = key;
    this.state.local.active = key;
    this.save();
    const conversation = this.state.conversation(key);
    if (conversation.ref.kind === "direct") this.state.touchDirect(conversation.ref.id);
    this.state.markRead(key, conversation.timeline.newestId);
    this.screen.show(mode);
    this.history.ensureLoaded(conversation);
    this.receipts.loadReads(conversation);
    background(this.roomMembers.load(conversation));
    if (window.matchMedia("(pointer: fine)").matches) this.composer.focus();
  }

  // ── messages ────────────────────────────────────────────────────────────────────────────────────

  /** The room on screen, if a room is. */
  private get activeRoomId(): string | undefined {
    const ref = refOf(this.state.active);
    return ref.kind === "room" ? ref.id : undefined;
  }

  private confirmDelete(message: StoredMessage): void {
    const own = message.from === this.me.id;
    confirmDialog(
      own ? "Delete message?" : `Delete ${this.nameOf(message.from)}’s message?`,
      own
        ? "Everyone in the conversation will see “This message was deleted.” instead."
        : "Everyone in the room will see that you deleted it. The audit log keeps a record.",
      "Delete message",
      () => this.client.deleteMessage(message.id),
      (tombstone) => this.inbox.updated(tombstone),
    );
  }

  /** Sets (or clears) the message the composer replies to, and shows it above the composer. */
  private reply(to: { key: ConversationKey; message: StoredMessage } | undefined): void {
    this.replyTo = to;
    const message = to?.message;
    this.composer.setReply(
      message && {
        author: message.from === this.me.id ? "yourself" : this.nameOf(message.from),
        text: message.content ?? (message.mediaType === "image" ? "an image" : "a file"),
      },
    );
  }

  // ── sending ─────────────────────────────────────────────────────────────────────────────────────

  /** Shows message `id` of the open conversation, paging back to it when it is not loaded yet. */
  private jumpTo(id: number): void {
    this.screen.jumpTo = id;
    this.screen.render();
    background(
      this.history.reach(id).then((found) => {
        if (found) this.screen.render();
        else {
          this.screen.jumpTo = undefined;
          this.toasts.show("That message is further back than this view loads: scroll up to find it.");
        }
      }),
    );
  }

  /** The connection's state: the banner says it, and online dots are not shown as live while it is down. */
  private showConnection(state: ConnectionState): void {
    this.banner.set(state, !navigator.onLine);
    this.screen.connection = state;
  }

  private upload(files: File[]): void {
    const conversation = this.state.conversation(this.state.active);
    if (conversation.ref.kind === "direct" && conversation.ref.id === SYSTEM) return;
    // Dropped or pasted while the composer is closed (a mute in force): said, not uploaded.
    if (!this.composer.writable) {
      this.toasts.show(this.composer.readOnlyReason, { kind: "error" });
      return;
    }
    this.outbox.upload(conversation, files);
    this.list.scrollToBottom();
  }

  // ── bookkeeping ─────────────────────────────────────────────────────────────────────────────────

  private nameOf(userId: string): string {
    return this.state.nameOf(userId);
  }

  private save(): void {
    clearTimeout(this.saveTimer);
    this.saveTimer = setTimeout(() => this.saveNow(), 300);
  }

  private saveNow(): void {
    clearTimeout(this.saveTimer);
    saveLocalState(this.me.id, {
      ...this.state.local,
      mentioned: [...this.state.mentioned],
      cursor: this.client.cursor,
    });
  }

  private logout(message?: string): void {
    // Once: a notice and a refused reconnect may both say so.
    if (this.loggedOut) return;
    this.loggedOut = true;
    this.saveNow();
    this.client.close();
    this.client.removeAllListeners();
    this.typing.close();
    this.moderation.close();
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
    const connectivity = () => this.showConnection(this.client.state);
    listen(window, "online", connectivity);
    listen(window, "offline", connectivity);
    listen(window, "pagehide", () => this.saveNow());
    // "last seen 5 min ago" ages: refresh the members panel now and then.
    const tick = setInterval(() => this.screen.scheduleRender(), 60_000);
    this.teardown.push(() => clearInterval(tick));
    const visibility = () => {
      if (document.visibilityState !== "visible") return this.saveNow();
      this.state.markRead(this.state.active, this.state.conversation(this.state.active).timeline.newestId);
      this.screen.render();
      // user:updated reaches only the users followed for presence: coming back is a moment to look again.
      background(this.roomMembers.load(this.state.conversation(this.state.active)));
    };
    document.addEventListener("visibilitychange", visibility);
    this.teardown.push(() => document.removeEventListener("visibilitychange", visibility));
    const onWidth = () => this.screen.fitWidth();
    this.screen.wide.addEventListener("change", onWidth);
    this.teardown.push(() => this.screen.wide.removeEventListener("change", onWidth));
    // Drag and drop files anywhere on the conversation.
    acceptDroppedFiles(this.screen.main, (files) => this.upload(files));
  }
}
