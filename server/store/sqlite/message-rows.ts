import type Database from "better-sqlite3";
import { messageColumns, type MessageRow } from "../rows.js";

/** Prepares a statement whose rows are read as MessageRow arrays. */
export const messageRows = <P extends unknown[] | object>(db: Database.Database, sql: string) =>
  db.prepare<P, MessageRow>(sql).raw(true);

/** The sender's message with an idempotency key (the lookup before an append, and `messageByClientId`). */
export const BY_CLIENT_ID_SQL = `SELECT ${messageColumns()} FROM messages WHERE sender = ? AND client_msg_id = ?`;

/**
 * The key of the direct conversation between `dc.user_id` and `dc.peer` (what directConversation() makes:
 * the two ids in order; user ids are ASCII, so SQLite's byte order is JavaScript's).
 */
export const DIRECT_KEY_SQL = `CASE WHEN dc.user_id < dc.peer THEN 'd:' || dc.user_id || '|' || dc.peer
  ELSE 'd:' || dc.peer || '|' || dc.user_id END`;
