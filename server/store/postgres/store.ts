import type pg from "pg";
import { LOBBY_ROOM_ID, SYSTEM_USER_ID } from "../../../shared/ids.js";
import type { Room, RoomInvitation, StoredMessage } from "../../../shared/schemas.js";
import type {
  AppendResult,
  ChangeResult,
  ConversationKey,
  ConversationKeys,
  ConversationRow,
  DeleteChange,
  EditChange,
  FileCursor,
  FileRecord,
  JoinOutcome,
  MemberRow,
  MessageDraft,
  MessageRecord,
  PageQuery,
  ReactionChange,
  RoomDraft,
  Store,
  UserChanges,
  UserRecord,
} from "../types.js";
import { PgBlobs } from "./blobs.js";
import { createPool, plainError, query, type PgDatabase } from "./db.js";
import { PgFiles } from "./files.js";
import { PgMessages } from "./messages.js";
import { migratePostgres } from "./migrate.js";
import { PgReadState } from "./read-state.js";
import { PgRooms } from "./rooms.js";
import { PgSearch } from "./search.js";
import { PgUsers } from "./users.js";

/** Options of the PostgreSQL store. */
export interface PgStoreOptions {
  /** `postgres://…` connection string. */
  url: string;
  /** Turns a stored file id into the URL clients fetch it from. */
  fileUrl: (fileId: string) => string;
  /** Clock for the lobby's creation time. @default Date.now */
  now?: () => number;
  /** Told after each group commit, for metrics. */
  onCommit?: (durationMs: number, messages: number) => void;
  /** Connections of this node's pool. @default 10 */
  poolSize?: number;
  /**
   * Told when an idle connection fails (PostgreSQL restarted, the network dropped it): the pool drops it and
   * opens another when needed (task `postgres-pool`). Without a listener, pg would end the process.
   */
  onBackgroundError?: (task: string, error: unknown) => void;
}

/**
 * The PostgreSQL store (cluster mode): the repositories of `postgres/*.ts` over one pool, correct with any
 * number of nodes writing at once. Each check and the write it guards are one statement or one transaction
 * (READ COMMITTED with row and advisory locks); message ids and revs come from one counter row that orders
 * writers by commit. `blobs` keeps uploads' bytes in the same database.
 */
