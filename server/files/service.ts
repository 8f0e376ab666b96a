import { setImmediate as nextTurn } from "node:timers/promises";
import type { BackgroundErrorReporter } from "../background.js";
import type { FileBlobs, FileCursor, FileRecord, Store } from "../store/types.js";

/** The `task` label of the orphan sweep's failures in `chat_background_errors_total`. */
export const SWEEP_TASK = "upload-sweep";
/** The `task` label of failures to remove a file whose last message was deleted. */
export const RELEASE_TASK = "file-release";

/** Longest pause between two sweeps, whatever the TTL. */
const MAX_SWEEP_INTERVAL_MS = 3_600_000;

/** Options of the file service. */
export interface FileServiceOptions {
  store: Store;
  /** Where the bytes of the files live. */
  blobs: FileBlobs;
  /** Most bytes one user's live files may total. */
  quotaBytes: number;
  /** How long a file no message ever referenced is kept. */
  orphanTtlMs: number;
  /** Pause between two orphan sweeps. @default min(orphanTtlMs / 4, 1 h) */
  sweepIntervalMs?: number;
  /** Files looked at (and at most removed) per sweep transaction. @default 500 */
  sweepBatch?: number;
  now: () => number;
  /** Logs and counts a failure (`chat_background_errors_total{task}`). */
  onBackgroundError: BackgroundErrorReporter;
}

/**
 * The lifecycle of uploads: admission within the owner's quota, removal of a file once no message references
 * it, and the periodic sweep of files never sent. Removal marks the row first (the file answers 404 from then
 * on), unlinks the bytes, then drops the row; a row left marked (a crash, a failed unlink) is finished by the
 * next sweep. Failures are logged and counted, never thrown at the caller.
 */
export class FileService {
  private readonly sweepIntervalMs: number;
  private readonly batch: number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  /** How far by age the orphan sweep has looked; files before it were kept because a message held them. */
  private cursor: FileCursor | undefined;
  private closed = false;

  constructor(private readonly options: FileServiceOptions) {
    this.sweepIntervalMs =
      options.sweepIntervalMs ?? Math.max(1, Math.min(Math.floor(options.orphanTtlMs / 4), MAX_SWEEP_INTERVAL_MS));
    this.batch = options.sweepBatch ?? 500;
  }

  /** Bytes the owner may still store (0 when at or over the quota). */
  async remainingBytes(owner: string): Promise<number> {
    return Math.max(0, this.options.quotaBytes - (await this.options.store.fileBytesOf(owner)));
  }

  /** Records an upload whose bytes are in place if it fits its owner's quota; false when it does not. */
  admit(file: FileRecord): Promise<boolean> {
    return this.options.store.createFileWithinQuota(file, this.options.quotaBytes);
  }

  /**
   * Removes a file if no message references it any more (called once a message holding it was deleted).
   * Never rejects: a failure is logged and counted, and the sweep finishes a file left marked.
   */
  async releaseIfUnreferenced(fileId: string): Promise<void> {
    try {
      if (await this.options.store.releaseFile(fileId, this.options.now()))
        await this.removeBytes([fileId], RELEASE_TASK);
    } catch (err) {
      this.options.onBackgroundError(RELEASE_TASK, err);
    }
  }

  /** Starts the periodic orphan sweep (an unref'd timer: it never keeps the process alive). */
  start(): void {
    if (this.closed || this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.sweepNow()
        .then(
          () => undefined,
          (err: unknown) => this.options.onBackgroundError(SWEEP_TASK, err),
        )
        .finally(() => {
          this.running = undefined;
          this.start();
        });
    }, this.sweepIntervalMs).unref();
  }

  /**
   * One sweep: finishes files left marked, then removes the files older than the TTL that no message
   * references, a bounded batch per transaction, yielding to the event loop between batches. Resolves the
   * number of files removed.
   */
  async sweepNow(): Promise<number> {
    const { store, now, orphanTtlMs } = this.options;
    let removed = 0;
    for (;;) {
      const marked = await store.markedFiles(this.batch);
      const done = await this.removeBytes(marked, SWEEP_TASK);
      removed += done;
      // Stop at a short batch, or at one with failures (they would come back at once).
      if (marked.length < this.batch || done < marked.length || this.closed) break;
      await nextTurn();
    }
    const before = now() - orphanTtlMs;
    while (!this.closed) {
      const { marked, next } = await store.markOrphanFiles(this.cursor, before, now(), this.batch);
      if (next === undefined) break;
      this.cursor = next;
      removed += await this.removeBytes(marked, SWEEP_TASK);
      await nextTurn();
    }
    return removed;
  }

  /** Stops the sweep and waits for one under way to stop at its next batch. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** Unlinks the bytes of marked files and drops the rows of those whose bytes are gone; returns how many. */
  private async removeBytes(ids: readonly string[], task: string): Promise<number> {
    if (ids.length === 0) return 0;
    const gone: string[] = [];
    for (const id of ids) {
      try {
        await this.options.blobs.remove(id);
        gone.push(id);
      } catch (err) {
        this.options.onBackgroundError(task, err);
      }
    }
    await this.options.store.forgetFiles(gone);
    return gone.length;
  }
}
