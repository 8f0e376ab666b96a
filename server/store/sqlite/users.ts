import type Database from "better-sqlite3";
import { LOBBY_ROOM_ID } from "../../../shared/ids.js";
import { KnownSet } from "../batch-effects.js";
import { likeEscaped, toUser, type UserRow } from "../rows.js";
import type { AccessState, RevokedToken, UserChanges, UserRecord, UserRepository } from "../types.js";
import type { AuditDraft } from "../moderation.js";
import { appendAudit } from "./audit.js";
import type { SqliteContext } from "./database.js";
import type { SqliteOutbox } from "./outbox.js";
import { prepareSeating, type Seating } from "./rooms.js";

/** Bound of SqliteUsers.knownUsers (about 60 bytes each). */
const KNOWN_USERS_MAX = 100_000;

/** A new account, as `createUser` takes it. */
type NewUser = Parameters<UserRepository["createUser"]>[0];

/** Users and their profiles, in SQLite; a new user is seated in the lobby in the transaction that creates it. */
export class SqliteUsers implements UserRepository {
  private readonly db: Database.Database;
  private readonly seating: Seating;
  private readonly outbox: SqliteOutbox;
  private readonly commits: SqliteContext["commits"];
  private readonly statements;
  /**
   * Ids of users known to exist, so that the check before every direct message does not read the users
   * table. Users are never deleted, so an entry cannot go stale; cleared when it grows past a bound.
   */
  private readonly knownUsers = new KnownSet(KNOWN_USERS_MAX);

  constructor(context: SqliteContext) {
    const db = (this.db = context.db);
    this.seating = prepareSeating(db);
    this.outbox = context.outbox;
    this.commits = context.commits;
    this.statements = {
      insertUser: db.prepare(
        "INSERT INTO users (id, name, password_hash, create_at) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
      ),
      getUser: db.prepare<[string], UserRow>("SELECT * FROM users WHERE id = ?"),
      userExists: db.prepare<[string], number>("SELECT 1 FROM users WHERE id = ?").pluck(),
      setName: db.prepare("UPDATE users SET name = ? WHERE id = ?"),
      setAvatar: db.prepare<{ file: string | null; user: string }>(
        `UPDATE users SET avatar_file_id = @file WHERE id = @user AND (@file IS NULL OR EXISTS (SELECT 1 FROM files
           WHERE id = @file AND owner = @user AND media_type = 'image' AND deleted_at IS NULL))`,
      ),
      setReceipts: db.prepare("UPDATE users SET read_receipts = ? WHERE id = ?"),
      setLastSeen: db.prepare("UPDATE users SET last_seen_at = ? WHERE id = ?"),
      changePassword: db.prepare<{ id: string; hash: string; at: number; expected: string | null }>(
        `UPDATE users SET password_hash = @hash, tokens_valid_after = MAX(tokens_valid_after, @at)
         WHERE id = @id AND (@expected IS NULL OR password_hash = @expected)`,
      ),
      revokeTokens: db.prepare("UPDATE users SET tokens_valid_after = MAX(tokens_valid_after, ?) WHERE id = ?"),
      countRevoked: db.prepare<[string], number>("SELECT COUNT(*) FROM revoked_tokens WHERE user_id = ?").pluck(),
      insertRevoked: db.prepare(
        "INSERT INTO revoked_tokens (token_hash, user_id, expires_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
      ),
      dropRevokedOf: db.prepare("DELETE FROM revoked_tokens WHERE user_id = ?"),
      isRevoked: db.prepare<[string], number>("SELECT 1 FROM revoked_tokens WHERE token_hash = ?").pluck(),
      revokedAmong: db
        .prepare<[string], string>(
          "SELECT token_hash FROM revoked_tokens WHERE token_hash IN (SELECT value FROM json_each(?))",
        )
        .pluck(),
      accessStates: db.prepare<[string], { id: string; disabled_at: number | null; tokens_valid_after: number }>(
        "SELECT id, disabled_at, tokens_valid_after FROM users WHERE id IN (SELECT value FROM json_each(?))",
      ),
      pruneRevoked: db.prepare(
        `DELETE FROM revoked_tokens WHERE token_hash IN
           (SELECT token_hash FROM revoked_tokens WHERE expires_at < ? ORDER BY expires_at LIMIT ?)`,
      ),
      setDisabled: db.prepare<{ id: string; at: number | null }>("UPDATE users SET disabled_at = @at WHERE id = @id"),
      setAdmin: db.prepare("UPDATE users SET admin = ? WHERE id = ?"),
      listUsers: db.prepare<{ q: string | null; after: string | null; limit: number }, UserRow>(
        `SELECT * FROM users WHERE (@after IS NULL OR id > @after)
           AND (@q IS NULL OR id LIKE @q ESCAPE '\\' OR name LIKE @q ESCAPE '\\')
         ORDER BY id LIMIT @limit`,
      ),
    };
  }

  createUser(user: NewUser): Promise<boolean> {
    return this.insertSeated(user);
  }

