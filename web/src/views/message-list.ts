import type { StoredMessage } from "../../../shared/schemas.js";
import { h, icon, ICONS, replaceChildren } from "../dom.js";
import { fileMeta } from "../files.js";
import { dayKey, formatDay, formatFull, formatSize, formatTime, linkify } from "../format.js";
import type { Notice, Outgoing, Timeline } from "../timeline.js";
import { background } from "../background.js";
import { KeyedList } from "./keyed-list.js";
import { LogView } from "./log-view.js";
import { highlightMentions } from "../mentions.js";
import { avatar } from "./avatar.js";

/** What the list needs from the app. */
export interface MessageListContext {
  me: string;
  nameOf(userId: string): string;
  /** A user's avatar image, when this tab knows of one. */
  avatarOf(userId: string): string | undefined;
  onRetry(clientMsgId: string): void;
  onDiscard(clientMsgId: string): void;
  onLoadOlder(): void;
  /** Shows a message of this conversation that may not be loaded yet (a quoted one). */
  onJump(id: number): void;
  /** Saves an edit of one of my messages; resolves an error message, or undefined when it was saved. */
  onEdit(id: number, content: string): Promise<string | undefined>;
  /** Whether I may delete a message: my own, or another's in a room I moderate. */
  mayDelete(message: StoredMessage): boolean;
  /** Asks to delete a message (mine, or as a moderator). */
  onDelete(message: StoredMessage): void;
  /** Adds (`on`) or removes my reaction. */
  onReact(id: number, emoji: string, on: boolean): void;
  /** Starts a reply to a message. */
  onReply(message: StoredMessage): void;
  /** The reader reached the newest message (scrolled to the bottom). */
  onAtBottom(): void;
}

/** What the list shows. */
export interface MessageListState {
  title: string;
  timeline: Timeline;
  /** History has been loaded at least once. */
  loaded: boolean;
  hasOlder: boolean;
  loadingOlder: boolean;
  /** "Seen by" under my last message: its id and who read up to it. */
  seen?: { id: number; names: string[] };
  /** "New messages" goes above the first message of someone else with an id above this. */
  newAfter?: number | undefined;
  /** Show the conversation as a log (see `rendersAsLog` in log-rule.ts). */
  log?: boolean;
}

/** Why the list re-renders: another conversation, older history on top, or anything else. */
export type RenderMode = "reset" | "older" | "update";

interface Row {
  key: string;
  /** A changed version rebuilds the element; an unchanged one reuses it. */
  version: string;
  build: () => HTMLElement;
  continued?: boolean;
}

type Entry =
  | { kind: "stored"; message: StoredMessage; at: number }
  | { kind: "notice"; notice: Notice; at: number }
  | { kind: "outgoing"; outgoing: Outgoing; at: number };

/** The reactions offered in every message's menu. */
export const QUICK_REACTIONS = ["👍", "❤️", "😂"] as const;

const GROUP_WINDOW_MS = 5 * 60_000;
const PIN_DISTANCE_PX = 64;
const LOAD_OLDER_DISTANCE_PX = 200;

const safeFileUrl = (url: string | undefined): string | undefined =>
  url !== undefined && url.startsWith("/files/") ? url : undefined;

function timeElement(ms: number): HTMLTimeElement {
  return h("time", { datetime: new Date(ms).toISOString(), title: formatFull(ms) }, formatTime(ms));
}

/** What shows above the first message: loading, a "Load older messages" button, or the conversation's start. */
export function historyTop(state: MessageListState, onLoadOlder: () => void): HTMLElement {
  if (!state.loaded) return h("p", { class: "history-note" }, "Loading messages…");
  if (state.loadingOlder) return h("p", { class: "history-note" }, "Loading older messages…");
  if (state.hasOlder) {
    return h("button", { type: "button", class: "link-button", onclick: onLoadOlder }, "Load older messages");
  }
  return h(
    "div",
    { class: "history-start" },
    h("p", { class: "history-title" }, state.title),
    h(
      "p",
      { class: "history-note" },
      state.timeline.stored.length === 0 ? "No messages yet. Say hello!" : "This is the beginning of the conversation.",
    ),
  );
}

