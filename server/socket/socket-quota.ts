/**
 * How many sockets each user holds (`MAX_SOCKETS_PER_USER`). A slot is reserved synchronously when a
 * handshake is checked — so two handshakes of one user in the middleware at once cannot both take the last
 * slot — and released when the handshake fails or the socket goes. Releasing twice is harmless.
 */
export class SocketQuota {
  private readonly held = new Map<string, Set<string>>();

  constructor(private readonly perUser: number) {}

  /** Takes a slot for `socketId` of `userId`; false when the user already holds `perUser`. */
  reserve(userId: string, socketId: string): boolean {
    let sockets = this.held.get(userId);
    if (!sockets) {
      sockets = new Set();
      this.held.set(userId, sockets);
    }
    if (sockets.size >= this.perUser) return false;
    sockets.add(socketId);
    return true;
  }

  /** Gives the slot of `socketId` back. */
  release(userId: string, socketId: string): void {
    const sockets = this.held.get(userId);
    if (!sockets?.delete(socketId)) return;
    if (sockets.size === 0) this.held.delete(userId);
  }

  /** Slots `userId` holds now (sockets connected or still in their handshake). */
  count(userId: string): number {
    return this.held.get(userId)?.size ?? 0;
  }
}
