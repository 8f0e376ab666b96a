import { MAX_AUDIT_PAGE, type AuditEntry } from "../../shared/schemas.js";
import type { AuditDraft, AuditQuery } from "./moderation.js";

/** An `audit_log` row. */
export interface AuditRow {
  id: number;
  at: number;
  actor: string;
  action: string;
  room_id: string | null;
  target_user_id: string | null;
  message_id: number | null;
  reason: string | null;
  until: number | null;
}

/** An audit row as the contract shows it (absent fields left out). Shared by both stores. */
export function toAuditEntry(row: AuditRow): AuditEntry {
  const entry: AuditEntry = { id: Number(row.id), at: Number(row.at), actor: row.actor, action: row.action };
  if (row.room_id !== null) entry.roomId = row.room_id;
  if (row.target_user_id !== null) entry.targetUserId = row.target_user_id;
  if (row.message_id !== null) entry.messageId = Number(row.message_id);
  if (row.reason !== null) entry.reason = row.reason;
  if (row.until !== null) entry.until = Number(row.until);
  return entry;
}

/** Inserts one entry and returns its row (`?` placeholders; PostgreSQL numbers them). */
export const INSERT_AUDIT_SQL = `INSERT INTO audit_log (at, actor, action, room_id, target_user_id, message_id, reason, until)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`;

/** The parameters of an audit insert, in INSERT_SQL's order (both stores). */
export const auditValues = (entry: AuditDraft): unknown[] => [
  entry.at,
  entry.actor,
  entry.action,
  entry.roomId ?? null,
  entry.targetUserId ?? null,
  entry.messageId ?? null,
  entry.reason ?? null,
  entry.until ?? null,
];

/**
 * The WHERE clause and parameters of an audit page (both stores; `$n` placeholders for PostgreSQL, `?` for
 * SQLite), newest first.
 */
export function auditPageSql(
  query: AuditQuery,
  placeholder: (index: number) => string,
): { sql: string; values: unknown[] } {
  const conditions: string[] = [];
  const values: unknown[] = [];
  const add = (column: string, value: unknown) => {
    values.push(value);
    conditions.push(`${column} ${placeholder(values.length)}`);
  };
  if (query.before !== undefined) add("id <", query.before);
  if (query.actor !== undefined) add("actor =", query.actor);
  if (query.action !== undefined) add("action =", query.action);
  if (query.roomId !== undefined) add("room_id =", query.roomId);
  if (query.targetUserId !== undefined) add("target_user_id =", query.targetUserId);
  values.push(auditLimit(query) + 1);
  const where = conditions.length > 0 ? `WHERE ${conditions.join(" AND ")}` : "";
  return { sql: `SELECT * FROM audit_log ${where} ORDER BY id DESC LIMIT ${placeholder(values.length)}`, values };
}

/** A page's size: the query's limit, bounded here too whatever the caller validated (1..MAX_AUDIT_PAGE). */
export const auditLimit = (query: AuditQuery): number => Math.max(1, Math.min(query.limit, MAX_AUDIT_PAGE));
