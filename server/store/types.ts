import type {
  MediaType,
  ReadPositionsPage,
  Room,
  RoomInvitation,
  RoomRole,
  StoredMessage,
  User,
} from "../../shared/schemas.js";
import type { WebhookDelivery, WebhookEventData, WebhookEventType } from "../../shared/webhooks.js";
import type { AuditDraft, ModerationRepository } from "./moderation.js";

/** A user row, with the password hash for built-in accounts. */
export interface UserRecord extends User {
  passwordHash: string | null;
  createAt: number;
  readReceipts: boolean;
  lastSeenAt: number | null;
  /** The uploaded image shown as the user's avatar. */
  avatarFileId: string | null;
  /** Made admin through the admin API (`ADMIN_USERS` are admins whatever this says). */
  admin: boolean;
  /** When the account was disabled; null while enabled. */
  disabledAt: number | null;
  /** Tokens issued before this time (ms) no longer count: a password change or a sign-out everywhere. */
  tokensValidAfter: number;
}

/** What `updateUser` may change; `avatarFileId: null` removes the avatar. */
export interface UserChanges {
  name?: string | undefined;
  readReceipts?: boolean | undefined;
  avatarFileId?: string | null | undefined;
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

/** A position in the files ordered by age: `create_at`, then id. */
export interface FileCursor {
  createAt: number;
  id: string;
}

/**
 * Where a message belongs: a room (group and system-to-room), a direct conversation between two users
 * (single, and system-to-user as the conversation with `system`), or the broadcast to everyone.
 */
export type ConversationKey = string;

/** One key, or two whose messages read as one conversation (the system conversation: to the user, and to all). */
export type ConversationKeys = ConversationKey | readonly [ConversationKey, ConversationKey];

/** A stored message with the conversation it belongs to. */
export interface MessageRecord {
  message: StoredMessage;
  conversation: ConversationKey;
}

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
  replyTo?: number | undefined;
  createAt: number;
}

/** Outcome of an append: `created` is false when the sender's `clientMsgId` was already used. */
export interface AppendResult {
  message: StoredMessage;
  created: boolean;
  /**
   * For a created message, the id of the message before it in its conversation (0 when none), as committed:
   * the PostgreSQL store (cluster mode) tells it, so that nodes deliver a conversation in id order; SQLite
   * (one process, which delivers in commit order) leaves it out.
   */
  prev?: number;
}

/** Why a conditional change of a message was refused (the checks run in the same transaction as the write). */
export type ChangeRefusal = "missing" | "not-author" | "deleted" | "not-text" | "window-passed" | "too-many-reactions";

/** Outcome of a conditional change: the message as it is now and whether it changed, or why not. */
export type ChangeResult =
  { ok: true; message: StoredMessage; changed: boolean } | { ok: false; refusal: ChangeRefusal };

/** An edit: allowed only to `author`, for a text message not deleted, created at or after `createdFrom`. */
export interface EditChange {
  author: string;
  content: string;
  at: number;
  /** The oldest `createAt` still in the edit window. */
  createdFrom: number;
}

/** A delete: by `author` only, or by anyone when `author` is undefined (an admin). */
export interface DeleteChange {
  author: string | undefined;
  at: number;
}

/** A reaction toggle, refused on a tombstone and when it would add a key beyond `maxKeys`. */
export interface ReactionChange {
  emoji: string;
  userId: string;
  on: boolean;
  at: number;
  maxKeys: number;
}

/** Paging of one conversation. */
export interface PageQuery {
  before?: number | undefined;
  after?: number | undefined;
  limit: number;
}

/**
 * Unread counts stop here, so a never-read conversation of any size costs the same (issue 12, item 7): the
 * count stops at this many messages. Tombstones and the reader's own messages it passes are skipped (few:
 * sending moves the sender's read position to its message). `unread: 999` reads "999 or more".
 */
export const UNREAD_CAP = 999;

/** Revisions kept per message: the newest ones (the contract's bound on what an edit war can store). */
export const MAX_REVISIONS = 50;

