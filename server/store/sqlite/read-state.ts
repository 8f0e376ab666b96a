import { keyPair, messageColumns, summaryMapper, type SummaryRow } from "../rows.js";
import { UNREAD_CAP } from "../types.js";
import type { ReadPosition, ReadPositionsPage } from "../../../shared/schemas.js";
import type { ConversationKey, ConversationKeys, ConversationRow, ReadMove, ReadStateRepository } from "../types.js";
import type { SqliteContext } from "./database.js";
import { DIRECT_KEY_SQL } from "./message-rows.js";

/** Moves a read position forward only (also run by the group commit: sending reads up to one's own message). */
export const MOVE_READ_SQL = `INSERT INTO read_positions (user_id, conversation, last_read_id) VALUES (?, ?, ?)
  ON CONFLICT DO UPDATE SET last_read_id = MAX(last_read_id, excluded.last_read_id)`;

/**
 * Every room (or direct conversation) of `@user` with its name, read position, unread count (stopping at
 * `@cap`) and newest message, in one statement: per conversation a few index seeks,
 * where `conversation:list` ran five queries per conversation before (issue 12, item 7).
 */
export function conversationRowsSql(kind: "rooms" | "direct"): string {
  const source =
    kind === "rooms"
      ? `SELECT rm.room_id AS id, r.name AS name, NULL AS avatar, rm.joined_at AS joined_at, 'r:' || rm.room_id AS key
         FROM room_members rm JOIN rooms r ON r.id = rm.room_id WHERE rm.user_id = @user`
      : `SELECT dc.peer AS id, u.name AS name, u.avatar_file_id AS avatar, 0 AS joined_at, ${DIRECT_KEY_SQL} AS key
         FROM direct_conversations dc LEFT JOIN users u ON u.id = dc.peer WHERE dc.user_id = @user`;
  return `
    SELECT c.id, c.name, c.avatar, c.joined_at, COALESCE(rp.last_read_id, 0),
      (SELECT COUNT(*) FROM (SELECT 1 FROM messages u INDEXED BY messages_rev_by_conversation
        WHERE u.conversation = c.key AND u.rev > COALESCE(rp.last_read_id, 0) AND u.id > COALESCE(rp.last_read_id, 0)
        AND u.sender != @user AND u.deleted_at IS NULL LIMIT @cap)),
      ${messageColumns("m.")}
    FROM (${source}) c
    LEFT JOIN read_positions rp ON rp.user_id = @user AND rp.conversation = c.key
    LEFT JOIN messages m ON m.id = (SELECT id FROM messages WHERE conversation = c.key ORDER BY id DESC LIMIT 1)
    ORDER BY ${kind === "rooms" ? "c.joined_at, c.id" : "c.id"}`;
}

/** Read positions, unread counts and the conversation list, in SQLite. */
export class SqliteReadState implements ReadStateRepository {
  private readonly statements;

  constructor(private readonly context: SqliteContext) {
    const { db } = context;
    this.statements = {
      // Changes a row only when the position moves forward (or is new): `changes` says whether it moved.
      readUpTo: db.prepare<[string, string, number]>(
        `INSERT INTO read_positions (user_id, conversation, last_read_id) VALUES (?, ?, ?)
         ON CONFLICT DO UPDATE SET last_read_id = excluded.last_read_id WHERE excluded.last_read_id > last_read_id`,
      ),
      readPosition: db.prepare<[string, string], { last_read_id: number }>(
        "SELECT last_read_id FROM read_positions WHERE user_id = ? AND conversation = ?",
      ),
      unread: db.prepare<{ a: string; b: string; after: number; user: string; cap: number }, { n: number }>(
        `SELECT COUNT(*) AS n FROM (SELECT 1 FROM messages INDEXED BY messages_rev_by_conversation
         WHERE conversation IN (@a, @b) AND rev > @after AND id > @after
         AND sender != @user AND deleted_at IS NULL LIMIT @cap)`,
      ),
      roomRows: db.prepare<{ user: string; cap: number }, SummaryRow>(conversationRowsSql("rooms")).raw(true),
      directRows: db.prepare<{ user: string; cap: number }, SummaryRow>(conversationRowsSql("direct")).raw(true),
      directPeers: db.prepare<[string], { peer: string }>("SELECT peer FROM direct_conversations WHERE user_id = ?"),
      roomPositions: db.prepare<{ key: string; room: string; after: string; limit: number }, ReadPosition>(
        `SELECT u.id AS userId, COALESCE(rp.last_read_id, 0) AS lastReadId FROM room_members rm
         JOIN users u ON u.id = rm.user_id
         LEFT JOIN read_positions rp ON rp.user_id = u.id AND rp.conversation = @key
         WHERE rm.room_id = @room AND rm.user_id > @after AND u.read_receipts = 1 ORDER BY rm.user_id LIMIT @limit`,
      ),
      userPositions: db.prepare<{ key: string; users: string; after: string; limit: number }, ReadPosition>(
        `SELECT u.id AS userId, COALESCE(rp.last_read_id, 0) AS lastReadId FROM users u
         LEFT JOIN read_positions rp ON rp.user_id = u.id AND rp.conversation = @key
         WHERE u.id IN (SELECT value FROM json_each(@users)) AND u.id > @after AND u.read_receipts = 1
         ORDER BY u.id LIMIT @limit`,
      ),
    };
  }

  async readPositions(
    conversation: ConversationKey,
    people: { room: string } | { users: string[] },
    after: string | undefined,
    limit: number,
  ): Promise<ReadPositionsPage> {
    const page = { key: conversation, after: after ?? "", limit: limit + 1 };
    const rows =
      "room" in people
        ? this.statements.roomPositions.all({ ...page, room: people.room })
        : this.statements.userPositions.all({ ...page, users: JSON.stringify(people.users) });
    return { reads: rows.slice(0, limit), hasMore: rows.length > limit };
  }

  async readPosition(userId: string, conversation: ConversationKey): Promise<number> {
    return this.statements.readPosition.get(userId, conversation)?.last_read_id ?? 0;
  }

  async moveReadPosition(userId: string, conversation: ConversationKey, lastReadId: number): Promise<ReadMove> {
    return this.context.db.transaction(() => {
      const moved = this.statements.readUpTo.run(userId, conversation, lastReadId).changes > 0;
      return { position: this.statements.readPosition.get(userId, conversation)!.last_read_id, moved };
    })();
  }

  async unreadCount(userId: string, conversation: ConversationKeys, after: number): Promise<number> {
    const [a, b] = keyPair(conversation);
    return this.statements.unread.get({ a, b, after, user: userId, cap: UNREAD_CAP })!.n;
  }

  async conversationRows(userId: string): Promise<{ rooms: ConversationRow[]; direct: ConversationRow[] }> {
    const toRow = summaryMapper(this.context.toMessage);
    const params = { user: userId, cap: UNREAD_CAP };
    return {
      rooms: this.statements.roomRows.all(params).map(toRow),
      direct: this.statements.directRows.all(params).map(toRow),
    };
  }

  async directPeers(userId: string): Promise<string[]> {
    return this.statements.directPeers.all(userId).map((row) => row.peer);
  }
}
