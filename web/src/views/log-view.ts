import type { StoredMessage } from "../../../shared/schemas.js";
import { h, icon, ICONS, replaceChildren } from "../dom.js";
import { formatFull } from "../format.js";
import type { Outgoing, Timeline } from "../timeline.js";
import { historyTop, type MessageListContext, type MessageListState, type RenderMode } from "./message-list.js";
import { KeyedList } from "./keyed-list.js";

/** The height of one log line in px; `.log-line` in styles.css has the same. Fixed, so rows are windowed by arithmetic. */
export const LOG_ROW_PX = 20;
/** Rows kept in the DOM above and below the viewport, so a fast scroll does not show blank space. */
const OVERSCAN_ROWS = 60;
const PIN_DISTANCE_PX = 2 * LOG_ROW_PX;
const LOAD_OLDER_DISTANCE_PX = 200;

/** One line of the log, computed from the timeline (cheap: the element is built only when it is in the window). */
interface LogLine {
  key: string;
  id?: number;
  at: number;
  text: string;
  /** Someone's (not the system's) message: shown with its author. */
  author?: string;
  outgoing?: Outgoing;
  /** A changed version rebuilds the element. */
  version: string;
}

const clockFormat = new Intl.DateTimeFormat(undefined, {
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hourCycle: "h23",
});

/** `14:05:09` */
export const formatClock = (ms: number): string => clockFormat.format(ms);

function messageText(message: StoredMessage): string {
  if (message.deletedAt !== undefined) return "This message was deleted.";
  if (message.mediaType !== "text") return `${message.content ?? ""} [${message.mediaType}]`.trim();
  return message.content ?? "";
}

/**
 * A conversation shown as a log (a worker's output, push notices): one compact monospace line per message with
 * its HH:MM:SS time. Only the lines in and near the viewport are in the DOM (fixed row height, a spacer above
 * and below, redrawn on scroll once per animation frame), so a log of 10,000 lines costs a few hundred
 * elements. Follows the tail while the reader is at the bottom; otherwise it stays put and "Jump to latest"
 * counts the lines that arrived.
 */
export class LogView {
  readonly element: HTMLDivElement;
  private readonly scroller: HTMLDivElement;
  private readonly top: HTMLDivElement;
  private readonly above: HTMLDivElement;
  private readonly lines: HTMLOListElement;
  private readonly below: HTMLDivElement;
  private readonly jump: HTMLButtonElement;
  private readonly jumpCount: HTMLSpanElement;
  private readonly rendered = new KeyedList<LogLine>();
  private rows: LogLine[] = [];
  private pinned = true;
  /** Lines that arrived while the reader was scrolled up. */
  private unseen = 0;
  private frame: number | undefined;

  constructor(private readonly context: MessageListContext) {
    this.top = h("div", { class: "history-top" });
    this.above = h("div", { class: "log-spacer", "aria-hidden": "true" });
    this.lines = h("ol", { class: "log-lines", "aria-label": "Log lines" });
    this.below = h("div", { class: "log-spacer", "aria-hidden": "true" });
    this.scroller = h(
      "div",
      { class: "log-scroller", tabindex: "0", role: "log", "aria-live": "polite" },
      this.top,
      this.above,
      this.lines,
      this.below,
    );
    this.jumpCount = h("span", { class: "jump-count" });
    this.jump = h(
      "button",
      { type: "button", class: "jump", hidden: true, onclick: () => this.scrollToBottom() },
      icon([...ICONS.arrowDown]),
      "Jump to latest",
      this.jumpCount,
    );
    this.element = h("div", { class: "log-view" }, this.scroller, this.jump);
    this.scroller.addEventListener("scroll", () => {
      const distance = this.scroller.scrollHeight - this.scroller.scrollTop - this.scroller.clientHeight;
      this.pinned = distance < PIN_DISTANCE_PX;
      if (this.pinned) {
        this.unseen = 0;
        this.jump.hidden = true;
        this.context.onAtBottom();
      }
      if (this.scroller.scrollTop < LOAD_OLDER_DISTANCE_PX) this.context.onLoadOlder();
      this.scheduleDraw();
    });
  }

  /** True when the log does not fill its viewport yet (so older history should load without a scroll). */
  get underfilled(): boolean {
    return this.scroller.scrollHeight <= this.scroller.clientHeight + LOAD_OLDER_DISTANCE_PX;
  }

  /** True when the reader is at the bottom, seeing the newest lines. */
  get atBottom(): boolean {
    return this.pinned;
  }

