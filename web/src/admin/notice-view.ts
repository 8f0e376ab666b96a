import type { PushInput } from "../../../shared/schemas.js";
import { background } from "../background.js";
import { h } from "../dom.js";
import type { AdminApi } from "./api.js";
import { ResultLine, type AdminView } from "./ui.js";

/**
 * "Send a notice": a system message to one user, one room's members or everyone (`POST /api/admin/notices`);
 * says how many sockets it reached now (the others get it when they catch up).
 */
export class NoticeView implements AdminView {
  readonly element: HTMLElement;
  private readonly result = new ResultLine();

  constructor(private readonly api: AdminApi) {
    const target = h("input", { name: "target", maxlength: "64", autocomplete: "off", spellcheck: "false" });
    const targetLabel = h("span", {}, "User id");
    const targetField = h("label", { class: "field" }, targetLabel, target);
    const content = h("textarea", { name: "content", required: true, maxlength: "4000", rows: "4" });
    const radio = (value: string, label: string, checked = false) =>
      h("label", {}, h("input", { type: "radio", name: "to", value, checked }), h("span", {}, label));
    const send = h("button", { type: "submit", class: "button primary" }, "Send notice");
    const form = h(
      "form",
      { class: "admin-form" },
      h(
        "fieldset",
        { class: "choice" },
        h("legend", {}, "To"),
        radio("user", "A user", true),
        radio("room", "A room's members"),
        radio("all", "Everyone"),
      ),
      targetField,
      h("label", { class: "field" }, h("span", {}, "Message"), content),
      h("div", { class: "modal-actions" }, send),
    );
    const kind = () => String(new FormData(form).get("to") ?? "user");
    form.addEventListener("change", () => {
      targetField.hidden = kind() === "all";
      targetLabel.textContent = kind() === "room" ? "Room id" : "User id";
      target.required = kind() !== "all";
    });
    target.required = true;
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const id = target.value.trim();
      const to: PushInput["to"] = kind() === "all" ? { all: true } : kind() === "room" ? { room: id } : { user: id };
      const whom = kind() === "all" ? "everyone" : kind() === "room" ? `the members of ${id}` : id;
      send.disabled = true;
      background(
        this.api.notice(to, content.value).then((answer) => {
          send.disabled = false;
          if (!answer.ok) return this.result.failed(answer.error.message);
          const { delivered, message } = answer.data;
          this.result.done(
            `Notice #${message.id} sent to ${whom}: delivered to ${delivered} ${delivered === 1 ? "connection" : "connections"} now.`,
          );
          content.value = "";
        }),
      );
    });
    this.element = h(
      "section",
      { class: "admin-section", "aria-labelledby": "admin-title" },
      h("h1", { id: "admin-title" }, "Send a notice"),
      h(
        "p",
        { class: "hint" },
        "A system message from “system”, stored and delivered now; who is offline gets it when they come back.",
      ),
      form,
      this.result.element,
    );
  }
}
