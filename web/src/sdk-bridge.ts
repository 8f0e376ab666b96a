import type { ChatClient, ConnectionState } from "../../client/index.js";
import type { Account } from "./account.js";
import { background } from "./background.js";
import type { ChatState } from "./chat-state.js";
import { refOf, type ConversationKey } from "./conversations.js";
import type { History } from "./history.js";
import type { Inbox } from "./inbox.js";
import type { Invitations } from "./invitations.js";
import type { Moderation } from "./moderation.js";
import type { Outbox } from "./outbox.js";
import type { Presence } from "./presence.js";
import type { Profile } from "./profile.js";
import type { Receipts } from "./receipts.js";
import type { RoomMembers } from "./room-members.js";
import type { Typing } from "./typing.js";

/** Where the SDK client's events go: the store, the controllers, and what only the app does. */
export interface BridgeTargets {
  state: ChatState;
  inbox: Inbox;
  history: History;
  roomMembers: RoomMembers;
  moderation: Moderation;
  receipts: Receipts;
  typing: Typing;
  invitations: Invitations;
  presence: Presence;
  profile: Profile;
  outbox: Outbox;
  account: Account;
  /** The connection state changed: the banner follows it. */
  connection(state: ConnectionState): void;
  /** Opens a conversation (the lobby, when the open room is gone). */
  open(key: ConversationKey): void;
  /** Redraws everything now. */
  render(): void;
  /** Keep what changed for the next visit (debounced). */
  save(): void;
  /** The server refused the session: sign out, saying why. */
  signOut(message: string): void;
  /** Tells the user something (a toast). */
  note(text: string): void;
}

/**
 * The SDK bridge: subscribes to the SDK client's events and hands each to the one that owns it (messages,
 * new versions, reactions and online/offline notices to the inbox; receipts, typing, invitations, member
 * changes and presence statuses to their controllers; sessions and reconnects to the store and the loaders).
 * The SDK keeps the protocol's bookkeeping (catch-up, ordering, dedup); nothing here decides more than where
 * an event goes. `notice` (server:notice) goes to the account: signed out, expired or disabled return to the
 * sign-in screen; otherwise the SDK reconnects by itself and the banner follows `state`. The app's
 * `removeAllListeners` on sign-out undoes it all.
 */
export function bridgeSdk(client: ChatClient, to: BridgeTargets): void {
  const { state } = to;
  // One listener per owner, in this order, so one that throws does not starve the others (see TypedEmitter).
  client.on("state", (connection) => {
    if (connection === "online") background(to.invitations.refresh());
  });
  client.on("state", (connection) => to.presence.connection(connection));
  client.on("state", (connection) => {
    to.connection(connection);
    if (connection !== "online") return;
    // Every (re)connect: history if not loaded yet, fresh members and presence, then what waited to be sent.
    const active = state.conversation(state.active);
    to.history.ensureLoaded(active);
    background(to.roomMembers.load(active));
    to.outbox.flush(state.conversations.values());
    background(to.receipts.sync());
    to.receipts.connected();
  });
  client.on("session", (session) => {
    // A name or avatar changed in another tab shows here from the next connect.
    to.profile.apply(session.user);
    // Rooms this tab showed that the new session no longer has: removed (or deleted) while it was away.
    const now = new Set(session.rooms.map((room) => room.id));
    for (const room of state.rooms.values()) {
      if (!now.has(room.id)) to.note(`You are no longer a member of ${room.name}.`);
    }
    state.replaceRooms(session.rooms);
    // Left in another tab while away (or out of the lobby, banned): back home.
    const active = refOf(state.active);
    if (active.kind === "room" && !state.rooms.has(active.id)) to.open(state.home());
    to.render();
  });
  client.on("message", (message) => to.inbox.received(message));
  client.on("updated", (message) => to.inbox.updated(message));
  client.on("receipt", (receipt) => to.receipts.received(receipt));
  client.on("typing", (notice) => to.typing.received(notice));
  client.on("synced", () => to.save());
  client.on("presence", (notice) => to.inbox.presenceNotice(notice));
  client.on("status", (status) => to.presence.set(status));
  client.on("invited", (invitation) => to.invitations.received(invitation));
  client.on("member", (change) => {
    to.roomMembers.changed(change);
    to.moderation.memberChanged(change);
  });
  client.on("roomRemoved", (removed) => to.moderation.removed(removed));
  client.on("roomUpdated", (room) => to.moderation.updated(room));
  client.on("userUpdated", (user) => {
    // Someone shown here (followed for presence), or this user in another tab, changed name or avatar.
    if (user.id === to.profile.userId) to.profile.apply(user);
    else {
      state.people.set(user);
      to.roomMembers.updated(user);
    }
    to.render();
  });
  client.on("notice", (notice) => to.account.ended(notice));
  client.on("error", (error) => {
    if (error.code === "UNAUTHORIZED") to.signOut("Your session has ended. Please sign in again.");
    // FORBIDDEN at the handshake: the account is disabled.
    if (error.code === "FORBIDDEN")
      to.signOut("Your account was disabled. Ask an admin if you think this is a mistake.");
  });
}
