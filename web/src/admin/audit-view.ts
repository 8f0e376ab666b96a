import { background } from "../background.js";
import { h, replaceChildren } from "../dom.js";
import type { AdminApi, AuditEntry, AuditFilter } from "./api.js";
import { button, ResultLine, table, when, type AdminView } from "./ui.js";

const FIELDS: { name: keyof AuditFilter; label: string }[] = [
  { name: "actor", label: "Actor" },
  { name: "action", label: "Action" },
  { name: "roomId", label: "Room" },
  { name: "targetUserId", label: "Target user" },
];

/** Whether an entry matches the filters (exactly, as the server's filters do). */
const matches = (entry: AuditEntry, filter: AuditFilter) =>
  FIELDS.every(({ name }) => filter[name] === undefined || entry[name] === filter[name]);

/**
 * The audit log, newest first, with filters for actor, action, room and target user, and older pages
 * (`before`). The filters go to the server as query fields; the page shown is filtered here too, so a server
 * that ignored one cannot show entries that do not match. A refused request shows the server's error.
 */
export class AuditView implements AdminView {
  readonly element: HTMLElement;
  private readonly result = new ResultLine();
  private readonly list = h("div", { class: "admin-list" });
  private readonly pager = h("div", { class: "admin-pager" });
  private readonly inputs = new Map<keyof AuditFilter, HTMLInputElement>();
  private filter: AuditFilter = {};
  private entries: AuditEntry[] = [];

  constructor(private readonly api: AdminApi) {
    const form = h(
      "form",
      { class: "admin-filters", "aria-label": "Filter the audit log" },
      ...FIELDS.map(({ name, label }) => {
        const input = h("input", { name, maxlength: "64", autocomplete: "off", spellcheck: "false" });
        this.inputs.set(name, input);
        return h("label", { class: "field" }, h("span", {}, label), input);
      }),
      h("button", { type: "submit", class: "button primary" }, "Filter"),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.filter = {};
      for (const [name, input] of this.inputs) {
        const value = input.value.trim();
        if (value !== "") this.filter[name] = value;
      }
      this.entries = [];
      this.load();
    });
    this.element = h(
      "section",
      { class: "admin-section", "aria-labelledby": "admin-title" },
      h("h1", { id: "admin-title" }, "Audit log"),
      form,
      this.result.element,
      this.list,
      this.pager,
    );
    this.load();
  }

  private load(before?: number): void {
    background(
      this.api.audit(this.filter, before).then((answer) => {
        if (!answer.ok) {
          replaceChildren(this.list);
          replaceChildren(this.pager);
          return this.result.failed(`The audit log is not available: ${answer.error.message}`);
        }
        this.result.clear();
        this.entries = [...this.entries, ...answer.data.entries.filter((entry) => matches(entry, this.filter))];
        this.render(answer.data.hasMore ? answer.data.entries.at(-1)?.id : undefined);
      }),
    );
  }

  private render(olderThan: number | undefined): void {
    replaceChildren(
      this.list,
      table(
        "Audit log",
        ["When", "Actor", "Action", "Room", "Target", "Details"],
        this.entries.map((entry) => [
          when(entry.at),
          entry.actor,
          h("code", {}, entry.action),
          entry.roomId ?? "—",
          entry.targetUserId ?? "—",
          [
            entry.messageId === undefined ? "" : `message #${entry.messageId}`,
            entry.until === undefined ? "" : `until ${when(entry.until)}`,
            entry.reason ?? "",
          ]
            .filter((part) => part !== "")
            .join(" · ") || "—",
        ]),
        "No entries.",
      ),
    );
    replaceChildren(this.pager, olderThan === undefined ? null : button("Older entries", () => this.load(olderThan)));
  }
}
