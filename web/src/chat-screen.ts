import type { ChatState, Conversation } from "./chat-state.js";
import { LOBBY, SYSTEM, keyOf, refOf, roomKey, type ConversationKey } from "./conversations.js";
import { h } from "./dom.js";
import { formatAgo } from "./format.js";
import type { Invitations } from "./invitations.js";
import { rendersAsLog } from "./log-rule.js";
import type { Moderation } from "./moderation.js";
import type { Notifier } from "./notifications.js";
import type { Presence } from "./presence.js";
import type { Receipts } from "./receipts.js";
import { showUnread } from "./tab-badge.js";
import type { Typing } from "./typing.js";
import type { BannerView } from "./views/banner.js";
import type { ChatHeaderView } from "./views/chat-header.js";
import type { ComposerView } from "./views/composer.js";
import type { MembersView } from "./views/members.js";
import type { MessageListView, RenderMode } from "./views/message-list.js";
import type { SidebarItem, SidebarView } from "./views/sidebar.js";
import type { Toasts } from "./views/toasts.js";

/** Wide enough for the members panel beside the conversation (narrower, it is a drawer). */
const WIDE = "(min-width: 1100px)";

/** The views the screen lays out, made (and their callbacks wired) by the app. */
export interface ScreenViews {
  sidebar: SidebarView;
  header: ChatHeaderView;
  banner: BannerView;
  list: MessageListView;
  composer: ComposerView;
  members: MembersView;
  toasts: Toasts;
}

/** What the screen reads to draw. */
export interface ChatScreenContext {
  state: ChatState;
  presence: Presence;
  notifier: Notifier;
  receipts: Receipts;
  typing: Typing;
  invitations: Invitations;
  moderation: Moderation;
}

/**
 * The signed-in screen: lays the views out (sidebar, conversation, members panel or drawer, toasts) and draws
 * them from the store and the controllers, now or once per frame; which panel shows on a phone and whether
 * the members panel is open. It changes no state but its own.
 */
export class ChatScreen {
  /** The conversation column (files dropped on it are sent). */
  readonly main: HTMLElement;
  /** Matches when the members panel fits beside the conversation. */
  readonly wide = window.matchMedia(WIDE);
  /** A message to scroll to once its conversation shows it (a search result). */
  jumpTo: number | undefined;
  private readonly shell: HTMLElement;

  /** The connection's state, on the shell: online dots go grey while it is not `online` (they would be stale). */
  set connection(state: string) {
    this.shell.dataset.connection = state;
  }
  private readonly typingLine: HTMLElement;
  private membersOpen = this.wide.matches;
  private renderQueued = false;

