import type { RoomBan, RoomMember } from "../../../shared/schemas.js";
import { h, icon, ICONS, keepingFocus, replaceChildren } from "../dom.js";
import { formatAgo, formatFull } from "../format.js";
import { avatar } from "./avatar.js";

/** What one may do to a member from its menu (the server decides; the menu only leaves out what it would refuse). */
export type MemberAction = "promote" | "demote" | "mute" | "unmute" | "kick" | "ban";

const ACTION_LABELS: Record<MemberAction, string> = {
  promote: "Make moderator",
  demote: "Make member",
  mute: "Mute…",
  unmute: "Unmute",
  kick: "Remove from room…",
  ban: "Ban…",
};

/** What the members panel shows. */
export interface MembersState {
  me: string;
  /** Who is shown: a room's members, or the two people of a direct conversation. */
  members: RoomMember[];
  hasMore: boolean;
  loading: boolean;
  /** When offline members were last seen (from `presence:query` and offline notices). */
  lastSeen: ReadonlyMap<string, number>;
  /** The moderation actions I may take on a member (none: no menu). */
  actionsOf(member: RoomMember): MemberAction[];
  /** The room's bans in force, for those who moderate it (undefined: not shown). */
  bans?: RoomBan[] | undefined;
}

/** What the members panel asks the app to do. */
export interface MembersContext {
  /** A member's avatar image as last learnt (member lists carry it; a change in the list shows at once). */
  avatarOf(userId: string): string | undefined;
  onOpenDirect(userId: string): void;
  onLoadMore(): void;
  onClose(): void;
  /** A moderation action picked in a member's menu. */
  onModerate(member: RoomMember, action: MemberAction): void;
  /** Unban, picked in the list of bans. */
  onUnban(ban: RoomBan): void;
}

/** The right column: members with live online dots; choosing one opens a direct conversation. */
export class MembersView {
  readonly element: HTMLElement;
  private readonly heading: HTMLHeadingElement;
  private readonly body: HTMLElement;
  /** The member whose moderation menu is open. */
  private menuFor: string | undefined;
  private lastState: MembersState | undefined;

  constructor(private readonly context: MembersContext) {
    this.heading = h("h2", { id: "members-heading" }, "Members");
    this.body = h("div", { class: "members-body" });
    this.element = h(
      "aside",
      { class: "members", id: "members-panel", "aria-labelledby": "members-heading" },
      h(
        "header",
        { class: "members-header" },
        this.heading,
        h(
          "button",
          {
            type: "button",
            class: "icon-button members-close",
            "aria-label": "Close members",
            onclick: () => context.onClose(),
          },
          icon([...ICONS.x]),
        ),
      ),
      this.body,
    );
    // A click anywhere but in the open menu closes it.
    document.addEventListener("click", (event) => {
      if (this.menuFor === undefined) return;
      if (event.target instanceof Element && event.target.closest(".member-actions")) return;
      this.toggleMenu(undefined, false);
    });
  }

  private toggleMenu(userId: string | undefined, focus = true): void {
    const was = this.menuFor;
    this.menuFor = userId;
    if (this.lastState) this.render(this.lastState);
    if (!focus) return;
    const row = this.body.querySelector(`[data-member="${CSS.escape(userId ?? was ?? "")}"]`);
    row?.querySelector<HTMLElement>(userId === undefined ? ".member-actions-toggle" : '[role="menuitem"]')?.focus();
  }

  render(state: MembersState): void {
    this.lastState = state;
    if (this.menuFor !== undefined && !state.members.some((m) => m.userId === this.menuFor)) this.menuFor = undefined;
    const online = state.members.filter((m) => m.online);
    const offline = state.members.filter((m) => !m.online);
    const byName = (a: RoomMember, b: RoomMember) => a.name.localeCompare(b.name);
    this.heading.textContent = `Members · ${state.members.length}${state.hasMore ? "+" : ""}`;
    keepingFocus(this.element, () => {
      replaceChildren(
        this.body,
        state.loading && state.members.length === 0 ? h("p", { class: "empty-note" }, "Loading members…") : null,
        online.length > 0 ? this.group(`Online — ${online.length}`, online.sort(byName), state) : null,
        offline.length > 0 ? this.group(`Offline — ${offline.length}`, offline.sort(byName), state) : null,
        state.hasMore
          ? h(
              "button",
              {
                type: "button",
                class: "link-button more",
                disabled: state.loading,
                onclick: () => this.context.onLoadMore(),
              },
              "Show more members",
            )
          : null,
        state.bans !== undefined && state.bans.length > 0 ? this.banned(state.bans) : null,
      );
    });
  }