/**
 * The scrolling message list of one conversation: keyed rendering (an element is built once per message),
 * stays pinned to the bottom unless the reader scrolled up, and asks for older pages near the top.
 */
export class MessageListView {
  readonly element: HTMLElement;
  private readonly scroller: HTMLDivElement;
  private readonly list: HTMLOListElement;
  private readonly top: HTMLDivElement;
  private readonly jump: HTMLButtonElement;
  private readonly rendered = new KeyedList<Row>();
  private pinned = true;
  private lastKey: string | undefined;
  private lastState: MessageListState | undefined;
  /** The message whose action menu is open. */
  private menuFor: number | undefined;
  /** The message being edited, and the error of the last save. */
  private editing: { id: number; error?: string } | undefined;
  /** How old a message may be and still be offered Edit: learnt from the first refusal for the edit window. */
  private editableFor = Infinity;
  /** The log rendering, shown instead of the list for conversations that read as a log. */
  private readonly log: LogView;
  private showingLog = false;

  constructor(private readonly context: MessageListContext) {
    this.top = h("div", { class: "history-top" });
    this.list = h("ol", { class: "message-list", "aria-label": "Messages" });
    this.scroller = h(
      "div",
      { class: "scroller", tabindex: "0", role: "log", "aria-live": "polite" },
      this.top,
      this.list,
    );
    this.jump = h(
      "button",
      { type: "button", class: "jump", hidden: true, onclick: () => this.scrollToBottom() },
      icon([...ICONS.arrowDown]),
      "New messages",
    );
    this.log = new LogView(context);
    this.log.element.hidden = true;
    this.element = h("div", { class: "messages" }, this.scroller, this.jump, this.log.element);
    this.scroller.addEventListener("scroll", () => {
      const distance = this.scroller.scrollHeight - this.scroller.scrollTop - this.scroller.clientHeight;
      this.pinned = distance < PIN_DISTANCE_PX;
      if (this.pinned) {
        this.jump.hidden = true;
        this.context.onAtBottom();
      }
      if (this.scroller.scrollTop < LOAD_OLDER_DISTANCE_PX) this.context.onLoadOlder();
    });
    // A click anywhere but in the open menu closes it.
    document.addEventListener("click", (event) => {
      if (this.menuFor === undefined) return;
      if (event.target instanceof Element && event.target.closest(".msg-actions")) return;
      this.menuFor = undefined;
      this.refresh();
    });
    // An image that finishes loading grows the list: keep a pinned reader at the bottom.
    this.list.addEventListener("load", () => this.pinned && this.scrollToBottom(), true);
  }

  /** True when the list does not fill its viewport yet (so older history should load without a scroll). */
  get underfilled(): boolean {
    if (this.showingLog) return this.log.underfilled;
    return this.scroller.scrollHeight <= this.scroller.clientHeight + LOAD_OLDER_DISTANCE_PX;
  }

  /** True when the reader is at the bottom, seeing the newest messages. */
  get atBottom(): boolean {
    if (this.showingLog) return this.log.atBottom;
    return this.pinned;
  }

