import type { ChatClient } from "../../client/index.js";
import type { RoomInvitation } from "../../shared/schemas.js";
import { background } from "./background.js";
import type { InvitationItem } from "./views/sidebar.js";
import type { Toasts } from "./views/toasts.js";

/** What the invitations need from the app. */
export interface InvitationsContext {
  client: ChatClient;
  toasts: Toasts;
  nameOf(userId: string): string;
  /** Whether this user is in the room already (an invitation to it is done). */
  isMember(roomId: string): boolean;
  /** Joins the room (accepting its invitation); the app calls `done` once joined. */
  join(roomId: string): Promise<void>;
  /** The pending invitations changed: render the sidebar. */
  changed(): void;
}

const toastKey = (roomId: string) => `invitation:${roomId}`;

/**
 * Pending invitations to private rooms: filled from `room:list` at every (re)connect (they outlive reloads
 * and being offline), live from `room:invited` (both routed here by sdk-bridge.ts); accepting joins, declining tells the server (`room:decline`).
 */
export class Invitations {
  private readonly pending = new Map<string, RoomInvitation>();
  /** Invitations that arrived live while a `room:list` was under way: its answer may predate them. */
  private arrivedDuringRefresh: RoomInvitation[] | undefined;

  constructor(private readonly context: InvitationsContext) {}

  /** A `room:invited` event: pending from now, with a toast that joins. */
  received({ room, by }: Pick<RoomInvitation, "room" | "by">): void {
    const { context } = this;
    const invitation = { room, by, at: Date.now() };
    this.arrivedDuringRefresh?.push(invitation);
    this.pending.set(room.id, invitation);
    context.changed();
    context.toasts.show(`${context.nameOf(by)} invited you to ${room.name}.`, {
      key: toastKey(room.id),
      action: { label: "Join", run: () => background(context.join(room.id)) },
    });
  }

  /** The pending invitations as the sidebar lists them, newest first. */
  items(): InvitationItem[] {
    return [...this.pending.values()]
      .filter((invitation) => !this.context.isMember(invitation.room.id))
      .sort((a, b) => b.at - a.at)
      .map((invitation) => ({
        roomId: invitation.room.id,
        roomName: invitation.room.name,
        byName: this.context.nameOf(invitation.by),
      }));
  }

  /** Asks the server for the pending invitations (they replace what this tab knew). */
  async refresh(): Promise<void> {
    const arrived: RoomInvitation[] = [];
    this.arrivedDuringRefresh = arrived;
    const list = await this.context.client.request("room:list", {});
    if (this.arrivedDuringRefresh === arrived) this.arrivedDuringRefresh = undefined;
    if (!list.ok) return;
    const before = [...this.pending.keys()];
    this.pending.clear();
    for (const invitation of [...list.data.invited, ...arrived]) this.pending.set(invitation.room.id, invitation);
    for (const roomId of before) if (!this.pending.has(roomId)) this.context.toasts.close(toastKey(roomId));
    this.context.changed();
  }

  /** Accepts an invitation: joins its room. */
  accept(roomId: string): void {
    background(this.context.join(roomId));
  }

  /** Declines an invitation: the server forgets it (gone after a reload too). */
  async decline(roomId: string): Promise<void> {
    const result = await this.context.client.declineInvitation(roomId);
    // NOT_FOUND: declined in another tab, or joined meanwhile; either way nothing is pending.
    if (!result.ok && result.error.code !== "NOT_FOUND") {
      this.context.toasts.show(result.error.message, { kind: "error" });
      return;
    }
    this.done(roomId);
  }

  /** The invitation to this room is done (joined here or elsewhere, or declined): its toast goes too. */
  done(roomId: string): void {
    this.context.toasts.close(toastKey(roomId));
    if (this.pending.delete(roomId)) this.context.changed();
  }
}
