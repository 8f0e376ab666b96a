import type { StoredMessage } from "../../shared/schemas.js";
import type { Lease, LeaseStore } from "../cluster/leases.js";
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
  /**
   * In a cluster, the fencing token of this worker's lease: every later holder's is greater, so a system
   * the worker writes to can refuse work stamped with an older token. 0 on one node.
   */
  readonly token: number;
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
  /** The cluster lease this worker runs under (undefined on one node). */
  lease: Lease | undefined;
  renewTimer: NodeJS.Timeout | undefined;
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
  /**
   * Set in a cluster: the worker of a room runs only on the node holding its lease. A node whose `ensure`
   * found the lease held keeps the worker ready and tries again while the room has sockets on it, so a dead
   * holder's worker restarts elsewhere once its lease expires.
   */
  cluster?: {
    leases: LeaseStore;
    nodeId: string;
    /** Sockets of the room's members connected now on every node. */
    roomSockets: (roomId: string) => Promise<number>;
  };
}

/** A worker's lease lives this long unless renewed; a dead node's workers restart within it plus a retry. */
export const WORKER_LEASE_TTL_MS = 10_000;
/** How often a holder renews its leases and a waiting node tries to take one. */
const LEASE_RETRY_MS = 3_000;

interface Wanted {
  worker: Worker;
  options: EnsureOptions;
  retryTimer: NodeJS.Timeout | undefined;
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
  /** Cluster: workers this node was asked to run whose lease another node holds (or that it is taking). */
  private readonly wanted = new Map<string, Wanted>();
  private closed = false;

  constructor(private readonly deps: WorkerManagerDeps) {}

  /**
   * Starts a worker for the room unless one runs already; true when this call started it. In a cluster the
   * worker starts once this node holds the room's lease (false here: it may start shortly, or run elsewhere).
   */
  ensure(roomId: string, worker: Worker, options: EnsureOptions = {}): boolean {
    if (this.closed || this.running.has(roomId)) return false;
    if (this.deps.cluster) {
      if (!this.wanted.has(roomId)) {
        this.wanted.set(roomId, { worker, options, retryTimer: undefined });
        this.tryLease(roomId);
      }
      return false;
    }
    this.start(roomId, worker, options, undefined);
    return true;
  }

  /** Cluster: takes the room's lease if free and starts the worker; else tries again later while wanted. */
  private tryLease(roomId: string): void {
    const cluster = this.deps.cluster!;
    const wanted = this.wanted.get(roomId);
    if (!wanted || this.closed) return;
    wanted.retryTimer = undefined;
    // Waiting is for nodes whose sockets are in the room: once they are gone, the next join asks again.
    if (this.deps.onlineSockets(roomId) === 0) {
      this.wanted.delete(roomId);
      return;
    }
    cluster.leases.acquire(`worker:${roomId}`, cluster.nodeId, WORKER_LEASE_TTL_MS).then(
      (lease) => {
        if (this.wanted.get(roomId) !== wanted) {
          if (lease) this.releaseLease(roomId, lease);
          return;
        }
        if (lease === undefined || this.closed || this.running.has(roomId)) {
          if (lease) this.releaseLease(roomId, lease);
          wanted.retryTimer = setTimeout(() => this.tryLease(roomId), LEASE_RETRY_MS).unref();
          return;
        }
        this.wanted.delete(roomId);
        this.start(roomId, wanted.worker, wanted.options, lease);
      },
      (error: unknown) => {
        this.deps.onBackgroundError("worker-lease", error, { worker: roomId });
        wanted.retryTimer = setTimeout(() => this.tryLease(roomId), LEASE_RETRY_MS).unref();
      },
    );
  }

  private releaseLease(roomId: string, lease: Lease): void {
    this.deps
      .cluster!.leases.release(lease)
      .catch((error: unknown) => this.deps.onBackgroundError("worker-lease", error, { worker: roomId }));
  }

