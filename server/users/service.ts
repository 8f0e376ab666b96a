import type { PresenceStatus, UserSettings } from "../../shared/schemas.js";
import { invalid, notFound } from "../errors.js";
import { impersonation } from "./names.js";
import type { Delivery } from "../delivery/deliver.js";
import type { OnlineCheck } from "../rooms/service.js";
import type { Store, UserChanges } from "../store/types.js";

/** A user's own settings, and other users' presence. */
export class UserService {
  constructor(
    private readonly delivery: Delivery,
    private readonly store: Store,
    private readonly isOnline: OnlineCheck,
    private readonly files: {
      /** Where a stored file is fetched. */
      url: (fileId: string) => string;
      /** Removes a file no message and no avatar holds any more. */
      releaseIfUnreferenced: (fileId: string) => Promise<void>;
    },
  ) {}

  /**
   * Online (including the grace) and, for offline users, when their last socket went away. Unknown ids are
   * offline without `lastSeenAt`; duplicates collapse, first occurrence first.
   */
  async presence(userIds: string[]): Promise<PresenceStatus[]> {
    const answers: PresenceStatus[] = [];
    const unique = [...new Set(userIds)];
    const states = await this.isOnline(unique);
    for (const [index, userId] of unique.entries()) {
      const online = states[index]!;
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

  /**
   * Changes the caller's name, avatar (an image it uploaded; `null` removes it) and whether its read receipts
   * reach others; `{}` answers the current values. A replaced avatar's file goes once nothing holds it.
   */
  async update(userId: string, changes: UserChanges): Promise<UserSettings> {
    if (changes.name !== undefined) await this.checkDisplayName(userId, changes.name);
    let previous: string | null = null;
    if (changes.avatarFileId !== undefined) {
      previous = (await this.store.getUser(userId))?.avatarFileId ?? null;
      if (changes.avatarFileId !== null) {
        const file = await this.store.getFile(changes.avatarFileId);
        if (!file || file.owner !== userId) throw notFound("file");
        if (file.mediaType !== "image") throw invalid("an avatar must be an image");
      }
    }
    // The store checks the file again in its write: released since the check, the change is refused whole.
    const user = await this.store.updateUser(userId, changes);
    if (!user) throw notFound("file");
    if (previous !== null && previous !== user.avatarFileId) await this.files.releaseIfUnreferenced(previous);
    if (changes.name !== undefined) this.delivery.renamed(userId, user.name);
    const settings: UserSettings = { id: user.id, name: user.name, readReceipts: user.readReceipts };
    if (user.avatarFileId !== null) settings.avatarUrl = this.files.url(user.avatarFileId);
    if (changes.name !== undefined || changes.avatarFileId !== undefined) {
      // Without `readReceipts`: that setting is the user's own business.
      const { id, name, avatarUrl } = settings;
      this.delivery.userUpdated(avatarUrl === undefined ? { id, name } : { id, name, avatarUrl });
    }
    return settings;
  }
}