  /** Shows `state`, reusing the elements of messages already shown. */
  render(state: MessageListState, mode: RenderMode): void {
    this.lastState = state;
    const log = state.log === true;
    if (log !== this.showingLog) {
      // Switching between chat and log starts the other one afresh.
      this.showingLog = log;
      this.scroller.hidden = log;
      this.log.element.hidden = !log;
      mode = "reset";
    }
    if (log) {
      this.jump.hidden = true;
      return this.log.render(state, mode);
    }
    if (mode === "reset") {
      this.menuFor = undefined;
      this.editing = undefined;
      this.rendered.clear();
      this.list.replaceChildren();
      this.pinned = true;
      this.jump.hidden = true;
    }
    this.renderTop(state);
    const beforeHeight = this.scroller.scrollHeight;
    const beforeTop = this.scroller.scrollTop;
    const newestBefore = this.lastKey;
    const rows = this.rows(state.timeline);
    this.reconcile(rows);
    this.lastKey = rows.at(-1)?.key;
    if (mode === "older") {
      this.scroller.scrollTop = beforeTop + (this.scroller.scrollHeight - beforeHeight);
    } else if (mode === "reset" || this.pinned) {
      this.scrollToBottom();
    } else if (this.lastKey !== newestBefore) {
      this.jump.hidden = false;
    }
  }

  /** Scrolls to the newest message. */
  scrollToBottom(): void {
    if (this.showingLog) return this.log.scrollToBottom();
    this.scroller.scrollTop = this.scroller.scrollHeight;
    this.pinned = true;
    this.jump.hidden = true;
  }

  private renderTop(state: MessageListState): void {
    replaceChildren(
      this.top,
      historyTop(state, () => this.context.onLoadOlder()),
    );
  }

  private entries(timeline: Timeline): Entry[] {
    const entries: Entry[] = [];
    const notices = [...timeline.notices];
    for (const message of timeline.stored) {
      while (notices.length > 0 && notices[0]!.after < message.id) {
        const notice = notices.shift()!;
        entries.push({ kind: "notice", notice, at: notice.notice.createAt });
      }
      entries.push({ kind: "stored", message, at: message.createAt });
    }
    for (const notice of notices) entries.push({ kind: "notice", notice, at: notice.notice.createAt });
    const outgoing = [...timeline.outgoing.values()].sort((a, b) => a.createAt - b.createAt);
    for (const item of outgoing) entries.push({ kind: "outgoing", outgoing: item, at: item.createAt });
    return entries;
  }

  private rows(timeline: Timeline): Row[] {
    const rows: Row[] = [];
    let previous: Entry | undefined;
    const newAfter = this.lastState?.newAfter;
    let newShown = newAfter === undefined;
    for (const entry of this.entries(timeline)) {
      if (previous === undefined || dayKey(previous.at) !== dayKey(entry.at)) {
        const label = formatDay(entry.at);
        rows.push({
          key: `day:${dayKey(entry.at)}:${label}`,
          version: label,
          build: () => h("li", { class: "day-divider", role: "separator" }, h("span", {}, label)),
        });
        previous = undefined;
      }
      if (
        !newShown &&
        entry.kind === "stored" &&
        entry.message.id > newAfter! &&
        entry.message.from !== this.context.me
      ) {
        newShown = true;
        rows.push({
          key: "new",
          version: "",
          build: () =>
            h(
              "li",
              { class: "new-divider", role: "separator", "aria-label": "New messages" },
              h("span", {}, "New messages"),
            ),
        });
        previous = undefined;
      }
      rows.push(this.row(entry, previous));
      previous = entry;
      const seen = this.lastState?.seen;
      if (entry.kind === "stored" && seen !== undefined && seen.id === entry.message.id && seen.names.length > 0) {
        const text = `Seen by ${seen.names.join(", ")}`;
        rows.push({ key: "seen", version: text, build: () => h("li", { class: "seen-by" }, text) });
      }
    }
    return rows;
  }

  private senderOf(entry: Entry | undefined): string | undefined {
    if (entry?.kind === "outgoing") return this.context.me;
    if (entry?.kind === "stored" && entry.message.messageType !== "system") return entry.message.from;
    return undefined;
  }

