import type { ConversationKey } from "../conversations.js";
import { h, icon, ICONS, keepingFocus, replaceChildren } from "../dom.js";
import type { Person } from "../people.js";
import { avatar } from "./avatar.js";

/** One conversation in the sidebar. */
export interface SidebarItem {
  key: ConversationKey;
  title: string;
  kind: "room" | "direct";
  isPrivate?: boolean;
  /** The System conversation (notices from the server): no presence. */
  isSystem?: boolean;
  unread: number;
  /** An unread message mentions me: the badge shows `@`. */
  mention?: boolean;
  /** Muted: shown dimmed. */
  muted?: boolean;
  online?: boolean;
  /** A direct conversation's other person, drawn with their avatar. */
  person?: Person;
  active: boolean;
}

/** A pending invitation to a private room. */
export interface InvitationItem {
  roomId: string;
  roomName: string;
  byName: string;
}

/** What the sidebar shows. */
export interface SidebarState {
  me: Person | undefined;
  /** Link to the admin console. */
  admin?: boolean;
  rooms: SidebarItem[];
  directs: SidebarItem[];
  invitations: InvitationItem[];
}

/** What the sidebar asks the app to do. */
export interface SidebarContext {
  onOpen(key: ConversationKey): void;
  onCreateRoom(): void;
  onBrowseRooms(): void;
  onLogout(): void;
  /** Searches the messages this user may see. */
  onSearch(query: string): void;
  /** Joins the room of a pending invitation. */
  onAcceptInvitation(roomId: string): void;
  /** Declines a pending invitation (the server forgets it). */
  onDeclineInvitation(roomId: string): void;
  /** Opens the profile and settings dialog (name, avatar, read receipts, notifications). */
  onOpenProfile(): void;
}

/** The left column: who I am, rooms, invitations and direct conversations. */
export class SidebarView {
  readonly element: HTMLElement;
  private readonly me: HTMLElement;
  private readonly rooms: HTMLUListElement;
  private readonly invitations: HTMLElement;
  private readonly directs: HTMLUListElement;

  constructor(private readonly context: SidebarContext) {
    this.me = h("div", { class: "me" });
    this.rooms = h("ul", { class: "conv-list", "aria-label": "Rooms" });
    this.invitations = h("section", { class: "sidebar-section invitations", hidden: true });
    this.directs = h("ul", { class: "conv-list", "aria-label": "Direct messages" });
    this.element = h(
      "nav",
      { class: "sidebar", "aria-label": "Conversations" },
      h(
        "header",
        { class: "sidebar-header" },
        h("span", { class: "brand" }, h("span", { class: "brand-mark", "aria-hidden": "true" }), "Chat"),
        this.me,
        this.searchForm(),
      ),
      h(
        "div",
        { class: "sidebar-scroll" },
        h(
          "section",
          { class: "sidebar-section" },
          h(
            "div",
            { class: "section-head" },
            h("h2", {}, "Rooms"),
            h(
              "div",
              { class: "section-actions" },
              h(
                "button",
                {
                  type: "button",
                  class: "icon-button",
                  "aria-label": "Browse rooms",
                  title: "Browse rooms",
                  onclick: () => context.onBrowseRooms(),
                },
                icon([...ICONS.compass]),
              ),
              h(
                "button",
                {
                  type: "button",
                  class: "icon-button",
                  "aria-label": "Create a room",
                  title: "Create a room",
                  onclick: () => context.onCreateRoom(),
                },
                icon([...ICONS.plus]),
              ),
            ),
          ),
          this.rooms,
        ),
        this.invitations,
        h(
          "section",
          { class: "sidebar-section" },
          h("div", { class: "section-head" }, h("h2", {}, "Direct messages")),
          this.directs,
        ),
      ),
    );
  }

