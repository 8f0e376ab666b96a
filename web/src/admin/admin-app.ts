import { logout } from "../../../client/http.js";
import { background } from "../background.js";
import { h, replaceChildren } from "../dom.js";
import { loadSession } from "../storage.js";
import { AdminApi } from "./api.js";
import { AuditView } from "./audit-view.js";
import {
  clearCredential,
  declineChatSession,
  loadCredential,
  mayUseChatSession,
  saveCredential,
  type AdminCredential,
} from "./credentials.js";
import { DashboardView } from "./dashboard-view.js";
import { NoticeView } from "./notice-view.js";
import { RoomsView } from "./rooms-view.js";
import { SessionsView } from "./sessions-view.js";
import { checkCredential, renderSignIn } from "./sign-in-view.js";
import type { AdminView } from "./ui.js";
import { UsersView } from "./users-view.js";
import { WebhooksView } from "./webhooks-view.js";
import "./admin.css";

/** The console's sections, by the hash that opens each (`/admin#users`). */
const SECTIONS = [
  { id: "dashboard", label: "Dashboard" },
  { id: "users", label: "Users" },
  { id: "sessions", label: "Sessions" },
  { id: "rooms", label: "Rooms" },
  { id: "audit", label: "Audit log" },
  { id: "notice", label: "Send a notice" },
  { id: "webhooks", label: "Webhooks" },
] as const;
type SectionId = (typeof SECTIONS)[number]["id"];

const sectionOf = (hash: string): SectionId =>
  SECTIONS.find((section) => `#${section.id}` === hash.split("?")[0])?.id ?? "dashboard";

/**
 * The admin console at `/admin` (loaded on demand by main.ts: the chat does not carry it). Signs in with
 * the credential this tab keeps, else with the chat's session of this tab when that user is an admin, else
 * shows the sign-in screen; then the sections, one at a time, chosen in the navigation (and the hash).
 */
export async function startAdmin(root: HTMLElement): Promise<void> {
  const stored = loadCredential();
  if (stored) {
    const checked = await checkCredential(stored);
    if (checked.ok) return void new AdminConsole(root, stored);
    clearCredential();
    return showSignIn(root, checked.error.message);
  }
  const chat = loadSession();
  if (chat && mayUseChatSession()) {
    const checked = await checkCredential({ kind: "user", bearer: chat.token, who: chat.user.name, own: false });
    if (checked.ok) {
      saveCredential(checked.data);
      return void new AdminConsole(root, checked.data);
    }
    return showSignIn(root, checked.error.message);
  }
  showSignIn(root);
}

function showSignIn(root: HTMLElement, message?: string): void {
  renderSignIn(root, {
    message,
    onSignedIn: (credential) => {
      saveCredential(credential);
      declineChatSession(false);
      new AdminConsole(root, credential);
    },
  });
}

/** The signed-in console: header (who, sign out), navigation, and the open section. */
class AdminConsole {
  private readonly api: AdminApi;
  private readonly main = h("main", { class: "admin-main", id: "admin-main" });
  private readonly nav: HTMLElement;
  private view: AdminView | undefined;
  private left = false;
  private readonly onHash = () => this.show(sectionOf(location.hash));

  constructor(
    private readonly root: HTMLElement,
    private readonly credential: AdminCredential,
  ) {
    this.api = new AdminApi(credential.bearer, () =>
      this.leave("Your admin sign-in no longer counts (signed out, or the key changed). Sign in again."),
    );
    this.nav = h(
      "nav",
      { class: "admin-nav", "aria-label": "Admin sections" },
      ...SECTIONS.map((section) => h("a", { href: `#${section.id}`, "data-section": section.id }, section.label)),
    );
    replaceChildren(
      root,
      h(
        "div",
        { class: "admin" },
        h(
          "header",
          { class: "admin-header" },
          h("div", { class: "brand" }, h("span", { class: "brand-mark", "aria-hidden": "true" }), "Chat admin"),
          h(
            "div",
            { class: "admin-who" },
            h(
              "span",
              { class: "hint" },
              credential.kind === "key" ? "Signed in with the admin key" : `Signed in as ${credential.who}`,
            ),
            h("a", { href: "/", class: "button small" }, "Open the chat"),
            h("button", { type: "button", class: "button small", onclick: () => this.signOut() }, "Sign out"),
          ),
        ),
        this.nav,
        this.main,
      ),
    );
    window.addEventListener("hashchange", this.onHash);
    this.onHash();
  }

  private show(id: SectionId, userId?: string): void {
    this.view?.dispose?.();
    for (const link of this.nav.querySelectorAll<HTMLAnchorElement>("a")) {
      if (link.dataset.section === id) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    const api = this.api;
    this.view =
      id === "users"
        ? new UsersView({
            api,
            showSessions: (user) => {
              history.replaceState(null, "", "#sessions");
              this.show("sessions", user);
            },
          })
        : id === "sessions"
          ? new SessionsView(api, userId)
          : id === "rooms"
            ? new RoomsView(api)
            : id === "audit"
              ? new AuditView(api)
              : id === "notice"
                ? new NoticeView(api)
                : id === "webhooks"
                  ? new WebhooksView(api)
                  : new DashboardView(api);
    replaceChildren(this.main, this.view.element);
  }

  private signOut(): void {
    // A token the console signed in for itself is revoked; the chat's own session is left alone, but not used
    // by the console again in this tab.
    if (this.credential.own) background(logout("", this.credential.bearer));
    else if (this.credential.kind === "user") declineChatSession(true);
    this.leave("You are signed out of the admin console.");
  }

  /** Back to the sign-in screen (once), saying why. */
  private leave(message: string): void {
    if (this.left) return;
    this.left = true;
    this.view?.dispose?.();
    window.removeEventListener("hashchange", this.onHash);
    clearCredential();
    showSignIn(this.root, message);
  }
}