  /** Shows `state`'s timeline as log lines. */
  render(state: MessageListState, mode: RenderMode): void {
    if (mode === "reset") {
      this.rendered.clear();
      this.lines.replaceChildren();
      this.rows = [];
      this.pinned = true;
      this.unseen = 0;
    }
    replaceChildren(
      this.top,
      historyTop(state, () => this.context.onLoadOlder()),
    );
    const before = { height: this.scroller.scrollHeight, top: this.scroller.scrollTop };
    const previousLast = this.rows.at(-1)?.key;
    this.rows = this.lineRows(state.timeline);
    // Sizes the spacers for the new length first, so the scroll positions below are exact.
    this.draw();
    if (mode === "older") {
      this.scroller.scrollTop = before.top + (this.scroller.scrollHeight - before.height);
    } else if (mode === "reset" || this.pinned) {
      this.scroller.scrollTop = this.scroller.scrollHeight;
    } else if (previousLast !== undefined) {
      const arrived = this.rows.length - 1 - this.lastIndexOf(previousLast);
      if (arrived > 0) this.unseen += arrived;
    }
    this.showJump();
    this.draw();
  }

  /** Scrolls to the newest line and follows the tail again. */
  scrollToBottom(): void {
    this.scroller.scrollTop = this.scroller.scrollHeight;
    this.pinned = true;
    this.unseen = 0;
    this.showJump();
    this.draw();
  }

  private showJump(): void {
    this.jump.hidden = this.pinned || this.unseen === 0;
    this.jumpCount.textContent = this.unseen === 1 ? " · 1 new line" : ` · ${this.unseen} new lines`;
  }

  private lastIndexOf(key: string): number {
    for (let index = this.rows.length - 1; index >= 0; index -= 1) if (this.rows[index]!.key === key) return index;
    return -1;
  }

  private lineRows(timeline: Timeline): LogLine[] {
    const rows: LogLine[] = timeline.stored.map((message) => {
      const author = message.messageType === "system" ? undefined : this.context.nameOf(message.from);
      return {
        key: `m:${message.id}`,
        id: message.id,
        at: message.createAt,
        text: messageText(message),
        ...(author === undefined ? {} : { author }),
        version: `${message.rev ?? message.id}:${author ?? ""}`,
      };
    });
    const outgoing = [...timeline.outgoing.values()].sort((a, b) => a.createAt - b.createAt);
    for (const item of outgoing) {
      rows.push({
        key: `o:${item.clientMsgId}`,
        at: item.createAt,
        text: item.input.content ?? item.upload?.file.name ?? "",
        author: "You",
        outgoing: item,
        version: `${item.status}:${item.error ?? ""}`,
      });
    }
    return rows;
  }

  private scheduleDraw(): void {
    if (this.frame !== undefined) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = undefined;
      this.draw();
    });
  }

  /** Puts the rows in and near the viewport in the DOM and sizes the spacers for the rest. */
  private draw(): void {
    const total = this.rows.length;
    // The scroller is positioned, so the spacer's offsetTop is where the first line starts in scroll coordinates.
    const viewTop = this.scroller.scrollTop - this.above.offsetTop;
    const height = this.scroller.clientHeight;
    const first = Math.max(0, Math.min(total, Math.floor(viewTop / LOG_ROW_PX) - OVERSCAN_ROWS));
    const last = Math.max(first, Math.min(total, Math.ceil((viewTop + height) / LOG_ROW_PX) + OVERSCAN_ROWS));
    this.above.style.height = `${first * LOG_ROW_PX}px`;
    this.below.style.height = `${(total - last) * LOG_ROW_PX}px`;
    this.rendered.render(this.lines, this.rows.slice(first, last), (row) => this.line(row));
  }

  private line(row: LogLine): HTMLElement {
    const item = row.outgoing;
    return h(
      "li",
      {
        class: `log-line${item ? ` is-${item.status}` : ""}${row.author === undefined ? "" : " by-person"}`,
        "data-id": row.id,
        title: row.text.length > 80 ? row.text : undefined,
      },
      h(
        "time",
        { class: "log-time", datetime: new Date(row.at).toISOString(), title: formatFull(row.at) },
        formatClock(row.at),
      ),
      row.author === undefined ? null : h("span", { class: "log-author" }, `${row.author}:`),
      h("span", { class: "log-text" }, row.text),
      item ? this.status(item) : null,
    );
  }

  private status(item: Outgoing): HTMLElement {
    if (item.status !== "failed") {
      return h("span", { class: "log-status" }, item.status === "waiting" ? "waiting…" : "sending…");
    }
    return h(
      "span",
      { class: "log-status failed", role: "alert" },
      `not sent: ${item.error ?? "error"} `,
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
  }
}
