import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

/** The file whose lock says that a server runs on a data directory. */
export const LOCK_FILE = "server.lock";

/** Another server process holds the data directory. */
export class DataDirInUse extends Error {
  override readonly name = "DataDirInUse";
}

/**
 * Takes the data directory for this process, or throws DataDirInUse when another process holds it: two
 * servers on one SQLite database would hand out the same message ids (each counts in memory) and both send
 * the same webhooks. The lock is SQLite's own (an exclusive lock on `DATA_DIR/server.lock`, held until
 * `release` or the process's end, SIGKILL included: the kernel drops it), so it needs no stale-file cleanup.
 * `npm run backup` reads `chat.db`, not this file, and is unaffected. Keep the answer referenced for as long
 * as the lock must hold: a collected connection is closed, and its lock goes with it.
 * @example
 * const lock = lockDataDir(config.dataDir); // before the store opens
 * // ... serve ...
 * lock.release();
 */
export function lockDataDir(dir: string): { release(): void } {
  mkdirSync(dir, { recursive: true });
  const db = new Database(join(dir, LOCK_FILE), { timeout: 0 });
  try {
    // EXCLUSIVE locking mode keeps the lock of the first write until the connection closes.
    db.pragma("locking_mode = EXCLUSIVE");
    db.exec("BEGIN EXCLUSIVE");
    db.exec("CREATE TABLE IF NOT EXISTS holder (pid INTEGER NOT NULL)");
    db.exec(`DELETE FROM holder; INSERT INTO holder (pid) VALUES (${process.pid})`);
    db.exec("COMMIT");
  } catch (error) {
    db.close();
    if ((error as { code?: string }).code === "SQLITE_BUSY") {
      throw new DataDirInUse(
        `DATA_DIR ${dir} is in use by another chat server process: stop it, or set DATA_DIR to another directory`,
      );
    }
    throw error;
  }
  return { release: () => db.close() };
}
