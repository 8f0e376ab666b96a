import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import Database from "better-sqlite3";
import type { Config } from "./config.js";

/** A backup that cannot be made as asked; the message says what to do instead. */
export class BackupError extends Error {
  override readonly name = "BackupError";
}

/** What `backupDatabase` copied. */
export interface BackupResult {
  /** The database that was copied (`DATA_DIR/chat.db`). */
  source: string;
  /** The new file. */
  target: string;
  /** Database pages copied. */
  pages: number;
  /** Size of the copy in bytes. */
  bytes: number;
}

/**
 * Copies `DATA_DIR/chat.db` to `target` with SQLite's online backup API (better-sqlite3's `db.backup`), safe
 * while the server runs: the database is in WAL mode, so the copy reads one consistent snapshot and the
 * server keeps committing meanwhile. All pages go in one step, because a step after another process's commit
 * would restart the copy. Refuses a PostgreSQL store (`DATABASE_URL`: use pg_dump), a target that exists
 * (a backup never overwrites) and a missing database.
 * @example
 * const { pages } = await backupDatabase(loadConfig(process.env), "backups/chat-2026-12-01.db");
 */
export async function backupDatabase(
  config: Pick<Config, "dataDir" | "databaseUrl">,
  target: string,
): Promise<BackupResult> {
  if (config.databaseUrl !== undefined) {
    throw new BackupError(
      "DATABASE_URL is set: the store and the uploads are in PostgreSQL; back them up with pg_dump (this command copies the SQLite database)",
    );
  }
  const source = resolve(config.dataDir, "chat.db");
  const destination = resolve(target);
  if (existsSync(destination)) throw new BackupError(`${target} exists; a backup never overwrites: choose a new file`);
  if (!existsSync(dirname(destination))) throw new BackupError(`${dirname(target)}: no such directory`);
  if (!existsSync(source))
    throw new BackupError(`no database at ${source}; set DATA_DIR to the server's data directory`);
  // Read-only: the backup cannot change the server's database; WAL lets it read while the server writes.
  const db = new Database(source, { readonly: true, fileMustExist: true });
  try {
    const { totalPages } = await db.backup(destination, { progress: ({ totalPages: pages }) => pages });
    const pageSize = db.pragma("page_size", { simple: true }) as number;
    return { source, target: destination, pages: totalPages, bytes: totalPages * pageSize };
  } finally {
    db.close();
  }
}
