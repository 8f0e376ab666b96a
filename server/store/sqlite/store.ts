import type Database from "better-sqlite3";
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
import { openDatabase, Sequence, type SqliteContext } from "./database.js";
import { SqliteFiles } from "./files.js";
import { GroupCommit } from "./group-commit.js";
import { messageMapper } from "./message-rows.js";
import { SqliteMessages } from "./messages.js";
import { SqliteReadState } from "./read-state.js";
import { SqliteRooms } from "./rooms.js";
import { SqliteSearch } from "./search.js";
import { SqliteUsers } from "./users.js";

/** Options of the SQLite store. */
export interface SqliteStoreOptions {
  /** Database file path, or `:memory:`. */
  file: string;
  /** `full` fsyncs each commit; `normal` may lose the last commits on power loss (not on a process crash). */
  sync: "full" | "normal";
  /** Turns a stored file id into the URL clients fetch it from. */
  fileUrl: (fileId: string) => string;
  /** Told after each group commit, for metrics. */
  onCommit?: (durationMs: number, messages: number) => void;
  /** Clock for the lobby's creation time. */
  now?: () => number;
  /** How long after a commit the full-text index catches up (default 250 ms); searches catch it up first. */
  searchIndexDelayMs?: number;
  /**
   * Told when background work fails: the search indexer (task `search-index`). The store logs nothing
   * itself; it carries on and retries, so this is for the log line and the metric.
   */
  onBackgroundError?: (task: string, error: unknown) => void;
  /** The indexer's first retry delay after a failure; it doubles per failure in a row, up to 60 s. @default 1000 */
  searchIndexRetryMs?: number;
}

/**
 * The SQLite store (better-sqlite3, WAL): one repository per aggregate over one database. Message appends
 * made in the same event-loop turn share one transaction (group commit); each append resolves only after
 * that transaction committed.
 */
export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly commits: GroupCommit;
  private readonly users: SqliteUsers;
  private readonly rooms: SqliteRooms;
  private readonly files: SqliteFiles;
  private readonly messages: SqliteMessages;
  private readonly readState: SqliteReadState;
  private readonly fullText: SqliteSearch;

  constructor(options: SqliteStoreOptions) {
    this.db = openDatabase(options.file, options.sync);
    const base = { db: this.db, seq: new Sequence(this.db), toMessage: messageMapper(options.fileUrl) };
    // The indexer is told of every commit; it exists by the time the first one runs (a later turn).
    this.commits = new GroupCommit(base, {
      onCommit: options.onCommit,
      afterCommit: () => this.fullText.scheduleIndexing(),
    });
    const context: SqliteContext = { ...base, commits: this.commits };
    this.users = new SqliteUsers(context);
    this.rooms = new SqliteRooms(context);
    this.files = new SqliteFiles(context);
    this.messages = new SqliteMessages(context);
    this.readState = new SqliteReadState(context);
    this.fullText = new SqliteSearch(context, {
      delayMs: options.searchIndexDelayMs,
      retryMs: options.searchIndexRetryMs,
      onBackgroundError: options.onBackgroundError,
    });
    this.rooms.ensureLobby((options.now ?? Date.now)());
    this.fullText.scheduleIndexing();
  }

  /** The raw database, for tests and diagnostics (EXPLAIN QUERY PLAN). */
  get database(): Database.Database {
    return this.db;
  }

  isOpen(): boolean {
    return this.db.open;
  }

  async close(): Promise<void> {
    if (!this.db.open) return;
    this.commits.flush();
    this.fullText.stop();
    this.db.close();
  }

  // Users.

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

  // Rooms.

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

  // Files.

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

  markOrphanFiles(after: FileCursor | undefined, before: number, at: number, limit: number) {
    return this.files.markOrphanFiles(after, before, at, limit);
  }

  markedFiles(limit: number): Promise<string[]> {
    return this.files.markedFiles(limit);
  }

  forgetFiles(ids: readonly string[]): Promise<void> {
    return this.files.forgetFiles(ids);
  }

  // Messages.

  appendMessage(draft: MessageDraft): Promise<AppendResult> {
    return this.messages.appendMessage(draft);
  }

  conversationPage(conversation: ConversationKeys, page: PageQuery) {
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

  visibleAfter(userId: string, after: number, limit: number) {
    return this.messages.visibleAfter(userId, after, limit);
  }

  lastVisibleId(userId: string): Promise<number> {
    return this.messages.lastVisibleId(userId);
  }

  // Read state.

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

  // Search.

  search(userId: string, words: readonly string[], conversation: ConversationKeys | undefined, limit: number) {
    return this.fullText.search(userId, words, conversation, limit);
  }
}
