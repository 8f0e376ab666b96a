import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { StoredMessage } from "../../../shared/schemas.js";
import type { GroupCommit } from "./group-commit.js";
import type { SqliteOutbox } from "./outbox.js";
import type { MessageRow } from "../rows.js";
import { MIGRATIONS } from "./migrations.js";

/**
 * Opens the database at `file` (creating its directory; `:memory:` too) in WAL mode with the store's pragmas,
 * and brings its schema up to date.
 */
export function openDatabase(file: string, sync: "full" | "normal"): Database.Database {
  if (file !== ":memory:") mkdirSync(dirname(file), { recursive: true });
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  db.pragma(`synchronous = ${sync === "full" ? "FULL" : "NORMAL"}`);
  db.pragma("foreign_keys = ON");
  db.pragma("busy_timeout = 5000");
  // A 64 MiB page cache (SQLite's default is 2 MiB): the recent pages of active conversations stay in it.
  db.pragma("cache_size = -65536");
  // Checkpoint the WAL every ~40 MiB instead of ~4 MiB: the pages every commit touches (the tails of
  // active conversations in each index) are copied to the database once per checkpoint, so fewer
  // checkpoints copy far fewer pages (about a third less CPU per stored direct message in a bench of
  // 300-message commits). The file is cut back to 64 MiB after a checkpoint.
  db.pragma("wal_autocheckpoint = 10000");
  db.pragma("journal_size_limit = 67108864");
  migrate(db);
  return db;
}

/** Applies the migrations after the one `user_version` records, each in its own transaction. */
function migrate(db: Database.Database): void {
  const current = db.pragma("user_version", { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new Error(`database schema version ${current} is newer than this server (${MIGRATIONS.length})`);
  }
  MIGRATIONS.slice(current).forEach((sql, index) => {
    db.transaction(() => {
      db.exec(sql);
      db.pragma(`user_version = ${current + index + 1}`);
    })();
  });
}

/**
 * The one counter behind message ids and revs. This store is the only writer of its database, so it hands
 * out values itself: an insert takes the next one as its id and rev, every later change of that message the
 * next one as its rev. A rolled-back transaction leaves a gap, never a reuse.
 */
export class Sequence {
  private value: number;

  /** Starts after the highest id or rev the database holds (or ever handed out, per `sqlite_sequence`). */
  constructor(db: Database.Database) {
    const highest = db
      .prepare<[], { high: number | null }>(
        `SELECT MAX(COALESCE((SELECT MAX(id) FROM messages), 0), COALESCE((SELECT MAX(rev) FROM messages), 0),
           COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'messages'), 0)) AS high`,
      )
      .get();
    this.value = highest?.high ?? 0;
  }

  /** The last value handed out. */
  get current(): number {
    return this.value;
  }

  /** Hands out the next value. */
  next(): number {
    return ++this.value;
  }
}

/**
 * What the repositories over one database share: the connection, the id/rev counter, the mapping of a
 * message row, the group commit that every append goes through, and the webhook outbox.
 */
export interface SqliteContext {
  readonly db: Database.Database;
  readonly seq: Sequence;
  readonly toMessage: (row: MessageRow) => StoredMessage;
  readonly commits: GroupCommit;
  /** Writes webhook events inside a repository's transaction. */
  readonly outbox: SqliteOutbox;
}
