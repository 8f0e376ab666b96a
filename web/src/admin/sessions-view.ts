import type { AdminSession } from "../../../shared/http.js";
import { background } from "../background.js";
import { h, replaceChildren } from "../dom.js";
import type { AdminApi } from "./api.js";
import { button, confirmAction, ResultLine, table, when, type AdminView } from "./ui.js";

/**
 * Sessions: the sockets connected now on every node (of one user, optionally), in pages, and "End session"
 * for one (it gets `server:notice { reason: "kicked" }`; its token still counts).
 */
export class SessionsView implements AdminView {
  readonly element: HTMLElement;
  private readonly result = new ResultLine();
  private readonly list = h("div", { class: "admin-list" });
  private readonly pager = h("div", { class: "admin-pager" });
  private readonly user: HTMLInputElement;
  private cursors: (string | undefined)[] = [undefined];
  private sessions: AdminSession[] = [];
  private hasMore = false;

  constructor(
    private readonly api: AdminApi,
    userId = "",
  ) {
    this.user = h("input", { name: "user", value: userId, maxlength: "64", autocomplete: "off", spellcheck: "false" });
    const form = h(
      "form",
      { class: "admin-search", role: "search" },
      h("label", { class: "field" }, h("span", {}, "User id (empty: everyone)"), this.user),
      h("button", { type: "submit", class: "button primary" }, "Show sessions"),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.cursors = [undefined];
      this.load();
    });
    this.element = h(
      "section",
      { class: "admin-section", "aria-labelledby": "admin-title" },
      h("h1", { id: "admin-title" }, "Sessions"),
      form,
      this.result.element,
      this.list,
      this.pager,
    );
    this.load();
  }

  private load(): void {
    const user = this.user.value.trim() || undefined;
    background(
      this.api.sessions(user, this.cursors.at(-1)).then((answer) => {
        if (!answer.ok) return this.result.failed(answer.error.message);
        this.sessions = answer.data.sessions;
        this.hasMore = answer.data.hasMore;
        this.render();
      }),
    );
  }

  private render(): void {
    replaceChildren(
      this.list,
      table(
        "Sessions",
        ["User", "Socket", "Node", "Address", "Transport", "Connected", "Actions"],
        this.sessions.map((session) => [
          h("strong", {}, session.userId),
          h("code", {}, session.socketId),
          session.node,
          session.address,
          session.transport,
          when(session.connectedAt),
          button("End session", () => this.end(session), {
            danger: true,
            name: `End session ${session.socketId} of ${session.userId}`,
          }),
        ]),
        "No session is connected.",
      ),
    );
    replaceChildren(
      this.pager,
      this.cursors.length > 1 ? button("Previous page", () => (this.cursors.pop(), this.load())) : null,
      this.hasMore
        ? button("Next page", () => {
            this.cursors.push(this.sessions.at(-1)?.socketId);
            this.load();
          })
        : null,
    );
  }

  private end(session: AdminSession): void {
    confirmAction(
      this.result,
      {
        title: `End this session of ${session.userId}?`,
        text: `The connection ${session.socketId} (${session.address}, on ${session.node}) is closed now. Its sign-in still counts: the app may connect again. To keep the user out, sign them out or disable them in Users.`,
        action: "End session",
      },
      () => this.api.endSession(session.socketId),
      () => {
        this.sessions = this.sessions.filter((other) => other.socketId !== session.socketId);
        this.render();
        return `The session ${session.socketId} of ${session.userId} was ended.`;
      },
    );
  }
}