  private row(entry: Entry, previous: Entry | undefined): Row {
    const sender = this.senderOf(entry);
    const continued =
      sender !== undefined &&
      previous !== undefined &&
      this.senderOf(previous) === sender &&
      entry.at - previous.at < GROUP_WINDOW_MS;
    switch (entry.kind) {
      case "stored": {
        const message = entry.message;
        const rev = String(message.rev ?? message.id);
        if (message.messageType === "system") {
          return { key: `m:${message.id}`, version: rev, build: () => this.systemMessage(message) };
        }
        // Names and avatars can arrive after a message was first shown (member lists load later): rebuild then.
        const editing = this.editing?.id === message.id ? `e:${this.editing.error ?? ""}` : "";
        const menu = this.menuFor === message.id ? "m" : "";
        const quoted = message.replyTo === undefined ? undefined : this.find(message.replyTo);
        const quote = quoted ? `${quoted.rev ?? quoted.id}:${this.context.nameOf(quoted.from)}` : "";
        const author = `${this.context.nameOf(message.from)}:${this.context.avatarOf(message.from) ?? ""}`;
        const version = `${rev}:${author}:${editing}:${menu}:${quote}`;
        return { key: `m:${message.id}`, version, continued, build: () => this.message(message) };
      }
      case "notice": {
        const name = this.context.nameOf(entry.notice.notice.from);
        return { key: `n:${entry.notice.seq}`, version: name, build: () => this.notice(entry.notice) };
      }
      case "outgoing": {
        const item = entry.outgoing;
        const progress = item.upload ? Math.round(item.upload.progress * 100) : 0;
        return {
          key: `o:${item.clientMsgId}`,
          version: `${item.status}:${progress}:${item.error ?? ""}`,
          continued,
          build: () => this.outgoing(item, progress),
        };
      }
    }
  }

  private reconcile(rows: Row[]): void {
    this.rendered.render(
      this.list,
      rows,
      (row) => row.build(),
      (element, row) => element.classList.toggle("continued", row.continued === true),
    );
  }

  private avatar(userId: string): HTMLElement {
    return avatar({ id: userId, name: this.context.nameOf(userId), avatarUrl: this.context.avatarOf(userId) });
  }

  private find(id: number): StoredMessage | undefined {
    return this.lastState?.timeline.stored.find((m) => m.id === id);
  }

  /** Rebuilds with the last state (after a menu or editor opened or closed). */
  private refresh(): void {
    if (this.lastState) this.render(this.lastState, "update");
  }

  private focusIn(id: number, selector: string): void {
    this.list.querySelector<HTMLElement>(`li[data-id="${id}"] ${selector}`)?.focus();
  }

  private toggleMenu(id: number, open = this.menuFor !== id): void {
    this.menuFor = open ? id : undefined;
    this.refresh();
    this.focusIn(id, open ? '[role="menuitem"]' : ".msg-actions-toggle");
  }

  private startEdit(id: number): void {
    this.menuFor = undefined;
    this.editing = { id };
    this.refresh();
    const input = this.list.querySelector<HTMLTextAreaElement>(`li[data-id="${id}"] textarea`);
    input?.focus();
    input?.setSelectionRange(input.value.length, input.value.length);
  }

  private stopEdit(id: number): void {
    this.editing = undefined;
    this.refresh();
    this.focusIn(id, ".msg-actions-toggle");
  }

  private async saveEdit(message: StoredMessage, content: string): Promise<void> {
    if (content.trim() === "" || content === message.content) return this.stopEdit(message.id);
    const error = await this.context.onEdit(message.id, content);
    if (this.editing?.id !== message.id) return;
    if (error === undefined) return this.stopEdit(message.id);
    // Past the server's edit window: messages at least this old are no longer offered Edit.
    if (error.includes("edit window")) this.editableFor = Math.min(this.editableFor, Date.now() - message.createAt);
    this.editing = { id: message.id, error };
    this.refresh();
  }

  /** Closes the menu, then does what was picked. */
  private pick(run: () => void): void {
    this.menuFor = undefined;
    this.refresh();
    run();
  }