  private searchForm(): HTMLFormElement {
    const input = h("input", {
      type: "search",
      id: "message-search",
      class: "search-input",
      placeholder: "Search messages",
      "aria-label": "Search messages",
      maxlength: "200",
      autocomplete: "off",
    });
    const form = h("form", { class: "search", role: "search" }, input);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const query = input.value.trim();
      if (query !== "") this.context.onSearch(query);
    });
    return form;
  }

  render(state: SidebarState): void {
    keepingFocus(this.element, () => {
      replaceChildren(
        this.me,
        state.me
          ? h(
              "div",
              { class: "me-row" },
              h(
                "button",
                {
                  type: "button",
                  class: "me-button",
                  "data-focus-key": "profile",
                  "aria-label": `Profile and settings (${state.me.name})`,
                  title: "Profile and settings",
                  onclick: () => this.context.onOpenProfile(),
                },
                avatar(state.me, "small"),
                h("span", { class: "me-name" }, state.me.name),
              ),
              state.admin
                ? h(
                    "a",
                    { class: "icon-button", href: "/admin", "aria-label": "Admin console", title: "Admin console" },
                    icon([...ICONS.shield]),
                  )
                : null,
              h(
                "button",
                {
                  type: "button",
                  class: "icon-button",
                  "aria-label": "Log out",
                  title: "Log out",
                  onclick: () => this.context.onLogout(),
                },
                icon([...ICONS.logout]),
              ),
            )
          : null,
      );
      replaceChildren(this.rooms, ...state.rooms.map((item) => this.item(item)));
      replaceChildren(
        this.directs,
        ...(state.directs.length > 0
          ? state.directs.map((item) => this.item(item))
          : [h("li", { class: "empty-note" }, "Pick someone in the member list to start a conversation.")]),
      );
      this.invitations.hidden = state.invitations.length === 0;
      replaceChildren(
        this.invitations,
        h("div", { class: "section-head" }, h("h2", {}, "Invitations")),
        h(
          "ul",
          { class: "invite-list" },
          ...state.invitations.map((invite) =>
            h(
              "li",
              { class: "invite" },
              h("p", {}, h("strong", {}, invite.byName), " invited you to ", h("strong", {}, invite.roomName)),
              h(
                "div",
                { class: "invite-actions" },
                h(
                  "button",
                  {
                    type: "button",
                    class: "button small primary",
                    "data-focus-key": `accept:${invite.roomId}`,
                    "aria-label": `Accept the invitation to ${invite.roomName}`,
                    onclick: () => this.context.onAcceptInvitation(invite.roomId),
                  },
                  "Accept",
                ),
                h(
                  "button",
                  {
                    type: "button",
                    class: "button small",
                    "data-focus-key": `decline:${invite.roomId}`,
                    "aria-label": `Decline the invitation to ${invite.roomName}`,
                    onclick: () => this.context.onDeclineInvitation(invite.roomId),
                  },
                  "Decline",
                ),
              ),
            ),
          ),
        ),
      );
    });
  }

  private item(item: SidebarItem): HTMLElement {
    const marker =
      item.kind === "room"
        ? icon([...(item.isPrivate ? ICONS.lock : ICONS.hash)])
        : item.isSystem
          ? icon([...ICONS.bell])
          : avatar(
              item.person ?? { id: item.key, name: item.title },
              "tiny",
              h("span", { class: `dot${item.online ? " is-online" : ""}` }),
            );
    const label = [
      item.title,
      item.kind === "direct" && !item.isSystem ? (item.online ? "online" : "offline") : undefined,
      item.isPrivate ? "private" : undefined,
      item.unread > 0 ? `${item.unread} unread` : undefined,
      item.mention ? "mentioned" : undefined,
      item.muted ? "muted" : undefined,
    ]
      .filter((part) => part !== undefined)
      .join(", ");
    return h(
      "li",
      {},
      h(
        "button",
        {
          type: "button",
          class: `conv${item.active ? " active" : ""}${item.unread > 0 ? " has-unread" : ""}${item.muted ? " muted" : ""}`,
          "data-focus-key": item.key,
          "aria-current": item.active ? "page" : undefined,
          "aria-label": label,
          title: item.title,
          onclick: () => this.context.onOpen(item.key),
        },
        marker,
        h("span", { class: "conv-title" }, item.title),
        item.unread > 0
          ? h(
              "span",
              { class: `badge${item.mention ? " mention" : ""}`, "aria-hidden": "true" },
              `${item.mention ? "@ " : ""}${item.unread > 99 ? "99+" : String(item.unread)}`,
            )
          : null,
      ),
    );
  }
}
