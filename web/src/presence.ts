import type { ChatClient } from "../../client/index.js";
import type { PresenceStatus } from "../../shared/schemas.js";
import { background } from "./background.js";

/** `presence:subscribe` takes at most this many users. */
export const PRESENCE_SUBSCRIBE_LIMIT = 500;

/** What the presence subscription needs from the app. */
export interface PresenceSubscriptionContext {
  client: ChatClient;
  /** The users whose online dots are on screen: direct contacts first, then the loaded member page. */
  visible(): Iterable<string>;
  /** A followed user's status, answered now or changed later. */
  apply(status: PresenceStatus): void;
}

/**
 * Follows the presence of the users on screen with `presence:subscribe` (section 12): rooms over the server's
 * `PRESENCE_ROOM_LIMIT` carry no online/offline notices, so their members' and direct contacts' dots come
 * from here. Subscribes again whenever the visible set changes, and after every reconnect.
 */
export class PresenceSubscription {
  /** The set the server follows (or is being asked to), as one string; undefined when it follows nothing. */
  private subscribed: string | undefined;
  private inFlight = false;

  constructor(private readonly context: PresenceSubscriptionContext) {
    context.client.on("status", (status) => context.apply(status));
    context.client.on("state", (state) => {
      // A new connection follows nobody until asked again.
      if (state !== "online") this.subscribed = undefined;
      else this.update();
    });
  }

  /** Subscribes to the visible users if they are not the ones followed already (cheap to call on every render). */
  update(): void {
    if (this.inFlight || this.context.client.state !== "online") return;
    const ids = this.visibleIds();
    const key = ids.join("\n");
    if (key === this.subscribed) return;
    this.subscribed = key;
    this.inFlight = true;
    background(
      this.context.client.subscribePresence(ids).then((result) => {
        this.inFlight = false;
        if (!result.ok) {
          this.subscribed = undefined;
          return;
        }
        for (const status of result.data) this.context.apply(status);
        // The visible set may have changed while the answer was on its way.
        this.update();
      }),
    );
  }

  private visibleIds(): string[] {
    const ids = new Set<string>();
    for (const id of this.context.visible()) {
      if (ids.size >= PRESENCE_SUBSCRIBE_LIMIT) break;
      ids.add(id);
    }
    return [...ids].sort();
  }
}