/**
 * How many full-text matches one search examines at most: the newest ones. Ranking every match of a common
 * word is what made a search cost the size of the history (issue 12, item 7); this bounds the rows a search
 * reads, ranks and checks for visibility. The trade-off: across all conversations, a visible match older
 * than this many newer matches of the same words is not found; a search restricted to a conversation
 * examines that conversation's matches only.
 */
export const SEARCH_CANDIDATES = 2000;

/** One of a user's conversations as `conversation:list` shows it, read in one query with the others. */
export interface ConversationRow {
  /** A room id, or the other user of a direct conversation. */
  id: string;
  /** The room's name, or the other user's name (undefined when no such user). */
  name: string | undefined;
  /** When the user joined the room (0 for a direct conversation). */
  joinedAt: number;
  lastReadId: number;
  /** Messages by others after the read position, tombstones excluded, at most UNREAD_CAP. */
  unread: number;
  lastMessage?: StoredMessage;
  /** A direct conversation's other user's avatar file. */
  avatarFileId?: string;
}

/** One member row as `room:members` pages it. */
export interface MemberRow {
  userId: string;
  name: string;
  avatarFileId: string | null;
  /** The member's effective role (the room's creator owns it). */
  role: RoomRole;
  /** When the member's latest mute ends (section 11), in force or not; null when never muted. */
  mutedUntil: number | null;
}

/** What `joinRoom` did: joined, was already a member, or why not (`banned`: a ban in force at the join's time). */
export type JoinOutcome = "joined" | "already" | "no-room" | "not-invited" | "banned";

/** A new room. */
export interface RoomDraft {
  id: string;
  name: string;
  visibility: "public" | "private";
  createdBy: string;
  createAt: number;
}

/**
 * Users: accounts made by sign-up or by a first token, and their profile. The account changes take an
 * optional audit entry, written in the transaction of the change (it is not written when nothing changed).
 */
export interface UserRepository {
  /** Creates a user; false when the id is taken. */
  createUser(user: { id: string; name: string; passwordHash: string | null; createAt: number }): Promise<boolean>;
  /** Returns the user, creating it (and its lobby membership) when absent. */
  ensureUser(id: string, name: string, createAt: number): Promise<UserRecord>;
  getUser(id: string): Promise<UserRecord | undefined>;
  /** Whether the user exists (cheaper than `getUser`: the check before every direct message). */
  userExists(id: string): Promise<boolean>;
  /**
   * Changes a user; undefined (and nothing changed) when the new avatar is not the user's live image at the
   * moment of writing.
   */
  updateUser(id: string, changes: UserChanges): Promise<UserRecord | undefined>;
  setLastSeen(userId: string, at: number): Promise<void>;
  /**
   * Sets a built-in account's password hash and makes every token issued before `at` stop counting, if the
   * stored hash is still `expectedHash` (any hash when undefined: an admin's reset). False (nothing changed)
   * when it is not, or when there is no such user: two changes that checked the same old password cannot
   * both win.
   */
  changePassword(id: string, newHash: string, at: number, expectedHash?: string, audit?: AuditDraft): Promise<boolean>;
  /**
   * Makes every token of the user issued before `at` stop counting (the time only ever moves forward);
   * undefined when there is no such user.
   */
  revokeTokens(id: string, at: number, audit?: AuditDraft): Promise<UserRecord | undefined>;
  /**
   * Signs one token out until it expires. A user with `maxPerUser` tokens signed out already has every
   * token issued before `at` revoked instead, and its single entries dropped ("all"): the bound on what
   * repeated sign-outs can store.
   */
  revokeToken(token: RevokedToken, at: number, maxPerUser: number): Promise<"token" | "all">;
  /** Whether this token (by hash) was signed out. */
  isTokenRevoked(hash: string): Promise<boolean>;
  /** Of these token hashes, those signed out (the periodic check of live sockets). */
  revokedAmong(hashes: readonly string[]): Promise<string[]>;
  /** These users' disabled time and tokens' valid-after (users that do not exist are left out). */
  accessStates(userIds: readonly string[]): Promise<AccessState[]>;
  /** Forgets signed-out tokens that expired before `now`, at most `limit`; returns how many. */
  pruneRevokedTokens(now: number, limit: number): Promise<number>;
  /**
   * Disables (at `disabledAt`) or, with null, enables an account; its tokens are left as they are (a sign-out
   * revokes them). Undefined when there is no such user.
   */
  setDisabled(id: string, disabledAt: number | null, audit?: AuditDraft): Promise<UserRecord | undefined>;
  /** Sets the admin flag; undefined when there is no such user. */
  setAdmin(id: string, admin: boolean, audit?: AuditDraft): Promise<UserRecord | undefined>;
  /**
   * Users by id after `after`, at most `limit`; with `q`, only those whose id or name contains it (without
   * case, for ASCII letters).
   */
  listUsers(query: { q?: string | undefined; after?: string | undefined; limit: number }): Promise<UserRecord[]>;
}

