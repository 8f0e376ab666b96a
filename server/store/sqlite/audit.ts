import type Database from "better-sqlite3";
import type { AuditEntry, AuditPage } from "../../../shared/schemas.js";
import { auditLimit, auditPageSql, auditValues, INSERT_AUDIT_SQL, toAuditEntry, type AuditRow } from "../audit-rows.js";
import type { AuditDraft, AuditQuery } from "../moderation.js";

const statements = new WeakMap<Database.Database, Database.Statement<unknown[], AuditRow>>();

/**
 * Appends an audit entry on `db`. Call it inside the `db.transaction` that makes the change it records, so the
 * change and its entry commit together (or neither does).
 * @example db.transaction(() => { disable.run(id); appendAudit(db, { at, actor, action: "user.disable", targetUserId: id }); })();
 */
export function appendAudit(db: Database.Database, entry: AuditDraft): AuditEntry {
  let insert = statements.get(db);
  if (!insert) statements.set(db, (insert = db.prepare<unknown[], AuditRow>(INSERT_AUDIT_SQL)));
  return toAuditEntry(insert.get(...auditValues(entry))!);
}

/** A page of the audit log on SQLite. */
export function auditPage(db: Database.Database, query: AuditQuery): AuditPage {
  const { sql, values } = auditPageSql(query, () => "?");
  const rows = db.prepare<unknown[], AuditRow>(sql).all(...values);
  const limit = auditLimit(query);
  return { entries: rows.slice(0, limit).map(toAuditEntry), hasMore: rows.length > limit };
}
