import type { StoredMessage } from "../../shared/schemas.js";
import type { Logger } from "../logger.js";

/** What a running worker gets. */
export interface WorkerContext {
  /** The room it serves. */
  readonly roomId: string;
  /** Aborted when the worker must stop: room idle, timeout, or shutdown. `signal.reason` says which. */
  readonly signal: AbortSignal;
  /** Stores a system message in the room and delivers it to the members online now. */
  publish(content: string): Promise<StoredMessage>;
  readonly log: Logger;
}

/** A server-side producer for one room; it should return soon after `signal` aborts. */
export type Worker = (context: WorkerContext) => Promise<void> | void;

/** Options of `WorkerManager.ensure`. */
export interface EnsureOptions {
  /** Stop the worker after this long, whatever happens. @default no limit */
  timeoutMs?: number;
  /** How long the room may have no online member before the worker stops. @default the manager's idleGraceMs */
  idleGraceMs?: number;
}

/** Why a worker stopped. */
export type StopReason = "idle" | "timeout" | "shutdown" | "stopped";

interface Running {
  startedAt: number;
  controller: AbortController;
  done: Promise<void>;
  idleGraceMs: number;
  idleTimer: NodeJS.Timeout | undefined;
  timeoutTimer: NodeJS.Timeout | undefined;
}

/** What the manager needs from the server. */
export interface WorkerManagerDeps {
  /** Sockets of the room's members connected now. */
  onlineSockets: (roomId: string) => number;
  publish: (roomId: string, content: string) => Promise<StoredMessage>;
  logger: Logger;
  now: () => number;
  /** @default 5000 */
  idleGraceMs: number;
  /**
   * Logs and counts a worker that threw (task `worker`) or whose stop notice could not be posted
   * (`worker-notice`); the manager removes the worker and carries on.
   */
  onBackgroundError: (task: string, error: unknown, bindings: { worker: string }) => void;
}

/**
 * Runs at most one worker per room while the room has online members (the ws-notifier idea). Presence is
 * pushed in through `roomOccupied` / `roomEmpty` from Socket.IO's adapter events, never polled.
 * @example
 * server.workers.ensure("task:42", async ({ signal, publish }) => {
 *   for await (const line of tail(logFile, { signal })) await publish(line);
 * }, { timeoutMs: 3_600_000 });
 */
export class WorkerManager {
  private readonly running = new Map<string, Running>();
  private closed = false;

  constructor(private readonly deps: WorkerManagerDeps) {}

  /** Starts a worker for the room unless one runs already; true when this call started it. */
  ensure(roomId: string, worker: Worker, options: EnsureOptions = {}): boolean {
    if (this.closed || this.running.has(roomId)) return false;
    const controller = new AbortController();
    const log = this.deps.logger.child({ worker: roomId });
    const entry: Running = {
      startedAt: this.deps.now(),
      controller,
      done: Promise.resolve(),
      idleGraceMs: options.idleGraceMs ?? this.deps.idleGraceMs,
      idleTimer: undefined,
      timeoutTimer: undefined,
    };
    this.running.set(roomId, entry);
    if (options.timeoutMs !== undefined) {
      entry.timeoutTimer = setTimeout(() => this.abort(roomId, "timeout"), options.timeoutMs);
    }
    if (this.deps.onlineSockets(roomId) === 0) this.roomEmpty(roomId);
    const context: WorkerContext = {
      roomId,
      signal: controller.signal,
      publish: (content) => this.deps.publish(roomId, content),
      log,
    };
    entry.done = (async () => worker(context))().then(
      () => this.finished(roomId, entry, undefined),
      // Wrapped, so that a worker throwing `undefined` still counts as a failure.
      (error: unknown) => this.finished(roomId, entry, { error }),
    );
    log.info("worker started");
    return true;
  }

  private async finished(roomId: string, entry: Running, failure: { error: unknown } | undefined): Promise<void> {
    clearTimeout(entry.idleTimer);
    clearTimeout(entry.timeoutTimer);
    if (this.running.get(roomId) === entry) this.running.delete(roomId);
    const reason = entry.controller.signal.aborted ? (entry.controller.signal.reason as StopReason) : undefined;
    const log = this.deps.logger.child({ worker: roomId });
    let notice: string | undefined;
    // Once aborted, whatever the worker throws (AbortError, `signal.throwIfAborted()`'s reason) is a stop.
    if (failure !== undefined && reason === undefined) {
      this.deps.onBackgroundError("worker", failure.error, { worker: roomId });
      notice = "The room's worker failed and was stopped.";
    } else if (reason === undefined) {
      log.info("worker finished");
      notice = "The room's worker finished.";
    } else {
      log.info({ reason }, "worker stopped");
      if (reason === "timeout") notice = "The room's worker reached its time limit and was stopped.";
    }
    if (notice !== undefined && !this.closed) {
      await this.deps
        .publish(roomId, notice)
        .catch((err: unknown) => this.deps.onBackgroundError("worker-notice", err, { worker: roomId }));
    }
  }

  private abort(roomId: string, reason: StopReason): Promise<void> {
    const entry = this.running.get(roomId);
    if (!entry) return Promise.resolve();
    entry.controller.abort(reason);
    return entry.done;
  }

  /** Stops the room's worker, if any, and waits for it to return. */
  stop(roomId: string): Promise<void> {
    return this.abort(roomId, "stopped");
  }

  /** Tells the manager the room's last online socket left: its worker stops after the idle grace. */
  roomEmpty(roomId: string): void {
    const entry = this.running.get(roomId);
    if (!entry || entry.idleTimer) return;
    entry.idleTimer = setTimeout(() => void this.abort(roomId, "idle"), entry.idleGraceMs);
  }

  /** Tells the manager a socket is in the room again: a pending idle stop is cancelled. */
  roomOccupied(roomId: string): void {
    const entry = this.running.get(roomId);
    if (!entry?.idleTimer) return;
    clearTimeout(entry.idleTimer);
    entry.idleTimer = undefined;
  }

  /** The running workers and when each started. */
  list(): { room: string; startedAt: number }[] {
    return [...this.running].map(([room, entry]) => ({ room, startedAt: entry.startedAt }));
  }

  /** Number of running workers. */
  get size(): number {
    return this.running.size;
  }

  /** Stops every worker (shutdown) and waits up to `graceMs` for them to return. */
  async close(graceMs = 2000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const all = [...this.running.keys()].map((roomId) => this.abort(roomId, "shutdown"));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(all), new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
  }
}