  /**
   * Inserts a user and seats it in the lobby, together; false when the id is taken. It joins the turn's
   * group commit, so the users a connect storm creates share one transaction per turn (see `GroupCommit.run`
   * for `durable`).
   */
  private insertSeated(user: NewUser, durable = true): Promise<boolean> {
    return this.commits.run(
      () => {
        const created =
          this.statements.insertUser.run(user.id, user.name, user.passwordHash, user.createAt).changes > 0;
        if (created) {
          this.seating.seat(LOBBY_ROOM_ID, user.id, user.createAt);
          this.outbox.add({
            type: "user.created",
            at: user.createAt,
            data: { user: { id: user.id, name: user.name } },
          });
        }
        return created;
      },
      { durable },
    );
  }

  async ensureUser(id: string, name: string, createAt: number): Promise<UserRecord> {
    let row = this.statements.getUser.get(id);
    if (!row) {
      // Made from its token, and made again by the next handshake if a power loss took it: no fsync of its own.
      await this.insertSeated({ id, name, passwordHash: null, createAt }, false);
      row = this.statements.getUser.get(id)!;
    }
    this.knownUsers.add(id);
    return toUser(row);
  }

  async userExists(id: string): Promise<boolean> {
    if (this.knownUsers.has(id)) return true;
    if (this.statements.userExists.get(id) === undefined) return false;
    this.knownUsers.add(id);
    return true;
  }

  async getUser(id: string): Promise<UserRecord | undefined> {
    const row = this.statements.getUser.get(id);
    return row && toUser(row);
  }

  async updateUser(id: string, changes: UserChanges): Promise<UserRecord | undefined> {
    const done = this.db.transaction(() => {
      // The avatar is checked in the write: the file must still be the user's live image (an orphan sweep
      // or a release between the caller's check and this write makes the change fail, changing nothing).
      if (changes.avatarFileId !== undefined) {
        const set = this.statements.setAvatar.run({ file: changes.avatarFileId, user: id }).changes;
        if (set === 0) return false;
      }
      if (changes.name !== undefined) this.statements.setName.run(changes.name, id);
      if (changes.readReceipts !== undefined) this.statements.setReceipts.run(changes.readReceipts ? 1 : 0, id);
      return true;
    })();
    return done ? (await this.getUser(id))! : undefined;
  }

  async setLastSeen(userId: string, at: number): Promise<void> {
    this.statements.setLastSeen.run(at, userId);
  }

  async changePassword(
    id: string,
    newHash: string,
    at: number,
    expectedHash?: string,
    audit?: AuditDraft,
  ): Promise<boolean> {
    const expected = expectedHash ?? null;
    return this.audited(
      audit,
      () => this.statements.changePassword.run({ id, hash: newHash, at, expected }).changes > 0,
    );
  }

  /** Runs `change` and, when it changed something, appends `audit` in the same transaction. */
  private audited<T>(audit: AuditDraft | undefined, change: () => T): T {
    return this.db.transaction(() => {
      const result = change();
      if (audit && result) appendAudit(this.db, audit);
      return result;
    })();
  }

  async revokeTokens(id: string, at: number, audit?: AuditDraft): Promise<UserRecord | undefined> {
    if (!this.audited(audit, () => this.statements.revokeTokens.run(at, id).changes > 0)) return undefined;
    return this.getUser(id);
  }

  async revokeToken(token: RevokedToken, at: number, maxPerUser: number): Promise<"token" | "all"> {
    return this.db.transaction(() => {
      if (this.statements.countRevoked.get(token.userId)! >= maxPerUser) {
        this.statements.revokeTokens.run(at, token.userId);
        this.statements.dropRevokedOf.run(token.userId);
        return "all" as const;
      }
      this.statements.insertRevoked.run(token.hash, token.userId, token.expiresAt);
      return "token" as const;
    })();
  }

  async isTokenRevoked(hash: string): Promise<boolean> {
    return this.statements.isRevoked.get(hash) !== undefined;
  }

  async revokedAmong(hashes: readonly string[]): Promise<string[]> {
    if (hashes.length === 0) return [];
    return this.statements.revokedAmong.all(JSON.stringify(hashes));
  }

  async accessStates(userIds: readonly string[]): Promise<AccessState[]> {
    if (userIds.length === 0) return [];
    return this.statements.accessStates
      .all(JSON.stringify(userIds))
      .map((row) => ({ id: row.id, disabledAt: row.disabled_at, tokensValidAfter: row.tokens_valid_after }));
  }

  async pruneRevokedTokens(now: number, limit: number): Promise<number> {
    return this.statements.pruneRevoked.run(now, limit).changes;
  }

  async setDisabled(id: string, disabledAt: number | null, audit?: AuditDraft): Promise<UserRecord | undefined> {
    if (!this.audited(audit, () => this.statements.setDisabled.run({ id, at: disabledAt }).changes > 0))
      return undefined;
    return this.getUser(id);
  }

  async setAdmin(id: string, admin: boolean, audit?: AuditDraft): Promise<UserRecord | undefined> {
    if (!this.audited(audit, () => this.statements.setAdmin.run(admin ? 1 : 0, id).changes > 0)) return undefined;
    return this.getUser(id);
  }

  async listUsers(query: { q?: string | undefined; after?: string | undefined; limit: number }): Promise<UserRecord[]> {
    const q = query.q === undefined || query.q === "" ? null : `%${likeEscaped(query.q)}%`;
    return this.statements.listUsers.all({ q, after: query.after ?? null, limit: query.limit }).map(toUser);
  }
}
