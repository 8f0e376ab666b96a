import type { Room, StoredMessage } from "../../shared/schemas.js";
import type { ConversationKeys, ConversationRow, FileRecord, MessageDraft, SessionState, UserRecord } from "./types.js";

/**
 * The columns every message read selects, in this order, in both stores. Messages are read as arrays: building
 * a 16-key object per row was about half of a history page's time.
 */
export const MESSAGE_COLUMNS = [
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
  "deleted_by",
] as const;

/** `id, message_type, …` for a SELECT or RETURNING list, each column prefixed with `alias` (e.g. `m.`). */
export const messageColumns = (alias = ""): string => MESSAGE_COLUMNS.map((column) => alias + column).join(", ");

/** A message row in MESSAGE_COLUMNS order; `reactions` is the stored JSON text. */
export type MessageRow = [
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
  deletedBy: string | null,
];

/** A stored reactions object; JSON.parse makes `__proto__` an own key, as stored. */
export const parseReactions = (json: string): Record<string, string[]> => JSON.parse(json) as Record<string, string[]>;

/** Makes the mapping of a message row to the message clients see, with `fileUrl` making a file's URL. */
export function messageMapper(fileUrl: (fileId: string) => string): (row: MessageRow) => StoredMessage {
  return (row) => {
    const [id, messageType, mediaType, from, to, content, fileId, clientMsgId, createAt, updateAt, rev] = row;
    const [editedAt, deletedAt, replyTo, reactions] = [row[11], row[12], row[13], row[14]];
    const message: StoredMessage = { id, messageType, mediaType, from, to, createAt, updateAt, rev };
    if (content !== null) message.content = content;
    if (fileId !== null) {
      message.fileId = fileId;
      message.url = fileUrl(fileId);
    }
    if (clientMsgId !== null) message.clientMsgId = clientMsgId;
    if (editedAt !== null) message.editedAt = editedAt;
    if (deletedAt !== null) message.deletedAt = deletedAt;
    if (replyTo !== null) message.replyTo = replyTo;
    if (reactions !== null) message.reactions = parseReactions(reactions);
    if (row[16] !== null) message.deletedBy = row[16];
    return message;
  };
}

/** The row a new message is stored as, with `id` as its id and rev: the message returned is the one written. */
export function draftRow(draft: MessageDraft, id: number): MessageRow {
  return [
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
    null,
  ];
}

/** One or two conversation keys (the system conversation spans the user's own and the broadcast one). */
export function keyPair(keys: ConversationKeys): [string, string] {
  return typeof keys === "string" ? [keys, keys] : [keys[0], keys[1] ?? keys[0]];
}

/** A `rooms` row. */
export interface RoomRow {
  id: string;
  name: string;
  visibility: "public" | "private";
  created_by: string;
  create_at: number;
  member_count: number;
  /** Set with `room:update` (section 11); absent from rows read before its migration. */
  topic?: string | null;
}

/** A room as the contract returns it. */
export const toRoom = (row: RoomRow): Room => {
  const room: Room = {
    id: row.id,
    name: row.name,
    visibility: row.visibility,
    createdBy: row.created_by,
    createAt: row.create_at,
    members: row.member_count,
  };
  if (typeof row.topic === "string" && row.topic !== "") room.topic = row.topic;
  return room;
};

/**
 * A row of the session statement (`Store.sessionOf`): one of the user's rooms, or nulls when it has none, with
 * the newest rev the user can see on every row.
 */
export type SessionRow = Omit<RoomRow, "id"> & { id: string | null; session_last_id: number };

/** The rooms and newest visible rev of the session statement's rows (in the statement's order). */
export function toSession(rows: readonly SessionRow[]): SessionState {
  const rooms: Room[] = [];
  for (const row of rows) if (row.id !== null) rooms.push(toRoom(row as RoomRow));
  return { rooms, lastId: rows[0]?.session_last_id ?? 0 };
}

/** A `users` row (`read_receipts` is 0/1 in SQLite, a BOOLEAN in PostgreSQL). */
export interface UserRow {
  id: string;
  name: string;
  password_hash: string | null;
  create_at: number;
  read_receipts: number | boolean;
  last_seen_at: number | null;
  avatar_file_id: string | null;
  admin: number | boolean;
  disabled_at: number | null;
  tokens_valid_after: number;
}

/** A user as the contract returns it. */
export const toUser = (row: UserRow): UserRecord => ({
  id: row.id,
  name: row.name,
  passwordHash: row.password_hash,
  createAt: row.create_at,
  readReceipts: row.read_receipts === 1 || row.read_receipts === true,
  lastSeenAt: row.last_seen_at,
  avatarFileId: row.avatar_file_id,
  admin: row.admin === 1 || row.admin === true,
  disabledAt: row.disabled_at,
  tokensValidAfter: row.tokens_valid_after,
});

/** A `files` row, without its marks. */
export interface FileRow {
  id: string;
  owner: string;
  name: string;
  size: number;
  mime: string;
  media_type: "image" | "file";
  create_at: number;
}

/** A file record as the contract returns it. */
export const toFile = (row: FileRow): FileRecord => ({
  id: row.id,
  owner: row.owner,
  name: row.name,
  size: row.size,
  mime: row.mime,
  mediaType: row.media_type,
  createAt: row.create_at,
});

/**
 * A row of a store's conversation-rows statement: id, name, avatar (a direct conversation's other user's),
 * joined_at, last_read_id, unread, then the newest message's MESSAGE_COLUMNS (all NULL when none).
 */
export type SummaryRow = [
  id: string,
  name: string | null,
  avatar: string | null,
  joinedAt: number,
  lastReadId: number,
  unread: number,
  ...message: unknown[],
];

/** Makes the mapping of a SummaryRow to the ConversationRow `conversation:list` shows. */
export function summaryMapper(toMessage: (row: MessageRow) => StoredMessage): (row: SummaryRow) => ConversationRow {
  return (row) => {
    const [id, name, avatar, joinedAt, lastReadId, unread, ...message] = row;
    const entry: ConversationRow = { id, name: name ?? undefined, joinedAt, lastReadId, unread };
    if (avatar !== null) entry.avatarFileId = avatar;
    if (message[0] !== null) entry.lastMessage = toMessage(message as MessageRow);
    return entry;
  };
}

/** `text` with LIKE's wildcards (and the escape character) escaped by a backslash. */
export const likeEscaped = (text: string): string => text.replace(/[\\%_]/g, (c) => `\\${c}`);

/**
 * When a change of a message happens, as stored: its caller's clock, but never before the message's last
 * change. Two tabs' changes can reach the store in another order than their clocks read, and the one stored
 * later (higher rev, later revision) must not look older (`updateAt`, `editedAt`, a revision's `editedAt`).
 */
export const changedAt = (at: number, row: MessageRow): number => Math.max(at, row[9]);
