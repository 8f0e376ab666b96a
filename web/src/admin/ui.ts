import type { Result } from "../../../shared/errors.js";
import { h, replaceChildren, type Child } from "../dom.js";
import { confirmDialog } from "../views/dialogs.js";

/** The line under a view's title that says what the last action did: success as a status, failure as an alert. */
export class ResultLine {
  /** A live region that stays in place (one inserted with its text is not always announced). */
  readonly element: HTMLElement = h("div", { class: "admin-result", "aria-live": "polite" });

  /** Shows that an action worked, saying what changed. */
  done(text: string): void {
    replaceChildren(this.element, h("p", { class: "admin-ok", role: "status" }, text));
  }

  /** Shows the server's error message. */
  failed(text: string): void {
    replaceChildren(this.element, h("p", { class: "admin-error", role: "alert" }, text));
  }

  clear(): void {
    replaceChildren(this.element);
  }
}

/** A table with a caption (visually hidden) and column headers; `rows` are the cells of each row. */
export function table(caption: string, headers: string[], rows: Child[][], empty: string): HTMLElement {
  if (rows.length === 0) return h("p", { class: "empty-note" }, empty);
  return h(
    "div",
    { class: "admin-table-wrap" },
    h(
      "table",
      { class: "admin-table" },
      h("caption", { class: "visually-hidden" }, caption),
      h("thead", {}, h("tr", {}, ...headers.map((name) => h("th", { scope: "col" }, name)))),
      h(
        "tbody",
        {},
        ...rows.map((cells) =>
          h("tr", {}, ...cells.map((cell, i) => h("td", { "data-label": headers[i] ?? "" }, cell))),
        ),
      ),
    ),
  );
}

/** A small button. */
export function button(label: string, onclick: () => void, options: { danger?: boolean; name?: string } = {}) {
  return h(
    "button",
    {
      type: "button",
      class: `button small${options.danger ? " danger-outline" : ""}`,
      "aria-label": options.name,
      onclick,
    },
    label,
  );
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

/** A time as a date and a time of day (`1 Dec 2026, 21:05`), or a dash. */
export const when = (ms: number | undefined): string => (ms === undefined ? "—" : dateTime.format(ms));

/**
 * Asks before a destructive action (an in-page dialog: a sentence, Cancel, and the action's button); a
 * failure shows in the dialog and on the result line, success closes it and says what changed.
 */
export function confirmAction<T>(
  result: ResultLine,
  question: { title: string; text: string; action: string },
  act: () => Promise<Result<T>>,
  done: (data: T) => string,
): void {
  confirmDialog(
    question.title,
    question.text,
    question.action,
    async () => {
      const answer = await act();
      if (!answer.ok) result.failed(answer.error.message);
      return answer;
    },
    (data) => result.done(done(data)),
  );
}

/** What each section of the console has: its element, and a way to stop its timers when left. */
export interface AdminView {
  readonly element: HTMLElement;
  dispose?(): void;
}
