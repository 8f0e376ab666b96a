import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { LOBBY_ROOM_ID, SYSTEM_USER_ID } from "../../shared/ids.js";
import type { Room, RoomInvitation, StoredMessage } from "../../shared/schemas.js";
import { AppError, forbidden, notFound } from "../errors.js";
import { MIGRATIONS } from "./migrations.js";
import type {
  AppendResult,
  ChangeResult,
  DeleteChange,
  EditChange,
  JoinOutcome,
  ReactionChange,
  ConversationKey,
  ConversationKeys,
  ConversationRow,
  MessageRecord,
  FileCursor,
  FileRecord,
  MemberRow,
  MessageDraft,
  PageQuery,
  RoomDraft,
  Store,
  UserChanges,
  UserRecord,
} from "./types.js";
import { UNREAD_CAP } from "./types.js";

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

/** Ids indexed per full-text transaction: big enough to amortise FTS5's segment writes, small enough not to stall. */
const SEARCH_INDEX_CHUNK = 500;
/** The longest the indexer waits before retrying after failures in a row. */
const SEARCH_INDEX_RETRY_MAX_MS = 60_000;

/**
 * The columns every message read selects, in this order. Messages are read as arrays (`.raw()`): building a
 * 16-key object per row was about half of a history page's time.
 */
const MESSAGE_COLUMNS = [
  "id",
  "message_type",
  "media_type",
  "sender",
  "recipient",
  "content",
  "file_id",
  "client_msg_id",
  "create_at",
  "update_at",
  "rev",
  "edited_at",
  "deleted_at",
  "reply_to",
  "reactions",
  "conversation",
] as const;

/** `id, message_type, …` for a SELECT or RETURNING list, each column prefixed with `alias` (e.g. `m.`). */
export const messageColumns = (alias = ""): string => MESSAGE_COLUMNS.map((column) => alias + column).join(", ");

/** A message row in MESSAGE_COLUMNS order. */
type MessageRow = [
  id: number,
  messageType: "single" | "group" | "system",
  mediaType: "text" | "image" | "file",
  sender: string,
  recipient: string,
  content: string | null,
  fileId: string | null,
  clientMsgId: string | null,
  createAt: number,
  updateAt: number,
  rev: number,
  editedAt: number | null,
  deletedAt: number | null,
  replyTo: number | null,
  reactions: string | null,
  conversation: string,
];

interface UserRow {
  id: string;
  name: string;
  password_hash: string | null;
  create_at: number;
  read_receipts: number;
  last_seen_at: number | null;
  avatar_file_id: string | null;
}

interface RoomRow {
  id: string;
  name: string;
  visibility: "public" | "private";
  created_by: string;
  create_at: number;
  member_count: number;
}

/** What a batch of inserts changes besides the rows: see SqliteStore.insertOne. */
interface BatchEffects {
  /** `user\0peer` direct-conversation pairs the batch's messages belong to. */
  pairs: Set<string>;
  /** `user\0conversation` → the sender's last message id in the batch. */
  readTo: Map<string, number>;
}

/** A user id and another id as one key (a user id cannot hold NUL; the other part may). */
const pairKey = (userId: string, other: string): string => `${userId}\u0000${other}`;

/** The two parts of a pairKey. */
function splitKey(key: string): [string, string] {
  const at = key.indexOf("\u0000");
  return [key.slice(0, at), key.slice(at + 1)];
}

/** Revisions kept per message: the newest ones (the contract's bound on what an edit war can store). */
export const MAX_REVISIONS = 50;

/** A stored reactions object; JSON.parse makes `__proto__` an own key, as stored. */
const parseReactions = (json: string): Record<string, string[]> => JSON.parse(json) as Record<string, string[]>;

/** Bound of SqliteStore.knownPairs (about 100 bytes each). */
const KNOWN_PAIRS_MAX = 100_000;
/** Bound of SqliteStore.knownUsers (about 60 bytes each). */
const KNOWN_USERS_MAX = 100_000;

interface Pending {
  draft: MessageDraft;
  resolve: (result: AppendResult) => void;
  reject: (error: unknown) => void;
}

const toRoom = (row: RoomRow): Room => ({
  id: row.id,
  name: row.name,
  visibility: row.visibility,
  createdBy: row.created_by,
  createAt: row.create_at,
  members: row.member_count,
});

/**
 * The SQLite store (better-sqlite3, WAL). Message appends made in the same event-loop turn share one
 * transaction (group commit); each append resolves only after that transaction committed.
 */