  /** Who is banned from the room now, with why and until when, and Unban (for those who moderate it). */
  private banned(bans: RoomBan[]): HTMLElement {
    return h(
      "section",
      { class: "member-group banned-group", "aria-label": "Banned" },
      h("h3", {}, `Banned — ${bans.length}`),
      h(
        "ul",
        { class: "member-list" },
        ...bans.map((ban) =>
          h(
            "li",
            { class: "member-row banned-row", "data-banned": ban.userId },
            h(
              "span",
              { class: "member-text", title: ban.userId },
              h("span", { class: "member-name" }, ban.name),
              h(
                "span",
                { class: "last-seen" },
                `${ban.until === undefined ? "for good" : `until ${formatFull(ban.until)}`}${ban.reason === undefined ? "" : ` · ${ban.reason}`}`,
              ),
            ),
            h(
              "button",
              {
                type: "button",
                class: "button small",
                "data-focus-key": `unban:${ban.userId}`,
                "aria-label": `Unban ${ban.name}`,
                onclick: () => this.context.onUnban(ban),
              },
              "Unban",
            ),
          ),
        ),
      ),
    );
  }

  /** A member's moderation menu: a toggle, and the actions while open (Escape closes, arrows move). */
  private actions(member: RoomMember, actions: MemberAction[]): HTMLElement | null {
    if (actions.length === 0) return null;
    const open = this.menuFor === member.userId;
    const menuId = `member-menu-${member.userId}`;
    return h(
      "div",
      {
        class: `member-actions${open ? " open" : ""}`,
        onkeydown: (event: KeyboardEvent) => {
          if (event.key === "Escape" && open) {
            event.stopPropagation();
            this.toggleMenu(undefined);
          } else if (open && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
            event.preventDefault();
            const items = [...(event.currentTarget as HTMLElement).querySelectorAll<HTMLElement>('[role="menuitem"]')];
            const at = items.indexOf(document.activeElement as HTMLElement);
            items[(at + (event.key === "ArrowDown" ? 1 : items.length - 1)) % items.length]?.focus();
          }
        },
      },
      h(
        "button",
        {
          type: "button",
          class: "icon-button member-actions-toggle",
          "data-focus-key": `moderate:${member.userId}`,
          "aria-label": `Moderate ${member.name}`,
          title: `Moderate ${member.name}`,
          "aria-haspopup": "menu",
          "aria-expanded": open ? "true" : "false",
          "aria-controls": open ? menuId : undefined,
          onclick: () => this.toggleMenu(open ? undefined : member.userId),
        },
        icon([...ICONS.more]),
      ),
      open
        ? h(
            "div",
            { class: "msg-menu member-menu", role: "menu", id: menuId, "aria-label": `Moderate ${member.name}` },
            ...actions.map((action) =>
              h(
                "button",
                {
                  type: "button",
                  role: "menuitem",
                  "data-focus-key": `moderate:${member.userId}:${action}`,
                  class: action === "kick" || action === "ban" ? "danger" : undefined,
                  onclick: () => {
                    this.toggleMenu(undefined, false);
                    this.context.onModerate(member, action);
                  },
                },
                ACTION_LABELS[action],
              ),
            ),
          )
        : null,
    );
  }

  private group(title: string, members: RoomMember[], { me, lastSeen, actionsOf }: MembersState): HTMLElement {
    return h(
      "section",
      { class: "member-group" },
      h("h3", {}, title),
      h(
        "ul",
        { class: "member-list" },
        ...members.map((member) => {
          const self = member.userId === me;
          const state = member.online ? "online" : "offline";
          const seenAt = member.online ? undefined : lastSeen.get(member.userId);
          const seenId = `last-seen-${member.userId}`;
          const role = member.role === "member" ? "" : ` (${member.role})`;
          const muted = member.mutedUntil !== undefined && member.mutedUntil > Date.now();
          return h(
            "li",
            { class: "member-row", "data-member": member.userId },
            h(
              "button",
              {
                type: "button",
                class: `member${member.online ? " is-online" : ""}`,
                "data-focus-key": `member:${member.userId}`,
                "data-user": member.userId,
                "aria-describedby": seenAt === undefined ? undefined : seenId,
                "aria-label": self
                  ? `${member.name} (you)${role}, ${state}: notes to self`
                  : `Message ${member.name}${role}, ${state}`,
                title: member.userId,
                onclick: () => this.context.onOpenDirect(member.userId),
              },
              avatar(
                { id: member.userId, name: member.name, avatarUrl: this.context.avatarOf(member.userId) },
                "small",
                h("span", { class: "dot" }),
              ),
              h(
                "span",
                { class: "member-text" },
                h("span", { class: "member-name" }, member.name),
                seenAt === undefined
                  ? null
                  : h("span", { class: "last-seen", id: seenId }, `last seen ${formatAgo(seenAt)}`),
              ),
              member.role === "member" ? null : h("span", { class: `role is-${member.role}` }, member.role),
              muted ? h("span", { class: "role is-muted" }, "muted") : null,
              self ? h("span", { class: "you" }, "you") : null,
            ),
            this.actions(member, actionsOf(member)),
          );
        }),
      ),
    );
  }
}