  private actions(message: StoredMessage): HTMLElement {
    const own = message.from === this.context.me;
    const open = this.menuFor === message.id;
    const menuId = `msg-menu-${message.id}`;
    const close = (event: KeyboardEvent) => {
      if (event.key !== "Escape") return;
      event.stopPropagation();
      this.toggleMenu(message.id, false);
    };
    const moveFocus = (event: KeyboardEvent) => {
      if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
      event.preventDefault();
      const items = [...(event.currentTarget as HTMLElement).querySelectorAll<HTMLElement>('[role="menuitem"]')];
      const at = items.indexOf(document.activeElement as HTMLElement);
      const next = (at + (event.key === "ArrowDown" ? 1 : items.length - 1)) % items.length;
      items[next]?.focus();
    };
    return h(
      "div",
      { class: `msg-actions${open ? " open" : ""}`, onkeydown: close },
      h(
        "button",
        {
          type: "button",
          class: "icon-button msg-actions-toggle",
          "aria-label": "Message actions",
          title: "Message actions",
          "aria-haspopup": "menu",
          "aria-expanded": open ? "true" : "false",
          "aria-controls": open ? menuId : undefined,
          onclick: () => this.toggleMenu(message.id),
        },
        icon([...ICONS.more]),
      ),
      open
        ? h(
            "div",
            { class: "msg-menu", role: "menu", id: menuId, "aria-label": "Message actions", onkeydown: moveFocus },
            h(
              "button",
              { type: "button", role: "menuitem", onclick: () => this.pick(() => this.context.onReply(message)) },
              "Reply",
            ),
            h(
              "div",
              { class: "menu-reactions", role: "group", "aria-label": "React" },
              ...QUICK_REACTIONS.map((emoji) =>
                h(
                  "button",
                  {
                    type: "button",
                    role: "menuitem",
                    "aria-label": `React with ${emoji}`,
                    title: `React with ${emoji}`,
                    onclick: () =>
                      this.pick(() =>
                        this.context.onReact(
                          message.id,
                          emoji,
                          !(message.reactions?.[emoji] ?? []).includes(this.context.me),
                        ),
                      ),
                  },
                  emoji,
                ),
              ),
            ),
            own && message.mediaType === "text" && Date.now() - message.createAt < this.editableFor
              ? h("button", { type: "button", role: "menuitem", onclick: () => this.startEdit(message.id) }, "Edit")
              : null,
            this.context.mayDelete(message) &&
              h(
                "button",
                {
                  type: "button",
                  role: "menuitem",
                  class: "danger",
                  onclick: () => {
                    this.menuFor = undefined;
                    this.refresh();
                    this.context.onDelete(message);
                  },
                },
                "Delete",
              ),
          )
        : null,
    );
  }

