import type { Room, User } from "../../shared/schemas.js";
import {
  LOBBY,
  SYSTEM,
  directKey,
  refOf,
  roomKey,
  type ConversationKey,
  type ConversationRef,
} from "./conversations.js";
import type { MemberList } from "./member-list.js";
import { People } from "./people.js";
import { loadLocalState, type LocalState } from "./storage.js";
import { Timeline } from "./timeline.js";

/** One conversation this tab has opened. */
export interface Conversation {
  key: ConversationKey;
  ref: ConversationRef;
  timeline: Timeline;
  loaded: boolean;
  loading: boolean;
  hasOlder: boolean;
  loadingOlder: boolean;
  members: MemberList;
}

/**
 * What this tab knows, in one place the controllers share: me, my rooms, the conversations opened (their
 * timelines and members), the people met, which conversation is on screen, and what this browser keeps
 * between visits (read positions, unread counts, direct contacts). It changes nothing on the server and
 * renders nothing.
 */
export class ChatState {
  readonly rooms = new Map<string, Room>();
  readonly conversations = new Map<ConversationKey, Conversation>();
  readonly people = new People();
  /** Conversations with an unread message that mentions me (kept between visits with `local`). */
  readonly mentioned: Set<ConversationKey>;
  readonly local: LocalState;
  /** The conversation on screen. */
  active: ConversationKey;
  /** This user is an admin: the sidebar links to the admin console (and it moderates every room). */
  admin = false;
  /** When my mute ends, by room (section 11), while one is known to be in force; kept by moderation.ts. */
  readonly mutedUntil = new Map<string, number>();
  /**
   * Where "New messages" goes in the open conversation: after my read position as it was when I opened it
   * with unread messages (or when one arrived while I was not looking). Gone when I open another one.
   */
  newSince: { key: ConversationKey; after: number } | undefined;

  constructor(readonly me: User) {
    this.people.set(me);
    this.people.setName(SYSTEM, "System");
    this.local = loadLocalState(me.id);
    this.mentioned = new Set(this.local.mentioned);
    // A reload comes back to the conversation it left (one that is gone falls back to the lobby once known).
    this.active = this.local.active ?? roomKey(LOBBY);
  }

  /** A conversation, made empty on first use. */
  conversation(key: ConversationKey): Conversation {
    let conversation = this.conversations.get(key);
    if (!conversation) {
      conversation = {
        key,
        ref: refOf(key),
        timeline: new Timeline(),
        loaded: false,
        loading: false,
        hasOlder: false,
        loadingOlder: false,
        members: { list: [], hasMore: false, loading: false },
      };
      this.conversations.set(key, conversation);
    }
    return conversation;
  }

  nameOf(userId: string): string {
    return this.people.nameOf(userId);
  }

  /** A conversation's title: the room's name, the other person's name, "System", or mine with "(you)". */
  titleOf(ref: ConversationRef): string {
    if (ref.kind === "room") return this.rooms.get(ref.id)?.name ?? ref.id;
    if (ref.id === SYSTEM) return "System";
    return ref.id === this.me.id ? `${this.me.name} (you)` : this.nameOf(ref.id);
  }

  /**
   * Where to go when the open conversation is gone: the lobby while I am in it (a ban from the lobby keeps me
   * out of it), else my first room, else my notes to self.
   */
  home(): ConversationKey {
    if (this.rooms.has(LOBBY)) return roomKey(LOBBY);
    const [first] = [...this.rooms.values()].sort((a, b) => a.name.localeCompare(b.name));
    return first ? roomKey(first.id) : directKey(this.me.id);
  }

  /** My rooms as the server lists them now (a session, or `room:list`). */
  replaceRooms(rooms: Iterable<Room>): void {
    this.rooms.clear();
    for (const room of rooms) this.rooms.set(room.id, room);
  }

  /** Moves a direct contact to the top of the sidebar. */
  touchDirect(userId: string): void {
    if (this.local.directs[0] === userId) return;
    this.local.directs = [userId, ...this.local.directs.filter((id) => id !== userId)];
  }

  /**
   * Marks where the unread messages of a conversation begin (my read position now), unless that is already
   * marked for it; `opened` replaces the mark of another conversation and marks only when some are unread.
   */
  markNewSince(key: ConversationKey, opened: boolean): void {
    if (opened) this.newSince = undefined;
    if (this.newSince?.key === key) return;
    if (opened && (this.local.unread[key] ?? 0) === 0) return;
    this.newSince = { key, after: this.local.lastRead[key] ?? 0 };
  }

  /** I have seen a conversation up to `id`: no unread count, no mention mark. */
  markRead(key: ConversationKey, id: number): void {
    this.local.lastRead[key] = Math.max(this.local.lastRead[key] ?? 0, id);
    delete this.local.unread[key];
    this.mentioned.delete(key);
  }
}