export class PgStore implements Store {
  /** Upload bytes, in the same database. */
  readonly blobs: PgBlobs;
  private readonly users: PgUsers;
  private readonly rooms: PgRooms;
  private readonly files: PgFiles;
  private readonly messages: PgMessages;
  private readonly readState: PgReadState;
  private readonly searching: PgSearch;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly pool: pg.Pool,
    options: PgStoreOptions,
  ) {
    const db: PgDatabase = { pool, fileUrl: options.fileUrl, isOpen: () => this.closing === undefined };
    this.messages = new PgMessages(db, { onCommit: options.onCommit });
    this.files = new PgFiles(db, this.messages);
    this.rooms = new PgRooms(db, this.files);
    this.users = new PgUsers(db, this.rooms, this.messages);
    this.readState = new PgReadState(db);
    this.searching = new PgSearch(db);
    this.blobs = new PgBlobs(pool);
  }

  /**
   * Connects, brings the schema up to date (safe when several nodes boot at once: see migratePostgres) and
   * seeds the lobby (once, whichever node comes first).
   */
  static async open(options: PgStoreOptions): Promise<PgStore> {
    const pool = createPool(options.url, options.poolSize ?? 10);
    pool.on("error", (error) => options.onBackgroundError?.("postgres-pool", plainError(error)));
    try {
      await migratePostgres(pool).catch((error: unknown) => {
        throw plainError(error);
      });
      await query(
        pool,
        `INSERT INTO rooms (id, name, visibility, created_by, create_at) VALUES ($1, 'Lobby', 'public', $2, $3)
         ON CONFLICT (id) DO NOTHING`,
        [LOBBY_ROOM_ID, SYSTEM_USER_ID, (options.now ?? Date.now)()],
      );
    } catch (error) {
      await pool.end();
      throw error;
    }
    return new PgStore(pool, options);
  }

  isOpen(): boolean {
    return this.closing === undefined;
  }

  /** Resolves when the database answers a query, rejects when it cannot be reached (for `/readyz`). */
  async ping(): Promise<void> {
    await query(this.pool, "SELECT 1");
  }

  /** Refuses new appends, commits the pending ones, then closes the pool (after its queries in flight). */
  close(): Promise<void> {
    this.closing ??= this.messages.flush().finally(() => this.pool.end());
    return this.closing;
  }

  // Users
  createUser(user: { id: string; name: string; passwordHash: string | null; createAt: number }): Promise<boolean> {
    return this.users.createUser(user);
  }
  ensureUser(id: string, name: string, createAt: number): Promise<UserRecord> {
    return this.users.ensureUser(id, name, createAt);
  }
  getUser(id: string): Promise<UserRecord | undefined> {
    return this.users.getUser(id);
  }
  userExists(id: string): Promise<boolean> {
    return this.users.userExists(id);
  }
  updateUser(id: string, changes: UserChanges): Promise<UserRecord | undefined> {
    return this.users.updateUser(id, changes);
  }
  setLastSeen(userId: string, at: number): Promise<void> {
    return this.users.setLastSeen(userId, at);
  }

  // Rooms
  createRoom(room: RoomDraft, maxOwned?: number): Promise<Room | undefined> {
    return this.rooms.createRoom(room, maxOwned);
  }
  getRoom(id: string): Promise<Room | undefined> {
    return this.rooms.getRoom(id);
  }
  addMember(roomId: string, userId: string, at: number): Promise<boolean> {
    return this.rooms.addMember(roomId, userId, at);
  }
  removeMember(roomId: string, userId: string): Promise<boolean> {
    return this.rooms.removeMember(roomId, userId);
  }
  isMember(roomId: string, userId: string): Promise<boolean> {
    return this.rooms.isMember(roomId, userId);
  }
  membership(roomId: string, userId: string): Promise<"member" | "outsider" | "no-room"> {
    return this.rooms.membership(roomId, userId);
  }
  addInvite(roomId: string, userId: string, invitedBy: string, at: number): Promise<void> {
    return this.rooms.addInvite(roomId, userId, invitedBy, at);
  }
  hasInvite(roomId: string, userId: string): Promise<boolean> {
    return this.rooms.hasInvite(roomId, userId);
  }
  dropInvite(roomId: string, userId: string): Promise<boolean> {
    return this.rooms.dropInvite(roomId, userId);
  }
  pendingInvites(userId: string, limit: number): Promise<RoomInvitation[]> {
    return this.rooms.pendingInvites(userId, limit);
  }
  joinRoom(roomId: string, userId: string, at: number): Promise<JoinOutcome> {
    return this.rooms.joinRoom(roomId, userId, at);
  }
  roomsOf(userId: string): Promise<Room[]> {
    return this.rooms.roomsOf(userId);
  }
  allRooms(limit?: number): Promise<Room[]> {
    return this.rooms.allRooms(limit);
  }
  discoverableRooms(userId: string): Promise<Room[]> {
    return this.rooms.discoverableRooms(userId);
  }
  members(roomId: string, after: string | undefined, limit: number): Promise<MemberRow[]> {
    return this.rooms.members(roomId, after, limit);
  }
  memberIds(roomId: string): Promise<string[]> {
    return this.rooms.memberIds(roomId);
  }
  joinedAt(roomId: string, userId: string): Promise<number | undefined> {
    return this.rooms.joinedAt(roomId, userId);
  }

  // Files
  createFile(file: FileRecord): Promise<void> {
    return this.files.createFile(file);
  }
  getFile(id: string): Promise<FileRecord | undefined> {
    return this.files.getFile(id);
  }
  createFileWithinQuota(file: FileRecord, quotaBytes: number): Promise<boolean> {
    return this.files.createFileWithinQuota(file, quotaBytes);
  }
  fileBytesOf(owner: string): Promise<number> {
    return this.files.fileBytesOf(owner);
  }
  releaseFile(id: string, at: number): Promise<boolean> {
    return this.files.releaseFile(id, at);
  }
  markOrphanFiles(
    after: FileCursor | undefined,
    before: number,
    at: number,
    limit: number,
  ): Promise<{ marked: string[]; next: FileCursor | undefined }> {
    return this.files.markOrphanFiles(after, before, at, limit);
  }
  markedFiles(limit: number): Promise<string[]> {
    return this.files.markedFiles(limit);
  }
  forgetFiles(ids: readonly string[]): Promise<void> {
    return this.files.forgetFiles(ids);
  }

  // Messages
  appendMessage(draft: MessageDraft): Promise<AppendResult> {
    return this.messages.appendMessage(draft);
  }
  conversationPage(
    conversation: ConversationKeys,
    page: PageQuery,
  ): Promise<{ messages: StoredMessage[]; hasMore: boolean }> {
    return this.messages.conversationPage(conversation, page);
  }
  getMessage(id: number): Promise<MessageRecord | undefined> {
    return this.messages.getMessage(id);
  }
  messageByClientId(sender: string, clientMsgId: string): Promise<StoredMessage | undefined> {
    return this.messages.messageByClientId(sender, clientMsgId);
  }
  editMessage(id: number, change: EditChange): Promise<ChangeResult> {
    return this.messages.editMessage(id, change);
  }
  deleteMessage(id: number, change: DeleteChange): Promise<ChangeResult> {
    return this.messages.deleteMessage(id, change);
  }
  revisions(id: number): Promise<{ content: string; editedAt: number }[]> {
    return this.messages.revisions(id);
  }
  setReaction(id: number, change: ReactionChange): Promise<ChangeResult> {
    return this.messages.setReaction(id, change);
  }
  visibleAfter(userId: string, after: number, limit: number): Promise<{ messages: StoredMessage[]; hasMore: boolean }> {
    return this.messages.visibleAfter(userId, after, limit);
  }
  lastVisibleId(userId: string): Promise<number> {
    return this.messages.lastVisibleId(userId);
  }

  // Read state
  readPosition(userId: string, conversation: ConversationKey): Promise<number> {
    return this.readState.readPosition(userId, conversation);
  }
  moveReadPosition(userId: string, conversation: ConversationKey, lastReadId: number): Promise<number> {
    return this.readState.moveReadPosition(userId, conversation, lastReadId);
  }
  unreadCount(userId: string, conversation: ConversationKeys, after: number): Promise<number> {
    return this.readState.unreadCount(userId, conversation, after);
  }
  conversationRows(userId: string): Promise<{ rooms: ConversationRow[]; direct: ConversationRow[] }> {
    return this.readState.conversationRows(userId);
  }
  directPeers(userId: string): Promise<string[]> {
    return this.readState.directPeers(userId);
  }

  // Search
  search(
    userId: string,
    words: readonly string[],
    conversation: ConversationKeys | undefined,
    limit: number,
  ): Promise<StoredMessage[]> {
    return this.searching.search(userId, words, conversation, limit);
  }
}
