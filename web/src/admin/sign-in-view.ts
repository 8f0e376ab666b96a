import { login, logout } from "../../../client/http.js";
import type { Result } from "../../../shared/errors.js";
import { background } from "../background.js";
import { h } from "../dom.js";
import { AdminApi } from "./api.js";
import type { AdminCredential } from "./credentials.js";

/**
 * Checks a credential against the admin API (`GET /api/admin/stats`, which the dashboard reads first anyway):
 * answers it, or why it does not open the console ("admins only" for a user who is not one).
 */
export async function checkCredential(credential: AdminCredential): Promise<Result<AdminCredential>> {
  const answer = await new AdminApi(credential.bearer).stats();
  if (answer.ok) return { ok: true, data: credential };
  const { code } = answer.error;
  const message =
    code === "FORBIDDEN"
      ? `Admins only: ${credential.who} is not an admin.`
      : code === "UNAUTHORIZED"
        ? credential.kind === "key"
          ? "That admin key is not valid."
          : "That sign-in no longer counts: sign in again."
        : answer.error.message;
  return { ok: false, error: { code, message } };
}

/** What the sign-in screen needs. */
export interface SignInOptions {
  /** A note above the form: why the console is signed out. */
  message?: string;
  onSignedIn(credential: AdminCredential): void;
}

/** The console's sign-in: the admin key (`ADMIN_API_KEY`), or an admin user's username and password. */
export function renderSignIn(root: HTMLElement, options: SignInOptions): void {
  let mode: "key" | "user" = "key";
  const error = h("p", { class: "form-error", role: "alert" });
  const key = h("input", { id: "admin-key", name: "key", type: "password", autocomplete: "off", spellcheck: "false" });
  const username = h("input", {
    id: "admin-username",
    name: "username",
    autocomplete: "username",
    spellcheck: "false",
  });
  const password = h("input", {
    id: "admin-password",
    name: "password",
    type: "password",
    autocomplete: "current-password",
  });
  const keyFields = h(
    "div",
    { class: "auth-form" },
    h("label", { class: "field", for: "admin-key" }, h("span", {}, "Admin API key")),
    key,
    h("p", { class: "hint" }, "ADMIN_API_KEY, from the server's environment or data/secrets.json."),
  );
  const userFields = h(
    "div",
    { class: "auth-form", hidden: true },
    h("label", { class: "field", for: "admin-username" }, h("span", {}, "Username")),
    username,
    h("label", { class: "field", for: "admin-password" }, h("span", {}, "Password")),
    password,
  );
  const keyTab = h("button", { type: "button", class: "segment", "aria-pressed": "true" }, "Admin key");
  const userTab = h("button", { type: "button", class: "segment", "aria-pressed": "false" }, "Admin account");
  const setMode = (next: "key" | "user") => {
    mode = next;
    keyTab.setAttribute("aria-pressed", String(next === "key"));
    userTab.setAttribute("aria-pressed", String(next === "user"));
    keyFields.hidden = next !== "key";
    userFields.hidden = next !== "user";
    key.required = next === "key";
    username.required = password.required = next === "user";
    error.textContent = "";
    (next === "key" ? key : username).focus();
  };
  keyTab.addEventListener("click", () => setMode("key"));
  userTab.addEventListener("click", () => setMode("user"));
  const submit = h("button", { type: "submit", class: "button primary wide" }, "Sign in");

  const form = h(
    "form",
    { class: "auth-form", "aria-label": "Sign in to the admin console" },
    h("div", { class: "segmented", role: "group", "aria-label": "Sign in with" }, keyTab, userTab),
    options.message ? h("p", { class: "auth-note", role: "status" }, options.message) : null,
    keyFields,
    userFields,
    error,
    submit,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit.disabled = true;
    error.textContent = "";
    background(
      signIn(mode, key.value.trim(), { username: username.value.trim(), password: password.value }).then((result) => {
        submit.disabled = false;
        if (result.ok) return options.onSignedIn(result.data);
        error.textContent = result.error.message;
        (mode === "key" ? key : password).select();
      }),
    );
  });
  setMode("key");

  root.replaceChildren(
    h(
      "div",
      { class: "auth" },
      h(
        "main",
        { class: "auth-card" },
        h("div", { class: "brand large" }, h("span", { class: "brand-mark", "aria-hidden": "true" }), "Chat admin"),
        h("h1", {}, "Admin console"),
        h(
          "p",
          { class: "auth-lead" },
          "For the people who run this chat server: sign in with the admin key or as an admin.",
        ),
        form,
        h("p", { class: "hint admin-back" }, h("a", { href: "/" }, "Back to the chat")),
      ),
    ),
  );
  key.focus();
}

async function signIn(
  mode: "key" | "user",
  key: string,
  credentials: { username: string; password: string },
): Promise<Result<AdminCredential>> {
  if (mode === "key") return checkCredential({ kind: "key", bearer: key, who: "the admin key", own: false });
  const session = await login("", credentials);
  if (!session.ok) {
    const message =
      session.error.code === "UNAUTHORIZED"
        ? "Wrong username or password."
        : session.error.code === "FORBIDDEN"
          ? "This account is disabled."
          : session.error.message;
    return { ok: false, error: { ...session.error, message } };
  }
  const { token, user } = session.data;
  const checked = await checkCredential({ kind: "user", bearer: token, who: user.name, own: true });
  // Not an admin: the token the console just got is of no use here; sign it out again.
  if (!checked.ok) background(logout("", token));
  return checked;
}
