import type { ChatClient } from "../../client/index.js";
import type { PresenceStatus, RoomMemberChange, User } from "../../shared/schemas.js";
import { background } from "./background.js";
import type { ChatState, Conversation } from "./chat-state.js";
import { SYSTEM, roomKey } from "./conversations.js";
import type { Invitations } from "./invitations.js";
import { applyMemberChange, removes } from "./member-list.js";
import type { Presence } from "./presence.js";
import type { Moderation } from "./moderation.js";
import type { RoomActions } from "./room-actions.js";
import type { Toasts } from "./views/toasts.js";

/** What the member lists need from the app. */
export interface RoomMembersContext {
  client: ChatClient;
  state: ChatState;
  presence: Presence;
  toasts: Toasts;
  invitations(): Invitations;
  roomActions(): RoomActions;
  moderation(): Moderation;
  /** Members changed: redraw (soon). */
  changed(): void;
  /** A conversation's members were set at once: redraw it if it is on screen. */
  changedNow(conversation: Conversation): void;
}

/**
 * Who is in a conversation: a room's members in `room:members` pages, kept live by `room:member` changes
 * (and the room's member count with them); a direct conversation's two people; their dots and my own name
 * in the lists loaded so far.
 */
export class RoomMembers {
  constructor(private readonly context: RoomMembersContext) {}

  /** Loads a conversation's members afresh, or (`more`) the next page; a load under way is done again. */
  async load(conversation: Conversation, more = false): Promise<void> {
    const { client, presence, state } = this.context;
    const ref = conversation.ref;
    const me = state.me.id;
    if (ref.kind === "direct") {
      // The System conversation has no members: no panel, no one to follow.
      const people = ref.id === SYSTEM ? [] : ref.id === me ? [me] : [me, ref.id];
      conversation.members.list = people.map((userId) => ({
        userId,
        name: state.nameOf(userId),
        online: presence.isOnline(userId),
        role: "member" as const,
      }));
      this.context.changedNow(conversation);
      return;
    }
    if (client.state !== "online") return;
    if (conversation.members.loading) {
      conversation.members.again = !more;
      return;
    }
    conversation.members.loading = true;
    const after = more ? conversation.members.list.at(-1)?.userId : undefined;
    const page = await client.request("room:members", { roomId: ref.id, limit: 200, ...(after ? { after } : {}) });
    conversation.members.loading = false;
    if (page.ok) {
      conversation.members.list = more ? [...conversation.members.list, ...page.data.members] : page.data.members;
      conversation.members.hasMore = page.data.hasMore;
      for (const member of page.data.members) {
        state.people.set({ id: member.userId, name: member.name, avatarUrl: member.avatarUrl });
        presence.noteOnline(member.userId, member.online);
        // My row tells of a mute in force (set while this tab was away, or before a reload), or of none.
        if (member.userId === me) this.context.moderation().setMyMute(ref.id, member.mutedUntil);
      }
    }
    this.context.changed();
    if (conversation.members.again) {
      conversation.members.again = false;
      await this.load(conversation);
    }
  }

  /** Someone joined, left, was removed from or changed role in one of my rooms (me included, in any tab). */
  changed(change: RoomMemberChange): void {
    const { presence, state } = this.context;
    state.people.setName(change.userId, change.name);
    const key = roomKey(change.roomId);
    if (change.userId === state.me.id) {
      if (change.change === "joined") {
        this.context.invitations().done(change.roomId);
        if (!state.rooms.has(change.roomId)) background(this.context.roomActions().refresh());
      } else if (change.change === "left") {
        return this.context.roomActions().forget(change.roomId);
      } else if (removes(change)) {
        // Kicked or banned: `room:removed` follows with who and why, and takes the room away (moderation.ts).
        return;
      } else if (change.change === "muted" || change.change === "unmuted") {
        this.context.moderation().setMyMute(change.roomId, change.change === "muted" ? change.until : undefined);
      }
    }
    const conversation = state.conversations.get(key);
    const counts = conversation
      ? applyMemberChange(conversation.members, change, presence.isOnline(change.userId))
      : true;
    const room = state.rooms.get(change.roomId);
    // My own join is counted in the room the join (or `room:list`) answered.
    // Only joins and departures count (not role changes, nor section 11's mutes).
    const moves = change.change === "joined" || removes(change);
    if (room && counts && moves && change.userId !== state.me.id) {
      state.rooms.set(room.id, { ...room, members: Math.max(0, room.members + (removes(change) ? -1 : 1)) });
    }
    this.context.changed();
  }

  /** A user's presence changed: their dot in every member list loaded so far. */
  presenceChanged(status: PresenceStatus): void {
    for (const conversation of this.context.state.conversations.values()) {
      const member = conversation.members.list.find((m) => m.userId === status.userId);
      if (member) member.online = status.online;
    }
    this.context.changed();
  }

  /**
   * A user's name or avatar changed (mine, or someone followed: `user:updated`): their row of every member list
   * loaded so far.
   */
  updated(user: User): void {
    for (const conversation of this.context.state.conversations.values()) {
      const row = conversation.members.list.find((member) => member.userId === user.id);
      if (!row) continue;
      row.name = user.name;
      if (user.avatarUrl === undefined) delete row.avatarUrl;
      else row.avatarUrl = user.avatarUrl;
    }
    this.context.changed();
  }
}