  constructor(
    root: HTMLElement,
    private readonly views: ScreenViews,
    private readonly context: ChatScreenContext,
  ) {
    this.typingLine = h("p", { class: "typing-line", "aria-live": "polite" });
    this.main = h(
      "main",
      { class: "main" },
      views.header.element,
      views.banner.element,
      views.list.element,
      this.typingLine,
      views.composer.element,
      h("div", { class: "drop-hint", "aria-hidden": "true" }, "Drop files to send them"),
    );
    const scrim = h("div", { class: "scrim", "aria-hidden": "true", onclick: () => this.toggleMembers(false) });
    this.shell = h(
      "div",
      { class: "app", "data-view": "chat" },
      views.sidebar.element,
      this.main,
      scrim,
      views.members.element,
      views.toasts.element,
    );
    // Escape closes the members drawer where it covers the conversation.
    views.members.element.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && !this.wide.matches) this.toggleMembers(false);
    });
    root.replaceChildren(this.shell);
  }

  /** Shows a conversation just opened (`reset`) or opened again (`update`); on a narrow screen, members closed. */
  show(mode: RenderMode): void {
    this.setView("chat");
    if (!this.wide.matches) this.membersOpen = false;
    this.renderConversation(mode);
    this.renderSidebar();
  }

  /** The window got wider or narrower: the members panel opens beside the conversation or closes. */
  fitWidth(): void {
    this.membersOpen = this.wide.matches;
    this.render();
  }

  /** Redraws everything on the next frame (many changes, one redraw). */
  scheduleRender(): void {
    if (this.renderQueued) return;
    this.renderQueued = true;
    requestAnimationFrame(() => {
      this.renderQueued = false;
      this.render();
    });
  }

  /** Redraws a conversation now if it is the one on screen. */
  renderIfActive(conversation: Conversation, mode: RenderMode): void {
    if (conversation.key === this.context.state.active) this.renderConversation(mode);
  }

  /** Redraws everything now. */
  render(): void {
    this.renderConversation("update");
    this.renderSidebar();
  }

  /** Redraws the open conversation: header, messages, typing line, members. */
  renderConversation(mode: RenderMode): void {
    const { state, presence, notifier, receipts, moderation } = this.context;
    const conversation = state.conversation(state.active);
    const ref = conversation.ref;
    const room = ref.kind === "room" ? state.rooms.get(ref.id) : undefined;
    const title = state.titleOf(ref);
    const isSystem = ref.kind === "direct" && ref.id === SYSTEM;
    this.views.header.render({
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
            : presence.isOnline(ref.id)
              ? "Online"
              : presence.lastSeen.has(ref.id)
                ? `Offline · last seen ${formatAgo(presence.lastSeen.get(ref.id)!)}`
                : "Offline",
      online: ref.kind === "direct" && presence.isOnline(ref.id),
      canInvite: room?.visibility === "private",
      canLeave: room !== undefined && room.id !== LOBBY,
      topic: room?.topic,
      canEdit: room !== undefined && moderation.mayEditRoom(room.id),
      hasMembers: !isSystem,
      membersOpen: this.membersOpen,
      muted: notifier.isMuted(state.active),
    });
    this.shell.dataset.members = this.membersOpen && !isSystem ? "open" : "closed";
    const muted = ref.kind === "room" ? moderation.muteNote(ref.id) : undefined;
    this.views.composer.setTarget(ref.kind === "room" ? `#${title}` : title, !isSystem && !muted, muted);
    this.views.list.render(
      {
        title:
          ref.kind === "room" ? `Welcome to ${title}` : isSystem ? "System notices" : `Your conversation with ${title}`,
        timeline: conversation.timeline,
        loaded: conversation.loaded,
        hasOlder: conversation.hasOlder,
        loadingOlder: conversation.loadingOlder,
        seen: receipts.seenBy(conversation),
        newAfter: state.newSince?.key === state.active ? state.newSince.after : undefined,
        log: rendersAsLog(room, conversation.timeline),
      },
      mode,
    );
    this.renderTyping();
    this.jump();
    receipts.report();
    this.views.members.render({
      me: state.me.id,
      members: conversation.members.list,
      hasMore: conversation.members.hasMore,
      loading: conversation.members.loading,
      lastSeen: presence.lastSeen,
      actionsOf: (member) => (ref.kind === "room" ? moderation.actionsFor(ref.id, member) : []),
      bans: ref.kind === "room" ? moderation.bansOf(ref.id) : undefined,
    });
    // The dots on screen may have changed: follow them (a new subscription only when they did).
    presence.update();
  }

  /** Redraws the sidebar, the tab title and the favicon. */
  renderSidebar(): void {
    const { state, presence, notifier, invitations } = this.context;
    const item = (key: ConversationKey, kind: "room" | "direct"): SidebarItem => {
      const ref = refOf(key);
      return {
        key,
        kind,
        title: state.titleOf(ref),
        isPrivate: kind === "room" && state.rooms.get(ref.id)?.visibility === "private",
        isSystem: kind === "direct" && ref.id === SYSTEM,
        unread: state.local.unread[key] ?? 0,
        mention: state.mentioned.has(key),
        muted: notifier.isMuted(key),
        online: kind === "direct" && ref.id !== SYSTEM && presence.isOnline(ref.id),
        person: kind === "direct" ? state.people.person(ref.id) : undefined,
        active: key === state.active,
      };
    };
    const rooms = [...state.rooms.values()]
      .sort((a, b) => (a.id === LOBBY ? -1 : b.id === LOBBY ? 1 : a.name.localeCompare(b.name)))
      .map((room) => item(roomKey(room.id), "room"));
    const directs = [...state.local.directs];
    if (state.active.startsWith("user:") && !directs.includes(refOf(state.active).id))
      directs.unshift(refOf(state.active).id);
    this.views.sidebar.render({
      me: state.me,
      admin: state.admin,
      rooms,
      directs: directs.map((id) => item(keyOf({ kind: "direct", id }), "direct")),
      invitations: invitations.items(),
    });
    // Muted conversations stay out of the tab title and favicon (the sidebar still counts them).
    const counted = (Object.keys(state.local.unread) as ConversationKey[]).filter((key) => !notifier.isMuted(key));
    showUnread(
      counted.reduce((sum, key) => sum + (state.local.unread[key] ?? 0), 0),
      counted.some((key) => state.mentioned.has(key)),
    );
    presence.update();
  }

  /** Redraws the line saying who types in the open conversation. */
  renderTyping(): void {
    this.typingLine.textContent = this.context.typing.line(this.context.state.active);
  }

  /** On a phone: the list of conversations, or the open one. */
  setView(view: "list" | "chat"): void {
    this.shell.dataset.view = view;
  }

  /** Opens or closes the members panel (a drawer on narrow screens). */
  toggleMembers(open = !this.membersOpen): void {
    this.membersOpen = open;
    this.render();
  }

  /** Scrolls to (and briefly highlights) the message a search result pointed at, once it is shown. */
  private jump(): void {
    const id = this.jumpTo;
    if (id === undefined) return;
    const element = this.views.list.element.querySelector<HTMLElement>(`li[data-id="${id}"]`);
    if (!element) return;
    this.jumpTo = undefined;
    element.scrollIntoView({ block: "center" });
    element.classList.add("highlight");
    setTimeout(() => element.classList.remove("highlight"), 2000);
  }
}
