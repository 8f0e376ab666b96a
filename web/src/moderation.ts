import type { ChatClient } from "../../client/index.js";
import type { Result } from "../../shared/errors.js";
import type { Room, RoomBan, RoomMember, RoomMemberChange, RoomRemoved, StoredMessage } from "../../shared/schemas.js";
import { background } from "./background.js";
import type { ChatState } from "./chat-state.js";
import { LOBBY, roomKey } from "./conversations.js";
import { dayKey, formatFull, formatTime } from "./format.js";
import { confirmDialog } from "./views/dialogs.js";
import type { MemberAction } from "./views/members.js";
import { editRoomDialog, moderateDialog } from "./views/moderation-dialogs.js";
import type { Toasts } from "./views/toasts.js";

/** What moderation needs from the app. */
export interface ModerationContext {
  client: ChatClient;
  state: ChatState;
  toasts: Toasts;
  /** A room I am no longer in (removed, or deleted): out of the sidebar. */
  forget(roomId: string): void;
  /** Something the views show changed: redraw (soon). */
  changed(): void;
}

/** setTimeout's longest delay (a longer one fires at once). */
const MAX_DELAY = 2 ** 31 - 1;

/**
 * Room moderation (contract section 11) from this user's side: which actions the member list and the message
 * menu offer (owner, moderators and admins, by the who-may rules; the server stays the authority and its
 * refusal is shown), my own mutes (learnt from member rows and `room:member`, ended by a timer at `until`),
 * `room:removed` (the room leaves the sidebar with a notice) and `room:updated`; editing and deleting a room.
 */
export class Moderation {
  private readonly muteTimers = new Map<string, ReturnType<typeof setTimeout>>();
  /** The bans in force of rooms I moderate, as last loaded (`room:bans`); "loading" while asked, "failed" after. */
  private readonly bans = new Map<string, RoomBan[] | "loading" | "failed">();
  /** The room whose bans were last shown. */
  private shownFor: string | undefined;

  constructor(private readonly context: ModerationContext) {}

  /** My role in a room: owner by `createdBy`, else my row of its loaded members (member until known). */
  myRole(roomId: string): RoomMember["role"] {
    const { state } = this.context;
    if (state.rooms.get(roomId)?.createdBy === state.me.id && roomId !== LOBBY) return "owner";
    const row = state.conversations.get(roomKey(roomId))?.members.list.find((m) => m.userId === state.me.id);
    return row?.role ?? "member";
  }

  /** Whether I may moderate a user whose role in the room is `target` (admins may act on anyone but themselves). */
  private mayModerate(roomId: string, userId: string, target: RoomMember["role"] | undefined): boolean {
    const { state } = this.context;
    if (userId === state.me.id) return false;
    if (state.admin) return true;
    const mine = this.myRole(roomId);
    if (mine === "owner") return true;
    if (mine !== "moderator") return false;
    const owner = state.rooms.get(roomId)?.createdBy;
    return userId !== owner && target !== "owner" && target !== "moderator";
  }

  /** The actions the member list offers on a member of a room. */
  actionsFor(roomId: string, member: RoomMember): MemberAction[] {
    if (!this.mayModerate(roomId, member.userId, member.role)) return [];
    const { state } = this.context;
    const actions: MemberAction[] = [];
    // Only the owner and admins change roles; the owner's never changes; the lobby has no owner to hand them out.
    const setsRoles = (state.admin || this.myRole(roomId) === "owner") && member.role !== "owner";
    if (setsRoles) actions.push(member.role === "moderator" ? "demote" : "promote");
    actions.push(mutedUntil(member) === undefined ? "mute" : "unmute", "kick", "ban");
    return actions;
  }

  /** Whether I may delete a message (my own anywhere; others' in a room I moderate, by the same who-may rules). */
  mayDelete(message: StoredMessage): boolean {
    const { state } = this.context;
    if (message.from === state.me.id) return true;
    if (message.messageType !== "group") return false;
    const author = state.conversations.get(roomKey(message.to))?.members.list.find((m) => m.userId === message.from);
    return this.mayModerate(message.to, message.from, author?.role);
  }

