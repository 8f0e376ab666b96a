import type { Server } from "socket.io";
import type { ClientToServerEvents, InterServerEvents, ServerToClientEvents, SocketData } from "../../shared/events.js";
import type { PresenceStatus, UserSettings } from "../../shared/schemas.js";
import { invalid } from "../errors.js";
import { impersonation } from "./names.js";
import { userChannel } from "../socket/channels.js";
import type { Store } from "../store/types.js";

type ChatIo = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

/** A user's own settings, and other users' presence. */
export class UserService {
  constructor(
    private readonly io: ChatIo,
    private readonly store: Store,
    private readonly isOnline: (userId: string) => boolean,
  ) {}

  /**
   * Online (including the grace) and, for offline users, when their last socket went away. Unknown ids are
   * offline without `lastSeenAt`; duplicates collapse, first occurrence first.
   */
  async presence(userIds: string[]): Promise<PresenceStatus[]> {
    const answers: PresenceStatus[] = [];
    for (const userId of new Set(userIds)) {
      const online = this.isOnline(userId);
      const status: PresenceStatus = { userId, online };
      if (!online) {
        const lastSeenAt = (await this.store.getUser(userId))?.lastSeenAt;
        if (lastSeenAt !== null && lastSeenAt !== undefined) status.lastSeenAt = lastSeenAt;
      }
      answers.push(status);
    }
    return answers;
  }

  /**
   * Refuses a display name that would pass for someone else: `System` in any case, or another user's id
   * (as written, or in lower case: built-in accounts' ids are lower case).
   */
  private async checkDisplayName(userId: string, name: string): Promise<void> {
    const problem = await impersonation(this.store, userId, name);
    if (problem !== undefined) throw invalid(problem);
  }

  /** Changes the caller's name and whether its read receipts reach others; `{}` answers the current values. */
  async update(
    userId: string,
    changes: { name?: string | undefined; readReceipts?: boolean | undefined },
  ): Promise<UserSettings> {
    if (changes.name !== undefined) await this.checkDisplayName(userId, changes.name);
    const user = await this.store.updateUser(userId, changes);
    if (changes.name !== undefined) {
      // Sockets on this server carry the name for the monitor's session list.
      const nsp = this.io.of("/");
      for (const id of nsp.adapter.rooms.get(userChannel(userId)) ?? []) {
        const socket = nsp.sockets.get(id);
        if (socket) socket.data.user = { id: userId, name: user.name };
      }
    }
    return { id: user.id, name: user.name, readReceipts: user.readReceipts };
  }
}
