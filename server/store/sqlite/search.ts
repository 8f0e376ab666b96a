import type { StoredMessage } from "../../../shared/schemas.js";
import { SEARCH_CANDIDATES, type ConversationKeys, type SearchRepository } from "../types.js";
import type { SqliteContext } from "./database.js";
import { keyPair, messageColumns } from "../rows.js";
import { messageRows } from "./message-rows.js";

/** Ids indexed per full-text transaction: big enough to amortise FTS5's segment writes, small enough not to stall. */
const SEARCH_INDEX_CHUNK = 500;
/** The longest the indexer waits before retrying after failures in a row. */
const SEARCH_INDEX_RETRY_MAX_MS = 60_000;

export { SEARCH_CANDIDATES };

interface SearchParams {
  user: string;
  match: string;
  a: string | null;
  b: string | null;
  limit: number;
  candidates: number;
}

/**
 * The one FTS5 token a conversation key is indexed under in the `scope` column (see migration 9): `k` and
 * the key's UTF-8 in hex, as SQLite's `hex()` writes it. A key's own characters (`:`, `|`, `*`) are not
 * token characters, so the key itself could not be matched exactly.
 */
export const scopeToken = (key: string): string => `k${Buffer.from(key, "utf8").toString("hex").toUpperCase()}`;

/**
 * Full-text search over what a user may see, tombstones excluded: best match first (bm25 of the text),
 * then newest. The newest `@candidates` matches are examined (FTS5 reads them in rowid order and stops;
 * bm25 is computed for those only), then filtered by what the user may see, ranked and cut to `@limit`.
 *
 * The trade-off: across all conversations, a match the user may see that is older than `@candidates`
 * newer matches of the same words is not found, even when none of those newer ones is visible to the user
 * (a rare word is found: it has few matches). A search restricted to a conversation (`@a`/`@b`) puts the
 * conversation's scope token in the FTS5 query itself, so its candidates are that conversation's newest
 * matches only and nothing outside it can crowd them out. bm25's weights read each searched word's and
 * scope's posting counts once per search (FTS5 counts them), and FTS5 walks each word's postings to
 * intersect them: those still grow with the history, per distinct word (about 5 ms for a word in half of
 * 250k messages, about 110 ms for 8 such words; measured with bench/diagnostics/query-bounds.ts).
 */
export const SEARCH_SQL = `
  WITH hits AS (
    SELECT rowid AS id, bm25(messages_fts, 1.0, 0.0) AS score FROM messages_fts
    WHERE messages_fts MATCH @match ORDER BY rowid DESC LIMIT @candidates)
  SELECT ${messageColumns("m.")} FROM hits JOIN messages m ON m.id = hits.id
  WHERE m.deleted_at IS NULL
    AND (@a IS NULL OR m.conversation IN (@a, @b))
    AND (
      m.conversation IN (SELECT 'r:' || room_id FROM room_members WHERE user_id = @user)
      OR m.recipient_user = @user
      OR (m.sender = @user AND m.message_type = 'single')
      OR m.conversation = '*'
    )
  ORDER BY hits.score, m.id DESC LIMIT @limit`;

/** When the full-text index catches up, and who hears of its failures. */
export interface SearchIndexOptions {
  /** How long after a commit the full-text index catches up; searches catch it up first. @default 250 */
  delayMs?: number;
  /** The indexer's first retry delay after a failure; it doubles per failure in a row, up to 60 s. @default 1000 */
  retryMs?: number;
  /** Told when the indexer fails (task `search-index`). */
  onBackgroundError?: (task: string, error: unknown) => void;
}

/**
 * Full-text search in SQLite (FTS5), and the background indexer that brings the index up to the committed
 * messages a little after each commit, retrying with backoff when it fails.
 */
export class SqliteSearch implements SearchRepository {
  private readonly statements;
  private readonly indexChunk: (from: number, to: number) => void;
  /** Every message with an id up to this is in the full-text index (persisted in `search_index`). */
  private indexedUpto: number;
  private indexTimer: NodeJS.Timeout | undefined;
  /** Indexer failures in a row; while above 0 a retry is pending and searches do not try to catch up. */
  private indexFailures = 0;