/** What decides whether a user's tokens still count. */
export interface AccessState {
  id: string;
  disabledAt: number | null;
  tokensValidAfter: number;
}

/** A token signed out before it expires, by the SHA-256 of its text. */
export interface RevokedToken {
  hash: string;
  userId: string;
  /** When the token expires (ms); the entry can go then. */
  expiresAt: number;
}

/** A user's rooms and the newest rev it can see (`Store.sessionOf`). */
export interface SessionState {
  rooms: Room[];
  lastId: number;
}

/** Rooms, their members and pending invitations. */
export interface RoomRepository {
  /** Creates a room and seats its creator; undefined when the creator already owns `maxOwned` rooms. */
  createRoom(room: RoomDraft, maxOwned?: number): Promise<Room | undefined>;
  getRoom(id: string): Promise<Room | undefined>;
  /** Adds a member; false when already one. */
  addMember(roomId: string, userId: string, at: number): Promise<boolean>;
  /** Removes a member; false when not one. */
  removeMember(roomId: string, userId: string): Promise<boolean>;
  isMember(roomId: string, userId: string): Promise<boolean>;
  /** Whether the room exists and the user is in it, in one read (the check before every room message). */
  membership(roomId: string, userId: string): Promise<"member" | "outsider" | "no-room">;
  /** Records (or refreshes) a pending invitation. */
  addInvite(roomId: string, userId: string, invitedBy: string, at: number): Promise<void>;
  hasInvite(roomId: string, userId: string): Promise<boolean>;
  /** Drops a pending invitation; false when there was none. */
  dropInvite(roomId: string, userId: string): Promise<boolean>;
  /** A user's pending invitations, newest first, at most `limit`. */
  pendingInvites(userId: string, limit: number): Promise<RoomInvitation[]>;
  /**
   * Joins a room if the user may, in one transaction: a public room, or a private one with a pending
   * invitation, which the join uses up.
   */
  joinRoom(roomId: string, userId: string, at: number): Promise<JoinOutcome>;
  roomsOf(userId: string): Promise<Room[]>;
  /**
   * What a connecting socket's `session` needs, read in one statement (one snapshot, one round trip): the
   * user's rooms, as `roomsOf`, and the rev of the newest message it can see, as `lastVisibleId`.
   */
  sessionOf(userId: string): Promise<SessionState>;
  /** Every room, oldest first, at most `limit`. */
  allRooms(limit?: number): Promise<Room[]>;
  /** Rooms by id after `after`, at most `limit` (the admin's list). */
  roomsPage(after: string | undefined, limit: number): Promise<Room[]>;
  /**
   * The public rooms a user could join (at most 500, oldest first): not those it is in, nor those it is banned
   * from at time `at` (a ban that lapsed offers the room again).
   */
  discoverableRooms(userId: string, at: number): Promise<Room[]>;
  members(roomId: string, after: string | undefined, limit: number): Promise<MemberRow[]>;
  /** Every member id of a room. */
  memberIds(roomId: string): Promise<string[]>;
  /** When the user joined the room, if a member. */
  joinedAt(roomId: string, userId: string): Promise<number | undefined>;
}