  /** Does (after asking for a reason and a duration where one applies) what was picked in the member list. */
  act(roomId: string, member: RoomMember, action: MemberAction): void {
    const { client, toasts, state } = this.context;
    const room = state.titleOf({ kind: "room", id: roomId });
    // The server is the authority: a refusal (a role it does not allow, an admin target) says why.
    const run = (request: Promise<Result<unknown>>) =>
      background(
        request.then((result) => {
          if (!result.ok) toasts.show(result.error.message, { kind: "error" });
        }),
      );
    switch (action) {
      case "promote":
      case "demote":
        run(client.setRole(roomId, member.userId, action === "promote" ? "moderator" : "member"));
        return;
      case "unmute":
        run(client.unmute(roomId, member.userId));
        return;
      case "mute":
        return moderateDialog({
          title: `Mute ${member.name} in ${room}`,
          text: "They keep reading the room but cannot send to it until the mute ends.",
          durations: "mute",
          actionLabel: "Mute",
          act: ({ until, reason }) => client.mute(roomId, member.userId, until ?? Date.now() + 3_600_000, reason),
        });
      case "kick":
        return moderateDialog({
          title: `Remove ${member.name} from ${room}?`,
          text:
            state.rooms.get(roomId)?.visibility === "private"
              ? "They will need a new invitation to come back."
              : "They can join the room again.",
          actionLabel: "Remove",
          act: ({ reason }) => client.kick(roomId, member.userId, reason),
        });
      case "ban":
        return moderateDialog({
          title: `Ban ${member.name} from ${room}?`,
          text: "They leave the room and cannot join it (nor be invited) until the ban ends.",
          durations: "ban",
          actionLabel: "Ban",
          act: async ({ until, reason }) => {
            const result = await client.ban(roomId, member.userId, {
              ...(until === undefined ? {} : { until }),
              ...(reason === undefined ? {} : { reason }),
            });
            if (result.ok) this.loadBans(roomId);
            return result;
          },
        });
    }
  }

  /** Whether I may see a room's bans and lift them: its owner, a moderator, or an admin. */
  private mayListBans(roomId: string): boolean {
    const role = this.myRole(roomId);
    return this.context.state.admin || role === "owner" || role === "moderator";
  }

  /**
   * The bans in force of a room I moderate, for the member list (undefined while loading, after a refusal, or
   * when I do not moderate the room). Asked for once per opening of the room (a ban of someone outside the
   * room is told to nobody), and again on a ban and after an unban; never again on a mere redraw, so a refusal
   * or a lost connection does not turn into a request per frame. Ended bans are left out as they end.
   */
  bansOf(roomId: string): RoomBan[] | undefined {
    const opened = roomId !== this.shownFor;
    this.shownFor = roomId;
    if (!this.mayListBans(roomId)) return undefined;
    const known = this.bans.get(roomId);
    if (known === undefined || (opened && known !== "loading")) this.loadBans(roomId);
    if (known === undefined || known === "loading" || known === "failed") return undefined;
    const now = Date.now();
    return known.filter((ban) => ban.until === undefined || ban.until > now);
  }

  /** Another conversation is on screen: a room opened after it counts as opened again (its bans are re-read). */
  conversationOpened(): void {
    this.shownFor = undefined;
  }

  /** Asks the server for a room's bans (the first 200, by user id) and redraws. */
  private loadBans(roomId: string): void {
    const { client, toasts } = this.context;
    this.bans.set(roomId, "loading");
    background(
      client.roomBans(roomId, { limit: 200 }).then((result) => {
        this.bans.set(roomId, result.ok ? result.data.bans : "failed");
        // Refused: my role changed since; the list just does not show. Anything else is said once.
        if (!result.ok && result.error.code !== "FORBIDDEN") toasts.show(result.error.message, { kind: "error" });
        this.context.changed();
      }),
    );
  }

  /** Lifts a ban from the member list; the list is read again after. */
  unban(roomId: string, ban: RoomBan): void {
    const { client, toasts, state } = this.context;
    background(
      client.unban(roomId, ban.userId).then((result) => {
        if (result.ok) toasts.show(`${ban.name} may join ${state.titleOf({ kind: "room", id: roomId })} again.`);
        else toasts.show(result.error.message, { kind: "error" });
        this.loadBans(roomId);
      }),
    );
  }

  /** `room:member`: a ban made by someone else (another moderator, another tab) shows in the list too. */
  memberChanged(change: RoomMemberChange): void {
    if (change.change === "banned" && this.bans.has(change.roomId)) this.loadBans(change.roomId);
  }

