import { changePassword, logout, readResult, type ChatClient } from "../../client/index.js";
import type { ServerNotice } from "../../shared/events.js";
import type { Result } from "../../shared/errors.js";
import { background } from "./background.js";
import { saveSession, type StoredSession } from "./storage.js";

/** What the account controller needs from the app. */
export interface AccountContext {
  client: ChatClient;
  /** The signed-in session: a password change replaces its token (and saves it for a reload). */
  session: StoredSession;
  /** Back to the sign-in screen, saying why. */
  signOut(message: string): void;
  /** A short note to the user. */
  note(text: string): void;
  /** This user is an admin: show the way to the console. */
  isAdmin(): void;
}

/** What the sign-in screen says after the server ended the session, by the notice's reason. */
const ENDED: Partial<Record<ServerNotice["reason"], string>> = {
  "signed-out": "You were signed out. Please sign in again.",
  "token-expired": "Your session expired. Please sign in again.",
  disabled: "Your account was disabled. Ask an admin if you think this is a mistake.",
};

/**
 * This user's account: the session-ending notices of the server (docs/protocol.md, `server:notice`), sign out
 * (this token, or everywhere), the password change, and whether the user is an admin.
 */
export class Account {
  /** The token the connection was opened with (the SDK asks for it on every connect). */
  private connectedWith: string;
  /**
   * A password change or a sign-out everywhere under way: this tab's own socket is signed out by it, and the
   * notice waits for its answer (the new token, or the sign-out that says "everywhere").
   */
  private pending: Promise<unknown> | undefined;
  /** Signed out here already: later notices and answers change nothing. */
  private left = false;

  constructor(private readonly context: AccountContext) {
    this.connectedWith = context.session.token;
  }

  /** The token for the SDK's next connect. */
  token(): string {
    this.connectedWith = this.context.session.token;
    return this.connectedWith;
  }

  /**
   * The server is closing the connection on purpose. Signed out, expired or disabled: back to the sign-in
   * screen with why; unless this tab holds a newer token than the connection's (its own password change),
   * which it reconnects with. Ended by an admin (`kicked`): the SDK reconnects; say so.
   */
  ended(notice: ServerNotice): void {
    if (notice.reason === "kicked") return this.context.note("An admin ended this connection. Reconnecting…");
    const message = ENDED[notice.reason];
    if (message === undefined) return;
    background(
      (this.pending ?? Promise.resolve()).then(() => {
        if (notice.reason !== "disabled" && this.context.session.token !== this.connectedWith) {
          return this.context.client.connect();
        }
        this.leave(message);
      }),
    );
  }

  /** Signs this token out on the server (`POST /api/auth/logout`), then here. */
  signOut(): void {
    const { token } = this.context.session;
    this.leave("");
    // After the client closed: the server's "signed-out" notice would only race the local sign-out.
    background(logout("", token));
  }

  /** Signs every session of this user out (`POST /api/auth/logout { everywhere }`), this one too. */
  signOutEverywhere(): Promise<Result<undefined>> {
    return this.hold(async () => {
      const result = await logout("", this.context.session.token, true);
      if (result.ok) this.leave("You were signed out everywhere.");
      return result;
    });
  }

  /**
   * Changes the password (`POST /api/auth/password`): every earlier token stops working, this tab's too, so
   * it keeps the new one and reconnects with it; other tabs and devices are signed out.
   */
  changePassword(currentPassword: string, newPassword: string): Promise<Result<undefined>> {
    return this.hold(async () => {
      const { session, client } = this.context;
      const result = await changePassword("", session.token, { currentPassword, newPassword });
      if (!result.ok) return result;
      session.token = result.data.token;
      saveSession(session);
      this.context.note("Your password was changed. Your other sessions were signed out.");
      // The server signs the old token's sockets out: this tab's comes back with the new token (or, if the
      // notice has not reached it yet, takes the new token on the live connection).
      if (client.state === "offline") client.connect();
      else {
        const token = session.token;
        background(
          client.refreshToken(token).then((refreshed) => {
            if (refreshed.ok) this.connectedWith = token;
          }),
        );
      }
      return { ok: true, data: undefined };
    });
  }

  /**
   * Runs work that signs this tab's socket out (a password change, a sign-out everywhere): the notice waits
   * until the work is done, so that it finds the new token, or the sign-out already done.
   */
  private hold<T>(work: () => Promise<T>): Promise<T> {
    const running = work();
    this.pending = running;
    const settled = () => {
      if (this.pending === running) this.pending = undefined;
    };
    running.then(settled, settled);
    return running;
  }

  private leave(message: string): void {
    if (this.left) return;
    this.left = true;
    this.context.signOut(message);
  }

  /**
   * Whether this user is an admin: `GET /api/me/admin` with its token (200 `{ admin }` for everyone, so a
   * non-admin's page load logs no 403).
   */
  checkAdmin(): void {
    background(
      fetch("/api/me/admin", { headers: { Authorization: `Bearer ${this.context.session.token}` } })
        .then((response) => readResult<{ admin: boolean }>(response))
        .then((result) => {
          if (result.ok && result.data.admin) this.context.isAdmin();
        }),
    );
  }
}