  constructor(
    private readonly context: SqliteContext,
    private readonly options: SearchIndexOptions,
  ) {
    const { db } = context;
    this.statements = {
      search: messageRows<SearchParams>(db, SEARCH_SQL),
      indexedUpto: db.prepare<[], { indexed_upto: number }>("SELECT indexed_upto FROM search_index WHERE id = 1"),
      indexRange: db.prepare<[number, number]>(
        `INSERT INTO messages_fts (rowid, content, scope)
         SELECT id, content, scope FROM messages_search WHERE id > ? AND id <= ? AND content IS NOT NULL`,
      ),
      setIndexedUpto: db.prepare<[number]>("UPDATE search_index SET indexed_upto = ? WHERE id = 1"),
    };
    const indexTransaction = db.transaction((from: number, to: number) => {
      this.statements.indexRange.run(from, to);
      this.statements.setIndexedUpto.run(to);
    });
    // The watermark in memory moves only once the transaction committed: a failed COMMIT (disk full) must
    // leave it where the database has it, or those messages would never be indexed.
    this.indexChunk = (from, to) => {
      indexTransaction(from, to);
      this.indexedUpto = to;
    };
    this.indexedUpto = this.statements.indexedUpto.get()!.indexed_upto;
  }

  async search(
    userId: string,
    terms: readonly string[],
    conversation: ConversationKeys | undefined,
    limit: number,
  ): Promise<StoredMessage[]> {
    const [a, b] = conversation === undefined ? [null, null] : keyPair(conversation);
    // Each word is one quoted FTS5 string (its characters are letters and digits only, so never a quote),
    // matched against the text only (never a scope token); a conversation restricts inside the FTS5 query.
    const words = `content : (${terms.map((word) => `"${word}"`).join(" ")})`;
    const query = a === null ? words : `scope : (${scopeToken(a)} OR ${scopeToken(b!)}) AND ${words}`;
    this.indexAll();
    return this.statements.search
      .all({ user: userId, match: query, a, b, limit, candidates: SEARCH_CANDIDATES })
      .map(this.context.toMessage);
  }

  /** Starts the full-text indexer a little after a commit, so that one batch takes many commits' messages. */
  scheduleIndexing(): void {
    if (this.indexTimer !== undefined || this.indexedUpto >= this.context.seq.current || !this.context.db.open) return;
    this.indexTimer = setTimeout(() => this.indexStep(), this.options.delayMs ?? 250).unref();
  }

  /** Cancels the pending indexer run (before the database closes). */
  stop(): void {
    clearTimeout(this.indexTimer);
    this.indexTimer = undefined;
  }

  /** Indexes one chunk, then yields to the event loop before the next while the index is behind. */
  private indexStep(): void {
    this.indexTimer = undefined;
    const { db, seq } = this.context;
    if (!db.open || this.indexedUpto >= seq.current) return;
    try {
      this.indexChunk(this.indexedUpto, Math.min(this.indexedUpto + SEARCH_INDEX_CHUNK, seq.current));
    } catch (error) {
      this.indexFailed(error);
      return;
    }
    this.indexFailures = 0;
    if (this.indexedUpto < seq.current) this.indexTimer = setTimeout(() => this.indexStep(), 0).unref();
  }

  /**
   * Brings the full-text index up to every committed message (before a search, so it misses none). While
   * the indexer is failing, the search answers from what is indexed and leaves the retry to the timer: a
   * search must not fail, nor each search pay for another failing attempt.
   */
  private indexAll(): void {
    if (this.indexedUpto >= this.context.seq.current || this.indexFailures > 0) return;
    try {
      this.indexChunk(this.indexedUpto, this.context.seq.current);
    } catch (error) {
      this.indexFailed(error);
    }
  }

  /**
   * Reports an indexer failure (disk full, a lock held too long, a damaged index) and retries after a delay
   * that doubles with each failure in a row, so a lasting fault neither ends the process nor spins.
   * Commits in the meantime do not reschedule (`scheduleIndexing` sees the pending timer).
   */
  private indexFailed(error: unknown): void {
    this.indexFailures += 1;
    try {
      this.options.onBackgroundError?.("search-index", error);
    } catch {
      // The reporter's own failure must not turn this one fatal: the retry below still has to be set.
    }
    if (!this.context.db.open) return;
    clearTimeout(this.indexTimer);
    const first = this.options.retryMs ?? 1000;
    const delay = Math.min(first * 2 ** Math.min(this.indexFailures - 1, 20), SEARCH_INDEX_RETRY_MAX_MS);
    this.indexTimer = setTimeout(() => this.indexStep(), delay).unref();
  }
}
