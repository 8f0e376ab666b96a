import type pg from "pg";
import { LOBBY_ROOM_ID, SYSTEM_USER_ID } from "../../../shared/ids.js";
import { RepositoryStore } from "../repository-store.js";
import { messageMapper } from "../rows.js";
import { PgBlobs } from "./blobs.js";
import { createPool, plainError, query, type PgDatabase } from "./db.js";
import { PgFiles } from "./files.js";
import { PgMessages, type PgMessagesOptions } from "./messages.js";
import { PgWebhooks } from "./outbox.js";
import { PgModeration } from "./moderation.js";
import { migratePostgres } from "./migrate.js";
import { PgReadState } from "./read-state.js";
import { PgRooms } from "./rooms.js";
import { PgSearch } from "./search.js";
import { PgUsers } from "./users.js";

/** Options of the PostgreSQL store. */
export interface PgStoreOptions {
  /** `postgres://…` connection string. */
  url: string;
  /** Turns a stored file id into the URL clients fetch it from. */
  fileUrl: (fileId: string) => string;
  /** Clock for the lobby's creation time. @default Date.now */
  now?: () => number;
  /** Told after each group commit, for metrics. */
  onCommit?: (durationMs: number, messages: number) => void;
  /** Connections of this node's pool. @default 10 */
  poolSize?: number;
  /**
   * Told when an idle connection fails (PostgreSQL restarted, the network dropped it): the pool drops it and
   * opens another when needed (task `postgres-pool`). Without a listener, pg would end the process.
   */
  onBackgroundError?: (task: string, error: unknown) => void;
}

/**
 * The PostgreSQL store (cluster mode): the repositories of `postgres/*.ts` over one pool, correct with any
 * number of nodes writing at once. Each check and the write it guards are one statement or one transaction
 * (READ COMMITTED with row and advisory locks); message ids and revs come from one counter row that orders
 * writers by commit. `blobs` keeps uploads' bytes in the same database.
 */
export class PgStore extends RepositoryStore {
  /** Upload bytes, in the same database. */
  readonly blobs: PgBlobs;
  private readonly messages: PgMessages;
  /** Set once close() began: appends are refused from then on (shared with the repositories). */
  private readonly state: { closing?: Promise<void> };
  private readonly hooks: PgMessagesOptions;

  private constructor(
    private readonly pool: pg.Pool,
    options: PgStoreOptions,
  ) {
    const state: { closing?: Promise<void> } = {};
    const db: PgDatabase = {
      pool,
      toMessage: messageMapper(options.fileUrl),
      isOpen: () => state.closing === undefined,
    };
    const hooks: PgMessagesOptions = { onCommit: options.onCommit };
    const messages = new PgMessages(db, hooks);
    super({
      users: new PgUsers(db),
      rooms: new PgRooms(db),
      files: new PgFiles(db, messages),
      messages,
      readState: new PgReadState(db),
      search: new PgSearch(db),
      webhooks: new PgWebhooks(db),
      moderation: new PgModeration(db),
    });
    this.messages = messages;
    this.blobs = new PgBlobs(pool);
    this.state = state;
    this.hooks = hooks;
  }

  /** Reports each group commit (its duration, its messages) to `observer` from now on, replacing `onCommit`. */
  observeCommits(observer: (durationMs: number, messages: number) => void): void {
    this.hooks.onCommit = observer;
  }

  /**
   * Connects, brings the schema up to date (safe when several nodes boot at once: see migratePostgres) and
   * seeds the lobby (once, whichever node comes first).
   */
  static async open(options: PgStoreOptions): Promise<PgStore> {
    const pool = createPool(options.url, options.poolSize ?? 10);
    pool.on("error", (error) => options.onBackgroundError?.("postgres-pool", plainError(error)));
    try {
      await migratePostgres(pool).catch((error: unknown) => {
        throw plainError(error);
      });
      await query(
        pool,
        `INSERT INTO rooms (id, name, visibility, created_by, create_at) VALUES ($1, 'Lobby', 'public', $2, $3)
         ON CONFLICT (id) DO NOTHING`,
        [LOBBY_ROOM_ID, SYSTEM_USER_ID, (options.now ?? Date.now)()],
      );
    } catch (error) {
      await pool.end();
      throw error;
    }
    return new PgStore(pool, options);
  }

  isOpen(): boolean {
    return this.state.closing === undefined;
  }

  /** Resolves when the database answers a query, rejects when it cannot be reached (for `/readyz`). */
  async ping(): Promise<void> {
    await query(this.pool, "SELECT 1");
  }

  /**
   * Stores `value` as setting `name` unless one is stored already, and returns the stored one: nodes booting
   * together agree on the first written (the shared secrets, see resolveSharedSecrets). DO UPDATE, not DO
   * NOTHING: it waits for a concurrent insert of the name and returns that row, which a SELECT in the same
   * statement could not see.
   */
  async claimSetting(name: string, value: string): Promise<string> {
    const rows = await query<{ value: string }>(
      this.pool,
      `INSERT INTO settings (name, value) VALUES ($1, $2)
       ON CONFLICT (name) DO UPDATE SET value = settings.value RETURNING value`,
      [name, value],
    );
    return rows.rows[0]!.value;
  }

  /** Refuses new appends, commits the pending ones, then closes the pool (after its queries in flight). */
  close(): Promise<void> {
    this.state.closing ??= this.messages.flush().finally(() => this.pool.end());
    return this.state.closing;
  }
}
