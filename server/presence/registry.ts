import type { Room } from "../../shared/schemas.js";

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
   * socket's handshake loaded (the online notice goes to them; no second read).
   */
  onOnline: (userId: string, rooms: readonly Room[] | undefined) => void;
  /** Called when a user's last socket has been gone for the grace. */
  onOffline: (userId: string, lastSeenAt: number) => void;
  now: () => number;
}

/**
 * Who is connected on this server: user → its sockets (one per tab). A user is online from its first socket
 * until its last has been gone for `graceMs`, so a page reload does not flap.
 */
export class ConnectionRegistry {
  private readonly users = new Map<string, Entry>();
  private sockets = 0;
  private liveUsers = 0;

  constructor(private readonly options: RegistryOptions) {}

  /** Records a connected socket; `rooms` are its user's rooms as its handshake read them. */
  add(userId: string, socketId: string, rooms?: readonly Room[]): void {
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
    if (firstSocket) this.options.onOnline(userId, rooms);
  }

  /** Records a closed socket; the user goes offline after the grace unless a socket comes back. */
  remove(userId: string, socketId: string): void {
    const entry = this.users.get(userId);
    if (!entry || !entry.sockets.delete(socketId)) return;
    this.sockets -= 1;
    if (entry.sockets.size > 0) return;
    this.liveUsers -= 1;
    const lastSeenAt = this.options.now();
    entry.offlineTimer = setTimeout(() => {
      this.users.delete(userId);
      this.options.onOffline(userId, lastSeenAt);
    }, this.options.graceMs);
  }

  /** True from a user's first socket until its offline notice. */
  isOnline(userId: string): boolean {
    return this.users.has(userId);
  }

  /** Number of live sockets of a user. */
  socketCount(userId: string): number {
    return this.users.get(userId)?.sockets.size ?? 0;
  }

  /** Live sockets on this server. */
  get connectionCount(): number {
    return this.sockets;
  }

  /** Users with at least one live socket. */
  get userCount(): number {
    return this.liveUsers;
  }

  /** Users counted online now (with a socket, or within the grace). */
  onlineUsers(): string[] {
    return [...this.users.keys()];
  }

  /** Cancels pending offline timers (at shutdown, nobody is left to tell). */
  close(): void {
    for (const entry of this.users.values()) clearTimeout(entry.offlineTimer);
    this.users.clear();
    this.sockets = 0;
    this.liveUsers = 0;
  }
}
