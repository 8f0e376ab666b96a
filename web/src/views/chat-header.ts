import { h, icon, ICONS, replaceChildren } from "../dom.js";

/** What the header shows. */
export interface HeaderState {
  title: string;
  kind: "room" | "direct" | "system";
  isPrivate: boolean;
  subtitle: string;
  /** A room's topic (`room:update`), shown under its name. */
  topic?: string;
  online?: boolean;
  canInvite: boolean;
  canLeave: boolean;
  /** I own the room (or am an admin): Edit room (its dialog offers Delete room, but for the lobby). */
  canEdit: boolean;
  /** Whether the conversation has members to show (the System conversation has none). */
  hasMembers: boolean;
  membersOpen: boolean;
  /** Notifications of this conversation are muted. */
  muted: boolean;
}

/** What the header asks the app to do. */
export interface HeaderContext {
  onBack(): void;
  onInvite(): void;
  onLeave(): void;
  onEditRoom(): void;
  onToggleMembers(): void;
  onToggleMute(): void;
}

/** The bar above the messages: back (phones), the conversation's name and status, its actions. */
export class ChatHeaderView {
  readonly element: HTMLElement;
  private readonly title: HTMLHeadingElement;
  private readonly subtitle: HTMLParagraphElement;
  private readonly topic: HTMLParagraphElement;
  private readonly edit: HTMLButtonElement;
  private readonly marker: HTMLSpanElement;
  private readonly invite: HTMLButtonElement;
  private readonly leave: HTMLButtonElement;
  private readonly members: HTMLButtonElement;
  private readonly mute: HTMLButtonElement;

  constructor(context: HeaderContext) {
    this.title = h("h1", { class: "chat-title" });
    this.subtitle = h("p", { class: "chat-subtitle" });
    this.topic = h("p", { class: "chat-topic", hidden: true });
    this.marker = h("span", { class: "chat-marker" });
    this.edit = h(
      "button",
      { type: "button", class: "button small", title: "Edit room", onclick: () => context.onEditRoom() },
      icon([...ICONS.edit]),
      h("span", { class: "label" }, "Edit room"),
    );

    this.invite = h(
      "button",
      { type: "button", class: "button small", onclick: () => context.onInvite() },
      icon([...ICONS.userPlus]),
      h("span", { class: "label" }, "Invite"),
    );
    this.leave = h(
      "button",
      { type: "button", class: "button small", onclick: () => context.onLeave() },
      icon([...ICONS.leave]),
      h("span", { class: "label" }, "Leave"),
    );
    this.mute = h(
      "button",
      { type: "button", class: "button small", "aria-pressed": "false", onclick: () => context.onToggleMute() },
      icon([...ICONS.bell]),
      h("span", { class: "label" }, "Mute"),
    );
    this.members = h(
      "button",
      {
        type: "button",
        class: "icon-button",
        "aria-controls": "members-panel",
        "aria-label": "Members",
        title: "Members",
        onclick: () => context.onToggleMembers(),
      },
      icon([...ICONS.users]),
    );
    this.element = h(
      "header",
      { class: "chat-header" },
      h(
        "button",
        {
          type: "button",
          class: "icon-button back",
          "aria-label": "All conversations",
          onclick: () => context.onBack(),
        },
        icon([...ICONS.back]),
      ),
      this.marker,
      h("div", { class: "chat-heading" }, this.title, this.subtitle, this.topic),
      h("div", { class: "chat-actions" }, this.invite, this.edit, this.leave, this.mute, this.members),
    );
  }

  render(state: HeaderState): void {
    this.title.textContent = state.title;
    this.subtitle.textContent = state.subtitle;
    this.topic.textContent = state.topic ?? "";
    this.topic.title = state.topic ?? "";
    this.topic.hidden = !state.topic;
    this.edit.hidden = !state.canEdit;
    replaceChildren(
      this.marker,
      state.kind === "room"
        ? icon([...(state.isPrivate ? ICONS.lock : ICONS.hash)])
        : state.kind === "system"
          ? icon([...ICONS.bell])
          : h("span", { class: `dot${state.online ? " is-online" : ""}`, "aria-hidden": "true" }),
    );
    this.invite.hidden = !state.canInvite;
    this.leave.hidden = !state.canLeave;
    this.members.hidden = !state.hasMembers;
    this.mute.setAttribute("aria-pressed", String(state.muted));
    this.mute.title = state.muted ? "Muted: no notifications (mentions still notify)" : "Mute notifications";
    this.members.setAttribute("aria-expanded", String(state.membersOpen && state.hasMembers));
  }
}
