import { h, replaceChildren } from "../dom.js";
import { mentionQuery } from "../mentions.js";

/** Someone who can be mentioned. */
export interface MentionCandidate {
  id: string;
  name: string;
}

const MAX_SHOWN = 8;

/**
 * The `@` autocomplete of a text box: lists the candidates whose name or id starts with (or contains) what
 * follows the `@`; arrow keys move, Enter or Tab inserts `@id `, Escape closes.
 */
export class MentionPicker {
  readonly element: HTMLUListElement;
  private shown: MentionCandidate[] = [];
  private selected = 0;
  private start = 0;

  constructor(
    private readonly input: HTMLTextAreaElement,
    private readonly candidates: () => MentionCandidate[],
  ) {
    this.element = h("ul", { class: "mention-picker", role: "listbox", id: "mention-picker", hidden: true });
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-controls", "mention-picker");
    input.addEventListener("input", () => this.update());
    input.addEventListener("blur", () => this.close());
    // Capture: runs before the composer's own Enter-sends handler on the same element.
    input.addEventListener("keydown", (event) => this.key(event), true);
  }

  private get open(): boolean {
    return !this.element.hidden;
  }

  private key(event: KeyboardEvent): void {
    if (!this.open || event.isComposing) return;
    const move = (by: number) => {
      this.selected = (this.selected + by + this.shown.length) % this.shown.length;
      this.render();
    };
    if (event.key === "ArrowDown") move(1);
    else if (event.key === "ArrowUp") move(-1);
    else if (event.key === "Enter" || event.key === "Tab") this.pick(this.shown[this.selected]);
    else if (event.key === "Escape") this.close();
    else return;
    event.preventDefault();
    event.stopImmediatePropagation();
  }

  private update(): void {
    const found = mentionQuery(this.input.value, this.input.selectionStart);
    if (!found) return this.close();
    const query = found.query.toLowerCase();
    const score = (c: MentionCandidate) => {
      const id = c.id.toLowerCase();
      const name = c.name.toLowerCase();
      if (id.startsWith(query) || name.startsWith(query)) return 0;
      return id.includes(query) || name.includes(query) ? 1 : 2;
    };
    this.shown = this.candidates()
      .filter((c) => score(c) < 2)
      .sort((a, b) => score(a) - score(b) || a.name.localeCompare(b.name))
      .slice(0, MAX_SHOWN);
    if (this.shown.length === 0) return this.close();
    this.start = found.start;
    this.selected = Math.min(this.selected, this.shown.length - 1);
    this.render();
  }

  private render(): void {
    this.element.hidden = false;
    this.input.setAttribute("aria-expanded", "true");
    replaceChildren(
      this.element,
      ...this.shown.map((candidate, index) =>
        h(
          "li",
          {
            role: "option",
            id: `mention-option-${index}`,
            class: index === this.selected ? "selected" : undefined,
            "aria-selected": String(index === this.selected),
            // mousedown, not click: the box must not lose focus first (blur closes the list).
            onmousedown: (event: MouseEvent) => {
              event.preventDefault();
              this.pick(candidate);
            },
          },
          h("span", { class: "mention-name" }, candidate.name),
          h("span", { class: "mention-id" }, `@${candidate.id}`),
        ),
      ),
    );
    this.input.setAttribute("aria-activedescendant", `mention-option-${this.selected}`);
  }

  private pick(candidate: MentionCandidate | undefined): void {
    if (!candidate) return this.close();
    const caret = this.input.selectionStart;
    const before = this.input.value.slice(0, this.start);
    const inserted = `@${candidate.id} `;
    this.input.value = before + inserted + this.input.value.slice(caret);
    const at = before.length + inserted.length;
    this.input.setSelectionRange(at, at);
    this.close();
    this.input.dispatchEvent(new Event("input", { bubbles: true }));
  }

  /** Hides the list. */
  close(): void {
    this.element.hidden = true;
    this.selected = 0;
    this.input.setAttribute("aria-expanded", "false");
    this.input.removeAttribute("aria-activedescendant");
  }
}
