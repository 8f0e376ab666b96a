import type Database from "better-sqlite3";
import type { StoredMessage } from "../../../shared/schemas.js";
import type { ConversationKeys } from "../types.js";

/**
 * The columns every message read selects, in this order. Messages are read as arrays (`.raw()`): building a
 * 16-key object per row was about half of a history page's time.
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
] as const;

/** `id, message_type, …` for a SELECT or RETURNING list, each column prefixed with `alias` (e.g. `m.`). */
export const messageColumns = (alias = ""): string => MESSAGE_COLUMNS.map((column) => alias + column).join(", ");

/** A message row in MESSAGE_COLUMNS order. */
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
];

/** Prepares a statement whose rows are read as MessageRow arrays. */
export const messageRows = <P extends unknown[] | object>(db: Database.Database, sql: string) =>
  db.prepare<P, MessageRow>(sql).raw(true);

/** The sender's message with an idempotency key (the lookup before an append, and `messageByClientId`). */
export const BY_CLIENT_ID_SQL = `SELECT ${messageColumns()} FROM messages WHERE sender = ? AND client_msg_id = ?`;

/** A stored reactions object; JSON.parse makes `__proto__` an own key, as stored. */
export const parseReactions = (json: string): Record<string, string[]> => JSON.parse(json) as Record<string, string[]>;

/** Makes the mapping of a message row to the message clients see, with `fileUrl` making a file's URL. */
export function messageMapper(fileUrl: (fileId: string) => string): (row: MessageRow) => StoredMessage {
  return (row) => {
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
      message.url = fileUrl(fileId);
    }
    if (clientMsgId !== null) message.clientMsgId = clientMsgId;
    if (editedAt !== null) message.editedAt = editedAt;
    if (deletedAt !== null) message.deletedAt = deletedAt;
    if (replyTo !== null) message.replyTo = replyTo;
    if (reactions !== null) message.reactions = parseReactions(reactions);
    return message;
  };
}

/** One or two conversation keys (the system conversation spans the user's own and the broadcast one). */
export function keyPair(keys: ConversationKeys): [string, string] {
  return typeof keys === "string" ? [keys, keys] : [keys[0], keys[1] ?? keys[0]];
}

/**
 * The key of the direct conversation between `dc.user_id` and `dc.peer` (what directConversation() makes:
 * the two ids in order; user ids are ASCII, so SQLite's byte order is JavaScript's).
 */
export const DIRECT_KEY_SQL = `CASE WHEN dc.user_id < dc.peer THEN 'd:' || dc.user_id || '|' || dc.peer
  ELSE 'd:' || dc.peer || '|' || dc.user_id END`;
