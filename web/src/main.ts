import { renderAuthView } from "./auth-view.js";
import { ChatApp } from "./chat-app.js";
import { clearSession, loadSession, saveSession, type StoredSession } from "./storage.js";
import "./styles.css";

const root = document.getElementById("app")!;

function showAuth(message?: string): void {
  renderAuthView(root, {
    message,
    onSignedIn: (session) => {
      saveSession(session);
      startChat(session);
    },
  });
}

function startChat(session: StoredSession): void {
  new ChatApp(root, session, (message) => {
    clearSession();
    showAuth(message);
  });
}

/** `/admin` is the admin console, loaded on demand: the chat's bundle does not carry it. */
const isAdmin = /^\/admin\/?$/.test(location.pathname);

if (isAdmin) {
  import("./admin/admin-app.js")
    .then(({ startAdmin }) => startAdmin(root))
    .catch((error: unknown) => {
      console.error("the admin console failed to load", error);
      root.textContent = "The admin console could not be loaded. Reload the page to try again.";
    });
} else {
  const session = loadSession();
  if (session) startChat(session);
  else showAuth();
}
