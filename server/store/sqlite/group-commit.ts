import { AppError, forbidden, notFound } from "../../errors.js";
import { KnownSet, noEffects, noteEffects, splitKey, type BatchEffects } from "../batch-effects.js";
import { draftRow, MESSAGE_COLUMNS, messageColumns, type MessageRow } from "../rows.js";
import type { AppendResult, MessageDraft } from "../types.js";
import type { SqliteContext } from "./database.js";
import { BY_CLIENT_ID_SQL, messageRows } from "./message-rows.js";
import { MOVE_READ_SQL } from "./read-state.js";
import { IS_MEMBER_SQL } from "./rooms.js";
import { MUTED_SQL } from "./moderation-sql.js";

/** Bound of GroupCommit.knownPairs (about 100 bytes each). */
const KNOWN_PAIRS_MAX = 100_000;

interface Pending {
  draft: MessageDraft;
  resolve: (result: AppendResult) => void;
  reject: (error: unknown) => void;
}

/** A write of another kind that joins a group commit (a new user, say), in a savepoint of its own. */
interface Job {
  write: () => unknown;
  /** False for a write that may wait for the next fsynced commit (see `run`). */
  durable: boolean;
  resolve: (result: unknown) => void;
  reject: (error: unknown) => void;
}

/** Who is told about a group commit. */
export interface GroupCommitHooks {
  /** Told after each group commit, for metrics: how long it took, its messages and its other writes. */
  onCommit?: (durationMs: number, messages: number, otherWrites: number) => void;
  /** Called after each group commit that did not fail (the search indexer schedules itself). */
  afterCommit: () => void;
}

/**
 * Message appends made in the same event-loop turn share one transaction; each append resolves only after
 * that transaction committed.
 */
export class GroupCommit {
  private readonly statements;
  private readonly insertBatch: (
    batch: Pending[],
    runJobs: () => void,
  ) => { results: (AppendResult | AppError)[]; pairs: Set<string> };
  /**
   * Direct-conversation pairs (`user\0peer`) known to be stored, so that a conversation's every message
   * does not write its pair again. Filled only after a commit; cleared when it grows past a bound.
   */
  private readonly knownPairs = new KnownSet(KNOWN_PAIRS_MAX);
  private pending: Pending[] = [];
  private jobs: Job[] = [];
  private flushScheduled = false;
  private readonly savepoint: (write: () => unknown) => unknown;
  /** Whether commits are fsynced (`synchronous = FULL`), as the store was opened. */
  private readonly fsyncs: boolean;

  constructor(
    private readonly context: Omit<SqliteContext, "commits">,
    private readonly hooks: GroupCommitHooks,
  ) {
    const { db } = context;
    this.statements = {
      byClientId: messageRows<[string, string]>(db, BY_CLIENT_ID_SQL),
      liveFileOf: db
        .prepare<[string, string], number>("SELECT 1 FROM files WHERE id = ? AND owner = ? AND deleted_at IS NULL")
        .pluck(),
      isMember: db.prepare<[string, string], { one: number }>(IS_MEMBER_SQL),
      isMuted: db.prepare<[string, string, number], { one: number }>(MUTED_SQL),
      insertMessage: db.prepare<[...MessageRow, string | null]>(
        `INSERT INTO messages (${messageColumns()}, recipient_user)
         VALUES (${MESSAGE_COLUMNS.map(() => "?").join(", ")}, ?)`,
      ),
      addDirect: db.prepare("INSERT INTO direct_conversations (user_id, peer) VALUES (?, ?) ON CONFLICT DO NOTHING"),
      readUpTo: db.prepare(MOVE_READ_SQL),
    };
    this.insertBatch = db.transaction((batch: Pending[], runJobs: () => void) => {
      const effects = noEffects();
      const results = batch.map(({ draft }) => this.insertOne(draft, effects));
      this.applyEffects(effects);
      runJobs();
      return { results, pairs: effects.pairs };
    });
    // Inside the batch's transaction, better-sqlite3 runs this as a SAVEPOINT: a job that throws undoes
    // only its own writes.
    this.savepoint = db.transaction((write: () => unknown) => write());
    this.fsyncs = db.pragma("synchronous", { simple: true }) === 2;
  }