  /** Whether I may edit (and, but the lobby, delete) a room: its owner, or an admin. */
  mayEditRoom(roomId: string): boolean {
    return this.context.state.admin || this.myRole(roomId) === "owner";
  }

  /** "Edit room": name, topic, visibility; `room:updated` (and the answer) show the change everywhere. */
  editRoom(roomId: string): void {
    const { client, state } = this.context;
    const room = state.rooms.get(roomId);
    if (!room) return;
    editRoomDialog(
      room,
      (changes) => client.updateRoom(roomId, changes),
      (updated) => this.updated(updated),
      roomId === LOBBY ? undefined : () => this.deleteRoom(roomId),
    );
  }

  /** "Delete room", once confirmed: gone for everyone (never the lobby). */
  deleteRoom(roomId: string): void {
    const { client, state, toasts } = this.context;
    const room = state.rooms.get(roomId);
    if (!room || roomId === LOBBY) return;
    confirmDialog(
      `Delete ${room.name}?`,
      "The room, its messages and its files are deleted for everyone. This cannot be undone.",
      "Delete room",
      () => client.deleteRoom(roomId),
      () => {
        // The same key as room:removed's notice, which may come before this answer: one notice, not two.
        toasts.show(`You deleted ${room.name}.`, { key: `removed:${roomId}` });
        this.context.forget(roomId);
      },
    );
  }

  /** `room:updated` (or my own update's answer): the new name, topic and visibility, live. */
  updated(room: Room): void {
    this.context.state.rooms.set(room.id, room);
    this.context.changed();
  }

  /** `room:removed`: I was kicked or banned, or the room was deleted; it leaves the sidebar with a notice. */
  removed({ roomId, by, reason, kind }: RoomRemoved): void {
    const { state, toasts } = this.context;
    const room = state.rooms.get(roomId);
    // Already forgotten (deleted from this tab, or the event came twice): nothing left to say.
    if (!room) return;
    const who = by === state.me.id ? "you" : state.nameOf(by);
    const why = reason === undefined ? "." : `: ${reason}`;
    const text =
      kind === "deleted"
        ? `${room.name} was deleted by ${who}.`
        : `You were ${kind === "ban" ? "banned" : "removed"} from ${room.name} by ${who}${why}`;
    toasts.show(text, { ms: 20_000, key: `removed:${roomId}` });
    this.setMyMute(roomId, undefined);
    this.context.forget(roomId);
  }

  /** When my mute in a room ends, while one is in force. */
  myMute(roomId: string): number | undefined {
    const until = this.context.state.mutedUntil.get(roomId);
    return until !== undefined && until > Date.now() ? until : undefined;
  }

  /** What the composer says while I am muted in a room. */
  muteNote(roomId: string): string | undefined {
    const until = this.myMute(roomId);
    if (until === undefined) return undefined;
    // The time alone while it is today; the day too when it is later.
    const when = dayKey(until) === dayKey(Date.now()) ? formatTime(until) : formatFull(until);
    return `You are muted in this room until ${when}.`;
  }

  /** Notes my mute in a room (or its end), re-enabling the composer at `until` without a reload. */
  setMyMute(roomId: string, until: number | undefined): void {
    const { state } = this.context;
    clearTimeout(this.muteTimers.get(roomId));
    this.muteTimers.delete(roomId);
    if (until === undefined || until <= Date.now()) {
      if (state.mutedUntil.delete(roomId)) this.context.changed();
      return;
    }
    state.mutedUntil.set(roomId, until);
    const timer = setTimeout(
      () => this.setMyMute(roomId, state.mutedUntil.get(roomId)),
      Math.min(until - Date.now() + 50, MAX_DELAY),
    );
    this.muteTimers.set(roomId, timer);
    this.context.changed();
  }

  /** Stops the mute timers (signing out). */
  close(): void {
    for (const timer of this.muteTimers.values()) clearTimeout(timer);
    this.muteTimers.clear();
    this.bans.clear();
  }
}

/** A member row's mute end while it is in force. */
export const mutedUntil = (member: RoomMember): number | undefined =>
  member.mutedUntil !== undefined && member.mutedUntil > Date.now() ? member.mutedUntil : undefined;
