import type { Room, StoredMessage } from "../../../shared/schemas.js";
import type { FileRecord, UserRecord } from "../types.js";

/** The columns every message read selects, in this order (read as arrays: no object per row). */
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

/** A message row in MESSAGE_COLUMNS order (BIGINTs read as numbers, reactions parsed from JSON). */
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
  reactions: Record<string, string[]> | null,
  conversation: string,
];

/**
 * A stored message as the contract returns it: optional keys only when set, `url` beside `fileId`. pg parses
 * the reactions JSON with JSON.parse, which makes a `__proto__` key an own key, as stored.
 */
export function toMessage(row: MessageRow, fileUrl: (fileId: string) => string): StoredMessage {
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
  if (reactions !== null) message.reactions = reactions;
  return message;
}

/** A `rooms` row. */
export interface RoomRow {
  id: string;
  name: string;
  visibility: "public" | "private";
  created_by: string;
  create_at: number;
  member_count: number;
}

/** A room as the contract returns it. */
export const toRoom = (row: RoomRow): Room => ({
  id: row.id,
  name: row.name,
  visibility: row.visibility,
  createdBy: row.created_by,
  createAt: row.create_at,
  members: row.member_count,
});

/** A `users` row. */
export interface UserRow {
  id: string;
  name: string;
  password_hash: string | null;
  create_at: number;
  read_receipts: boolean;
  last_seen_at: number | null;
  avatar_file_id: string | null;
}

/** A user as the contract returns it. */
export const toUser = (row: UserRow): UserRecord => ({
  id: row.id,
  name: row.name,
  passwordHash: row.password_hash,
  createAt: row.create_at,
  readReceipts: row.read_receipts,
  lastSeenAt: row.last_seen_at,
  avatarFileId: row.avatar_file_id,
});

/** A `files` row. */
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

/** One or two conversation keys (the system conversation spans the user's own and the broadcast one). */
export function keyPair(keys: string | readonly [string, string]): [string, string] {
  return typeof keys === "string" ? [keys, keys] : [keys[0], keys[1] ?? keys[0]];
}

/**
 * The key of the direct conversation between `dc.user_id` and `dc.peer`, as directConversation() makes it:
 * the two ids in byte order (COLLATE "C", whatever the database's default collation).
 */
export const DIRECT_KEY_SQL = `CASE WHEN dc.user_id < dc.peer COLLATE "C" THEN 'd:' || dc.user_id || '|' || dc.peer
  ELSE 'd:' || dc.peer || '|' || dc.user_id END`;

/** Every conversation key of user `$1`: its rooms, its direct conversations, the broadcast. */
export const USER_KEYS_SQL = `
  SELECT 'r:' || room_id AS key FROM room_members WHERE user_id = $1
  UNION ALL SELECT ${DIRECT_KEY_SQL} FROM direct_conversations dc WHERE dc.user_id = $1
  UNION ALL SELECT '*'`;
