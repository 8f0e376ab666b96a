import type { RoomMember } from "../../../shared/schemas.js";
import { h, icon, ICONS, keepingFocus, replaceChildren } from "../dom.js";
import { formatAgo } from "../format.js";
import { avatar } from "./avatar.js";

/** What the members panel shows. */
export interface MembersState {
  me: string;
  /** Who is shown: a room's members, or the two people of a direct conversation. */
  members: RoomMember[];
  hasMore: boolean;
  loading: boolean;
  /** When offline members were last seen (from `presence:query` and offline notices). */
  lastSeen: ReadonlyMap<string, number>;
}

/** What the members panel asks the app to do. */
export interface MembersContext {
  /** A member's avatar image as last learnt (member lists carry it; a change in the list shows at once). */
  avatarOf(userId: string): string | undefined;
  onOpenDirect(userId: string): void;
  onLoadMore(): void;
  onClose(): void;
}

/** The right column: members with live online dots; choosing one opens a direct conversation. */
export class MembersView {
  readonly element: HTMLElement;
  private readonly heading: HTMLHeadingElement;
  private readonly body: HTMLElement;

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
  }

  render(state: MembersState): void {
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
      );
    });
  }

  private group(title: string, members: RoomMember[], { me, lastSeen }: MembersState): HTMLElement {
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
          return h(
            "li",
            {},
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
              self ? h("span", { class: "you" }, "you") : null,
            ),
          );
        }),
      ),
    );
  }
}
