import type { Room } from "../../shared/schemas.js";
import type { ClusterPresence, PresenceTransition } from "../cluster/presence.js";

interface Entry {
  sockets: Set<string>;
  offlineTimer: NodeJS.Timeout | undefined;
}

/** Options of the connection registry. */
export interface RegistryOptions {
  /** How long a user with no socket left still counts as online. @default 5000 */
  graceMs: number;
  /**
   * Called when a user's first socket connects (not after a reconnect within the grace), with the rooms that
   * socket's handshake loaded (the online notice goes to them; no second read). In a cluster, called on the
   * one node whose connect made the user online.
   */
  onOnline: (userId: string, rooms: readonly Room[] | undefined) => void;
  /** Called when a user's last socket has been gone for the grace (in a cluster: on one node only). */
  onOffline: (userId: string, lastSeenAt: number) => void;
  now: () => number;
  /**
   * Who has sockets where in the whole cluster (Redis); unset for one node. Online and offline then follow
   * the cluster, and this node also sweeps the offlines that fell due and the sockets of dead nodes.
   */
  cluster?: ClusterPresence;
  /** Told when the cluster presence could not be reached (logged and counted; never fatal). */
  onError?: (error: unknown) => void;
}

/** How often a cluster node tells the others it is alive (well within their 15 s time to live). */
const HEARTBEAT_MS = 5000;

/**
 * Who is connected: user → its sockets on this node (one per tab). A user is online from its first socket
 * until its last has been gone for `graceMs`, so a page reload does not flap. With a cluster presence,
 * online and offline are the cluster's: a user with a socket on any node is online, and each transition is
 * reported by one node only.
 */
export class ConnectionRegistry {
  private readonly users = new Map<string, Entry>();
  private sockets = 0;
  private liveUsers = 0;
  private readonly cluster: ClusterPresence | undefined;
  /** Cluster writes under way, in the order they were made (one Redis connection keeps that order). */
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly timers: NodeJS.Timeout[] = [];
  private sweeping = false;

  constructor(private readonly options: RegistryOptions) {
    this.cluster = options.cluster;
    if (this.cluster) {
      const sweepMs = Math.max(100, Math.min(1000, Math.floor(options.graceMs / 2)));
      this.track(this.cluster.heartbeat(options.now()));
      this.timers.push(
        setInterval(() => this.track(this.cluster!.heartbeat(options.now())), HEARTBEAT_MS).unref(),
        setInterval(() => this.sweep(), sweepMs).unref(),
      );
    }
  }

  /**
   * In a cluster, records a socket in the shared presence during its handshake, before it can receive
   * anything, and returns whether this made its user online: the notice then goes out as the socket
   * connects, as on one node, not after a round trip that later sockets could overtake. Undefined on one
   * node. "full" when the user already holds `maxSockets` sockets in the cluster (nothing recorded). A
   * prepared socket that never connects must be given back with `abandon`.
   */
  async prepare(userId: string, socketId: string, maxSockets?: number): Promise<PresenceTransition | undefined> {
    return this.cluster?.connected(userId, socketId, maxSockets);
  }

  /** Gives back a socket prepared in the cluster presence that did not connect. */
  abandon(userId: string, socketId: string): void {
    if (this.cluster) this.track(this.cluster.disconnected(userId, socketId, this.options.now()));
  }

  /**
   * Records a connected socket; `rooms` are its user's rooms as its handshake read them, `transition` what
   * its `prepare` answered (in a cluster).
   */
  add(userId: string, socketId: string, rooms?: readonly Room[], transition?: PresenceTransition): void {
    let entry = this.users.get(userId);
    const firstSocket = entry === undefined;
    if (!entry) {
      entry = { sockets: new Set(), offlineTimer: undefined };
      this.users.set(userId, entry);
    }
    if (entry.offlineTimer) {
      clearTimeout(entry.offlineTimer);
      entry.offlineTimer = undefined;
    }
    if (entry.sockets.has(socketId)) return;
    if (entry.sockets.size === 0) this.liveUsers += 1;
    entry.sockets.add(socketId);
    this.sockets += 1;
    if (this.cluster) {
      if (transition === "online") this.options.onOnline(userId, rooms);
      // Not prepared (a caller other than the gateway): recorded now, announced when that answers.
      if (transition === undefined) {
        this.track(
          this.cluster.connected(userId, socketId).then((made) => {
            if (made === "online") this.options.onOnline(userId, rooms);
          }),
        );
      }
    } else if (firstSocket) {
      this.options.onOnline(userId, rooms);
    }
  }

  /** Records a closed socket; the user goes offline after the grace unless a socket comes back. */
  remove(userId: string, socketId: string): void {
    const entry = this.users.get(userId);
    if (!entry || !entry.sockets.delete(socketId)) return;
    this.sockets -= 1;
    const lastSeenAt = this.options.now();
    if (this.cluster) this.track(this.cluster.disconnected(userId, socketId, lastSeenAt));
    if (entry.sockets.size > 0) return;
    this.liveUsers -= 1;
    if (this.cluster) {
      // The cluster keeps the grace; whichever node claims the due offline reports it.
      this.users.delete(userId);
      return;
    }
    entry.offlineTimer = setTimeout(() => {
      this.users.delete(userId);
      this.options.onOffline(userId, lastSeenAt);
    }, this.options.graceMs);
  }

  /** Online (with a socket, or within the grace; on any node in a cluster), for each user in order. */
  async isOnline(userIds: readonly string[]): Promise<boolean[]> {
    if (this.cluster) return this.cluster.isOnline(userIds);
    return userIds.map((userId) => this.users.has(userId));
  }

  /** Number of live sockets of a user on this node. */
  socketCount(userId: string): number {
    return this.users.get(userId)?.sockets.size ?? 0;
  }

  /** Live sockets on this node. */
  get connectionCount(): number {
    return this.sockets;
  }

  /** Users with at least one live socket on this node. */
  get userCount(): number {
    return this.liveUsers;
  }

  /**
   * Users this node counts online now (with a socket here, or within the grace on one node): their last
   * seen time is now when this node shuts down (in a cluster, a later offline claimed elsewhere moves it).
   */
  onlineUsers(): string[] {
    return [...this.users.keys()];
  }

  /** Stops the timers, waits for cluster writes under way, and forgets every local entry. */
  async close(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    for (const entry of this.users.values()) clearTimeout(entry.offlineTimer);
    this.users.clear();
    this.sockets = 0;
    this.liveUsers = 0;
    await Promise.allSettled([...this.inFlight]);
  }

  /** Claims the offlines due in the cluster (and sweeps dead nodes); one sweep at a time. */
  private sweep(): void {
    if (this.sweeping) return;
    this.sweeping = true;
    this.track(
      this.cluster!.claimDue(this.options.now())
        .then((due) => {
          for (const { userId, lastSeenAt } of due) this.options.onOffline(userId, lastSeenAt);
        })
        .finally(() => (this.sweeping = false)),
    );
  }

  private track(work: Promise<unknown>): void {
    const tracked = work.catch((error: unknown) => this.options.onError?.(error));
    this.inFlight.add(tracked);
    tracked.then(
      () => this.inFlight.delete(tracked),
      () => this.inFlight.delete(tracked),
    );
  }
}
