import type { MediaType, Room, StoredMessage, User } from "../../shared/schemas.js";

/** A user row, with the password hash for built-in accounts. */
export interface UserRecord extends User {
  passwordHash: string | null;
  createAt: number;
}

/** A stored upload. */
export interface FileRecord {
  id: string;
  owner: string;
  name: string;
  size: number;
  mime: string;
  mediaType: "image" | "file";
  createAt: number;
}

/**
 * Where a message belongs: a room (group and system-to-room), a direct conversation between two users
 * (single, and system-to-user as the conversation with `system`), or the broadcast to everyone.
 */
export type ConversationKey = string;

/** A message before the store gives it an id. */
export interface MessageDraft {
  messageType: "single" | "group" | "system";
  mediaType: MediaType;
  from: string;
  to: string;
  conversation: ConversationKey;
  /** The user it is addressed to (single recipient, system-to-user target), for visibility. */
  recipientUser: string | null;
  content?: string | undefined;
  fileId?: string | undefined;
  clientMsgId?: string | undefined;
  createAt: number;
}

/** Outcome of an append: `created` is false when the sender's `clientMsgId` was already used. */
export interface AppendResult {
  message: StoredMessage;
  created: boolean;
}

/** Paging of one conversation. */
export interface PageQuery {
  before?: number | undefined;
  after?: number | undefined;
  limit: number;
}

/** One member row as `room:members` pages it. */
export interface MemberRow {
  userId: string;
  name: string;
}

/** A new room. */
export interface RoomDraft {
  id: string;
  name: string;
  visibility: "public" | "private";
  createdBy: string;
  createAt: number;
}

/**
 * Everything durable. Methods return Promises so another database (PostgreSQL) can implement it without
 * touching the handlers; the SQLite implementation resolves synchronous reads at once.
 */
export interface Store {
  /** Creates a user; false when the id is taken. */
  createUser(user: { id: string; name: string; passwordHash: string | null; createAt: number }): Promise<boolean>;
  /** Returns the user, creating it (and its lobby membership) when absent. */
  ensureUser(id: string, name: string, createAt: number): Promise<UserRecord>;
  getUser(id: string): Promise<UserRecord | undefined>;

  createRoom(room: RoomDraft): Promise<Room>;
  getRoom(id: string): Promise<Room | undefined>;
  /** Adds a member; false when already one. */
  addMember(roomId: string, userId: string, at: number): Promise<boolean>;
  /** Removes a member; false when not one. */
  removeMember(roomId: string, userId: string): Promise<boolean>;
  isMember(roomId: string, userId: string): Promise<boolean>;
  addInvite(roomId: string, userId: string, invitedBy: string, at: number): Promise<void>;
  hasInvite(roomId: string, userId: string): Promise<boolean>;
  roomsOf(userId: string): Promise<Room[]>;
  /** Every room, oldest first, at most `limit`. */
  allRooms(limit?: number): Promise<Room[]>;
  discoverableRooms(userId: string): Promise<Room[]>;
  members(roomId: string, after: string | undefined, limit: number): Promise<MemberRow[]>;
  /** Every member id of a room. */
  memberIds(roomId: string): Promise<string[]>;

  createFile(file: FileRecord): Promise<void>;
  getFile(id: string): Promise<FileRecord | undefined>;

  /** Stores a message; resolves only once it is committed (and, in durable mode, fsynced). */
  appendMessage(draft: MessageDraft): Promise<AppendResult>;
  /** One page of a conversation, ascending by id. */
  conversationPage(
    conversation: ConversationKey,
    page: PageQuery,
  ): Promise<{ messages: StoredMessage[]; hasMore: boolean }>;
  /** Every message the user may see with id > after, ascending. */
  visibleAfter(userId: string, after: number, limit: number): Promise<{ messages: StoredMessage[]; hasMore: boolean }>;
  /** The newest id the user may see, 0 when none. */
  lastVisibleId(userId: string): Promise<number>;

  /** True while the database is open. */
  isOpen(): boolean;
  /** Commits what is pending, then closes the database. */
  close(): Promise<void>;
}
