import type { ChatClient } from "../../client/index.js";
import type { Room } from "../../shared/schemas.js";
import type { ChatState } from "./chat-state.js";
import { LOBBY, SYSTEM, refOf, roomKey, type ConversationKey } from "./conversations.js";
import type { Invitations } from "./invitations.js";
import { browseRoomsDialog, confirmDialog, createRoomDialog, inviteDialog } from "./views/dialogs.js";
import type { Toasts } from "./views/toasts.js";

/** What the room actions need from the app. */
export interface RoomActionsContext {
  client: ChatClient;
  state: ChatState;
  toasts: Toasts;
  invitations(): Invitations;
  /** Opens a conversation. */
  open(key: ConversationKey): void;
  /** The list of rooms changed: redraw the sidebar (or everything). */
  changed(everything: boolean): void;
  save(): void;
}

/** Creating, browsing, joining, inviting to and leaving rooms, and keeping my list of rooms. */
export class RoomActions {
  constructor(private readonly context: RoomActionsContext) {}

  /** "Create a room". */
  create(): void {
    const { client, state } = this.context;
    createRoomDialog(
      (name, visibility) => client.request("room:create", { name, visibility }),
      (room) => {
        state.rooms.set(room.id, room);
        this.context.open(roomKey(room.id));
      },
    );
  }

  /** "Browse rooms": public rooms to join. */
  browse(): void {
    const { client } = this.context;
    browseRoomsDialog(
      () => client.request("room:list", {}),
      (roomId) => client.request("room:join", { roomId }),
      (room) => this.joined(room),
    );
  }

  /** Joins a room (accepting its invitation); a failure says why and lists what is still pending. */
  async join(roomId: string): Promise<void> {
    const result = await this.context.client.request("room:join", { roomId });
    if (result.ok) return this.joined(result.data);
    this.context.toasts.show(result.error.message, { kind: "error" });
    // The invitation may be gone (declined in another tab): list what is still pending.
    await this.context.invitations().refresh();
  }

  /** Invites someone to the open room (private rooms only), suggesting the people this tab knows. */
  invite(): void {
    const { client, state, toasts } = this.context;
    const room = this.activeRoom();
    if (!room) return;
    const members = new Set(state.conversation(state.active).members.list.map((m) => m.userId));
    const suggestions = [...state.people.entries()]
      .filter(([id]) => !members.has(id) && id !== SYSTEM)
      .map(([id, name]) => ({ id, name }));
    inviteDialog(
      room.name,
      suggestions,
      (userId) => client.request("room:invite", { roomId: room.id, userId }),
      (userId) => toasts.show(`Invitation sent to ${state.nameOf(userId)}.`),
    );
  }

  /** Leaves the open room, once confirmed (never the lobby). */
  leave(): void {
    const room = this.activeRoom();
    if (!room || room.id === LOBBY) return;
    confirmDialog(
      `Leave ${room.name}?`,
      room.visibility === "private"
        ? "You will need a new invitation to come back."
        : "You can join again from Browse rooms.",
      "Leave room",
      () => this.context.client.request("room:leave", { roomId: room.id }),
      () => this.forget(room.id),
    );
  }

  /** A room I am no longer in (left here or in another tab, or removed). */
  forget(roomId: string): void {
    const { state } = this.context;
    const key = roomKey(roomId);
    state.rooms.delete(roomId);
    state.conversations.delete(key);
    delete state.local.unread[key];
    if (state.active === key) this.context.open(state.home());
    else this.context.changed(true);
    this.context.save();
  }

  /** My rooms afresh from `room:list` (a message from, or a join to, a room this tab did not know). */
  async refresh(): Promise<void> {
    const list = await this.context.client.request("room:list", {});
    if (!list.ok) return;
    this.context.state.replaceRooms(list.data.joined);
    this.context.changed(false);
  }

  private joined(room: Room): void {
    const { state } = this.context;
    state.rooms.set(room.id, room);
    this.context.invitations().done(room.id);
    // Joining makes the room's earlier history visible: load it afresh.
    state.conversations.delete(roomKey(room.id));
    this.context.open(roomKey(room.id));
  }

  private activeRoom(): Room | undefined {
    const ref = refOf(this.context.state.active);
    return ref.kind === "room" ? this.context.state.rooms.get(ref.id) : undefined;
  }
}
