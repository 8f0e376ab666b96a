import type { ChatClient, ConnectionState } from "../../client/index.js";
import type { PresenceStatus } from "../../shared/schemas.js";
import { background } from "./background.js";

/** `presence:subscribe` takes at most this many users. */
export const PRESENCE_SUBSCRIBE_LIMIT = 500;

/** What presence needs from the app. */
export interface PresenceContext {
  client: ChatClient;
  me: string;
  /** The users whose online dots are on screen: direct contacts first, then the loaded member page. */
  visible(): Iterable<string>;
  /** A user's presence changed (or was answered): their dots should follow. */
  changed(status: PresenceStatus): void;
}

/**
 * Who is online and when the others were last seen, from online/offline notices, member pages and
 * `presence:subscribe` (section 12): rooms over the server's `PRESENCE_ROOM_LIMIT` carry no notices, so the
 * dots of their members and of direct contacts come from following the users on screen. It subscribes
 * again whenever that set changes, and after every reconnect.
 */
export class Presence {
  /** When offline users were last seen. */
  readonly lastSeen = new Map<string, number>();
  private readonly online = new Map<string, boolean>();
  /** The set the server follows (or is being asked to), as one string; undefined when it follows nobody. */
  private subscribed: string | undefined;
  private inFlight = false;

  constructor(private readonly context: PresenceContext) {}

  /** The connection state changed: a new connection follows nobody until asked again. */
  connection(state: ConnectionState): void {
    if (state !== "online") this.subscribed = undefined;
    else this.update();
  }

  /** Whether a user is online (I always am). */
  isOnline(userId: string): boolean {
    return userId === this.context.me || this.online.get(userId) === true;
  }

  /** Records a user's presence (a `presence` status, a notice, an answer) and tells the app. */
  set(status: PresenceStatus): void {
    this.online.set(status.userId, status.online);
    if (status.online) this.lastSeen.delete(status.userId);
    else if (status.lastSeenAt !== undefined) this.lastSeen.set(status.userId, status.lastSeenAt);
    this.context.changed(status);
  }

  /** Records what a member page says (it has no last-seen times: the subscription answers those). */
  noteOnline(userId: string, online: boolean): void {
    this.online.set(userId, online);
  }

  /** Subscribes to the visible users unless they are the ones followed already (cheap: call on every render). */
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
        for (const status of result.data) this.set(status);
        // The visible set may have changed while the answer was on its way.
        this.update();
      }),
    );
  }

  private visibleIds(): string[] {
    const ids = new Set<string>();
    for (const id of this.context.visible()) {
      if (ids.size >= PRESENCE_SUBSCRIBE_LIMIT) break;
      if (id !== this.context.me) ids.add(id);
    }
    return [...ids].sort();
  }
}
