import type pg from "pg";
import type { AuditEntry, AuditPage } from "../../../shared/schemas.js";
import { auditLimit, auditPageSql, auditValues, INSERT_AUDIT_SQL, toAuditEntry, type AuditRow } from "../audit-rows.js";
import type { AuditDraft, AuditQuery } from "../moderation.js";
import { query } from "./db.js";

/** INSERT_AUDIT_SQL with PostgreSQL's numbered placeholders. */
const INSERT_SQL = ((): string => {
  let n = 0;
  return INSERT_AUDIT_SQL.replace(/\?/g, () => `$${++n}`);
})();

/**
 * Appends an audit entry on `client`. Pass the PoolClient of the transaction that makes the change it records
 * (`transaction(pool, async (client) => …)`), so the change and its entry commit together (or neither does).
 * @example await transaction(pool, async (client) => { await disable(client, id); await appendAudit(client, entry); });
 */
export async function appendAudit(client: pg.PoolClient | pg.Pool, entry: AuditDraft): Promise<AuditEntry> {
  const rows = await query<AuditRow>(client, INSERT_SQL, auditValues(entry));
  return toAuditEntry(rows.rows[0]!);
}

/** A page of the audit log on PostgreSQL. */
export async function auditPage(pool: pg.Pool, page: AuditQuery): Promise<AuditPage> {
  const { sql, values } = auditPageSql(page, (index) => `$${index}`);
  const rows = (await query<AuditRow>(pool, sql, values)).rows;
  const limit = auditLimit(page);
  return { entries: rows.slice(0, limit).map(toAuditEntry), hasMore: rows.length > limit };
}