/** Uploads' records and their lifecycle (the bytes are a FileBlobs' concern). */
export interface FileRepository {
  createFile(file: FileRecord): Promise<void>;
  /** A live file (one not marked for removal). */
  getFile(id: string): Promise<FileRecord | undefined>;
  /**
   * Stores a file if the owner's live files and it total at most `quotaBytes`; false (nothing stored) when
   * they would not. The check and the insert are one statement, so parallel uploads cannot both pass it.
   */
  createFileWithinQuota(file: FileRecord, quotaBytes: number): Promise<boolean>;
  /** Bytes of the owner's live files. */
  fileBytesOf(owner: string): Promise<number>;
  /**
   * Marks a file for removal if no message references it (pending messages committed first); true when
   * marked. The check and the mark are one statement.
   */
  releaseFile(id: string, at: number): Promise<boolean>;
  /**
   * One batch of the orphan sweep: of the next `limit` files by age after `after` created before `before`,
   * marks for removal those no message references (pending messages committed first), in one transaction.
   * `next` is the cursor to continue from, undefined when no file was left to look at.
   */
  markOrphanFiles(
    after: FileCursor | undefined,
    before: number,
    at: number,
    limit: number,
  ): Promise<{ marked: string[]; next: FileCursor | undefined }>;
  /** Ids of files marked for removal whose rows are still there, at most `limit`. */
  markedFiles(limit: number): Promise<string[]>;
  /** Drops the rows of marked files (after their bytes are gone). */
  forgetFiles(ids: readonly string[]): Promise<void>;
}

/** Messages, their revisions and reactions, and the rev order `sync` reads. */
export interface MessageRepository {
  /**
   * Stores a message; resolves only once it is committed (and, in durable mode, fsynced). Rejects with
   * NOT_FOUND when the draft's file is no longer the sender's live file, and FORBIDDEN when the sender of a
   * group message is no longer a member, at the moment of the commit.
   */
  appendMessage(draft: MessageDraft): Promise<AppendResult>;
  /** One page of a conversation, ascending by id. */
  conversationPage(
    conversation: ConversationKeys,
    page: PageQuery,
  ): Promise<{ messages: StoredMessage[]; hasMore: boolean }>;
  getMessage(id: number): Promise<MessageRecord | undefined>;
  /** The sender's message with this idempotency key, if it sent one. */
  messageByClientId(sender: string, clientMsgId: string): Promise<StoredMessage | undefined>;
  /**
   * Replaces a message's text if the change's checks hold at the moment of writing, keeping the previous
   * text as a revision (the newest MAX_REVISIONS are kept); bumps rev.
   */
  editMessage(id: number, change: EditChange): Promise<ChangeResult>;
  /**
   * Turns a message into a tombstone (no content or file) and drops its revisions; bumps rev. A tombstone
   * is answered unchanged (`changed: false`).
   */
  deleteMessage(id: number, change: DeleteChange): Promise<ChangeResult>;
  /** Earlier texts of a message, oldest first (at most the newest MAX_REVISIONS). */
  revisions(id: number): Promise<{ content: string; editedAt: number }[]>;
  /** Adds or removes one user's emoji; `changed` is false (and rev unchanged) when nothing changed. */
  setReaction(id: number, change: ReactionChange): Promise<ChangeResult>;
  /** Every message the user may see with rev > after, ascending by rev. */
  visibleAfter(userId: string, after: number, limit: number): Promise<{ messages: StoredMessage[]; hasMore: boolean }>;
  /** The highest rev the user may see (the newest id, if nothing changed since), 0 when none. */
  lastVisibleId(userId: string): Promise<number>;
  /** The newest message id stored, 0 when none. */
  newestMessageId(): Promise<number>;
}

/** What a move of a read position did: the position now, and whether this move changed it. */
export interface ReadMove {
  position: number;
  moved: boolean;
}

