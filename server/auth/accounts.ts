import type { SocketAccess } from "../../shared/events.js";
import type { AuthResponse, User } from "../../shared/schemas.js";
import type { Delivery } from "../delivery/deliver.js";
import { AppError } from "../errors.js";
import type { AuditDraft } from "../store/moderation.js";
import type { Store, UserRecord } from "../store/types.js";
import { MAX_REVOKED_TOKENS_PER_USER, refusal, type Admitted } from "./access.js";
import type { PasswordHasher } from "./password.js";
import type { TokenService } from "./tokens.js";

/** How often each node ends its sockets whose token expired (the notice comes at most this late). */
export const EXPIRY_SWEEP_MS = 1000;
/**
 * How often each node checks its sockets' tokens against the store: the fallback for a revocation whose
 * broadcast a node missed (it was cut off from the others) or that raced a handshake (the handshake read the
 * user before the revocation committed, and connected after the broadcast).
 */
export const ACCESS_RECHECK_MS = 5000;
/** Sockets checked per pair of queries. */
const RECHECK_BATCH = 500;
/** How often expired sign-outs are forgotten, and how many at a time. */
const PRUNE_EVERY_MS = 10 * 60_000;
const PRUNE_BATCH = 1000;

/** What the account service needs. */
export interface AccountDeps {
  store: Store;
  tokens: TokenService;
  passwords: PasswordHasher;
  delivery: Delivery;
  now: () => number;
  /** The token state of a socket of this node, by id (undefined when not here). */
  socketAccess: (socketId: string) => { access: SocketAccess } | undefined;
  onBackgroundError: (task: string, error: unknown) => void;
}

/**
 * Accounts' sessions: password changes and sign-outs that revoke tokens for real (HTTP refuses them at once,
 * through the user's valid-after time and the signed-out tokens; sockets holding them get a notice and are
 * disconnected on every node), token refresh on a live socket, expiry of live sockets' tokens, and the
 * admin's disable, enable, sign-out and password reset.
 */
export class AccountService {
  private sweep: NodeJS.Timeout | undefined;
  private prune: NodeJS.Timeout | undefined;
  private recheckTimer: NodeJS.Timeout | undefined;
  private checking = false;

  constructor(private readonly deps: AccountDeps) {}

  /** Starts ending expired sockets and pruning expired sign-outs. */
  start(): void {
    this.sweep = setInterval(() => this.deps.delivery.endExpired(this.deps.now()), EXPIRY_SWEEP_MS).unref();
    this.prune = setInterval(() => {
      this.deps.store
        .pruneRevokedTokens(this.deps.now(), PRUNE_BATCH)
        .catch((error: unknown) => this.deps.onBackgroundError("prune-sign-outs", error));
    }, PRUNE_EVERY_MS).unref();
    this.recheckTimer = setInterval(() => {
      this.recheck().catch((error: unknown) => this.deps.onBackgroundError("session-recheck", error));
    }, ACCESS_RECHECK_MS).unref();
  }

  close(): void {
    clearInterval(this.sweep);
    clearInterval(this.prune);
    clearInterval(this.recheckTimer);
  }

  /**
   * Ends this node's sockets whose token no longer counts by the store (disabled account, revoked or
   * signed-out token), in batches of two queries each; one check at a time.
   */
  async recheck(): Promise<number> {
    if (this.checking) return 0;
    this.checking = true;
    let ended = 0;
    try {
      const sockets = this.deps.delivery.localSessions();
      for (let start = 0; start < sockets.length; start += RECHECK_BATCH) {
        const batch = sockets.slice(start, start + RECHECK_BATCH);
        const users = [...new Set(batch.map((socket) => socket.data.user.id))];
        const hashes = [...new Set(batch.map((socket) => socket.data.access.hash))];
        const [states, revoked] = await Promise.all([
          this.deps.store.accessStates(users),
          this.deps.store.revokedAmong(hashes),
        ]);
        const byUser = new Map(states.map((state) => [state.id, state]));
        const signedOut = new Set(revoked);
        for (const socket of batch) {
          const state = byUser.get(socket.data.user.id);
          if (!state) continue;
          const access = socket.data.access;
          const reason =
            state.disabledAt !== null
              ? "disabled"
              : signedOut.has(access.hash) || access.issuedAt < state.tokensValidAfter
                ? "signed-out"
                : undefined;
          if (reason) ended += this.deps.delivery.endLocal({ socketId: socket.id, reason });
        }
      }
    } finally {
      this.checking = false;
    }
    return ended;
  }