  /**
   * Runs `write` inside this turn's group commit, in a savepoint of its own (if it throws, its writes are
   * undone and its promise rejects; the rest commit); resolves with its result once that commit is done.
   * Many small writes of one turn (the users a connect storm creates) then share one transaction and one
   * fsync instead of one each.
   *
   * `durable: false` is for a write that can be made again from what its caller holds (a user created from
   * its token at its first handshake): a commit of only such writes is not fsynced of its own. It survives a
   * crash of the process at once (it is in the WAL) and a power loss once any later commit is fsynced (the
   * fsync of the WAL covers every frame before it); if a power loss takes it first, the next request makes
   * it again.
   */
  run<T>(write: () => T, options: { durable?: boolean } = {}): Promise<T> {
    if (!this.context.db.open) return Promise.reject(new Error("store is closed"));
    return new Promise<T>((resolve, reject) => {
      this.jobs.push({
        write,
        durable: options.durable ?? true,
        resolve: resolve as (result: unknown) => void,
        reject,
      });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  /** Queues a message for this turn's commit; resolves once that commit is done (see `appendMessage`). */
  append(draft: MessageDraft): Promise<AppendResult> {
    if (!this.context.db.open) return Promise.reject(new Error("store is closed"));
    return new Promise((resolve, reject) => {
      this.pending.push({ draft, resolve, reject });
      this.schedule();
    });
  }

  /** Commits every pending append and job in one transaction and settles their promises in order. */
  flush(): void {
    this.flushScheduled = false;
    const batch = this.pending;
    const jobs = this.jobs;
    if (batch.length === 0 && jobs.length === 0) return;
    this.pending = [];
    this.jobs = [];
    const started = performance.now();
    let results: (AppendResult | AppError)[];
    const outcomes: { ok: boolean; value: unknown }[] = [];
    const relaxed = this.fsyncs && batch.length === 0 && jobs.every((job) => !job.durable);
    if (relaxed) this.context.db.pragma("synchronous = NORMAL");
    try {
      const written = this.insertBatch(batch, () => {
        for (const job of jobs) {
          try {
            outcomes.push({ ok: true, value: this.savepoint(job.write) });
          } catch (error) {
            outcomes.push({ ok: false, value: error });
          }
        }
      });
      results = written.results;
      this.knownPairs.addAll(written.pairs);
    } catch (error) {
      for (const item of [...batch, ...jobs]) item.reject(error);
      return;
    } finally {
      if (relaxed) this.context.db.pragma("synchronous = FULL");
    }
    this.hooks.onCommit?.(performance.now() - started, batch.length, jobs.length);
    batch.forEach((item, index) => {
      const result = results[index]!;
      if (result instanceof AppError) item.reject(result);
      else item.resolve(result);
    });
    jobs.forEach((job, index) => {
      const outcome = outcomes[index]!;
      if (outcome.ok) job.resolve(outcome.value);
      else job.reject(outcome.value);
    });
    if (batch.length > 0) this.hooks.afterCommit();
  }

  /**
   * One message of a group commit. What a batch changes besides the rows themselves is collected in `batch`
   * and written once per batch: the sender's read position per conversation, and direct-conversation pairs
   * not yet known.
   */
  private insertOne(draft: MessageDraft, batch: BatchEffects): AppendResult | AppError {
    if (draft.clientMsgId !== undefined) {
      const existing = this.statements.byClientId.get(draft.from, draft.clientMsgId);
      if (existing) return { message: this.context.toMessage(existing), created: false };
    }
    // The file is checked again in the transaction that stores its message: between the sender's check and
    // this commit, the last other message holding it may have been deleted and the file released.
    if (draft.fileId !== undefined && this.statements.liveFileOf.get(draft.fileId, draft.from) === undefined) {
      return notFound("file");
    }
    // Likewise the sender's membership: a leave (or, later, a kick) committed since the sender's check wins.
    if (draft.messageType === "group" && this.statements.isMember.get(draft.to, draft.from) === undefined) {
      return forbidden("not a member of this room");
    }
    // And a mute in force at the send's time (section 11), committed since the sender's check or not.
    if (draft.messageType === "group" && this.statements.isMuted.get(draft.to, draft.from, draft.createAt)) {
      return forbidden("you are muted in this room");
    }
    const id = this.context.seq.next();
    // The row as stored is also the message returned: nothing is read back.
    const row = draftRow(draft, id);
    this.statements.insertMessage.run(...row, draft.recipientUser);
    noteEffects(batch, draft, id);
    const message = this.context.toMessage(row);
    this.context.outbox.add({ type: "message.created", at: draft.createAt, data: { message } });
    return { message, created: true };
  }

  /** Writes what a batch of inserts collected (inside its transaction). */
  private applyEffects(batch: BatchEffects): void {
    for (const pair of batch.pairs) {
      if (this.knownPairs.has(pair)) continue;
      this.statements.addDirect.run(...splitKey(pair));
    }
    for (const [pair, id] of batch.readTo) {
      this.statements.readUpTo.run(...splitKey(pair), id);
    }
  }
}