/** Read positions, unread counts and the conversation list. */
export interface ReadStateRepository {
  /** The user's read position in a conversation, 0 when never read. */
  readPosition(userId: string, conversation: ConversationKey): Promise<number>;
  /**
   * Moves the read position forward only; answers the position now and whether this call moved it (of
   * concurrent moves to one position, exactly one did).
   */
  moveReadPosition(userId: string, conversation: ConversationKey, lastReadId: number): Promise<ReadMove>;
  /**
   * A page of read positions in a conversation, by user id after `after`, at most `limit` (bounded by the
   * caller): of a room's members, or of the given users; 0 for one who never read it. Users who turned read
   * receipts off, or who do not exist, are left out, and do not count against `limit` or `hasMore`.
   */
  readPositions(
    conversation: ConversationKey,
    people: { room: string } | { users: string[] },
    after: string | undefined,
    limit: number,
  ): Promise<ReadPositionsPage>;
  /** Messages by others after `after`, tombstones excluded, counted up to UNREAD_CAP. */
  unreadCount(userId: string, conversation: ConversationKeys, after: number): Promise<number>;
  /**
   * The user's rooms (by when it joined, then id) and direct conversations (by peer id, as `directPeers`),
   * each with its newest message, read position and unread count, in a constant number of queries. The
   * `system` peer's row covers only the user's own key, not the broadcasts: its conversation spans two keys.
   */
  conversationRows(userId: string): Promise<{ rooms: ConversationRow[]; direct: ConversationRow[] }>;
  /** Users (and `system`) the user has direct messages with. */
  directPeers(userId: string): Promise<string[]>;
}

/** Full-text search. */
export interface SearchRepository {
  /**
   * Full-text search over what the user may see, tombstones excluded, best match first, then newest.
   * `words` are distinct runs of letters and digits (see `searchWords`), all of which a message must
   * contain, compared without case; each store turns them into its own engine's query.
   */
  search(
    userId: string,
    words: readonly string[],
    conversation: ConversationKeys | undefined,
    limit: number,
  ): Promise<StoredMessage[]>;
}

/**
 * Everything durable: one repository per aggregate, over one database. Methods return Promises so that
 * PostgreSQL (real I/O) and SQLite implement the same contract (`test/store-contract/`); no caller may
 * rely on one resolving before another starts: each check and the write it guards are one statement or
 * one transaction inside the store.
 */
export interface Store
  extends
    UserRepository,
    RoomRepository,
    FileRepository,
    MessageRepository,
    ReadStateRepository,
    SearchRepository,
    WebhookRepository,
    ModerationRepository {
  /** True while the database is open. */
  isOpen(): boolean;
  /** Commits what is pending, then closes the database. */
  close(): Promise<void>;
  /**
   * Reports each group commit (duration, messages) to `observer` from now on: for a store opened before the
   * server that keeps its metrics (PostgreSQL, opened by `openEngines`). Optional.
   */
  observeCommits?(observer: (durationMs: number, messages: number) => void): void;
}

/**
 * Where uploads' bytes live: one file per id under `DATA_DIR/files` on one node; the database in cluster
 * mode, where every node serves every file. The upload route writes a received body to a temporary file
 * first (it sniffs the type there), then hands it over with `put` before the file's row is admitted.
 */
export interface FileBlobs {
  /** Takes the bytes of `tempPath` (a file this node wrote; gone afterwards) as the bytes of file `id`. */
  put(id: string, tempPath: string): Promise<void>;
  /** The bytes of file `id`, or undefined when there are none. */
  open(id: string): Promise<{ size: number; stream: NodeJS.ReadableStream } | undefined>;
  /** Removes the bytes of file `id`; no error when there are none. */
  remove(id: string): Promise<void>;
  /** Ids that have bytes, in order, at most `limit` (an audit of stray bytes; tests). */
  list(limit: number): Promise<string[]>;
}

/**
 * An event for the webhook outbox (section 13): written by a repository in the transaction of the change that
 * causes it, with `at` its time (ms since the epoch). See `sqlite/outbox.ts` and `postgres/outbox.ts`.
 */
export type OutboxEvent = {
  [T in WebhookEventType]: { type: T; data: WebhookEventData[T]; at: number };
}[WebhookEventType];

