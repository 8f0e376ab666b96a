import type { Pool, PoolClient } from "pg";
import { PG_MIGRATIONS } from "./schema.js";

/**
 * The advisory lock key under which migrations run: nodes booting together take turns, and each one that
 * gets the lock applies only what the others have not ("chat" in ASCII, any constant would do).
 */
export const MIGRATION_LOCK_KEY = 0x63686174;

/**
 * Brings the database's schema up to this server's version, safe when several nodes boot at once: the
 * migrations run under a session-level advisory lock, each in its own transaction with its version row, so
 * a node that waited for the lock finds them applied and does nothing. A database newer than this server
 * stops the boot.
 * @returns the schema version now
 */
export async function migratePostgres(pool: Pool, migrations: readonly string[] = PG_MIGRATIONS): Promise<number> {
  const client = await pool.connect();
  try {
    await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK_KEY]);
    try {
      return await applyPending(client, migrations);
    } finally {
      await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY]);
    }
  } finally {
    client.release();
  }
}

async function applyPending(client: PoolClient, migrations: readonly string[]): Promise<number> {
  await client.query("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
  const rows = (await client.query<{ version: number }>("SELECT version FROM schema_version")).rows;
  let current = rows[0]?.version ?? 0;
  if (rows.length === 0) await client.query("INSERT INTO schema_version (version) VALUES (0)");
  if (current > migrations.length) {
    throw new Error(`database schema version ${current} is newer than this server (${migrations.length})`);
  }
  for (const sql of migrations.slice(current)) {
    await client.query("BEGIN");
    try {
      await client.query(sql);
      await client.query("UPDATE schema_version SET version = $1", [current + 1]);
      await client.query("COMMIT");
    } catch (error) {
      await client.query("ROLLBACK");
      throw error;
    }
    current += 1;
  }
  return current;
}