  /** Cluster: keeps the lease of a running worker; a lost lease stops it (another node took over). */
  private renewLease(roomId: string, entry: Running): void {
    entry.renewTimer = undefined;
    const lease = entry.lease!;
    this.deps.cluster!.leases.renew(lease, WORKER_LEASE_TTL_MS).then(
      (kept) => {
        if (this.running.get(roomId) !== entry) return;
        if (!kept) {
          this.stopInBackground(roomId, "stopped");
          return;
        }
        entry.renewTimer = setTimeout(() => this.renewLease(roomId, entry), LEASE_RETRY_MS).unref();
      },
      (error: unknown) => {
        this.deps.onBackgroundError("worker-lease", error, { worker: roomId });
        if (this.running.get(roomId) === entry)
          entry.renewTimer = setTimeout(() => this.renewLease(roomId, entry), LEASE_RETRY_MS).unref();
      },
    );
  }

  private start(roomId: string, worker: Worker, options: EnsureOptions, lease: Lease | undefined): void {
    const controller = new AbortController();
    const log = this.deps.logger.child({ worker: roomId });
    const entry: Running = {
      lease,
      renewTimer: undefined,
      startedAt: this.deps.now(),
      controller,
      done: Promise.resolve(),
      idleGraceMs: options.idleGraceMs ?? this.deps.idleGraceMs,
      idleTimer: undefined,
      timeoutTimer: undefined,
    };
    this.running.set(roomId, entry);
    if (options.timeoutMs !== undefined) {
      entry.timeoutTimer = setTimeout(() => this.stopInBackground(roomId, "timeout"), options.timeoutMs);
    }
    if (this.deps.onlineSockets(roomId) === 0) this.roomEmpty(roomId);
    const context: WorkerContext = {
      roomId,
      signal: controller.signal,
      publish: (content) => this.deps.publish(roomId, content),
      log,
      token: lease?.token ?? 0,
    };
    if (lease) entry.renewTimer = setTimeout(() => this.renewLease(roomId, entry), LEASE_RETRY_MS).unref();
    entry.done = (async () => worker(context))().then(
      () => this.finished(roomId, entry, undefined),
      // Wrapped, so that a worker throwing `undefined` still counts as a failure.
      (error: unknown) => this.finished(roomId, entry, { error }),
    );
    log.info("worker started");
  }

  private async finished(roomId: string, entry: Running, failure: { error: unknown } | undefined): Promise<void> {
    clearTimeout(entry.idleTimer);
    clearTimeout(entry.timeoutTimer);
    clearTimeout(entry.renewTimer);
    if (this.running.get(roomId) === entry) this.running.delete(roomId);
    if (entry.lease) this.releaseLease(roomId, entry.lease);
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

  /** Stops a worker from a timer: a failure is reported, never unhandled. */
  private stopInBackground(roomId: string, reason: StopReason): void {
    this.abort(roomId, reason).catch((err: unknown) => this.deps.onBackgroundError("worker", err, { worker: roomId }));
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

  /**
   * Tells the manager the room's last online socket on this node left: its worker stops after the idle
   * grace (in a cluster, only if no node has a socket in the room by then).
   */
  roomEmpty(roomId: string): void {
    const entry = this.running.get(roomId);
    if (!entry || entry.idleTimer) return;
    entry.idleTimer = setTimeout(() => this.idleDue(roomId, entry), entry.idleGraceMs);
  }

  private idleDue(roomId: string, entry: Running): void {
    entry.idleTimer = undefined;
    const cluster = this.deps.cluster;
    if (!cluster) return this.stopInBackground(roomId, "idle");
    cluster.roomSockets(roomId).then(
      (sockets) => {
        if (this.running.get(roomId) !== entry || entry.idleTimer !== undefined) return;
        if (sockets === 0) this.stopInBackground(roomId, "idle");
        // Members on other nodes keep it: look again after another grace, unless a local socket comes back.
        else if (this.deps.onlineSockets(roomId) === 0)
          entry.idleTimer = setTimeout(() => this.idleDue(roomId, entry), entry.idleGraceMs);
      },
      (error: unknown) => {
        this.deps.onBackgroundError("worker", error, { worker: roomId });
        if (this.running.get(roomId) === entry)
          entry.idleTimer = setTimeout(() => this.idleDue(roomId, entry), entry.idleGraceMs);
      },
    );
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
    for (const wanted of this.wanted.values()) clearTimeout(wanted.retryTimer);
    this.wanted.clear();
    const all = [...this.running.keys()].map((roomId) => this.abort(roomId, "shutdown"));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(all), new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
  }
}
