import { login, register } from "../../client/index.js";
import { h } from "./dom.js";
import type { StoredSession } from "./storage.js";
import { background } from "./background.js";

export interface AuthViewOptions {
  /** A note to show above the form, e.g. why the user was signed out. */
  message?: string;
  onSignedIn(session: StoredSession): void;
}

/** The sign-in / create-account screen. */
export function renderAuthView(root: HTMLElement, options: AuthViewOptions): void {
  let mode: "login" | "register" = "login";
  const error = h("p", { class: "form-error", role: "alert" });
  const username = h("input", {
    id: "auth-username",
    name: "username",
    required: true,
    autocomplete: "username",
    autocapitalize: "none",
    spellcheck: "false",
    minlength: "3",
    maxlength: "32",
    pattern: "[A-Za-z0-9_.\\-]{3,32}",
    title: "3–32 letters, digits, dots, dashes or underscores",
  });
  const password = h("input", {
    id: "auth-password",
    name: "password",
    type: "password",
    required: true,
    autocomplete: "current-password",
    minlength: "8",
    maxlength: "256",
  });
  const submit = h("button", { type: "submit", class: "button primary wide" }, "Sign in");
  const hint = h("p", { class: "hint" }, "");
  const loginTab = h("button", { type: "button", class: "segment", "aria-pressed": "true" }, "Sign in");
  const registerTab = h("button", { type: "button", class: "segment", "aria-pressed": "false" }, "Create account");

  const setMode = (next: "login" | "register") => {
    mode = next;
    loginTab.setAttribute("aria-pressed", String(next === "login"));
    registerTab.setAttribute("aria-pressed", String(next === "register"));
    submit.textContent = next === "login" ? "Sign in" : "Create account";
    password.autocomplete = next === "login" ? "current-password" : "new-password";
    hint.textContent =
      next === "register"
        ? "Usernames are 3–32 letters, digits, dots, dashes or underscores; passwords at least 8 characters."
        : "";
    error.textContent = "";
  };
  loginTab.addEventListener("click", () => setMode("login"));
  registerTab.addEventListener("click", () => setMode("register"));

  const form = h(
    "form",
    { class: "auth-form", "aria-label": "Sign in or create an account" },
    h("div", { class: "segmented", role: "group", "aria-label": "Mode" }, loginTab, registerTab),
    options.message ? h("p", { class: "auth-note", role: "status" }, options.message) : null,
    h("label", { class: "field", for: "auth-username" }, h("span", {}, "Username")),
    username,
    h("label", { class: "field", for: "auth-password" }, h("span", {}, "Password")),
    password,
    hint,
    error,
    submit,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit.disabled = true;
    error.textContent = "";
    const credentials = { username: username.value.trim(), password: password.value };
    background(
      (mode === "login" ? login("", credentials) : register("", credentials)).then((result) => {
        submit.disabled = false;
        if (result.ok) return options.onSignedIn({ token: result.data.token, user: result.data.user });
        error.textContent =
          result.error.code === "CONFLICT"
            ? "That username is taken."
            : result.error.code === "UNAUTHORIZED"
              ? "Wrong username or password."
              : result.error.message;
        password.select();
      }),
    );
  });

  root.replaceChildren(
    h(
      "div",
      { class: "auth" },
      h(
        "main",
        { class: "auth-card" },
        h("div", { class: "brand large" }, h("span", { class: "brand-mark", "aria-hidden": "true" }), "Chat"),
        h("h1", {}, "Welcome"),
        h("p", { class: "auth-lead" }, "Sign in to talk with your team, or create an account in seconds."),
        form,
      ),
    ),
  );
  username.focus();
}