  private editor(message: StoredMessage): HTMLElement {
    const input = h("textarea", { class: "edit-input", rows: "2", maxlength: "4000", "aria-label": "Edit message" });
    input.value = message.content ?? "";
    const form = h(
      "form",
      { class: "edit-form" },
      input,
      this.editing?.error ? h("p", { class: "form-error", role: "alert" }, this.editing.error) : null,
      h(
        "div",
        { class: "edit-actions" },
        h("span", { class: "edit-hint" }, "Enter to save · Escape to cancel"),
        h("button", { type: "button", class: "button small", onclick: () => this.stopEdit(message.id) }, "Cancel"),
        h("button", { type: "submit", class: "button small primary" }, "Save"),
      ),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      background(this.saveEdit(message, input.value));
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        this.stopEdit(message.id);
      } else if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        background(this.saveEdit(message, input.value));
      }
    });
    return form;
  }

  private message(message: StoredMessage): HTMLElement {
    const own = message.from === this.context.me;
    const author = own ? "You" : this.context.nameOf(message.from);
    const editing = this.editing?.id === message.id && message.deletedAt === undefined;
    return h(
      "li",
      { class: own ? "msg own" : "msg", "data-id": message.id },
      own ? null : this.avatar(message.from),
      h(
        "div",
        { class: "msg-main" },
        h(
          "div",
          { class: "msg-meta" },
          h("span", { class: "msg-author" }, author),
          // The id beside the name: a display name alone can imitate someone else's.
          own || message.from === "system" ? null : h("span", { class: "msg-author-id" }, `@${message.from}`),
          timeElement(message.createAt),
          message.editedAt !== undefined && message.deletedAt === undefined
            ? h("span", { class: "edited", title: formatFull(message.editedAt) }, "(edited)")
            : null,
        ),
        message.replyTo !== undefined ? this.quote(message.replyTo) : null,
        editing ? this.editor(message) : this.content(message, author),
        message.deletedAt === undefined ? this.reactions(message) : null,
      ),
      message.deletedAt === undefined && !editing ? this.actions(message) : null,
    );
  }

  private quote(id: number): HTMLElement {
    const quoted = this.find(id);
    const text = !quoted
      ? "an earlier message"
      : quoted.deletedAt !== undefined
        ? "This message was deleted."
        : quoted.mediaType === "text"
          ? (quoted.content ?? "")
          : (quoted.content ?? (quoted.mediaType === "image" ? "an image" : "a file"));
    const who = quoted ? (quoted.from === this.context.me ? "You" : this.context.nameOf(quoted.from)) : "";
    // A button: it shows the quoted message (paging back to it when it is not loaded).
    return h(
      "button",
      {
        type: "button",
        class: "reply-quote",
        "aria-label": quoted ? `Reply to ${who}: ${text}. Show it` : "Reply to an earlier message. Show it",
        title: "Show the message replied to",
        onclick: () => this.context.onJump(id),
      },
      quoted ? h("span", { class: "reply-author" }, who) : null,
      h("span", { class: "reply-text" }, text.length > 140 ? `${text.slice(0, 140)}…` : text),
    );
  }

  private reactions(message: StoredMessage): HTMLElement | null {
    const entries = Object.entries(message.reactions ?? {}).filter(([, users]) => users.length > 0);
    if (entries.length === 0) return null;
    return h(
      "div",
      { class: "reactions", role: "group", "aria-label": "Reactions" },
      ...entries.map(([emoji, users]) => {
        const mine = users.includes(this.context.me);
        const names = users.map((id) => (id === this.context.me ? "you" : this.context.nameOf(id))).join(", ");
        return h(
          "button",
          {
            type: "button",
            class: `reaction${mine ? " mine" : ""}`,
            "aria-pressed": mine ? "true" : "false",
            "aria-label": `${emoji} ${users.length}, from ${names}`,
            title: names,
            onclick: () => this.context.onReact(message.id, emoji, !mine),
          },
          h("span", { "aria-hidden": "true" }, emoji),
          h("span", { class: "reaction-count", "aria-hidden": "true" }, String(users.length)),
        );
      }),
    );
  }

  private content(message: StoredMessage, author: string): HTMLElement {
    if (message.deletedAt !== undefined) {
      // A moderator's delete names who did it (the live tombstone carries `deletedBy`; history does not keep it).
      const by = message.deletedBy !== undefined && message.deletedBy !== message.from ? message.deletedBy : undefined;
      const who = by === this.context.me ? "you" : by === undefined ? "" : this.context.nameOf(by);
      return h(
        "div",
        { class: "bubble deleted" },
        by ? `This message was deleted by ${who}.` : "This message was deleted.",
      );
    }
    const url = safeFileUrl(message.url);
    if (message.mediaType === "image" && url) {
      return h(
        "div",
        { class: "bubble media" },
        h(
          "a",
          { class: "image-link", href: url, target: "_blank", rel: "noopener" },
          h("img", { src: url, alt: message.content ?? `Image from ${author}`, loading: "lazy", decoding: "async" }),
        ),
        message.content ? h("p", { class: "caption" }, ...linkify(message.content)) : null,
      );
    }
    if (message.mediaType !== "text" && url)
      return h("div", { class: "bubble media" }, this.fileCard(url, message.content));
    return h("div", { class: "bubble" }, ...highlightMentions(linkify(message.content ?? ""), this.context.me));
  }

  private fileCard(url: string, caption: string | undefined): HTMLElement {
    const name = h("span", { class: "file-name" }, caption ?? "File");
    const size = h("span", { class: "file-size" }, "");
    const card = h(
      "a",
      { class: "file-card", href: url, download: "", rel: "noopener" },
      icon([...ICONS.file]),
      h("span", { class: "file-text" }, name, size),
      icon([...ICONS.download]),
    );
    background(
      fileMeta(url).then((meta) => {
        if (!meta) return;
        name.textContent = meta.name;
        size.textContent = Number.isFinite(meta.size) ? formatSize(meta.size) : "";
        card.setAttribute(
          "aria-label",
          `Download ${meta.name}${Number.isFinite(meta.size) ? `, ${formatSize(meta.size)}` : ""}`,
        );
      }),
    );
    return card;
  }

  private systemMessage(message: StoredMessage): HTMLElement {
    return h(
      "li",
      { class: "system-msg", "data-id": message.id },
      h(
        "div",
        { class: "system-card" },
        h("span", { class: "system-label" }, icon([...ICONS.bell]), "System"),
        h("p", { class: "system-text" }, ...linkify(message.content ?? "")),
        timeElement(message.createAt),
      ),
    );
  }

  private notice({ notice }: Notice): HTMLElement {
    const online = notice.messageType === "online";
    return h(
      "li",
      { class: `presence-msg ${online ? "is-online" : "is-offline"}` },
      h("span", { class: "dot", "aria-hidden": "true" }),
      h("span", { class: "presence-name" }, this.context.nameOf(notice.from)),
      online ? " is online" : " went offline",
      h("span", { "aria-hidden": "true" }, " · "),
      timeElement(notice.createAt),
    );
  }

  private outgoing(item: Outgoing, progress: number): HTMLElement {
    let body: HTMLElement;
    if (item.upload) {
      const preview = item.upload.previewUrl;
      body = h(
        "div",
        { class: "bubble media upload" },
        preview ? h("img", { src: preview, alt: `Preview of ${item.upload.file.name}` }) : null,
        h(
          "div",
          { class: "upload-text" },
          h("span", { class: "file-name" }, item.upload.file.name),
          h("span", { class: "file-size" }, formatSize(item.upload.file.size)),
        ),
        item.status === "uploading"
          ? h("progress", { max: "100", value: String(progress), "aria-label": `Uploading ${item.upload.file.name}` })
          : null,
      );
    } else {
      body = h("div", { class: "bubble" }, ...linkify(item.input.content ?? ""));
    }
    const status =
      item.status === "uploading"
        ? h("span", {}, `Uploading… ${progress}%`)
        : item.status === "sending"
          ? h("span", {}, "Sending…")
          : item.status === "waiting"
            ? h("span", {}, "Waiting for the connection…")
            : h(
                "span",
                { class: "failed", role: "alert" },
                `Not sent: ${item.error ?? "error"}. `,
                h(
                  "button",
                  { type: "button", class: "link-button", onclick: () => this.context.onRetry(item.clientMsgId) },
                  "Retry",
                ),
                " ",
                h(
                  "button",
                  { type: "button", class: "link-button", onclick: () => this.context.onDiscard(item.clientMsgId) },
                  "Discard",
                ),
              );
    return h(
      "li",
      { class: `msg own outgoing is-${item.status}` },
      h(
        "div",
        { class: "msg-main" },
        h("div", { class: "msg-meta" }, h("span", { class: "msg-author" }, "You"), timeElement(item.createAt)),
        body,
        h("div", { class: "msg-status" }, status),
      ),
    );
  }
}
