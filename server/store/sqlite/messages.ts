import type { StoredMessage } from "../../../shared/schemas.js";
import type {
  AppendResult,
  ChangeResult,
  ConversationKeys,
  DeleteChange,
  EditChange,
  MessageDraft,
  MessageRecord,
  MessageRepository,
  PageQuery,
  ReactionChange,
} from "../types.js";
import { MAX_REVISIONS } from "../types.js";
import type { SqliteContext } from "./database.js";
import { changedAt, keyPair, messageColumns, parseReactions } from "../rows.js";
import { BY_CLIENT_ID_SQL, DIRECT_KEY_SQL, messageRows } from "./message-rows.js";

interface PageParams {
  a: string;
  b: string;
  cursor: number;
  limit: number;
}

/** A page of messages and whether more follow it. */
type Page = { messages: StoredMessage[]; hasMore: boolean };

/**
 * Messages in SQLite: appends (through the group commit), pages, the conditional changes (edit, delete,
 * reaction) with their revisions, and the rev order `sync` reads.
 */
export class SqliteMessages implements MessageRepository {
  private readonly statements;

  constructor(private readonly context: SqliteContext) {
    const { db } = context;
    const rows = <P extends unknown[] | object>(sql: string) => messageRows<P>(db, sql);
    this.statements = {
      newestId: db.prepare<[], number>("SELECT COALESCE(MAX(id), 0) FROM messages").pluck(),
      byClientId: rows<[string, string]>(BY_CLIENT_ID_SQL),
      getMessage: rows<[number]>(`SELECT ${messageColumns()} FROM messages WHERE id = ?`),
      addRevision: db.prepare("INSERT INTO message_revisions (message_id, content, edited_at) VALUES (?, ?, ?)"),
      revisions: db.prepare<[number], { content: string; edited_at: number }>(
        `SELECT content, edited_at FROM (SELECT rowid, content, edited_at FROM message_revisions WHERE message_id = ?
           ORDER BY rowid DESC LIMIT ${MAX_REVISIONS}) ORDER BY rowid`,
      ),
      dropRevisions: db.prepare("DELETE FROM message_revisions WHERE message_id = ?"),
      edit: rows<[string, number, number, number, number]>(
        `UPDATE messages SET content = ?, edited_at = ?, update_at = ?, rev = ? WHERE id = ? RETURNING ${messageColumns()}`,
      ),
      pruneRevisions: db.prepare<[number, number, number]>(
        `DELETE FROM message_revisions WHERE message_id = ? AND rowid NOT IN (
           SELECT rowid FROM message_revisions WHERE message_id = ? ORDER BY rowid DESC LIMIT ?)`,
      ),
      tombstone: rows<[number, number, number, number]>(
        `UPDATE messages SET content = NULL, file_id = NULL, deleted_at = ?, update_at = ?, rev = ?
         WHERE id = ? RETURNING ${messageColumns()}`,
      ),
      setReactions: rows<[string | null, number, number, number]>(
        `UPDATE messages SET reactions = ?, update_at = ?, rev = ? WHERE id = ? RETURNING ${messageColumns()}`,
      ),
      latest: rows<PageParams>(pageSql("", "DESC", false)),
      before: rows<PageParams>(pageSql("AND id < @cursor", "DESC", false)),
      after: rows<PageParams>(pageSql("AND id > @cursor", "ASC", false)),
      latestPair: rows<PageParams>(pageSql("", "DESC", true)),
      beforePair: rows<PageParams>(pageSql("AND id < @cursor", "DESC", true)),
      afterPair: rows<PageParams>(pageSql("AND id > @cursor", "ASC", true)),
      visibleAfter: rows<{ user: string; after: number; limit: number }>(VISIBLE_AFTER_SQL),
      lastVisible: db.prepare<{ user: string }, { last: number | null }>(LAST_VISIBLE_SQL),
    };
  }

  appendMessage(draft: MessageDraft): Promise<AppendResult> {
    return this.context.commits.append(draft);
  }

  async conversationPage(conversation: ConversationKeys, page: PageQuery): Promise<Page> {
    const [a, b] = keyPair(conversation);
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
    return { messages: pageRows.map(this.context.toMessage), hasMore };
  }

  async visibleAfter(userId: string, after: number, limit: number): Promise<Page> {
    const rows = this.statements.visibleAfter.all({ user: userId, after, limit: limit + 1 });
    return { messages: rows.slice(0, limit).map(this.context.toMessage), hasMore: rows.length > limit };
  }

  async lastVisibleId(userId: string): Promise<number> {
    return this.statements.lastVisible.get({ user: userId })?.last ?? 0;
  }

  async newestMessageId(): Promise<number> {
    return this.statements.newestId.get()!;
  }

