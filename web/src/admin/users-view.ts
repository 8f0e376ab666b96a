import type { AdminUser } from "../../../shared/http.js";
import { background } from "../background.js";
import { h, replaceChildren } from "../dom.js";
import { openModal } from "../views/dialogs.js";
import type { AdminApi, UserAction } from "./api.js";
import { button, confirmAction, ResultLine, table, when, type AdminView } from "./ui.js";

/** Users per page. */
const PAGE = 20;

/** What the users view asks of the console. */
export interface UsersContext {
  api: AdminApi;
  /** Opens the sessions of one user. */
  showSessions(userId: string): void;
}

/**
 * Users: search by id or name (`q`), pages (`after`/`hasMore`), and per user disable or enable, sign out
 * everywhere, reset the password (a form), make or unmake admin, and a link to the user's sessions.
 * Destructive actions ask first; each says what it did, or the server's error.
 */
export class UsersView implements AdminView {
  readonly element: HTMLElement;
  private readonly result = new ResultLine();
  private readonly list = h("div", { class: "admin-list" });
  private readonly pager = h("div", { class: "admin-pager" });
  private readonly search = h("input", { type: "search", name: "q", maxlength: "64", autocomplete: "off" });
  private query = "";
  /** The `after` cursor of each page shown so far: the last one is the current page's. */
  private cursors: (string | undefined)[] = [undefined];
  private users: AdminUser[] = [];
  private hasMore = false;

