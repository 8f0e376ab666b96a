import { LOBBY_ROOM_ID } from "../../../shared/ids.js";
import { KnownSet } from "../batch-effects.js";
import { likeEscaped, toUser, type UserRow } from "../rows.js";
import type { AccessState, RevokedToken, UserChanges, UserRecord, UserRepository } from "../types.js";
import type pg from "pg";
import type { AuditDraft } from "../moderation.js";
import { appendAudit } from "./audit.js";
import type { PgDatabase } from "./db.js";
import { query, transaction } from "./db.js";
import { emitEvents } from "./outbox.js";

/** Bound of PgUsers.knownUsers (about 60 bytes each). */
const KNOWN_USERS_MAX = 100_000;

/**
 * Creates a user and seats it in the lobby in one statement: the member row and the lobby's count only when
 * the user row is new. A concurrent creation of the same id waits on the key, then does nothing.
 */
const CREATE_USER = `
  WITH created AS (
    INSERT INTO users (id, name, password_hash, create_at) VALUES ($1, $2, $3, $4)
    ON CONFLICT (id) DO NOTHING RETURNING id),
  seated AS (
    INSERT INTO room_members (room_id, user_id, joined_at) SELECT $5, id, $4 FROM created
    ON CONFLICT DO NOTHING RETURNING room_id),
  counted AS (UPDATE rooms SET member_count = member_count + 1 WHERE id IN (SELECT room_id FROM seated))
  SELECT COUNT(*) AS created FROM created`;

/**
 * Changes a user in one statement. The avatar (when `$4`) must be the user's live image at the moment of
 * writing: the file's row is locked FOR SHARE by the check, so a release of the file waits for this change
 * and then sees the avatar, and a release committed first makes the check fail (nothing changes).
 */
const UPDATE_USER = `
  UPDATE users SET
    name = COALESCE($2, name),
    read_receipts = COALESCE($3, read_receipts),
    avatar_file_id = CASE WHEN $4 THEN $5 ELSE avatar_file_id END
  WHERE id = $1 AND (NOT $4 OR $5::text IS NULL OR EXISTS (
    SELECT 1 FROM files WHERE id = $5 AND owner = $1 AND media_type = 'image' AND deleted_at IS NULL FOR SHARE))
  RETURNING *`;

/** Users on PostgreSQL. */
export class PgUsers implements UserRepository {
  /**
   * Ids of users known to exist, so the check before every direct message does not read the users table.
   * Users are never deleted, so an entry cannot go stale on any node; cleared when it grows past a bound.
   */
  private readonly knownUsers = new KnownSet(KNOWN_USERS_MAX);

  constructor(private readonly db: PgDatabase) {}

  async createUser(user: { id: string; name: string; passwordHash: string | null; createAt: number }) {
    return transaction(this.db.pool, async (client) => {
      const created = await query<{ created: number }>(client, CREATE_USER, [
        user.id,
        user.name,
        user.passwordHash,
        user.createAt,
        LOBBY_ROOM_ID,
      ]);
      if (created.rows[0]!.created !== 1) return false;
      const data = { user: { id: user.id, name: user.name } };
      await emitEvents(client, [{ type: "user.created", at: user.createAt, data }]);
      return true;
    });
  }

  async ensureUser(id: string, name: string, createAt: number): Promise<UserRecord> {
    let user = await this.getUser(id);
    if (!user) {
      await this.createUser({ id, name, passwordHash: null, createAt });
      user = (await this.getUser(id))!;
    }
    this.knownUsers.add(id);
    return user;
  }

  async getUser(id: string): Promise<UserRecord | undefined> {
    const row = (await query<UserRow>(this.db.pool, "SELECT * FROM users WHERE id = $1", [id])).rows[0];
    return row && toUser(row);
  }

  async userExists(id: string): Promise<boolean> {
    if (this.knownUsers.has(id)) return true;
    if ((await query(this.db.pool, "SELECT 1 FROM users WHERE id = $1", [id])).rowCount === 0) return false;
    this.knownUsers.add(id);
    return true;
  }

  async updateUser(id: string, changes: UserChanges): Promise<UserRecord | undefined> {
    const avatar = changes.avatarFileId !== undefined;
    const row = await query<UserRow>(this.db.pool, UPDATE_USER, [
      id,
      changes.name ?? null,
      changes.readReceipts ?? null,
      avatar,
      changes.avatarFileId ?? null,
    ]);
    return row.rows[0] && toUser(row.rows[0]);
  }

  async setLastSeen(userId: string, at: number): Promise<void> {
    await query(this.db.pool, "UPDATE users SET last_seen_at = $1 WHERE id = $2", [at, userId]);
  }

  async changePassword(
    id: string,
    newHash: string,
    at: number,
    expectedHash?: string,
    audit?: AuditDraft,
  ): Promise<boolean> {
    const changed = await this.audited(
      audit,
      `UPDATE users SET password_hash = $2, tokens_valid_after = GREATEST(tokens_valid_after, $3)
       WHERE id = $1 AND ($4::text IS NULL OR password_hash = $4)`,
      [id, newHash, at, expectedHash ?? null],
    );
    return changed.rowCount === 1;
  }

