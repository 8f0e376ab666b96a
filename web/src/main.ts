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

const session = loadSession();
if (session) startChat(session);
else showAuth();
