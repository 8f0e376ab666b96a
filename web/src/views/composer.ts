import { h, icon, ICONS } from "../dom.js";

/** What the composer hands to the app. */
export interface ComposerContext {
  /** Sends the text; the composer clears itself. */
  onSend(text: string): void;
  onFiles(files: File[]): void;
}

const MAX_LENGTH = 4000;

/** The message box: Enter sends, Shift+Enter starts a new line; files by button or paste. */
export class ComposerView {
  readonly element: HTMLFormElement;
  private readonly input: HTMLTextAreaElement;
  private readonly fileInput: HTMLInputElement;
  private readonly attach: HTMLButtonElement;
  private readonly send: HTMLButtonElement;
  private readonly readOnlyNote: HTMLParagraphElement;

  constructor(private readonly context: ComposerContext) {
    this.input = h("textarea", {
      id: "composer-input",
      rows: "1",
      maxlength: String(MAX_LENGTH),
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
    this.readOnlyNote = h("p", { class: "read-only", hidden: true }, "System notices are read-only.");
    this.element = h(
      "form",
      { class: "composer", "aria-label": "Send a message" },
      h("label", { for: "composer-input", class: "visually-hidden", id: "composer-label" }, "Message"),
      h("div", { class: "composer-box" }, this.attach, this.input, this.send),
      this.fileInput,
      this.readOnlyNote,
    );
    this.element.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    this.input.addEventListener("keydown", (event) => {
      // Enter sends; Shift+Enter is a newline; never while an IME is composing.
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
        event.preventDefault();
        this.submit();
      }
    });
    this.input.addEventListener("input", () => this.autosize());
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

  /** Points the composer at a conversation. */
  setTarget(label: string, writable: boolean): void {
    this.input.placeholder = `Message ${label}`;
    this.input.setAttribute("aria-label", `Message ${label}`);
    this.input.disabled = !writable;
    this.attach.disabled = !writable;
    this.send.disabled = !writable;
    this.readOnlyNote.hidden = writable;
  }

  focus(): void {
    if (!this.input.disabled) this.input.focus({ preventScroll: true });
  }

  private submit(): void {
    const text = this.input.value;
    if (text.trim() === "" || this.input.disabled) return;
    this.context.onSend(text);
    this.input.value = "";
    this.autosize();
  }

  private autosize(): void {
    this.input.style.height = "auto";
    this.input.style.height = `${Math.min(this.input.scrollHeight, 180)}px`;
  }
}