export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly statements;
  private readonly insertBatch: (batch: Pending[]) => { results: (AppendResult | AppError)[]; pairs: Set<string> };
  /**
   * Direct-conversation pairs (`user\0peer`) known to be stored, so that a conversation's every message
   * does not write its pair again. Filled only after a commit; cleared when it grows past a bound.
   */
  private readonly knownPairs = new Set<string>();
  /**
   * Ids of users known to exist, so that the check before every direct message does not read the users
   * table. Users are never deleted, so an entry cannot go stale; cleared when it grows past a bound.
   */
  private readonly knownUsers = new Set<string>();
  private readonly indexChunk: (from: number, to: number) => void;
  private pending: Pending[] = [];
  /**
   * The one counter behind message ids and revs. This store is the only writer of its database, so it hands
   * out values itself: an insert takes the next one as its id and rev, every later change of that message the
   * next one as its rev. A rolled-back transaction leaves a gap, never a reuse.
   */
  private seq = 0;
  private flushScheduled = false;
  /** Every message with an id up to this is in the full-text index (persisted in `search_index`). */
  private indexedUpto = 0;
  private indexTimer: NodeJS.Timeout | undefined;
  /** Indexer failures in a row; while above 0 a retry is pending and searches do not try to catch up. */
  private indexFailures = 0;

  constructor(private readonly options: SqliteStoreOptions) {
    if (options.file !== ":memory:") mkdirSync(dirname(options.file), { recursive: true });
    this.db = new Database(options.file);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma(`synchronous = ${options.sync === "full" ? "FULL" : "NORMAL"}`);
    this.db.pragma("foreign_keys = ON");
    this.db.pragma("busy_timeout = 5000");
    // A 64 MiB page cache (SQLite's default is 2 MiB): the recent pages of active conversations stay in it.
    this.db.pragma("cache_size = -65536");
    // Checkpoint the WAL every ~40 MiB instead of ~4 MiB: the pages every commit touches (the tails of
    // active conversations in each index) are copied to the database once per checkpoint, so fewer
    // checkpoints copy far fewer pages (about a third less CPU per stored direct message in a bench of
    // 300-message commits). The file is cut back to 64 MiB after a checkpoint.
    this.db.pragma("wal_autocheckpoint = 10000");
    this.db.pragma("journal_size_limit = 67108864");
    this.migrate();
    const db = this.db;
    const rows = <P extends unknown[] | object>(sql: string) => db.prepare<P, MessageRow>(sql).raw(true);
    this.statements = {
      insertUser: db.prepare(
        "INSERT INTO users (id, name, password_hash, create_at) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
      ),
      getUser: db.prepare<[string], UserRow>("SELECT * FROM users WHERE id = ?"),
      userExists: db.prepare<[string], number>("SELECT 1 FROM users WHERE id = ?").pluck(),
      insertRoom: db.prepare(
        "INSERT INTO rooms (id, name, visibility, created_by, create_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
      ),
      getRoom: db.prepare<[string], RoomRow>("SELECT * FROM rooms WHERE id = ?"),
      insertMember: db.prepare(
        "INSERT INTO room_members (room_id, user_id, joined_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
      ),
      deleteMember: db.prepare("DELETE FROM room_members WHERE room_id = ? AND user_id = ?"),
      bumpMembers: db.prepare("UPDATE rooms SET member_count = member_count + ? WHERE id = ?"),
      isMember: db.prepare<[string, string], { one: number }>(
        "SELECT 1 AS one FROM room_members WHERE room_id = ? AND user_id = ?",
      ),
      membership: db
        .prepare<[string, string, string], [number, number]>(
          `SELECT EXISTS (SELECT 1 FROM rooms WHERE id = ?),
             EXISTS (SELECT 1 FROM room_members WHERE room_id = ? AND user_id = ?)`,
        )
        .raw(true),
      // A new invitation to a room already pending refreshes it (who, when): the newest is what the invitee sees.
      insertInvite: db.prepare(
        `INSERT INTO room_invites (room_id, user_id, invited_by, create_at) VALUES (?, ?, ?, ?)
         ON CONFLICT DO UPDATE SET invited_by = excluded.invited_by, create_at = excluded.create_at`,
      ),
      deleteInvite: db.prepare<[string, string]>("DELETE FROM room_invites WHERE room_id = ? AND user_id = ?"),
      pendingInvites: db.prepare<[string, number], RoomRow & { invited_by: string; invited_at: number }>(
        `SELECT r.*, i.invited_by, i.create_at AS invited_at FROM room_invites i JOIN rooms r ON r.id = i.room_id
         WHERE i.user_id = ? ORDER BY i.create_at DESC, i.room_id LIMIT ?`,
      ),
      hasInvite: db.prepare<[string, string], { one: number }>(
        "SELECT 1 AS one FROM room_invites WHERE room_id = ? AND user_id = ?",
      ),
      roomsOf: db.prepare<[string], RoomRow>(
        `SELECT r.* FROM room_members rm JOIN rooms r ON r.id = rm.room_id
         WHERE rm.user_id = ? ORDER BY rm.joined_at, r.id`,
      ),
      discoverable: db.prepare<[string], RoomRow>(
        `SELECT r.* FROM rooms r WHERE r.visibility = 'public'
         AND NOT EXISTS (SELECT 1 FROM room_members rm WHERE rm.room_id = r.id AND rm.user_id = ?)
         ORDER BY r.create_at, r.id LIMIT 500`,
      ),
      allRooms: db.prepare<[number], RoomRow>("SELECT * FROM rooms ORDER BY create_at, id LIMIT ?"),
      members: db.prepare<[string, string, number], { user_id: string; name: string; avatar_file_id: string | null }>(
        `SELECT rm.user_id, u.name, u.avatar_file_id FROM room_members rm JOIN users u ON u.id = rm.user_id
         WHERE rm.room_id = ? AND rm.user_id > ? ORDER BY rm.user_id LIMIT ?`,
      ),
      memberIds: db.prepare<[string], { user_id: string }>("SELECT user_id FROM room_members WHERE room_id = ?"),
      insertFile: db.prepare(
        `INSERT INTO files (id, owner, name, size, mime, media_type, create_at)
         VALUES (@id, @owner, @name, @size, @mime, @mediaType, @createAt)`,
      ),
      getFile: db.prepare<
        [string],
        {
          id: string;
          owner: string;
          name: string;
          size: number;
          mime: string;
          media_type: "image" | "file";
          create_at: number;
        }
      >("SELECT * FROM files WHERE id = ? AND deleted_at IS NULL"),
      insertFileWithinQuota: db.prepare<FileRecord & { quota: number }>(
        `INSERT INTO files (id, owner, name, size, mime, media_type, create_at)
         SELECT @id, @owner, @name, @size, @mime, @mediaType, @createAt
         WHERE (SELECT COALESCE(SUM(size), 0) FROM files WHERE owner = @owner AND deleted_at IS NULL) + @size <= @quota`,
      ),
      fileBytesOf: db
        .prepare<[string], number>("SELECT COALESCE(SUM(size), 0) FROM files WHERE owner = ? AND deleted_at IS NULL")
        .pluck(),
      releaseFile: db.prepare<[number, string]>(
        `UPDATE files SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL
         AND NOT EXISTS (SELECT 1 FROM messages WHERE file_id = files.id)
         AND NOT EXISTS (SELECT 1 FROM users WHERE avatar_file_id = files.id)`,
      ),
      filesByAge: db.prepare<
        { at: number; id: string; before: number; limit: number },
        { create_at: number; id: string }
      >(
        `SELECT create_at, id FROM files WHERE (create_at, id) > (@at, @id) AND create_at < @before
         ORDER BY create_at, id LIMIT @limit`,
      ),
      markOrphans: db
        .prepare<{ now: number; fromAt: number; fromId: string; toAt: number; toId: string }, string>(
          `UPDATE files SET deleted_at = @now
           WHERE (create_at, id) > (@fromAt, @fromId) AND (create_at, id) <= (@toAt, @toId) AND deleted_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM messages WHERE file_id = files.id)
           AND NOT EXISTS (SELECT 1 FROM users WHERE avatar_file_id = files.id) RETURNING id`,
        )
        .pluck(),
      markedFiles: db
        .prepare<[number], string>("SELECT id FROM files WHERE deleted_at IS NOT NULL ORDER BY deleted_at LIMIT ?")
        .pluck(),
      liveFileOf: db
        .prepare<[string, string], number>("SELECT 1 FROM files WHERE id = ? AND owner = ? AND deleted_at IS NULL")
        .pluck(),
      forgetFile: db.prepare<[string]>("DELETE FROM files WHERE id = ? AND deleted_at IS NOT NULL"),
      byClientId: rows<[string, string]>(
        `SELECT ${messageColumns()} FROM messages WHERE sender = ? AND client_msg_id = ?`,
      ),
      insertMessage: db.prepare<[...MessageRow, string | null]>(
        `INSERT INTO messages (${messageColumns()}, recipient_user)
         VALUES (${MESSAGE_COLUMNS.map(() => "?").join(", ")}, ?)`,
      ),
      getMessage: rows<[number]>(`SELECT ${messageColumns()} FROM messages WHERE id = ?`),
      addDirect: db.prepare("INSERT INTO direct_conversations (user_id, peer) VALUES (?, ?) ON CONFLICT DO NOTHING"),
      readUpTo: db.prepare(
        `INSERT INTO read_positions (user_id, conversation, last_read_id) VALUES (?, ?, ?)
         ON CONFLICT DO UPDATE SET last_read_id = MAX(last_read_id, excluded.last_read_id)`,
      ),
      readPosition: db.prepare<[string, string], { last_read_id: number }>(
        "SELECT last_read_id FROM read_positions WHERE user_id = ? AND conversation = ?",
      ),
      addRevision: db.prepare("INSERT INTO message_revisions (message_id, content, edited_at) VALUES (?, ?, ?)"),
      revisions: db.prepare<[number], { content: string; edited_at: number }>(
        `SELECT content, edited_at FROM (SELECT rowid, content, edited_at FROM message_revisions WHERE message_id = ?
           ORDER BY edited_at DESC, rowid DESC LIMIT ${MAX_REVISIONS}) ORDER BY edited_at, rowid`,
      ),
      dropRevisions: db.prepare("DELETE FROM message_revisions WHERE message_id = ?"),
      edit: rows<[string, number, number, number, number]>(
        `UPDATE messages SET content = ?, edited_at = ?, update_at = ?, rev = ? WHERE id = ? RETURNING ${messageColumns()}`,
      ),
      pruneRevisions: db.prepare<[number, number, number]>(
        `DELETE FROM message_revisions WHERE message_id = ? AND rowid NOT IN (
           SELECT rowid FROM message_revisions WHERE message_id = ? ORDER BY edited_at DESC, rowid DESC LIMIT ?)`,
      ),
      roomsCreatedBy: db.prepare<[string], number>("SELECT COUNT(*) FROM rooms WHERE created_by = ?").pluck(),
      tombstone: rows<[number, number, number, number]>(
        `UPDATE messages SET content = NULL, file_id = NULL, deleted_at = ?, update_at = ?, rev = ?
         WHERE id = ? RETURNING ${messageColumns()}`,
      ),
      setReactions: rows<[string | null, number, number, number]>(
        `UPDATE messages SET reactions = ?, update_at = ?, rev = ? WHERE id = ? RETURNING ${messageColumns()}`,
      ),
      directPeers: db.prepare<[string], { peer: string }>("SELECT peer FROM direct_conversations WHERE user_id = ?"),
      joinedAt: db.prepare<[string, string], { joined_at: number }>(
        "SELECT joined_at FROM room_members WHERE room_id = ? AND user_id = ?",
      ),
      setName: db.prepare("UPDATE users SET name = ? WHERE id = ?"),
      setAvatar: db.prepare<{ file: string | null; user: string }>(
        `UPDATE users SET avatar_file_id = @file WHERE id = @user AND (@file IS NULL OR EXISTS (SELECT 1 FROM files
           WHERE id = @file AND owner = @user AND media_type = 'image' AND deleted_at IS NULL))`,
      ),
      setReceipts: db.prepare("UPDATE users SET read_receipts = ? WHERE id = ?"),
      setLastSeen: db.prepare("UPDATE users SET last_seen_at = ? WHERE id = ?"),
      unread: db.prepare<{ a: string; b: string; after: number; user: string; cap: number }, { n: number }>(
        `SELECT COUNT(*) AS n FROM (SELECT 1 FROM messages WHERE conversation IN (@a, @b) AND id > @after
         AND sender != @user AND deleted_at IS NULL LIMIT @cap)`,
      ),
      roomRows: db.prepare<{ user: string; cap: number }, SummaryRow>(conversationRowsSql("rooms")).raw(true),
      directRows: db.prepare<{ user: string; cap: number }, SummaryRow>(conversationRowsSql("direct")).raw(true),
      search: rows<SearchParams>(SEARCH_SQL),
      latest: rows<PageParams>(pageSql("", "DESC", false)),
      before: rows<PageParams>(pageSql("AND id < @cursor", "DESC", false)),
      after: rows<PageParams>(pageSql("AND id > @cursor", "ASC", false)),
      latestPair: rows<PageParams>(pageSql("", "DESC", true)),
      beforePair: rows<PageParams>(pageSql("AND id < @cursor", "DESC", true)),
      afterPair: rows<PageParams>(pageSql("AND id > @cursor", "ASC", true)),
      visibleAfter: rows<{ user: string; after: number; limit: number }>(VISIBLE_AFTER_SQL),
      lastVisible: db.prepare<{ user: string }, { last: number | null }>(LAST_VISIBLE_SQL),
      indexedUpto: db.prepare<[], { indexed_upto: number }>("SELECT indexed_upto FROM search_index WHERE id = 1"),
      indexRange: db.prepare<[number, number]>(
        `INSERT INTO messages_fts (rowid, content, scope)
         SELECT id, content, scope FROM messages_search WHERE id > ? AND id <= ? AND content IS NOT NULL`,
      ),
      setIndexedUpto: db.prepare<[number]>("UPDATE search_index SET indexed_upto = ? WHERE id = 1"),
    };
    const indexTransaction = this.db.transaction((from: number, to: number) => {
      this.statements.indexRange.run(from, to);
      this.statements.setIndexedUpto.run(to);
    });
    // The watermark in memory moves only once the transaction committed: a failed COMMIT (disk full) must
    // leave it where the database has it, or those messages would never be indexed.
    this.indexChunk = (from, to) => {
      indexTransaction(from, to);
      this.indexedUpto = to;
    };
    this.insertBatch = this.db.transaction((batch: Pending[]) => {
      const effects: BatchEffects = { pairs: new Set(), readTo: new Map() };
      const results = batch.map(({ draft }) => this.insertOne(draft, effects));
      this.applyEffects(effects);
      return { results, pairs: effects.pairs };
    });
    const highest = this.db
      .prepare<[], { high: number | null }>(
        `SELECT MAX(COALESCE((SELECT MAX(id) FROM messages), 0), COALESCE((SELECT MAX(rev) FROM messages), 0),
           COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'messages'), 0)) AS high`,
      )
      .get();
    this.seq = highest?.high ?? 0;
    this.indexedUpto = this.statements.indexedUpto.get()!.indexed_upto;
    this.seed();
    this.scheduleIndexing();
  }

  /** The raw database, for tests and diagnostics (EXPLAIN QUERY PLAN). */
  get database(): Database.Database {
    return this.db;
  }

  private migrate(): void {
    const current = this.db.pragma("user_version", { simple: true }) as number;
    if (current > MIGRATIONS.length) {
      throw new Error(`database schema version ${current} is newer than this server (${MIGRATIONS.length})`);
    }
    MIGRATIONS.slice(current).forEach((sql, index) => {
      this.db.transaction(() => {
        this.db.exec(sql);
        this.db.pragma(`user_version = ${current + index + 1}`);
      })();
    });
  }

  private seed(): void {
    const now = (this.options.now ?? Date.now)();
    this.statements.insertRoom.run(LOBBY_ROOM_ID, "Lobby", "public", SYSTEM_USER_ID, now);
  }

  private toMessage(row: MessageRow): StoredMessage {
    const [
      id,
      messageType,
      mediaType,
      from,
      to,
      content,
      fileId,
      clientMsgId,
      createAt,
      updateAt,
      rev,
      editedAt,
      deletedAt,
      replyTo,
      reactions,
    ] = row;
    const message: StoredMessage = { id, messageType, mediaType, from, to, createAt, updateAt, rev };
    if (content !== null) message.content = content;
    if (fileId !== null) {
      message.fileId = fileId;
      message.url = this.options.fileUrl(fileId);
    }
    if (clientMsgId !== null) message.clientMsgId = clientMsgId;
    if (editedAt !== null) message.editedAt = editedAt;
    if (deletedAt !== null) message.deletedAt = deletedAt;
    if (replyTo !== null) message.replyTo = replyTo;
    if (reactions !== null) message.reactions = parseReactions(reactions);
    return message;
  }

  private toUser(row: UserRow): UserRecord {
    return {
      id: row.id,
      name: row.name,
      passwordHash: row.password_hash,
      createAt: row.create_at,
      readReceipts: row.read_receipts === 1,
      lastSeenAt: row.last_seen_at,
      avatarFileId: row.avatar_file_id,
    };
  }

  private joinSync(roomId: string, userId: string, at: number): boolean {
    const added = this.statements.insertMember.run(roomId, userId, at).changes > 0;
    if (added) this.statements.bumpMembers.run(1, roomId);
    return added;
  }

  private readonly createUserTx = (user: { id: string; name: string; passwordHash: string | null; createAt: number }) =>
    this.db.transaction(() => {
      const created = this.statements.insertUser.run(user.id, user.name, user.passwordHash, user.createAt).changes > 0;
      if (created) this.joinSync(LOBBY_ROOM_ID, user.id, user.createAt);
      return created;
    })();

  async createUser(user: {
    id: string;
    name: string;
    passwordHash: string | null;
    createAt: number;
  }): Promise<boolean> {
    return this.createUserTx(user);
  }

  async ensureUser(id: string, name: string, createAt: number): Promise<UserRecord> {
    let row = this.statements.getUser.get(id);
    if (!row) {
      this.createUserTx({ id, name, passwordHash: null, createAt });
      row = this.statements.getUser.get(id)!;
    }
    this.rememberUser(id);
    return this.toUser(row);
  }

  async userExists(id: string): Promise<boolean> {
    if (this.knownUsers.has(id)) return true;
    if (this.statements.userExists.get(id) === undefined) return false;
    this.rememberUser(id);
    return true;
  }

  private rememberUser(id: string): void {
    if (this.knownUsers.size >= KNOWN_USERS_MAX) this.knownUsers.clear();
    this.knownUsers.add(id);
  }

  async getUser(id: string): Promise<UserRecord | undefined> {
    const row = this.statements.getUser.get(id);
    return row && this.toUser(row);
  }

  async createRoom(room: RoomDraft, maxOwned = Infinity): Promise<Room | undefined> {
    const created = this.db.transaction(() => {
      // The count and the insert it guards are one transaction: parallel creations cannot pass the cap.
      if (room.createdBy !== SYSTEM_USER_ID && this.statements.roomsCreatedBy.get(room.createdBy)! >= maxOwned) {
        return false;
      }
      this.statements.insertRoom.run(room.id, room.name, room.visibility, room.createdBy, room.createAt);
      // Rooms the server makes for itself (e.g. a task's log room) have no creator to seat.
      if (room.createdBy !== SYSTEM_USER_ID) this.joinSync(room.id, room.createdBy, room.createAt);
      return true;
    })();
    return created ? toRoom(this.statements.getRoom.get(room.id)!) : undefined;
  }

  async getRoom(id: string): Promise<Room | undefined> {
    const row = this.statements.getRoom.get(id);
    return row && toRoom(row);
  }

  async addMember(roomId: string, userId: string, at: number): Promise<boolean> {
    return this.db.transaction(() => this.joinSync(roomId, userId, at))();
  }

  async removeMember(roomId: string, userId: string): Promise<boolean> {
    return this.db.transaction(() => {
      const removed = this.statements.deleteMember.run(roomId, userId).changes > 0;
      if (removed) this.statements.bumpMembers.run(-1, roomId);
      return removed;
    })();
  }

  async isMember(roomId: string, userId: string): Promise<boolean> {
    return this.statements.isMember.get(roomId, userId) !== undefined;
  }

  async membership(roomId: string, userId: string): Promise<"member" | "outsider" | "no-room"> {
    const [room, member] = this.statements.membership.get(roomId, roomId, userId)!;
    return member === 1 ? "member" : room === 1 ? "outsider" : "no-room";
  }

  async addInvite(roomId: string, userId: string, invitedBy: string, at: number): Promise<void> {
    this.statements.insertInvite.run(roomId, userId, invitedBy, at);
  }

  async hasInvite(roomId: string, userId: string): Promise<boolean> {
    return this.statements.hasInvite.get(roomId, userId) !== undefined;
  }

  async dropInvite(roomId: string, userId: string): Promise<boolean> {
    return this.statements.deleteInvite.run(roomId, userId).changes > 0;
  }

  async pendingInvites(userId: string, limit: number): Promise<RoomInvitation[]> {
    return this.statements.pendingInvites
      .all(userId, limit)
      .map((row) => ({ room: toRoom(row), by: row.invited_by, at: row.invited_at }));
  }

  async joinRoom(roomId: string, userId: string, at: number): Promise<JoinOutcome> {
    // The checks (room, visibility, invitation) and the write are one transaction: a decline or a leave
    // cannot slip in between. Joining uses the invitation up.
    return this.db.transaction((): JoinOutcome => {
      const room = this.statements.getRoom.get(roomId);
      if (!room) return "no-room";
      if (this.statements.isMember.get(roomId, userId) !== undefined) return "already";
      const invited = this.statements.deleteInvite.run(roomId, userId).changes > 0;
      if (room.visibility === "private" && !invited) return "not-invited";
      this.joinSync(roomId, userId, at);
      return "joined";
    })();
  }

  async roomsOf(userId: string): Promise<Room[]> {
    return this.statements.roomsOf.all(userId).map(toRoom);
  }

  async allRooms(limit = 1000): Promise<Room[]> {
    return this.statements.allRooms.all(limit).map(toRoom);
  }

  async discoverableRooms(userId: string): Promise<Room[]> {
    return this.statements.discoverable.all(userId).map(toRoom);
  }

  async members(roomId: string, after: string | undefined, limit: number): Promise<MemberRow[]> {
    return this.statements.members
      .all(roomId, after ?? "", limit)
      .map((row) => ({ userId: row.user_id, name: row.name, avatarFileId: row.avatar_file_id }));
  }

  async memberIds(roomId: string): Promise<string[]> {
    return this.statements.memberIds.all(roomId).map((row) => row.user_id);
  }

  async createFile(file: FileRecord): Promise<void> {
    this.statements.insertFile.run(file);
  }

  async getFile(id: string): Promise<FileRecord | undefined> {
    const row = this.statements.getFile.get(id);
    return (
      row && {
        id: row.id,
        owner: row.owner,
        name: row.name,
        size: row.size,
        mime: row.mime,
        mediaType: row.media_type,
        createAt: row.create_at,
      }
    );
  }

  async createFileWithinQuota(file: FileRecord, quotaBytes: number): Promise<boolean> {
    return this.statements.insertFileWithinQuota.run({ ...file, quota: quotaBytes }).changes > 0;
  }

  async fileBytesOf(owner: string): Promise<number> {
    return this.statements.fileBytesOf.get(owner)!;
  }

  async releaseFile(id: string, at: number): Promise<boolean> {
    // A message in the group commit that is not yet written holds its file too: commit it first.
    this.flush();
    return this.statements.releaseFile.run(at, id).changes > 0;
  }

  async markOrphanFiles(
    after: FileCursor | undefined,
    before: number,
    at: number,
    limit: number,
  ): Promise<{ marked: string[]; next: FileCursor | undefined }> {
    this.flush();
    return this.markOrphanBatch(after ?? { createAt: Number.MIN_SAFE_INTEGER, id: "" }, before, at, limit);
  }

  /** See markOrphanFiles: the range read and the marks are one transaction. */
  private markOrphanBatch(from: FileCursor, before: number, at: number, limit: number) {
    return this.db.transaction((): { marked: string[]; next: FileCursor | undefined } => {
      const batch = this.statements.filesByAge.all({ at: from.createAt, id: from.id, before, limit });
      const last = batch.at(-1);
      if (!last) return { marked: [], next: undefined };
      const marked = this.statements.markOrphans.all({
        now: at,
        fromAt: from.createAt,
        fromId: from.id,
        toAt: last.create_at,
        toId: last.id,
      });
      return { marked, next: { createAt: last.create_at, id: last.id } };
    })();
  }

  async markedFiles(limit: number): Promise<string[]> {
    return this.statements.markedFiles.all(limit);
  }

  async forgetFiles(ids: readonly string[]): Promise<void> {
    this.db.transaction(() => {
      for (const id of ids) this.statements.forgetFile.run(id);
    })();
  }

  /**
   * One message of a group commit. What a batch changes besides the rows themselves is collected in `batch`
   * and written once per batch: the sender's read position per conversation, and direct-conversation pairs
   * not yet known.
   */
  private insertOne(draft: MessageDraft, batch: BatchEffects): AppendResult | AppError {
    if (draft.clientMsgId !== undefined) {
      const existing = this.statements.byClientId.get(draft.from, draft.clientMsgId);
      if (existing) return { message: this.toMessage(existing), created: false };
    }
    // The file is checked again in the transaction that stores its message: between the sender's check and
    // this commit, the last other message holding it may have been deleted and the file released.
    if (draft.fileId !== undefined && this.statements.liveFileOf.get(draft.fileId, draft.from) === undefined) {
      return notFound("file");
    }
    // Likewise the sender's membership: a leave (or, later, a kick) committed since the sender's check wins.
    if (draft.messageType === "group" && this.statements.isMember.get(draft.to, draft.from) === undefined) {
      return forbidden("not a member of this room");
    }
    const id = ++this.seq;
    // The row as stored is also the message returned: nothing is read back.
    const row: MessageRow = [
      id,
      draft.messageType,
      draft.mediaType,
      draft.from,
      draft.to,
      draft.content ?? null,
      draft.fileId ?? null,
      draft.clientMsgId ?? null,
      draft.createAt,
      draft.createAt,
      id,
      null,
      null,
      draft.replyTo ?? null,
      null,
      draft.conversation,
    ];
    this.statements.insertMessage.run(...row, draft.recipientUser);
    if (draft.recipientUser !== null) {
      batch.pairs.add(pairKey(draft.recipientUser, draft.from));
      if (draft.messageType === "single") batch.pairs.add(pairKey(draft.from, draft.recipientUser));
    }
    // Sending moves the sender's read position to its own message (ids only grow: the last one wins).
    if (draft.messageType !== "system") batch.readTo.set(pairKey(draft.from, draft.conversation), id);
    return { message: this.toMessage(row), created: true };
  }

  /** Writes what a batch of inserts collected (inside its transaction). */
  private applyEffects(batch: BatchEffects): void {
    for (const pair of batch.pairs) {
      if (this.knownPairs.has(pair)) continue;
      this.statements.addDirect.run(...splitKey(pair));
    }
    for (const [pair, id] of batch.readTo) {
      this.statements.readUpTo.run(...splitKey(pair), id);
    }
  }

  appendMessage(draft: MessageDraft): Promise<AppendResult> {
    if (!this.db.open) return Promise.reject(new Error("store is closed"));
    return new Promise((resolve, reject) => {
      this.pending.push({ draft, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Commits every pending append in one transaction and settles their promises in order. */
  private flush(): void {
    this.flushScheduled = false;
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    const started = performance.now();
    let results: (AppendResult | AppError)[];
    try {
      const written = this.insertBatch(batch);
      results = written.results;
      if (this.knownPairs.size + written.pairs.size > KNOWN_PAIRS_MAX) this.knownPairs.clear();
      for (const pair of written.pairs) this.knownPairs.add(pair);
    } catch (error) {
      for (const item of batch) item.reject(error);
      return;
    }
    this.options.onCommit?.(performance.now() - started, batch.length);
    batch.forEach((item, index) => {
      const result = results[index]!;
      if (result instanceof AppError) item.reject(result);
      else item.resolve(result);
    });
    this.scheduleIndexing();
  }

  /** Starts the full-text indexer a little after a commit, so that one batch takes many commits' messages. */
  private scheduleIndexing(): void {
    if (this.indexTimer !== undefined || this.indexedUpto >= this.seq || !this.db.open) return;
    this.indexTimer = setTimeout(() => this.indexStep(), this.options.searchIndexDelayMs ?? 250).unref();
  }

  /** Indexes one chunk, then yields to the event loop before the next while the index is behind. */
  private indexStep(): void {
    this.indexTimer = undefined;
    if (!this.db.open || this.indexedUpto >= this.seq) return;
    try {
      this.indexChunk(this.indexedUpto, Math.min(this.indexedUpto + SEARCH_INDEX_CHUNK, this.seq));
    } catch (error) {
      this.indexFailed(error);
      return;
    }
    this.indexFailures = 0;
    if (this.indexedUpto < this.seq) this.indexTimer = setTimeout(() => this.indexStep(), 0).unref();
  }

  /**
   * Brings the full-text index up to every committed message (before a search, so it misses none). While
   * the indexer is failing, the search answers from what is indexed and leaves the retry to the timer: a
   * search must not fail, nor each search pay for another failing attempt.
   */
  private indexAll(): void {
    if (this.indexedUpto >= this.seq || this.indexFailures > 0) return;
    try {
      this.indexChunk(this.indexedUpto, this.seq);
    } catch (error) {
      this.indexFailed(error);
    }
  }

  /**
   * Reports an indexer failure (disk full, a lock held too long, a damaged index) and retries after a delay
   * that doubles with each failure in a row, so a lasting fault neither ends the process nor spins.
   * Commits in the meantime do not reschedule (`scheduleIndexing` sees the pending timer).
   */
  private indexFailed(error: unknown): void {
    this.indexFailures += 1;
    try {
      this.options.onBackgroundError?.("search-index", error);
    } catch {
      // The reporter's own failure must not turn this one fatal: the retry below still has to be set.
    }
    if (!this.db.open) return;
    clearTimeout(this.indexTimer);
    const first = this.options.searchIndexRetryMs ?? 1000;
    const delay = Math.min(first * 2 ** Math.min(this.indexFailures - 1, 20), SEARCH_INDEX_RETRY_MAX_MS);
    this.indexTimer = setTimeout(() => this.indexStep(), delay).unref();
  }

  async conversationPage(
    conversation: ConversationKeys,
    page: PageQuery,
  ): Promise<{ messages: StoredMessage[]; hasMore: boolean }> {
    const [a, b] = pair(conversation);
    const take = page.limit + 1;
    const st = this.statements;
    const [latest, before, after] =
      a === b ? [st.latest, st.before, st.after] : [st.latestPair, st.beforePair, st.afterPair];
    // Forward pages read ascending; backward and default pages read newest first and are turned around.
    const rows =
      page.after !== undefined
        ? after.all({ a, b, cursor: page.after, limit: take })
        : page.before !== undefined
          ? before.all({ a, b, cursor: page.before, limit: take })
          : latest.all({ a, b, cursor: 0, limit: take });
    const hasMore = rows.length > page.limit;
    const pageRows = rows.slice(0, page.limit);
    if (page.after === undefined) pageRows.reverse();
    return { messages: pageRows.map((row) => this.toMessage(row)), hasMore };
  }

  async visibleAfter(
    userId: string,
    after: number,
    limit: number,
  ): Promise<{ messages: StoredMessage[]; hasMore: boolean }> {
    const rows = this.statements.visibleAfter.all({ user: userId, after, limit: limit + 1 });
    return { messages: rows.slice(0, limit).map((row) => this.toMessage(row)), hasMore: rows.length > limit };
  }

  async lastVisibleId(userId: string): Promise<number> {
    return this.statements.lastVisible.get({ user: userId })?.last ?? 0;
  }

  async messageByClientId(sender: string, clientMsgId: string): Promise<StoredMessage | undefined> {
    const row = this.statements.byClientId.get(sender, clientMsgId);
    return row && this.toMessage(row);
  }

  async getMessage(id: number): Promise<MessageRecord | undefined> {
    const row = this.statements.getMessage.get(id);
    return row && { message: this.toMessage(row), conversation: row[15] };
  }

  async editMessage(id: number, change: EditChange): Promise<ChangeResult> {
    // The checks and the write are one transaction: a delete or another edit cannot slip in between.
    return this.db.transaction((): ChangeResult => {
      const row = this.statements.getMessage.get(id);
      if (!row) return { ok: false, refusal: "missing" };
      if (row[3] !== change.author) return { ok: false, refusal: "not-author" };
      if (row[12] !== null) return { ok: false, refusal: "deleted" };
      if (row[2] !== "text") return { ok: false, refusal: "not-text" };
      if (row[8] < change.createdFrom) return { ok: false, refusal: "window-passed" };
      this.statements.addRevision.run(id, row[5] ?? "", change.at);
      this.statements.pruneRevisions.run(id, id, MAX_REVISIONS);
      const edited = this.statements.edit.get(change.content, change.at, change.at, ++this.seq, id)!;
      return { ok: true, message: this.toMessage(edited), changed: true };
    })();
  }

  async deleteMessage(id: number, change: DeleteChange): Promise<ChangeResult> {
    return this.db.transaction((): ChangeResult => {
      const row = this.statements.getMessage.get(id);
      if (!row) return { ok: false, refusal: "missing" };
      if (change.author !== undefined && row[3] !== change.author) return { ok: false, refusal: "not-author" };
      // Deleting a tombstone again changes nothing.
      if (row[12] !== null) return { ok: true, message: this.toMessage(row), changed: false };
      this.statements.dropRevisions.run(id);
      const tombstone = this.statements.tombstone.get(change.at, change.at, ++this.seq, id)!;
      return { ok: true, message: this.toMessage(tombstone), changed: true };
    })();
  }

  async revisions(id: number): Promise<{ content: string; editedAt: number }[]> {
    return this.statements.revisions.all(id).map((row) => ({ content: row.content, editedAt: row.edited_at }));
  }

  async setReaction(id: number, change: ReactionChange): Promise<ChangeResult> {
    return this.db.transaction((): ChangeResult => {
      const row = this.statements.getMessage.get(id);
      if (!row) return { ok: false, refusal: "missing" };
      if (row[12] !== null) return { ok: false, refusal: "deleted" };
      // A Map, not an object: a key such as `__proto__` is a key like any other, never the prototype.
      const reactions = new Map(Object.entries(row[14] === null ? {} : parseReactions(row[14])));
      const users = reactions.get(change.emoji) ?? [];
      if (users.includes(change.userId) === change.on)
        return { ok: true, message: this.toMessage(row), changed: false };
      if (change.on && users.length === 0 && reactions.size >= change.maxKeys) {
        return { ok: false, refusal: "too-many-reactions" };
      }
      const next = change.on ? [...users, change.userId] : users.filter((user) => user !== change.userId);
      if (next.length > 0) reactions.set(change.emoji, next);
      else reactions.delete(change.emoji);
      // fromEntries defines own properties, so `__proto__` is stored as the key it is.
      const json = reactions.size > 0 ? JSON.stringify(Object.fromEntries(reactions)) : null;
      const updated = this.statements.setReactions.get(json, change.at, ++this.seq, id)!;
      return { ok: true, message: this.toMessage(updated), changed: true };
    })();
  }

  async readPosition(userId: string, conversation: ConversationKey): Promise<number> {
    return this.statements.readPosition.get(userId, conversation)?.last_read_id ?? 0;
  }

  async moveReadPosition(userId: string, conversation: ConversationKey, lastReadId: number): Promise<number> {
    return this.db.transaction(() => {
      this.statements.readUpTo.run(userId, conversation, lastReadId);
      return this.statements.readPosition.get(userId, conversation)!.last_read_id;
    })();
  }

  async unreadCount(userId: string, conversation: ConversationKeys, after: number): Promise<number> {
    const [a, b] = pair(conversation);
    return this.statements.unread.get({ a, b, after, user: userId, cap: UNREAD_CAP })!.n;
  }

  async conversationRows(userId: string): Promise<{ rooms: ConversationRow[]; direct: ConversationRow[] }> {
    const toRow = (row: SummaryRow): ConversationRow => {
      const [id, name, avatar, joinedAt, lastReadId, unread, ...message] = row;
      const entry: ConversationRow = { id, name: name ?? undefined, joinedAt, lastReadId, unread };
      if (avatar !== null) entry.avatarFileId = avatar;
      if (message[0] !== null) entry.lastMessage = this.toMessage(message as MessageRow);
      return entry;
    };
    const params = { user: userId, cap: UNREAD_CAP };
    return {
      rooms: this.statements.roomRows.all(params).map(toRow),
      direct: this.statements.directRows.all(params).map(toRow),
    };
  }

  async directPeers(userId: string): Promise<string[]> {
    return this.statements.directPeers.all(userId).map((row) => row.peer);
  }

  async joinedAt(roomId: string, userId: string): Promise<number | undefined> {
    return this.statements.joinedAt.get(roomId, userId)?.joined_at;
  }

  async search(userId: string, terms: readonly string[], conversation: ConversationKeys | undefined, limit: number) {
    const [a, b] = conversation === undefined ? [null, null] : pair(conversation);
    // Each word is one quoted FTS5 string (its characters are letters and digits only, so never a quote),
    // matched against the text only (never a scope token); a conversation restricts inside the FTS5 query.
    const words = `content : (${terms.map((word) => `"${word}"`).join(" ")})`;
    const query = a === null ? words : `scope : (${scopeToken(a)} OR ${scopeToken(b!)}) AND ${words}`;
    this.indexAll();
    return this.statements.search
      .all({ user: userId, match: query, a, b, limit, candidates: SEARCH_CANDIDATES })
      .map((row) => this.toMessage(row));
  }

  async updateUser(id: string, changes: UserChanges): Promise<UserRecord | undefined> {
    const done = this.db.transaction(() => {
      // The avatar is checked in the write: the file must still be the user's live image (an orphan sweep
      // or a release between the caller's check and this write makes the change fail, changing nothing).
      if (changes.avatarFileId !== undefined) {
        const set = this.statements.setAvatar.run({ file: changes.avatarFileId, user: id }).changes;
        if (set === 0) return false;
      }
      if (changes.name !== undefined) this.statements.setName.run(changes.name, id);
      if (changes.readReceipts !== undefined) this.statements.setReceipts.run(changes.readReceipts ? 1 : 0, id);
      return true;
    })();
    return done ? (await this.getUser(id))! : undefined;
  }

  async setLastSeen(userId: string, at: number): Promise<void> {
    this.statements.setLastSeen.run(at, userId);
  }

  isOpen(): boolean {
    return this.db.open;
  }

  async close(): Promise<void> {
    if (!this.db.open) return;
    this.flush();
    clearTimeout(this.indexTimer);
    this.indexTimer = undefined;
    this.db.close();
  }
}

interface PageParams {
  a: string;
  b: string;
  cursor: number;
  limit: number;
}

/**
 * A page of one conversation key (`@a`), or of two read as one (`@a` and `@b`: the system conversation).
 * Each key is its own index range in id order; `IN (@a, @b)` would make SQLite sort the whole conversation.
 */
export function pageSql(condition: string, order: "ASC" | "DESC", twoKeys: boolean): string {
  const range = (key: string) =>
    `SELECT ${messageColumns()} FROM messages WHERE conversation = ${key} ${condition} ORDER BY id ${order} LIMIT @limit`;
  if (!twoKeys) return range("@a");
  return `SELECT * FROM (SELECT * FROM (${range("@a")}) UNION ALL SELECT * FROM (${range("@b")}))
    ORDER BY id ${order} LIMIT @limit`;
}

/** One or two conversation keys (the system conversation spans the user's own and the broadcast one). */
function pair(keys: ConversationKeys): [string, string] {
  return typeof keys === "string" ? [keys, keys] : [keys[0], keys[1] ?? keys[0]];
}

/**
 * How many full-text matches one search examines at most: the newest ones, in index order. Ranking every
 * match of a common word is what made a search cost the size of the history (bm25 and a sort over all of
 * them; issue 12, item 7); this bounds the rows a search reads, ranks and checks for visibility.
 */
export const SEARCH_CANDIDATES = 2000;

interface SearchParams {
  user: string;
  match: string;
  a: string | null;
  b: string | null;
  limit: number;
  candidates: number;
}

/**
 * The one FTS5 token a conversation key is indexed under in the `scope` column (see migration 9): `k` and
 * the key's UTF-8 in hex, as SQLite's `hex()` writes it. A key's own characters (`:`, `|`, `*`) are not
 * token characters, so the key itself could not be matched exactly.
 */
export const scopeToken = (key: string): string => `k${Buffer.from(key, "utf8").toString("hex").toUpperCase()}`;

/**
 * Full-text search over what a user may see, tombstones excluded: best match first (bm25 of the text),
 * then newest. The newest `@candidates` matches are examined (FTS5 reads them in rowid order and stops;
 * bm25 is computed for those only), then filtered by what the user may see, ranked and cut to `@limit`.
 *
 * The trade-off: across all conversations, a match the user may see that is older than `@candidates`
 * newer matches of the same words is not found, even when none of those newer ones is visible to the user
 * (a rare word is found: it has few matches). A search restricted to a conversation (`@a`/`@b`) puts the
 * conversation's scope token in the FTS5 query itself, so its candidates are that conversation's newest
 * matches only and nothing outside it can crowd them out. bm25's weights read each searched word's and
 * scope's posting counts once per search (FTS5 counts them), and FTS5 walks each word's postings to
 * intersect them: those still grow with the history, per distinct word (about 5 ms for a word in half of
 * 250k messages, about 110 ms for 8 such words; measured with bench/diagnostics/query-bounds.ts).
 */
export const SEARCH_SQL = `
  WITH hits AS (
    SELECT rowid AS id, bm25(messages_fts, 1.0, 0.0) AS score FROM messages_fts
    WHERE messages_fts MATCH @match ORDER BY rowid DESC LIMIT @candidates)
  SELECT ${messageColumns("m.")} FROM hits JOIN messages m ON m.id = hits.id
  WHERE m.deleted_at IS NULL
    AND (@a IS NULL OR m.conversation IN (@a, @b))
    AND (
      m.conversation IN (SELECT 'r:' || room_id FROM room_members WHERE user_id = @user)
      OR m.recipient_user = @user
      OR (m.sender = @user AND m.message_type = 'single')
      OR m.conversation = '*'
    )
  ORDER BY hits.score, m.id DESC LIMIT @limit`;

/**
 * The key of the direct conversation between `dc.user_id` and `dc.peer` (what directConversation() makes:
 * the two ids in order; user ids are ASCII, so SQLite's byte order is JavaScript's).
 */
const DIRECT_KEY_SQL = `CASE WHEN dc.user_id < dc.peer THEN 'd:' || dc.user_id || '|' || dc.peer
  ELSE 'd:' || dc.peer || '|' || dc.user_id END`;

/** Sorts after every rev: a key whose messages ran out sorts last in the merge below. */
const NO_MORE = "9223372036854775807";

/**
 * Every message a user may see after a cursor, ascending by rev: the rooms it belongs to (group and
 * system-to-room), its direct conversations (listed in `direct_conversations`, its conversation with
 * `system` included), and system messages to everyone. A k-way merge of the conversations' `(conversation,
 * rev)` index ranges: a recursive CTE whose queue is ordered by rev holds each conversation's next rev;
 * taking the smallest pushes that conversation's following one, and the CTE stops after `@limit` taken.
 * So a page reads one index seek per conversation plus one per message it returns, however many messages
 * follow the cursor (joining every conversation's range and sorting it read them all; issue 12, item 7).
 * The rows are then read by `(conversation, rev)`: the wider covering index would be scanned by
 * conversation alone, hence INDEXED BY.
 */
export const VISIBLE_AFTER_SQL = `
  WITH RECURSIVE
    keys (conversation) AS (
      SELECT 'r:' || room_id FROM room_members WHERE user_id = @user
      UNION ALL SELECT ${DIRECT_KEY_SQL} FROM direct_conversations dc WHERE dc.user_id = @user
      UNION ALL SELECT '*'),
    next (conversation, rev) AS (
      SELECT conversation, rev FROM (
        SELECT keys.conversation, (SELECT rev FROM messages WHERE conversation = keys.conversation AND rev > @after
          ORDER BY rev LIMIT 1) AS rev FROM keys)
      WHERE rev IS NOT NULL
      UNION ALL
      SELECT next.conversation, COALESCE((SELECT rev FROM messages WHERE conversation = next.conversation
          AND rev > next.rev ORDER BY rev LIMIT 1), ${NO_MORE})
      FROM next WHERE next.rev < ${NO_MORE}
      ORDER BY 2 LIMIT @limit)
  SELECT ${messageColumns("m.")} FROM next
  JOIN messages m INDEXED BY messages_rev_by_conversation ON m.conversation = next.conversation AND m.rev = next.rev
  WHERE next.rev < ${NO_MORE} ORDER BY next.rev`;

/**
 * A conversationRowsSql row: id, name, avatar (a direct conversation's other user's), joined_at, last_read_id,
 * unread, then the newest message (all NULL when none).
 */
type SummaryRow = [
  id: string,
  name: string | null,
  avatar: string | null,
  joinedAt: number,
  lastReadId: number,
  unread: number,
  /** MESSAGE_COLUMNS of the newest message, or as many NULLs. */
  ...message: unknown[],
];

/**
 * Every room (or direct conversation) of `@user` with its name, read position, unread count (stopping at
 * `@cap`) and newest message, in one statement: per conversation a few index seeks,
 * where `conversation:list` ran five queries per conversation before (issue 12, item 7).
 */
export function conversationRowsSql(kind: "rooms" | "direct"): string {
  const source =
    kind === "rooms"
      ? `SELECT rm.room_id AS id, r.name AS name, NULL AS avatar, rm.joined_at AS joined_at, 'r:' || rm.room_id AS key
         FROM room_members rm JOIN rooms r ON r.id = rm.room_id WHERE rm.user_id = @user`
      : `SELECT dc.peer AS id, u.name AS name, u.avatar_file_id AS avatar, 0 AS joined_at, ${DIRECT_KEY_SQL} AS key
         FROM direct_conversations dc LEFT JOIN users u ON u.id = dc.peer WHERE dc.user_id = @user`;
  return `
    SELECT c.id, c.name, c.avatar, c.joined_at, COALESCE(rp.last_read_id, 0),
      (SELECT COUNT(*) FROM (SELECT 1 FROM messages u WHERE u.conversation = c.key
        AND u.id > COALESCE(rp.last_read_id, 0) AND u.sender != @user AND u.deleted_at IS NULL LIMIT @cap)),
      ${messageColumns("m.")}
    FROM (${source}) c
    LEFT JOIN read_positions rp ON rp.user_id = @user AND rp.conversation = c.key
    LEFT JOIN messages m ON m.id = (SELECT id FROM messages WHERE conversation = c.key ORDER BY id DESC LIMIT 1)
    ORDER BY ${kind === "rooms" ? "c.joined_at, c.id" : "c.id"}`;
}

export const LAST_VISIBLE_SQL = `
  SELECT MAX(last) AS last FROM (
    SELECT (SELECT MAX(rev) FROM messages WHERE conversation = 'r:' || rm.room_id) AS last
      FROM room_members rm WHERE rm.user_id = @user
    UNION ALL SELECT (SELECT MAX(rev) FROM messages WHERE conversation = ${DIRECT_KEY_SQL})
      FROM direct_conversations dc WHERE dc.user_id = @user
    UNION ALL SELECT MAX(rev) FROM messages WHERE conversation = '*'
  )`;