  /**
   * Changes a built-in account's password after checking the current one: every token issued before stops
   * working (the answer carries a new one), and sockets holding them are signed out.
   */
  async changePassword(admitted: Admitted, currentPassword: string, newPassword: string): Promise<AuthResponse> {
    const { record } = admitted;
    if (record.passwordHash === null) {
      throw new AppError("FORBIDDEN", "this account signs in through its issuer: it has no password here");
    }
    if (!(await this.deps.passwords.verify(currentPassword, record.passwordHash))) {
      throw new AppError("UNAUTHORIZED", "the current password is wrong");
    }
    const hash = await this.deps.passwords.hash(newPassword);
    const at = this.deps.now();
    // Conditional on the hash just checked: of two changes racing with the same old password, one wins.
    const audit = { at, actor: record.id, action: "user.password-change", targetUserId: record.id };
    if (!(await this.deps.store.changePassword(record.id, hash, at, record.passwordHash, audit))) {
      throw new AppError("CONFLICT", "the password was changed meanwhile; sign in again");
    }
    await this.endSessions({ userId: record.id, issuedBefore: at, reason: "signed-out" });
    const user: User = { id: record.id, name: record.name };
    return { token: this.deps.tokens.issue(user, at), user };
  }

  /** Signs out the request's token, or with `everywhere` every token of the user issued until now. */
  async logout(admitted: Admitted, everywhere: boolean): Promise<void> {
    const { identity, record } = admitted;
    const at = this.deps.now();
    if (everywhere) {
      await this.revokeAll(record.id, at, record.id);
      return;
    }
    const token = { hash: identity.hash, userId: record.id, expiresAt: identity.exp * 1000 };
    const outcome = await this.deps.store.revokeToken(token, at, MAX_REVOKED_TOKENS_PER_USER);
    if (outcome === "all") {
      await this.endSessions({ userId: record.id, issuedBefore: at, reason: "signed-out" });
    } else {
      await this.endSessions({ userId: record.id, tokenHash: identity.hash, reason: "signed-out" });
    }
  }

  /**
   * `auth:refresh`: a socket takes a new token of the same user that still counts and expires no earlier;
   * answers its `exp`. Anything else changes nothing.
   */
  async refresh(userId: string, socketId: string, token: string): Promise<{ exp: number }> {
    const identity = this.deps.tokens.verify(token);
    if (identity.id !== userId) throw new AppError("UNAUTHORIZED", "the token is another user's");
    const [record, signedOut] = await Promise.all([
      this.deps.store.getUser(userId),
      this.deps.store.isTokenRevoked(identity.hash),
    ]);
    if (!record) throw new AppError("UNAUTHORIZED", "no such user");
    const refused = refusal(record, identity, signedOut);
    if (refused) throw refused;
    const socket = this.deps.socketAccess(socketId);
    if (!socket) throw new AppError("UNAVAILABLE", "the socket is closing");
    if (identity.exp < socket.access.exp) {
      throw new AppError("INVALID_PAYLOAD", "the token expires before the session's current one");
    }
    socket.access = { exp: identity.exp, issuedAt: identity.issuedAt, hash: identity.hash };
    return { exp: identity.exp };
  }

  /** Disables an account: it cannot sign in or connect, and its sockets are disconnected. */
  async disable(userId: string, actor: string): Promise<UserRecord> {
    const at = this.deps.now();
    const record = await this.deps.store.setDisabled(userId, at, audited(at, actor, "user.disable", userId));
    if (!record) throw noSuchUser(userId);
    await this.endSessions({ userId, reason: "disabled" });
    return record;
  }

  /** Enables a disabled account: its tokens open it again, unless they were signed out meanwhile. */
  async enable(userId: string, actor: string): Promise<UserRecord> {
    const at = this.deps.now();
    const record = await this.deps.store.setDisabled(userId, null, audited(at, actor, "user.enable", userId));
    if (!record) throw noSuchUser(userId);
    return record;
  }

  /** Signs the user out everywhere. */
  async signOut(userId: string, actor: string): Promise<UserRecord> {
    return this.revokeAll(userId, this.deps.now(), actor);
  }

  /** An admin sets a new password: every token of the user stops working. */
  async resetPassword(userId: string, password: string, actor: string): Promise<void> {
    const hash = await this.deps.passwords.hash(password);
    const at = this.deps.now();
    const audit = audited(at, actor, "user.password-reset", userId);
    if (!(await this.deps.store.changePassword(userId, hash, at, undefined, audit))) throw noSuchUser(userId);
    await this.endSessions({ userId, issuedBefore: at, reason: "signed-out" });
  }

  /** Revokes every token of the user issued before `at` (audited as `actor`'s sign-out) and ends its sockets. */
  private async revokeAll(userId: string, at: number, actor: string): Promise<UserRecord> {
    const record = await this.deps.store.revokeTokens(userId, at, audited(at, actor, "user.sign-out", userId));
    if (!record) throw noSuchUser(userId);
    await this.endSessions({ userId, issuedBefore: at, reason: "signed-out" });
    return record;
  }

  private async endSessions(target: Parameters<Delivery["endSessions"]>[0]): Promise<void> {
    await this.deps.delivery.endSessions(target);
  }
}

const noSuchUser = (userId: string) => new AppError("NOT_FOUND", `no user ${userId}`);

/** The audit entry of an account action on `targetUserId`. */
const audited = (at: number, actor: string, action: string, targetUserId: string): AuditDraft => ({
  at,
  actor,
  action,
  targetUserId,
});