  async messageByClientId(sender: string, clientMsgId: string): Promise<StoredMessage | undefined> {
    const row = this.statements.byClientId.get(sender, clientMsgId);
    return row && this.context.toMessage(row);
  }

  async getMessage(id: number): Promise<MessageRecord | undefined> {
    const row = this.statements.getMessage.get(id);
    return row && { message: this.context.toMessage(row), conversation: row[15] };
  }

  async editMessage(id: number, change: EditChange): Promise<ChangeResult> {
    // The checks and the write are one transaction: a delete or another edit cannot slip in between.
    return this.context.db.transaction((): ChangeResult => {
      const row = this.statements.getMessage.get(id);
      if (!row) return { ok: false, refusal: "missing" };
      if (row[3] !== change.author) return { ok: false, refusal: "not-author" };
      if (row[12] !== null) return { ok: false, refusal: "deleted" };
      if (row[2] !== "text") return { ok: false, refusal: "not-text" };
      if (row[8] < change.createdFrom) return { ok: false, refusal: "window-passed" };
      const at = changedAt(change.at, row);
      this.statements.addRevision.run(id, row[5] ?? "", at);
      this.statements.pruneRevisions.run(id, id, MAX_REVISIONS);
      const edited = this.statements.edit.get(change.content, at, at, this.context.seq.next(), id)!;
      const message = this.context.toMessage(edited);
      this.context.outbox.add({ type: "message.updated", at, data: { message } });
      return { ok: true, message, changed: true };
    })();
  }

  async deleteMessage(id: number, change: DeleteChange): Promise<ChangeResult> {
    return this.context.db.transaction((): ChangeResult => {
      const row = this.statements.getMessage.get(id);
      if (!row) return { ok: false, refusal: "missing" };
      if (change.author !== undefined && row[3] !== change.author) return { ok: false, refusal: "not-author" };
      // Deleting a tombstone again changes nothing.
      if (row[12] !== null) return { ok: true, message: this.context.toMessage(row), changed: false };
      this.statements.dropRevisions.run(id);
      const at = changedAt(change.at, row);
      const tombstone = this.statements.tombstone.get(at, at, this.context.seq.next(), id)!;
      const message = this.context.toMessage(tombstone);
      this.context.outbox.add({ type: "message.deleted", at, data: { message } });
      return { ok: true, message, changed: true };
    })();
  }

  async revisions(id: number): Promise<{ content: string; editedAt: number }[]> {
    return this.statements.revisions.all(id).map((row) => ({ content: row.content, editedAt: row.edited_at }));
  }

  async setReaction(id: number, change: ReactionChange): Promise<ChangeResult> {
    return this.context.db.transaction((): ChangeResult => {
      const row = this.statements.getMessage.get(id);
      if (!row) return { ok: false, refusal: "missing" };
      if (row[12] !== null) return { ok: false, refusal: "deleted" };
      // A Map, not an object: a key such as `__proto__` is a key like any other, never the prototype.
      const reactions = new Map(Object.entries(row[14] === null ? {} : parseReactions(row[14])));
      const users = reactions.get(change.emoji) ?? [];
      if (users.includes(change.userId) === change.on)
        return { ok: true, message: this.context.toMessage(row), changed: false };
      if (change.on && users.length === 0 && reactions.size >= change.maxKeys) {
        return { ok: false, refusal: "too-many-reactions" };
      }
      const next = change.on ? [...users, change.userId] : users.filter((user) => user !== change.userId);
      if (next.length > 0) reactions.set(change.emoji, next);
      else reactions.delete(change.emoji);
      // fromEntries defines own properties, so `__proto__` is stored as the key it is.
      const json = reactions.size > 0 ? JSON.stringify(Object.fromEntries(reactions)) : null;
      const at = changedAt(change.at, row);
      const updated = this.statements.setReactions.get(json, at, this.context.seq.next(), id)!;
      const message = this.context.toMessage(updated);
      this.context.outbox.add({ type: "message.updated", at, data: { message } });
      return { ok: true, message, changed: true };
    })();
  }
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

/** The highest rev of any conversation a user may see (its rooms, its direct conversations, the broadcast). */
export const LAST_VISIBLE_SQL = `
  SELECT MAX(last) AS last FROM (
    SELECT (SELECT MAX(rev) FROM messages WHERE conversation = 'r:' || rm.room_id) AS last
      FROM room_members rm WHERE rm.user_id = @user
    UNION ALL SELECT (SELECT MAX(rev) FROM messages WHERE conversation = ${DIRECT_KEY_SQL})
      FROM direct_conversations dc WHERE dc.user_id = @user
    UNION ALL SELECT MAX(rev) FROM messages WHERE conversation = '*'
  )`;