  constructor(private readonly context: UsersContext) {
    const form = h(
      "form",
      { class: "admin-search", role: "search" },
      h("label", { class: "field" }, h("span", {}, "Search users"), this.search),
      h("button", { type: "submit", class: "button primary" }, "Search"),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.query = this.search.value.trim();
      this.cursors = [undefined];
      this.load();
    });
    this.element = h(
      "section",
      { class: "admin-section", "aria-labelledby": "admin-title" },
      h("h1", { id: "admin-title" }, "Users"),
      form,
      this.result.element,
      this.list,
      this.pager,
    );
    this.load();
  }

  private load(): void {
    const after = this.cursors.at(-1);
    background(
      this.context.api.users(this.query, after, PAGE).then((answer) => {
        if (!answer.ok) return this.result.failed(answer.error.message);
        this.users = answer.data.users;
        this.hasMore = answer.data.hasMore;
        this.render();
      }),
    );
  }

  private render(): void {
    replaceChildren(
      this.list,
      table(
        "Users",
        ["User", "Status", "Created", "Last seen", "Actions"],
        this.users.map((user) => [
          h("span", { class: "admin-user" }, h("strong", {}, user.name), h("span", { class: "hint" }, `@${user.id}`)),
          h(
            "span",
            { class: "admin-badges" },
            h("span", { class: `admin-badge ${user.online ? "is-on" : ""}` }, user.online ? "online" : "offline"),
            user.disabled ? h("span", { class: "admin-badge is-bad" }, "disabled") : null,
            user.admin ? h("span", { class: "admin-badge is-admin" }, "admin") : null,
          ),
          when(user.createdAt),
          when(user.lastSeenAt),
          h("span", { class: "admin-actions" }, ...this.actions(user)),
        ]),
        this.query === "" ? "No users yet." : `No user matches “${this.query}”.`,
      ),
    );
    const page = this.cursors.length;
    replaceChildren(
      this.pager,
      page > 1 ? button("Previous page", () => (this.cursors.pop(), this.load())) : null,
      h("span", { class: "hint" }, `Page ${page}`),
      this.hasMore
        ? button("Next page", () => {
            this.cursors.push(this.users.at(-1)?.id);
            this.load();
          })
        : null,
    );
  }

  private actions(user: AdminUser): HTMLElement[] {
    const { api } = this.context;
    const named = (label: string) => ({ name: `${label} ${user.id}` });
    const act = (action: UserAction, title: string, text: string, label: string, said: string) =>
      confirmAction(
        this.result,
        { title, text, action: label },
        () => api.userAction(user.id, action),
        (changed) => {
          this.replace(changed);
          return said;
        },
      );
    return [
      user.disabled
        ? button(
            "Enable",
            () =>
              background(
                api.userAction(user.id, "enable").then((answer) => {
                  if (!answer.ok) return this.result.failed(answer.error.message);
                  this.replace(answer.data);
                  this.result.done(`${user.id} is enabled: they can sign in again.`);
                }),
              ),
            named("Enable"),
          )
        : button(
            "Disable",
            () =>
              act(
                "disable",
                `Disable ${user.id}?`,
                `${user.name} (@${user.id}) is signed out everywhere at once and cannot sign in or connect until enabled again.`,
                "Disable",
                `${user.id} is disabled and was signed out everywhere.`,
              ),
            { ...named("Disable"), danger: true },
          ),
      button(
        "Sign out",
        () =>
          act(
            "sign-out",
            `Sign ${user.id} out everywhere?`,
            `Every session of ${user.name} (@${user.id}) ends now; they can sign in again.`,
            "Sign out everywhere",
            `${user.id} was signed out everywhere.`,
          ),
        { ...named("Sign out"), danger: true },
      ),
      button("Reset password", () => this.resetPassword(user), named("Reset password of")),
      button(
        user.admin ? "Remove admin" : "Make admin",
        () =>
          confirmAction(
            this.result,
            user.admin
              ? {
                  title: `Remove ${user.id}'s admin rights?`,
                  text: `${user.name} (@${user.id}) can no longer use the admin console or moderate every room. A user listed in ADMIN_USERS stays an admin.`,
                  action: "Remove admin",
                }
              : {
                  title: `Make ${user.id} an admin?`,
                  text: `${user.name} (@${user.id}) gets every right of this console: users, sessions, rooms and messages.`,
                  action: "Make admin",
                },
            () => api.setAdmin(user.id, !user.admin),
            (changed) => {
              this.replace(changed);
              return changed.admin ? `${user.id} is an admin.` : `${user.id} is no longer an admin.`;
            },
          ),
        named(user.admin ? "Remove admin" : "Make admin"),
      ),
      button("Sessions", () => this.context.showSessions(user.id), named("Sessions of")),
    ];
  }

  /** "Reset password": a new password for the user; every session of the user ends. */
  private resetPassword(user: AdminUser): void {
    const password = h("input", {
      type: "password",
      name: "password",
      required: true,
      minlength: "8",
      maxlength: "256",
      autocomplete: "new-password",
      autofocus: true,
    });
    const error = h("p", { class: "form-error", role: "alert" });
    const submit = h("button", { type: "submit", class: "button danger" }, "Set password");
    const close = openModal(`Reset ${user.id}'s password`, (closeModal) => [
      h(
        "form",
        {
          class: "modal-body",
          onsubmit: (event: SubmitEvent) => {
            event.preventDefault();
            submit.disabled = true;
            background(
              this.context.api.resetPassword(user.id, password.value).then((answer) => {
                submit.disabled = false;
                if (!answer.ok) {
                  error.textContent = answer.error.message;
                  return this.result.failed(answer.error.message);
                }
                closeModal();
                this.result.done(`${user.id} has a new password and was signed out everywhere.`);
              }),
            );
          },
        },
        h("label", { class: "field" }, h("span", {}, "New password"), password),
        h("p", { class: "hint" }, "8–256 characters. Every session of the user ends; tell them the new password."),
        error,
        h(
          "div",
          { class: "modal-actions" },
          h("button", { type: "button", class: "button", onclick: () => close() }, "Cancel"),
          submit,
        ),
      ),
    ]);
  }

  private replace(changed: AdminUser): void {
    this.users = this.users.map((user) => (user.id === changed.id ? changed : user));
    this.render();
  }
}
