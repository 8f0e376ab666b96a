import { h, icon, ICONS } from "../dom.js";

/** What the composer hands to the app. */
export interface ComposerContext {
  /** Sends the text; the composer clears itself. */
  onSend(text: string): void;
  onFiles(files: File[]): void;
  /** Drops the reply being written. */
  onCancelReply(): void;
  /** Whether there is something being typed (false on send, blur and an emptied box). */
  onTyping(typing: boolean): void;
}

const MAX_LENGTH = 4000;
/** The length counter shows from this many characters before the limit. */
const COUNTER_FROM = 200;
/** Characters of a conversation's name the placeholder shows. */
const PLACEHOLDER_LABEL = 32;

/** The message box: Enter sends, Shift+Enter starts a new line; files by button or paste. */
export class ComposerView {
  readonly element: HTMLFormElement;
  private readonly input: HTMLTextAreaElement;
  private readonly fileInput: HTMLInputElement;
  private readonly attach: HTMLButtonElement;
  private readonly send: HTMLButtonElement;
  private readonly readOnlyNote: HTMLParagraphElement;
  private readonly counter: HTMLParagraphElement;
  private why = "";
  private readonly replyBar: HTMLDivElement;

  constructor(private readonly context: ComposerContext) {
    this.input = h("textarea", {
      id: "composer-input",
      rows: "1",
      placeholder: "Write a message",
      enterkeyhint: "send",
    });
    this.fileInput = h("input", { type: "file", multiple: true, hidden: true, tabindex: "-1", "aria-hidden": "true" });
    this.attach = h(
      "button",
      {
        type: "button",
        class: "icon-button",
        "aria-label": "Attach a file or image",
        title: "Attach a file or image",
        onclick: () => this.fileInput.click(),
      },
      icon([...ICONS.paperclip]),
    );
    this.send = h(
      "button",
      { type: "submit", class: "icon-button send", "aria-label": "Send message", title: "Send (Enter)" },
      icon([...ICONS.send]),
    );
    this.readOnlyNote = h("p", { class: "read-only", id: "composer-note", role: "status", hidden: true });
    this.counter = h("p", { class: "length-counter", role: "status", hidden: true });
    this.replyBar = h("div", { class: "reply-bar", hidden: true });
    this.element = h(
      "form",
      { class: "composer", "aria-label": "Send a message" },
      h("label", { for: "composer-input", class: "visually-hidden", id: "composer-label" }, "Message"),
      this.replyBar,
      h("div", { class: "composer-box" }, this.attach, this.input, this.send),
      this.fileInput,
      this.counter,
      this.readOnlyNote,
    );
    this.element.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    this.input.addEventListener("keydown", (event) => {
      // Enter sends; Shift+Enter is a newline; never while an IME is composing.
      if (event.key === "Escape" && !this.replyBar.hidden) {
        event.preventDefault();
        this.context.onCancelReply();
        return;
      }
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
        event.preventDefault();
        this.submit();
      }
    });
    this.input.addEventListener("input", () => {
      this.autosize();
      this.count();
      this.context.onTyping(this.input.value.trim() !== "");
    });
    this.input.addEventListener("blur", () => this.context.onTyping(false));
    this.input.addEventListener("paste", (event) => {
      const files = [...(event.clipboardData?.files ?? [])];
      if (files.length === 0) return;
      event.preventDefault();
      this.context.onFiles(files);
    });
    this.fileInput.addEventListener("change", () => {
      const files = [...(this.fileInput.files ?? [])];
      this.fileInput.value = "";
      if (files.length > 0) this.context.onFiles(files);
    });
  }

  /**
   * Points the composer at a conversation; one that is not writable says why under the box (read-only System
   * notices, or a mute in force), and the box keeps what was typed for when it is writable again.
   */
  setTarget(label: string, writable: boolean, why = "System notices are read-only."): void {
    // One line: a long room name is cut in the placeholder (the header shows it whole).
    const short = label.length > PLACEHOLDER_LABEL ? `${label.slice(0, PLACEHOLDER_LABEL - 1)}…` : label;
    this.input.placeholder = `Message ${short}`;
    this.input.setAttribute("aria-label", `Message ${label}`);
    this.why = why;
    this.input.disabled = !writable;
    this.attach.disabled = !writable;
    this.send.disabled = !writable;
    this.readOnlyNote.hidden = writable;
    if (this.readOnlyNote.textContent !== why) this.readOnlyNote.textContent = writable ? "" : why;
    if (writable) this.input.removeAttribute("aria-describedby");
    else this.input.setAttribute("aria-describedby", "composer-note");
  }

  /** Shows (or, with undefined, hides) the message being replied to above the box. */
  setReply(reply: { author: string; text: string } | undefined): void {
    this.replyBar.hidden = reply === undefined;
    if (!reply) return this.replyBar.replaceChildren();
    const text = reply.text.length > 140 ? `${reply.text.slice(0, 140)}…` : reply.text;
    this.replyBar.replaceChildren(
      h(
        "div",
        { class: "reply-quote", role: "note", "aria-label": `Replying to ${reply.author}: ${text}` },
        h("span", { class: "reply-author" }, `Replying to ${reply.author}`),
        h("span", { class: "reply-text" }, text),
      ),
      h(
        "button",
        {
          type: "button",
          class: "icon-button",
          "aria-label": "Cancel reply",
          title: "Cancel reply",
          onclick: () => {
            this.context.onCancelReply();
            this.focus();
          },
        },
        icon([...ICONS.x]),
      ),
    );
  }

  /** The text box, for helpers that work on it (the `@` autocomplete). */
  get textbox(): HTMLTextAreaElement {
    return this.input;
  }

  focus(): void {
    if (!this.input.disabled) this.input.focus({ preventScroll: true });
  }

  /** Whether the open conversation takes messages now (not the System notices, no mute in force). */
  get writable(): boolean {
    return !this.input.disabled;
  }

  /** Why the open conversation does not take messages (when it does not). */
  get readOnlyReason(): string {
    return this.why;
  }

  /** Says how long the text is once it nears the limit, and that it cannot be sent beyond it. */
  private count(): void {
    const length = this.input.value.length;
    const over = length > MAX_LENGTH;
    this.counter.hidden = length <= MAX_LENGTH - COUNTER_FROM;
    this.counter.classList.toggle("over", over);
    this.counter.textContent = over
      ? `${length.toLocaleString()} characters: a message holds at most ${MAX_LENGTH.toLocaleString()}. Shorten it to send.`
      : `${length.toLocaleString()} / ${MAX_LENGTH.toLocaleString()}`;
  }

  private submit(): void {
    const text = this.input.value;
    if (text.trim() === "" || this.input.disabled) return;
    if (text.length > MAX_LENGTH) {
      this.count();
      this.input.focus();
      return;
    }
    this.context.onSend(text);
    this.input.value = "";
    this.autosize();
    this.count();
    this.context.onTyping(false);
  }

  private autosize(): void {
    this.input.style.height = "auto";
    this.input.style.height = `${Math.min(this.input.scrollHeight, 180)}px`;
  }
}
