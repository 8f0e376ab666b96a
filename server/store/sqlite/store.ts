import type Database from "better-sqlite3";
import { RepositoryStore } from "../repository-store.js";
import { messageMapper } from "../rows.js";
import { openDatabase, Sequence, type SqliteContext } from "./database.js";
import { SqliteFiles } from "./files.js";
import { GroupCommit } from "./group-commit.js";
import { prepareOutbox, SqliteWebhooks } from "./outbox.js";
import { SqliteMessages } from "./messages.js";
import { SqliteModeration } from "./moderation.js";
import { SqliteReadState } from "./read-state.js";
import { SqliteRooms } from "./rooms.js";
import { SqliteSearch } from "./search.js";
import { SqliteUsers } from "./users.js";

/** Options of the SQLite store. */
export interface SqliteStoreOptions {
  /** Database file path, or `:memory:`. */
  file: string;
  /** `full` fsyncs each commit; `normal` may lose the last commits on power loss (not on a process crash). */
  sync: "full" | "normal";
  /** Turns a stored file id into the URL clients fetch it from. */
  fileUrl: (fileId: string) => string;
  /** Told after each group commit, for metrics. */
  onCommit?: (durationMs: number, messages: number, otherWrites: number) => void;
  /** Clock for the lobby's creation time. */
  now?: () => number;
  /** How long after a commit the full-text index catches up (default 250 ms); searches catch it up first. */
  searchIndexDelayMs?: number;
  /**
   * Told when background work fails: the search indexer (task `search-index`). The store logs nothing
   * itself; it carries on and retries, so this is for the log line and the metric.
   */
  onBackgroundError?: (task: string, error: unknown) => void;
  /** The indexer's first retry delay after a failure; it doubles per failure in a row, up to 60 s. @default 1000 */
  searchIndexRetryMs?: number;
}

/**
 * The SQLite store (better-sqlite3, WAL): one repository per aggregate over one database. Message appends
 * made in the same event-loop turn share one transaction (group commit); each append resolves only after
 * that transaction committed.
 */
export class SqliteStore extends RepositoryStore {
  private readonly db: Database.Database;
  private readonly commits: GroupCommit;
  private readonly fullText: SqliteSearch;

  constructor(options: SqliteStoreOptions) {
    const db = openDatabase(options.file, options.sync);
    const base = { db, seq: new Sequence(db), toMessage: messageMapper(options.fileUrl), outbox: prepareOutbox(db) };
    // The indexer is told of every commit; it exists by the time the first one runs (a later turn).
    const commits = new GroupCommit(base, {
      onCommit: options.onCommit,
      afterCommit: () => fullText.scheduleIndexing(),
    });
    const context: SqliteContext = { ...base, commits };
    const fullText = new SqliteSearch(context, {
      delayMs: options.searchIndexDelayMs,
      retryMs: options.searchIndexRetryMs,
      onBackgroundError: options.onBackgroundError,
    });
    const rooms = new SqliteRooms(context);
    super({
      users: new SqliteUsers(context),
      rooms,
      files: new SqliteFiles(context),
      messages: new SqliteMessages(context),
      readState: new SqliteReadState(context),
      search: fullText,
      webhooks: new SqliteWebhooks(db, base.outbox),
      moderation: new SqliteModeration(context),
    });
    this.db = db;
    this.commits = commits;
    this.fullText = fullText;
    rooms.ensureLobby((options.now ?? Date.now)());
    this.fullText.scheduleIndexing();
  }

  /** The raw database, for tests and diagnostics (EXPLAIN QUERY PLAN). */
  get database(): Database.Database {
    return this.db;
  }

  isOpen(): boolean {
    return this.db.open;
  }

  async close(): Promise<void> {
    if (!this.db.open) return;
    this.commits.flush();
    this.fullText.stop();
    this.db.close();
  }
}