/** A webhook endpoint as stored, its signing secret included. */
export interface WebhookEndpointRecord {
  id: string;
  url: string;
  /** `whsec_<base64>`. */
  secret: string;
  /** The event types it gets; null: every type. */
  events: WebhookEventType[] | null;
  createAt: number;
}

/** A delivery the sender claimed: the event to send to one endpoint, and the attempt this is (1 for the first). */
export interface ClaimedDelivery {
  endpointId: string;
  seq: number;
  eventId: string;
  type: WebhookEventType;
  createAt: number;
  /** The event's `data`, as JSON text. */
  data: string;
  attempts: number;
}

/**
 * What became of an attempt: delivered (a 2xx), to be retried at `nextAttemptAt`, failed for good, or released
 * unattempted (the node is shutting down: the attempt is given back and due at once).
 */
export type DeliveryOutcome =
  | { kind: "delivered"; statusCode: number; at: number }
  | { kind: "retry"; statusCode?: number | undefined; error?: string | undefined; at: number; nextAttemptAt: number }
  | { kind: "failed"; statusCode?: number | undefined; error?: string | undefined; at: number }
  | { kind: "released"; at: number };

/** Webhook endpoints and the outbox's deliveries (events are written by the other repositories' transactions). */
export interface WebhookRepository {
  /** Stores a new endpoint unless `max` endpoints exist already (then false, nothing stored). */
  createWebhook(endpoint: WebhookEndpointRecord, max: number): Promise<boolean>;
  /** Creates or replaces an endpoint (the one of `WEBHOOK_URL`, at every boot); its deliveries stay. */
  putWebhook(endpoint: WebhookEndpointRecord): Promise<void>;
  /** Every endpoint, oldest first. */
  webhooks(): Promise<WebhookEndpointRecord[]>;
  /** Removes an endpoint and its deliveries; false when there was none. */
  deleteWebhook(id: string): Promise<boolean>;
  /** Writes an event caused by no other stored change (presence), in a transaction of its own. */
  recordEvent(event: OutboxEvent): Promise<void>;
  /**
   * The users whose newest presence event in the outbox is `user.online`, by id: a single node that stops
   * cleanly writes their `user.offline`, one killed did not (read at its next boot; scans the outbox's events).
   */
  usersLeftOnline(): Promise<string[]>;
  /**
   * Calls `listener` soon after a transaction of this store that wrote pending deliveries has committed (so that
   * the sender attempts them at once rather than at its next poll); replaces an earlier listener. Only this
   * process's transactions are heard of: other nodes' deliveries wait for a poll.
   */
  observeDeliveries(listener: () => void): void;
  /**
   * Claims, per endpoint, at most `limit` pending deliveries due at `now` (oldest due first), each claimed by
   * one caller only in the whole cluster: its attempts grow by one and it is not due again before `leaseUntil`
   * (a node that dies holding it leaves it to be claimed again then). Answered in seq order.
   */
  claimDeliveries(
    wanted: readonly { endpointId: string; limit: number }[],
    now: number,
    leaseUntil: number,
  ): Promise<ClaimedDelivery[]>;
  /** Records what became of a claimed delivery (nothing when it is no longer pending, or gone). */
  settleDelivery(endpointId: string, seq: number, outcome: DeliveryOutcome): Promise<void>;
  /** An endpoint's deliveries, newest event first, at most `limit`. */
  deliveries(endpointId: string, limit: number): Promise<WebhookDelivery[]>;
  /** Makes an event's delivery to an endpoint pending and due at `now`; undefined when there is no such delivery. */
  retryDelivery(endpointId: string, eventId: string, now: number): Promise<WebhookDelivery | undefined>;
  /**
   * Removes at most `limit` delivered or failed deliveries settled before `before`, then the events no delivery
   * refers to any more that were created before it; answers how many deliveries went.
   */
  pruneDeliveries(before: number, limit: number): Promise<number>;
  /** Pending deliveries, and when the oldest pending one's event was created (null when none). */
  outboxStats(): Promise<{ pending: number; oldestCreateAt: number | null }>;
}
