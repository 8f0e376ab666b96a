import { LOBBY_ROOM_ID } from "../../../shared/ids.js";
import { KnownSet } from "../batch-effects.js";
import { toUser, type UserRow } from "../rows.js";
import type { UserChanges, UserRecord, UserRepository } from "../types.js";
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
}
