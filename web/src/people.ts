import type { User } from "../../shared/schemas.js";

/** A person as the views draw them: a name, and an avatar image when the server gave one. */
export interface Person {
  id: string;
  name: string;
  avatarUrl?: string;
}

/**
 * Names and avatars of the users this tab has met, from the session, member lists, `room:member` changes,
 * the conversation list and `user:updated` (sent for the users this tab follows for presence: the ones it
 * shows in member lists and direct conversations).
 */
export class People {
  private readonly names = new Map<string, string>();
  private readonly avatars = new Map<string, string>();

  /** The display name of a user (the id until the name is known). */
  nameOf(userId: string): string {
    return this.names.get(userId) ?? userId;
  }

  /** Where a user's avatar image is fetched, when they have one that this tab knows of. */
  avatarOf(userId: string): string | undefined {
    return this.avatars.get(userId);
  }

  /** A user as the views draw them. */
  person(userId: string): Person {
    const avatarUrl = this.avatars.get(userId);
    return avatarUrl === undefined
      ? { id: userId, name: this.nameOf(userId) }
      : { id: userId, name: this.nameOf(userId), avatarUrl };
  }

  has(userId: string): boolean {
    return this.names.has(userId);
  }

  /** Everyone known, as `[id, name]`. */
  entries(): IterableIterator<[string, string]> {
    return this.names.entries();
  }

  /** Learns a name from a source that says nothing about avatars (a `room:member` change, a presence notice). */
  setName(userId: string, name: string): void {
    this.names.set(userId, name);
  }

  /**
   * Learns a user from a source that carries avatars (session, `room:members`, `user:update`,
   * `conversation:list`): no `avatarUrl` there means the user has none (any more).
   */
  set(user: User): void {
    this.names.set(user.id, user.name);
    if (user.avatarUrl === undefined) this.avatars.delete(user.id);
    else this.avatars.set(user.id, user.avatarUrl);
  }
}