  /**
   * Runs one statement and, when it changed a row, appends `audit` in the same transaction (one round trip
   * without an entry).
   */
  private async audited<R extends pg.QueryResultRow>(
    audit: AuditDraft | undefined,
    text: string,
    values: unknown[],
  ): Promise<pg.QueryResult<R>> {
    if (!audit) return query<R>(this.db.pool, text, values);
    return transaction(this.db.pool, async (client) => {
      const result = await query<R>(client, text, values);
      if ((result.rowCount ?? 0) > 0) await appendAudit(client, audit);
      return result;
    });
  }

  async revokeTokens(id: string, at: number, audit?: AuditDraft): Promise<UserRecord | undefined> {
    const row = await this.audited<UserRow>(
      audit,
      "UPDATE users SET tokens_valid_after = GREATEST(tokens_valid_after, $2) WHERE id = $1 RETURNING *",
      [id, at],
    );
    return row.rows[0] && toUser(row.rows[0]);
  }

  async revokeToken(token: RevokedToken, at: number, maxPerUser: number): Promise<"token" | "all"> {
    return transaction(this.db.pool, async (client) => {
      // The user's row lock makes concurrent sign-outs of one user count one after the other.
      await query(client, "SELECT 1 FROM users WHERE id = $1 FOR UPDATE", [token.userId]);
      const count = await query<{ n: number }>(
        client,
        "SELECT COUNT(*)::int AS n FROM revoked_tokens WHERE user_id = $1",
        [token.userId],
      );
      if (count.rows[0]!.n >= maxPerUser) {
        await query(client, "UPDATE users SET tokens_valid_after = GREATEST(tokens_valid_after, $2) WHERE id = $1", [
          token.userId,
          at,
        ]);
        await query(client, "DELETE FROM revoked_tokens WHERE user_id = $1", [token.userId]);
        return "all" as const;
      }
      await query(
        client,
        "INSERT INTO revoked_tokens (token_hash, user_id, expires_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        [token.hash, token.userId, token.expiresAt],
      );
      return "token" as const;
    });
  }

  async isTokenRevoked(hash: string): Promise<boolean> {
    const found = await query(this.db.pool, "SELECT 1 FROM revoked_tokens WHERE token_hash = $1", [hash]);
    return found.rowCount === 1;
  }

  async revokedAmong(hashes: readonly string[]): Promise<string[]> {
    if (hashes.length === 0) return [];
    const rows = await query<{ token_hash: string }>(
      this.db.pool,
      "SELECT token_hash FROM revoked_tokens WHERE token_hash = ANY($1::text[])",
      [hashes],
    );
    return rows.rows.map((row) => row.token_hash);
  }

  async accessStates(userIds: readonly string[]): Promise<AccessState[]> {
    if (userIds.length === 0) return [];
    const rows = await query<{ id: string; disabled_at: number | null; tokens_valid_after: number }>(
      this.db.pool,
      "SELECT id, disabled_at, tokens_valid_after FROM users WHERE id = ANY($1::text[])",
      [userIds],
    );
    return rows.rows.map((row) => ({
      id: row.id,
      disabledAt: row.disabled_at,
      tokensValidAfter: row.tokens_valid_after,
    }));
  }

  async pruneRevokedTokens(now: number, limit: number): Promise<number> {
    const pruned = await query(
      this.db.pool,
      `DELETE FROM revoked_tokens WHERE token_hash IN
         (SELECT token_hash FROM revoked_tokens WHERE expires_at < $1 ORDER BY expires_at LIMIT $2)`,
      [now, limit],
    );
    return pruned.rowCount ?? 0;
  }

  async setDisabled(id: string, disabledAt: number | null, audit?: AuditDraft): Promise<UserRecord | undefined> {
    const row = await this.audited<UserRow>(
      audit,
      "UPDATE users SET disabled_at = $2::bigint WHERE id = $1 RETURNING *",
      [id, disabledAt],
    );
    return row.rows[0] && toUser(row.rows[0]);
  }

  async setAdmin(id: string, admin: boolean, audit?: AuditDraft): Promise<UserRecord | undefined> {
    const row = await this.audited<UserRow>(audit, "UPDATE users SET admin = $2 WHERE id = $1 RETURNING *", [
      id,
      admin,
    ]);
    return row.rows[0] && toUser(row.rows[0]);
  }

  async listUsers(query_: {
    q?: string | undefined;
    after?: string | undefined;
    limit: number;
  }): Promise<UserRecord[]> {
    const q = query_.q === undefined || query_.q === "" ? null : `%${likeEscaped(query_.q)}%`;
    // ILIKE folds more than ASCII; SQLite's LIKE folds ASCII letters only: the contract says "for ASCII letters".
    const rows = await query<UserRow>(
      this.db.pool,
      `SELECT * FROM users WHERE ($1::text IS NULL OR id > $1)
         AND ($2::text IS NULL OR id ILIKE $2 OR name ILIKE $2)
       ORDER BY id LIMIT $3`,
      [query_.after ?? null, q, query_.limit],
    );
    return rows.rows.map(toUser);
  }
}
