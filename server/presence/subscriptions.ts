import type { PresenceStatus } from "../../shared/schemas.js";

/**
 * Which sockets follow which users' presence (`presence:subscribe`): a socket's list replaces its previous
 * one, and goes with the socket. Both directions are kept, so a change costs one lookup, and a socket's
 * unsubscribe touches only its own users. Bounded by the schema: at most 500 users per socket.
 */
export class PresenceSubscriptions {
  private readonly bySocket = new Map<string, Set<string>>();
  private readonly byUser = new Map<string, Set<string>>();

  /** Replaces what a socket follows (an empty list follows nobody). */
  subscribe(socketId: string, userIds: Iterable<string>): void {
    this.drop(socketId);
    const users = new Set(userIds);
    if (users.size === 0) return;
    this.bySocket.set(socketId, users);
    for (const userId of users) {
      let sockets = this.byUser.get(userId);
      if (!sockets) this.byUser.set(userId, (sockets = new Set()));
      sockets.add(socketId);
    }
  }

  /** Forgets a socket's subscriptions (it disconnected). */
  drop(socketId: string): void {
    const users = this.bySocket.get(socketId);
    if (!users) return;
    this.bySocket.delete(socketId);
    for (const userId of users) {
      const sockets = this.byUser.get(userId)!;
      sockets.delete(socketId);
      if (sockets.size === 0) this.byUser.delete(userId);
    }
  }

  /** The sockets following a user. */
  followers(userId: string): string[] {
    const sockets = this.byUser.get(userId);
    return sockets ? [...sockets] : [];
  }

  /** Sockets with a subscription (for tests and stats). */
  get size(): number {
    return this.bySocket.size;
  }
}

/** A `presence` event for a user's change. */
export function presenceEvent(userId: string, online: boolean, lastSeenAt?: number): PresenceStatus {
  return online || lastSeenAt === undefined ? { userId, online } : { userId, online, lastSeenAt };
}
