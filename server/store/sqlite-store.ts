import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { LOBBY_ROOM_ID, SYSTEM_USER_ID } from "../../shared/ids.js";
import type { Room, StoredMessage } from "../../shared/schemas.js";
import { MIGRATIONS } from "./migrations.js";
import type {
  AppendResult,
  FileRecord,
  MemberRow,
  MessageDraft,
  PageQuery,
  RoomDraft,
  Store,
  UserRecord,
} from "./types.js";

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
}

interface MessageRow {
  id: number;
  message_type: "single" | "group" | "system";
  media_type: "text" | "image" | "file";
  sender: string;
  recipient: string;
  content: string | null;
  file_id: string | null;
  client_msg_id: string | null;
  create_at: number;
  update_at: number;
}

interface RoomRow {
  id: string;
  name: string;
  visibility: "public" | "private";
  created_by: string;
  create_at: number;
  member_count: number;
}

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
  private readonly insertBatch: (batch: Pending[]) => AppendResult[];
  private pending: Pending[] = [];
  private flushScheduled = false;

  constructor(private readonly options: SqliteStoreOptions) {
    if (options.file !== ":memory:") mkdirSync(dirname(options.file), { recursive: true });
    this.db = new Database(options.file);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma(`synchronous = ${options.sync === "full" ? "FULL" : "NORMAL"}`);
    this.db.pragma("foreign_keys = ON");
    this.db.pragma("busy_timeout = 5000");
    this.migrate();
    const db = this.db;
    this.statements = {
      insertUser: db.prepare(
        "INSERT INTO users (id, name, password_hash, create_at) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
      ),
      getUser: db.prepare<[string], { id: string; name: string; password_hash: string | null; create_at: number }>(
        "SELECT id, name, password_hash, create_at FROM users WHERE id = ?",
      ),
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
      insertInvite: db.prepare(
        "INSERT INTO room_invites (room_id, user_id, invited_by, create_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
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
      members: db.prepare<[string, string, number], { user_id: string; name: string }>(
        `SELECT rm.user_id, u.name FROM room_members rm JOIN users u ON u.id = rm.user_id
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
      >("SELECT * FROM files WHERE id = ?"),
      byClientId: db.prepare<[string, string], MessageRow>(
        "SELECT * FROM messages WHERE sender = ? AND client_msg_id = ?",
      ),
      insertMessage: db.prepare<
        [
          string,
          string,
          string,
          string,
          string,
          string | null,
          string | null,
          string | null,
          string | null,
          number,
          number,
        ],
        MessageRow
      >(
        `INSERT INTO messages (message_type, media_type, sender, recipient, conversation, recipient_user,
           content, file_id, client_msg_id, create_at, update_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
      ),
      latest: db.prepare<[string, number], MessageRow>(
        "SELECT * FROM messages WHERE conversation = ? ORDER BY id DESC LIMIT ?",
      ),
      before: db.prepare<[string, number, number], MessageRow>(
        "SELECT * FROM messages WHERE conversation = ? AND id < ? ORDER BY id DESC LIMIT ?",
      ),
      after: db.prepare<[string, number, number], MessageRow>(
        "SELECT * FROM messages WHERE conversation = ? AND id > ? ORDER BY id ASC LIMIT ?",
      ),
      visibleAfter: db.prepare<{ user: string; after: number; limit: number }, MessageRow>(VISIBLE_AFTER_SQL),
      lastVisible: db.prepare<{ user: string }, { last: number | null }>(LAST_VISIBLE_SQL),
    };
    this.insertBatch = this.db.transaction((batch: Pending[]) => batch.map(({ draft }) => this.insertOne(draft)));
    this.seed();
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
    const message: StoredMessage = {
      id: row.id,
      messageType: row.message_type,
      mediaType: row.media_type,
      from: row.sender,
      to: row.recipient,
      createAt: row.create_at,
      updateAt: row.update_at,
    };
    if (row.content !== null) message.content = row.content;
    if (row.file_id !== null) {
      message.fileId = row.file_id;
      message.url = this.options.fileUrl(row.file_id);
    }
    if (row.client_msg_id !== null) message.clientMsgId = row.client_msg_id;
    return message;
  }

  private toUser(row: { id: string; name: string; password_hash: string | null; create_at: number }): UserRecord {
    return { id: row.id, name: row.name, passwordHash: row.password_hash, createAt: row.create_at };
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
    const existing = this.statements.getUser.get(id);
    if (existing) return this.toUser(existing);
    this.createUserTx({ id, name, passwordHash: null, createAt });
    return this.toUser(this.statements.getUser.get(id)!);
  }

  async getUser(id: string): Promise<UserRecord | undefined> {
    const row = this.statements.getUser.get(id);
    return row && this.toUser(row);
  }

  async createRoom(room: RoomDraft): Promise<Room> {
    this.db.transaction(() => {
      this.statements.insertRoom.run(room.id, room.name, room.visibility, room.createdBy, room.createAt);
      // Rooms the server makes for itself (e.g. a task's log room) have no creator to seat.
      if (room.createdBy !== SYSTEM_USER_ID) this.joinSync(room.id, room.createdBy, room.createAt);
    })();
    return toRoom(this.statements.getRoom.get(room.id)!);
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

  async addInvite(roomId: string, userId: string, invitedBy: string, at: number): Promise<void> {
    this.statements.insertInvite.run(roomId, userId, invitedBy, at);
  }

  async hasInvite(roomId: string, userId: string): Promise<boolean> {
    return this.statements.hasInvite.get(roomId, userId) !== undefined;
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
      .map((row) => ({ userId: row.user_id, name: row.name }));
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

  private insertOne(draft: MessageDraft): AppendResult {
    if (draft.clientMsgId !== undefined) {
      const existing = this.statements.byClientId.get(draft.from, draft.clientMsgId);
      if (existing) return { message: this.toMessage(existing), created: false };
    }
    const row = this.statements.insertMessage.get(
      draft.messageType,
      draft.mediaType,
      draft.from,
      draft.to,
      draft.conversation,
      draft.recipientUser,
      draft.content ?? null,
      draft.fileId ?? null,
      draft.clientMsgId ?? null,
      draft.createAt,
      draft.createAt,
    )!;
    return { message: this.toMessage(row), created: true };
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
    let results: AppendResult[];
    try {
      results = this.insertBatch(batch);
    } catch (error) {
      for (const item of batch) item.reject(error);
      return;
    }
    this.options.onCommit?.(performance.now() - started, batch.length);
    batch.forEach((item, index) => item.resolve(results[index]!));
  }

  async conversationPage(
    conversation: string,
    page: PageQuery,
  ): Promise<{ messages: StoredMessage[]; hasMore: boolean }> {
    const take = page.limit + 1;
    // Forward pages read ascending; backward and default pages read newest first and are turned around.
    const rows =
      page.after !== undefined
        ? this.statements.after.all(conversation, page.after, take)
        : page.before !== undefined
          ? this.statements.before.all(conversation, page.before, take)
          : this.statements.latest.all(conversation, take);
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

  isOpen(): boolean {
    return this.db.open;
  }

  async close(): Promise<void> {
    if (!this.db.open) return;
    this.flush();
    this.db.close();
  }
}

/**
 * Every message a user may see after a cursor: the rooms it belongs to (group and system-to-room), direct
 * messages to or from it (and system messages to it), and system messages to everyone. Every branch is an
 * index range (no scan of `messages`); the direct and broadcast branches stop at `limit`, but the rooms
 * branch reads every message after the cursor in all the user's rooms before sorting and cutting it, so its
 * cost grows with how far behind the client is (see the benchmarks issue).
 */
export const VISIBLE_AFTER_SQL = `
  SELECT m.* FROM messages m WHERE m.id IN (
    SELECT id FROM (
      SELECT msg.id AS id FROM room_members rm
      JOIN messages msg ON msg.conversation = 'r:' || rm.room_id AND msg.id > @after
      WHERE rm.user_id = @user ORDER BY msg.id LIMIT @limit)
    UNION ALL SELECT id FROM (
      SELECT id FROM messages WHERE recipient_user = @user AND id > @after ORDER BY id LIMIT @limit)
    UNION ALL SELECT id FROM (
      SELECT id FROM messages WHERE sender = @user AND message_type = 'single' AND id > @after ORDER BY id LIMIT @limit)
    UNION ALL SELECT id FROM (
      SELECT id FROM messages WHERE conversation = '*' AND id > @after ORDER BY id LIMIT @limit)
  ) ORDER BY m.id LIMIT @limit`;

export const LAST_VISIBLE_SQL = `
  SELECT MAX(last) AS last FROM (
    SELECT (SELECT MAX(id) FROM messages WHERE conversation = 'r:' || rm.room_id) AS last
      FROM room_members rm WHERE rm.user_id = @user
    UNION ALL SELECT MAX(id) FROM messages WHERE recipient_user = @user
    UNION ALL SELECT MAX(id) FROM messages WHERE sender = @user AND message_type = 'single'
    UNION ALL SELECT MAX(id) FROM messages WHERE conversation = '*'
  )`;
