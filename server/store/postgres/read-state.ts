import { keyPair, messageColumns, summaryMapper, type SummaryRow } from "../rows.js";
import type { ReadPositionsPage } from "../../../shared/schemas.js";
import type { ConversationKey, ConversationKeys, ConversationRow, ReadMove, ReadStateRepository } from "../types.js";
import { UNREAD_CAP } from "../types.js";
import type { PgDatabase } from "./db.js";
import { query, queryArrays } from "./db.js";
import { DIRECT_KEY_SQL } from "./message-rows.js";

/**
 * Every room (or direct conversation) of `$1` with its name, read position, unread count (stopping at `$2`)
 * and newest message, in one statement: per conversation a few index probes (the SQLite store's
 * conversationRowsSql, with the newest message as a LATERAL probe of the `(conversation, id)` index).
 */
export function conversationRowsSql(kind: "rooms" | "direct"): string {
  const source =
    kind === "rooms"
      ? `SELECT rm.room_id AS id, r.name AS name, NULL AS avatar, rm.joined_at AS joined_at, 'r:' || rm.room_id AS key
         FROM room_members rm JOIN rooms r ON r.id = rm.room_id WHERE rm.user_id = $1`
      : `SELECT dc.peer AS id, u.name AS name, u.avatar_file_id AS avatar, 0::bigint AS joined_at,
           ${DIRECT_KEY_SQL} AS key
         FROM direct_conversations dc LEFT JOIN users u ON u.id = dc.peer WHERE dc.user_id = $1`;
  return `
    SELECT c.id, c.name, c.avatar, c.joined_at, COALESCE(rp.last_read_id, 0),
      (SELECT COUNT(*) FROM (SELECT 1 FROM messages u WHERE u.conversation = c.key
        AND u.id > COALESCE(rp.last_read_id, 0) AND u.sender <> $1 AND u.deleted_at IS NULL LIMIT $2) unread),
      ${messageColumns("m.")}
    FROM (${source}) c
    LEFT JOIN read_positions rp ON rp.user_id = $1 AND rp.conversation = c.key
    LEFT JOIN LATERAL (SELECT ${messageColumns()} FROM messages WHERE conversation = c.key ORDER BY id DESC LIMIT 1) m
      ON TRUE
    ORDER BY ${kind === "rooms" ? "c.joined_at, c.id" : "c.id"}`;
}

const ROOM_ROWS = conversationRowsSql("rooms");
const DIRECT_ROWS = conversationRowsSql("direct");

/** A page of read positions of a room's members: `$1` conversation key, `$2` room, `$3` after, `$4` limit. */
const ROOM_POSITIONS_SQL = `
  SELECT u.id AS user_id, COALESCE(rp.last_read_id, 0) AS last_read_id FROM room_members rm
  JOIN users u ON u.id = rm.user_id
  LEFT JOIN read_positions rp ON rp.user_id = u.id AND rp.conversation = $1
  WHERE rm.room_id = $2 AND u.id COLLATE "C" > $3 AND u.read_receipts ORDER BY u.id COLLATE "C" LIMIT $4`;

/** The same of given users: `$2` their ids. */
const USER_POSITIONS_SQL = `
  SELECT u.id AS user_id, COALESCE(rp.last_read_id, 0) AS last_read_id FROM users u
  LEFT JOIN read_positions rp ON rp.user_id = u.id AND rp.conversation = $1
  WHERE u.id = ANY($2::text[]) AND u.id COLLATE "C" > $3 AND u.read_receipts ORDER BY u.id COLLATE "C" LIMIT $4`;

/** Read positions, unread counts and the conversation list, on PostgreSQL. */
export class PgReadState implements ReadStateRepository {
  constructor(private readonly db: PgDatabase) {}

  async readPositions(
    conversation: ConversationKey,
    people: { room: string } | { users: string[] },
    after: string | undefined,
    limit: number,
  ): Promise<ReadPositionsPage> {
    const rows = await query<{ user_id: string; last_read_id: number }>(
      this.db.pool,
      "room" in people ? ROOM_POSITIONS_SQL : USER_POSITIONS_SQL,
      [conversation, "room" in people ? people.room : people.users, after ?? "", limit + 1],
    );
    const reads = rows.rows.map((row) => ({ userId: row.user_id, lastReadId: Number(row.last_read_id) }));
    return { reads: reads.slice(0, limit), hasMore: reads.length > limit };
  }

  async readPosition(userId: string, conversation: ConversationKey): Promise<number> {
    const rows = await query<{ last_read_id: number }>(
      this.db.pool,
      "SELECT last_read_id FROM read_positions WHERE user_id = $1 AND conversation = $2",
      [userId, conversation],
    );
    return rows.rows[0]?.last_read_id ?? 0;
  }

  async moveReadPosition(userId: string, conversation: ConversationKey, lastReadId: number): Promise<ReadMove> {
    // One statement: a concurrent move waits on the row, then re-checks the condition against what it
    // committed, so of several moves to one position exactly one moves it.
    const moved = await query<{ last_read_id: number }>(
      this.db.pool,
      `INSERT INTO read_positions (user_id, conversation, last_read_id) VALUES ($1, $2, $3)
       ON CONFLICT (user_id, conversation) DO UPDATE SET last_read_id = excluded.last_read_id
       WHERE read_positions.last_read_id < excluded.last_read_id
       RETURNING last_read_id`,
      [userId, conversation, lastReadId],
    );
    if (moved.rows.length > 0) return { position: moved.rows[0]!.last_read_id, moved: true };
    return { position: await this.readPosition(userId, conversation), moved: false };
  }

  async unreadCount(userId: string, conversation: ConversationKeys, after: number): Promise<number> {
    const rows = await query<{ n: number }>(
      this.db.pool,
      `SELECT COUNT(*) AS n FROM (SELECT 1 FROM messages WHERE conversation IN ($1, $2) AND id > $3
         AND sender <> $4 AND deleted_at IS NULL LIMIT $5) unread`,
      [...keyPair(conversation), after, userId, UNREAD_CAP],
    );
    return rows.rows[0]!.n;
  }

  async conversationRows(userId: string): Promise<{ rooms: ConversationRow[]; direct: ConversationRow[] }> {
    const toRow = summaryMapper(this.db.toMessage);
    const params = [userId, UNREAD_CAP];
    const [rooms, direct] = await Promise.all([
      queryArrays<SummaryRow>(this.db.pool, ROOM_ROWS, params),
      queryArrays<SummaryRow>(this.db.pool, DIRECT_ROWS, params),
    ]);
    return { rooms: rooms.map(toRow), direct: direct.map(toRow) };
  }

  async directPeers(userId: string): Promise<string[]> {
    const rows = await query<{ peer: string }>(
      this.db.pool,
      "SELECT peer FROM direct_conversations WHERE user_id = $1 ORDER BY peer",
      [userId],
    );
    return rows.rows.map((row) => row.peer);
  }
}
