import type pg from "pg";
import type { StoredMessage } from "../../../shared/schemas.js";
import { forbidden, invalid, notFound } from "../../errors.js";
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
import { pairKey, splitKey } from "../batch-effects.js";
import { changedAt, draftRow, keyPair, messageColumns, parseReactions, type MessageRow } from "../rows.js";
import type { PgDatabase } from "./db.js";
import { NUL_REFUSAL, query, queryArrays, transaction } from "./db.js";
import { GroupCommit } from "./group-commit.js";
import { emitEvents } from "./outbox.js";
import { USER_KEYS_SQL } from "./message-rows.js";
import { takeRevs } from "./revs.js";
import { searchVector } from "./search.js";

/** PostgreSQL's TEXT cannot hold U+0000 (SQLite's can): such a draft is refused, not its whole batch. */
const holdsNul = (draft: MessageDraft): boolean =>
  [draft.from, draft.to, draft.conversation, draft.recipientUser, draft.content, draft.fileId, draft.clientMsgId].some(
    (value) => value?.includes("\u0000") === true,
  );

/** Options of the message repository. */
export interface PgMessagesOptions {
  /** Told after each group commit, for metrics. */
  onCommit?: ((durationMs: number, messages: number) => void) | undefined;
}

/**
 * Stores a batch's accepted drafts and what they change besides their rows, in one statement (the counter
 * row is locked meanwhile, so one round trip instead of three): the rows from unnest'ed arrays; for the rows
 * inserted (not those whose clientMsgId another node committed meanwhile), both users' direct-conversation
 * pair (the recipient's only for a system message: its conversation with `system`), and each sender's read
 * position per conversation, moved forward to its last message. Answers the ids inserted. (A pair already
 * stored costs an index probe: unlike the SQLite store, no cache of known pairs saves it.)
 */
const INSERT_BATCH = `
  WITH ins AS (
    INSERT INTO messages (id, message_type, media_type, sender, recipient, content, file_id, client_msg_id,
      create_at, update_at, rev, reply_to, conversation, recipient_user, search)
    SELECT d.id, d.message_type, d.media_type, d.sender, d.recipient, d.content, d.file_id, d.client_msg_id,
      d.create_at, d.create_at, d.id, d.reply_to, d.conversation, d.recipient_user, d.search::tsvector
    FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
      $9::bigint[], $10::bigint[], $11::text[], $12::text[], $13::text[])
      AS d (id, message_type, media_type, sender, recipient, content, file_id, client_msg_id, create_at, reply_to,
        conversation, recipient_user, search)
    ON CONFLICT (sender, client_msg_id) WHERE client_msg_id IS NOT NULL DO NOTHING
    RETURNING id, message_type, sender, conversation, recipient_user),
  pairs AS (
    INSERT INTO direct_conversations (user_id, peer)
    SELECT DISTINCT pair.user_id, pair.peer FROM ins CROSS JOIN LATERAL (VALUES
      (ins.recipient_user, ins.sender),
      (CASE WHEN ins.message_type = 'single' THEN ins.sender END, ins.recipient_user)) pair (user_id, peer)
    WHERE ins.recipient_user IS NOT NULL AND pair.user_id IS NOT NULL
    ON CONFLICT DO NOTHING),
  positions AS (
    INSERT INTO read_positions (user_id, conversation, last_read_id)
    SELECT sender, conversation, MAX(id) FROM ins WHERE message_type <> 'system' GROUP BY sender, conversation
    ON CONFLICT (user_id, conversation)
    DO UPDATE SET last_read_id = GREATEST(read_positions.last_read_id, excluded.last_read_id))
  SELECT ins.id, ins.conversation,
    (SELECT COALESCE(MAX(m.id), 0) FROM messages m WHERE m.conversation = ins.conversation) AS prev
  FROM ins`;

/** The messages with these (sender, clientMsgId) keys. */
const BY_CLIENT_IDS = `SELECT ${messageColumns()} FROM messages
  WHERE (sender, client_msg_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))`;

/**
 * Every message a user may see after a cursor, ascending by rev: per conversation key of the user (rooms,
 * direct conversations, the broadcast) the first `$3` revs after `$2` from the `(conversation, rev)` index,
 * merged and cut to `$3`, then those rows. A page reads at most `$3` index entries per conversation however
 * many messages follow the cursor.
 */
export const VISIBLE_AFTER_SQL = `
  WITH keys AS (${USER_KEYS_SQL}),
  picked AS (
    SELECT keys.key, next.rev FROM keys CROSS JOIN LATERAL (
      SELECT rev FROM messages WHERE conversation = keys.key AND rev > $2 ORDER BY rev LIMIT $3) next
    ORDER BY next.rev LIMIT $3)
  SELECT ${messageColumns("m.")} FROM picked JOIN messages m ON m.conversation = picked.key AND m.rev = picked.rev
  ORDER BY m.rev`;

/** The highest rev of any conversation of user `$1` (one index probe per conversation), 0 when none. */
export const LAST_VISIBLE_SQL = `
  WITH keys AS (${USER_KEYS_SQL})
  SELECT COALESCE(MAX(last.rev), 0) AS last FROM keys
  CROSS JOIN LATERAL (SELECT MAX(rev) AS rev FROM messages WHERE conversation = keys.key) last`;

/**
 * A page of one conversation key (`$1`, at most `$2` rows), or of two read as one (`$1` and `$3`: the system
 * conversation), each key its own range of the `(conversation, id)` index; `cursor` compares ids with the
 * last parameter.
 */
export function pageSql(cursor: "<" | ">" | undefined, twoKeys: boolean): string {
  const order = cursor === ">" ? "ASC" : "DESC";
  const condition = cursor === undefined ? "" : `AND id ${cursor} $${twoKeys ? 4 : 3}`;
  const range = (key: string) =>
    `SELECT ${messageColumns()} FROM messages WHERE conversation = ${key} ${condition} ORDER BY id ${order} LIMIT $2`;
  if (!twoKeys) return range("$1");
  return `SELECT * FROM ((${range("$1")}) UNION ALL (${range("$3")})) page ORDER BY id ${order} LIMIT $2`;
}

/** Page statements by [direction][one key or two]. */
const PAGES = {
  latest: [pageSql(undefined, false), pageSql(undefined, true)],
  before: [pageSql("<", false), pageSql("<", true)],
  after: [pageSql(">", false), pageSql(">", true)],
} as const;

/** A draft of a batch, and what became of it. */
interface Slot {
  draft: MessageDraft;
  /** The refusal, the existing message (created: false), or the index of the same key's earlier draft. */
  outcome?: Error | AppendResult | { sameAs: number };
  /** The id taken for it, when it is to be inserted. */
  id?: number;
}

/**
 * Messages on PostgreSQL. Appends go through a group commit (GroupCommit): one transaction per batch that
 * checks each draft, takes the batch's ids with one takeRevs (the counter row stays locked until COMMIT, so
 * revs become visible in commit order across nodes), and writes the rows, direct-conversation pairs and the
 * senders' read positions. Edits, deletes and reactions lock the message row, check, then take their rev.
 */
export class PgMessages implements MessageRepository {
  private readonly commits: GroupCommit<MessageDraft, AppendResult>;

  constructor(
    private readonly db: PgDatabase,
    private readonly options: PgMessagesOptions = {},
  ) {
    this.commits = new GroupCommit((drafts) => this.commitBatch(drafts));
  }

  private message(row: MessageRow): StoredMessage {
    return this.db.toMessage(row);
  }

  appendMessage(draft: MessageDraft): Promise<AppendResult> {
    if (!this.db.isOpen()) return Promise.reject(new Error("store is closed"));
    return this.commits.add(draft);
  }

  /** Resolves once every append made before the call has committed (or was refused). */
  flush(): Promise<void> {
    return this.commits.flush();
  }

  /** One group commit: see the class comment. */
  private async commitBatch(drafts: MessageDraft[]): Promise<(AppendResult | Error)[]> {
    const started = performance.now();
    const slots: Slot[] = drafts.map((draft) => ({ draft }));
    await transaction(this.db.pool, async (client) => {
      await this.checkDrafts(client, slots);
      const accepted = slots.filter((slot) => slot.outcome === undefined);
      if (accepted.length === 0) return;
      // As late as possible: the counter row is locked from here to COMMIT, and other writers wait on it.
      const first = await takeRevs(client, accepted.length);
      accepted.forEach((slot, index) => (slot.id = first + index));
      await this.insertAccepted(client, accepted);
      await emitEvents(
        client,
        accepted.flatMap(({ draft, outcome }) =>
          outcome && "created" in outcome && outcome.created
            ? [{ type: "message.created" as const, at: draft.createAt, data: { message: outcome.message } }]
            : [],
        ),
      );
    });
    this.options.onCommit?.(performance.now() - started, drafts.length);
    return slots.map((slot) => {
      const outcome = slot.outcome!;
      return "sameAs" in outcome ? asRepeat(slots[outcome.sameAs]!.outcome!) : outcome;
    });
  }

  /**
   * The per-draft checks, in the SQLite store's order: a clientMsgId already used answers its message; the
   * file must still be the sender's live file; the sender of a group message must still be a member. The
   * file and membership rows are locked FOR SHARE until COMMIT, so a release of the file or a leave of the
   * room committing meanwhile waits for this batch (and then sees its messages).
   */
  private async checkDrafts(client: pg.PoolClient, slots: Slot[]): Promise<void> {
    const existing = await byClientIds(
      client,
      slots.filter((slot) => slot.draft.clientMsgId !== undefined && !holdsNul(slot.draft)),
    );
    const fileIds = [...new Set(slots.flatMap((slot) => slot.draft.fileId ?? []))].sort();
    const fileOwners = new Map<string, string>();
    if (fileIds.length > 0) {
      const rows = await query<{ id: string; owner: string }>(
        client,
        `SELECT id, owner FROM files WHERE id = ANY($1::text[]) AND deleted_at IS NULL ORDER BY id FOR SHARE`,
        [fileIds],
      );
      for (const row of rows.rows) fileOwners.set(row.id, row.owner);
    }
    const groups = [
      ...new Set(slots.flatMap(({ draft }) => (draft.messageType === "group" ? [pairKey(draft.to, draft.from)] : []))),
    ].sort();
    const members = new Set<string>();
    const mutedUntil = new Map<string, number>();
    if (groups.length > 0) {
      const rows = await query<{ room_id: string; user_id: string }>(
        client,
        `SELECT room_id, user_id FROM room_members
         WHERE (room_id, user_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
         ORDER BY room_id, user_id FOR SHARE`,
        [groups.map((key) => splitKey(key)[0]), groups.map((key) => splitKey(key)[1])],
      );
      for (const row of rows.rows) members.add(pairKey(row.room_id, row.user_id));
      // Mutes in force (section 11), read after the member rows are locked: a mute locks the member's row
      // first, so one that committed meanwhile is seen here, and one still running waits for this batch.
      const muted = await query<{ room_id: string; user_id: string; until: number }>(
        client,
        `SELECT room_id, user_id, until FROM room_mutes
         WHERE (room_id, user_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
        [groups.map((key) => splitKey(key)[0]), groups.map((key) => splitKey(key)[1])],
      );
      for (const row of muted.rows) mutedUntil.set(pairKey(row.room_id, row.user_id), row.until);
    }
    const earlier = new Map<string, number>();
    slots.forEach((slot, index) => {
      const { draft } = slot;
      if (holdsNul(draft)) {
        slot.outcome = invalid(NUL_REFUSAL);
        return;
      }
      const key = draft.clientMsgId === undefined ? undefined : pairKey(draft.from, draft.clientMsgId);
      if (key !== undefined) {
        const row = existing.get(key);
        if (row) {
          slot.outcome = { message: this.message(row), created: false };
          return;
        }
        const before = earlier.get(key);
        if (before !== undefined) {
          slot.outcome = { sameAs: before };
          return;
        }
      }
      if (draft.fileId !== undefined && fileOwners.get(draft.fileId) !== draft.from) {
        slot.outcome = notFound("file");
        return;
      }
      if (draft.messageType === "group" && !members.has(pairKey(draft.to, draft.from))) {
        slot.outcome = forbidden("not a member of this room");
        return;
      }
      if (draft.messageType === "group" && (mutedUntil.get(pairKey(draft.to, draft.from)) ?? 0) > draft.createAt) {
        slot.outcome = forbidden("you are muted in this room");
        return;
      }
      if (key !== undefined) earlier.set(key, index);
    });
  }

  /**
   * Inserts the accepted drafts and their effects in one statement (INSERT_BATCH). A clientMsgId committed by
   * another node since the check conflicts on the unique index: that draft answers the stored message
   * (created: false), its id unused, and changes no pair or read position.
   */
  private async insertAccepted(client: pg.PoolClient, accepted: Slot[]): Promise<void> {
    const column = <T>(pick: (draft: MessageDraft, id: number) => T) => accepted.map((s) => pick(s.draft, s.id!));
    const inserted = await query<{ id: number; conversation: string; prev: number }>(client, INSERT_BATCH, [
      column((_, id) => id),
      column((d) => d.messageType),
      column((d) => d.mediaType),
      column((d) => d.from),
      column((d) => d.to),
      column((d) => d.content ?? null),
      column((d) => d.fileId ?? null),
      column((d) => d.clientMsgId ?? null),
      column((d) => d.createAt),
      column((d) => d.replyTo ?? null),
      column((d) => d.conversation),
      column((d) => d.recipientUser),
      column((d) => searchVector(d.content)),
    ]);
    const stored = new Set(inserted.rows.map((row) => row.id));
    // The message before each in its conversation: the newest committed one (the subquery does not see this
    // statement's rows; the counter's lock, held since takeRevs, means every earlier id has committed), or the
    // batch's own previous one in that conversation.
    const prevs = new Map<number, number>();
    const batchLast = new Map<string, number>();
    for (const row of [...inserted.rows].sort((a, b) => a.id - b.id)) {
      prevs.set(row.id, batchLast.get(row.conversation) ?? row.prev);
      batchLast.set(row.conversation, row.id);
    }
    const existing = await byClientIds(
      client,
      accepted.filter((slot) => !stored.has(slot.id!)),
    );
    for (const slot of accepted) {
      const { draft } = slot;
      if (stored.has(slot.id!)) {
        slot.outcome = { message: this.message(draftRow(draft, slot.id!)), created: true, prev: prevs.get(slot.id!)! };
      } else {
        const row = existing.get(pairKey(draft.from, draft.clientMsgId!))!;
        slot.outcome = { message: this.message(row), created: false };
        slot.id = undefined;
      }
    }
  }

  async conversationPage(
    conversation: ConversationKeys,
    page: PageQuery,
  ): Promise<{ messages: StoredMessage[]; hasMore: boolean }> {
    const [a, b] = keyPair(conversation);
    const two = a === b ? 0 : 1;
    const [sql, cursor] =
      page.after !== undefined
        ? [PAGES.after[two], page.after]
        : page.before !== undefined
          ? [PAGES.before[two], page.before]
          : [PAGES.latest[two], undefined];
    const values: unknown[] = [a, page.limit + 1];
    if (two) values.push(b);
    if (cursor !== undefined) values.push(cursor);
    const rows = await queryArrays<MessageRow>(this.db.pool, sql, values);
    const hasMore = rows.length > page.limit;
    const pageRows = rows.slice(0, page.limit);
    // Forward pages read ascending; backward and default pages read newest first and are turned around.
    if (page.after === undefined) pageRows.reverse();
    return { messages: pageRows.map((row) => this.message(row)), hasMore };
  }

  async visibleAfter(
    userId: string,
    after: number,
    limit: number,
  ): Promise<{ messages: StoredMessage[]; hasMore: boolean }> {
    const rows = await queryArrays<MessageRow>(this.db.pool, VISIBLE_AFTER_SQL, [userId, after, limit + 1]);
    return { messages: rows.slice(0, limit).map((row) => this.message(row)), hasMore: rows.length > limit };
  }

  async lastVisibleId(userId: string): Promise<number> {
    return (await query<{ last: number }>(this.db.pool, LAST_VISIBLE_SQL, [userId])).rows[0]!.last;
  }

  async newestMessageId(): Promise<number> {
    return (await query<{ id: number }>(this.db.pool, "SELECT COALESCE(MAX(id), 0) AS id FROM messages")).rows[0]!.id;
  }

  async messageByClientId(sender: string, clientMsgId: string): Promise<StoredMessage | undefined> {
    const [row] = await queryArrays<MessageRow>(
      this.db.pool,
      `SELECT ${messageColumns()} FROM messages WHERE sender = $1 AND client_msg_id = $2`,
      [sender, clientMsgId],
    );
    return row && this.message(row);
  }

  async getMessage(id: number): Promise<MessageRecord | undefined> {
    const [row] = await queryArrays<MessageRow>(
      this.db.pool,
      `SELECT ${messageColumns()} FROM messages WHERE id = $1`,
      [id],
    );
    return row && { message: this.message(row), conversation: row[15] };
  }

  /** The message row locked until the transaction ends: the checks of a change and its write see one state. */
  private async lockMessage(client: pg.PoolClient, id: number): Promise<MessageRow | undefined> {
    const [row] = await queryArrays<MessageRow>(
      client,
      `SELECT ${messageColumns()} FROM messages WHERE id = $1 FOR UPDATE`,
      [id],
    );
    return row;
  }

  async editMessage(id: number, change: EditChange): Promise<ChangeResult> {
    return transaction(this.db.pool, async (client): Promise<ChangeResult> => {
      const row = await this.lockMessage(client, id);
      if (!row) return { ok: false, refusal: "missing" };
      if (row[3] !== change.author) return { ok: false, refusal: "not-author" };
      if (row[12] !== null) return { ok: false, refusal: "deleted" };
      if (row[2] !== "text") return { ok: false, refusal: "not-text" };
      if (row[8] < change.createdFrom) return { ok: false, refusal: "window-passed" };
      const at = changedAt(change.at, row);
      await query(client, "INSERT INTO message_revisions (message_id, content, edited_at) VALUES ($1, $2, $3)", [
        id,
        row[5] ?? "",
        at,
      ]);
      await query(
        client,
        `DELETE FROM message_revisions WHERE message_id = $1 AND seq NOT IN (SELECT seq FROM message_revisions
           WHERE message_id = $1 ORDER BY seq DESC LIMIT ${MAX_REVISIONS})`,
        [id],
      );
      const rev = await takeRevs(client, 1);
      const [edited] = await queryArrays<MessageRow>(
        client,
        `UPDATE messages SET content = $1, edited_at = $2, update_at = $2, rev = $3, search = $4::tsvector
         WHERE id = $5 RETURNING ${messageColumns()}`,
        [change.content, at, rev, searchVector(change.content), id],
      );
      const message = this.message(edited!);
      await emitEvents(client, [{ type: "message.updated", at, data: { message } }]);
      return { ok: true, message, changed: true };
    });
  }

  async deleteMessage(id: number, change: DeleteChange): Promise<ChangeResult> {
    return transaction(this.db.pool, async (client): Promise<ChangeResult> => {
      const row = await this.lockMessage(client, id);
      if (!row) return { ok: false, refusal: "missing" };
      if (change.author !== undefined && row[3] !== change.author) return { ok: false, refusal: "not-author" };
      // Deleting a tombstone again changes nothing.
      if (row[12] !== null) return { ok: true, message: this.message(row), changed: false };
      await query(client, "DELETE FROM message_revisions WHERE message_id = $1", [id]);
      const at = changedAt(change.at, row);
      const rev = await takeRevs(client, 1);
      const [tombstone] = await queryArrays<MessageRow>(
        client,
        `UPDATE messages SET content = NULL, file_id = NULL, search = NULL, deleted_at = $1, update_at = $1, rev = $2
         WHERE id = $3 RETURNING ${messageColumns()}`,
        [at, rev, id],
      );
      const message = this.message(tombstone!);
      await emitEvents(client, [{ type: "message.deleted", at, data: { message } }]);
      return { ok: true, message, changed: true };
    });
  }

  async revisions(id: number): Promise<{ content: string; editedAt: number }[]> {
    const rows = await query<{ content: string; edited_at: number }>(
      this.db.pool,
      `SELECT content, edited_at FROM (SELECT seq, content, edited_at FROM message_revisions WHERE message_id = $1
         ORDER BY seq DESC LIMIT ${MAX_REVISIONS}) newest ORDER BY seq`,
      [id],
    );
    return rows.rows.map((row) => ({ content: row.content, editedAt: row.edited_at }));
  }

  async setReaction(id: number, change: ReactionChange): Promise<ChangeResult> {
    return transaction(this.db.pool, async (client): Promise<ChangeResult> => {
      const row = await this.lockMessage(client, id);
      if (!row) return { ok: false, refusal: "missing" };
      if (row[12] !== null) return { ok: false, refusal: "deleted" };
      // A Map, not an object: a key such as `__proto__` is a key like any other, never the prototype.
      const reactions = new Map(Object.entries(row[14] === null ? {} : parseReactions(row[14])));
      const users = reactions.get(change.emoji) ?? [];
      if (users.includes(change.userId) === change.on) return { ok: true, message: this.message(row), changed: false };
      if (change.on && users.length === 0 && reactions.size >= change.maxKeys) {
        return { ok: false, refusal: "too-many-reactions" };
      }
      const next = change.on ? [...users, change.userId] : users.filter((user) => user !== change.userId);
      if (next.length > 0) reactions.set(change.emoji, next);
      else reactions.delete(change.emoji);
      // fromEntries defines own properties, so `__proto__` is stored as the key it is (JSON, not JSONB: the
      // keys keep their order).
      const json = reactions.size > 0 ? JSON.stringify(Object.fromEntries(reactions)) : null;
      const at = changedAt(change.at, row);
      const rev = await takeRevs(client, 1);
      const [updated] = await queryArrays<MessageRow>(
        client,
        `UPDATE messages SET reactions = $1::json, update_at = $2, rev = $3 WHERE id = $4 RETURNING ${messageColumns()}`,
        [json, at, rev, id],
      );
      const message = this.message(updated!);
      await emitEvents(client, [{ type: "message.updated", at, data: { message } }]);
      return { ok: true, message, changed: true };
    });
  }
}

/** The stored messages with the (sender, clientMsgId) keys of these drafts, by pairKey(sender, clientMsgId). */
async function byClientIds(client: pg.PoolClient, slots: Slot[]): Promise<Map<string, MessageRow>> {
  const existing = new Map<string, MessageRow>();
  if (slots.length === 0) return existing;
  const rows = await queryArrays<MessageRow>(client, BY_CLIENT_IDS, [
    slots.map((slot) => slot.draft.from),
    slots.map((slot) => slot.draft.clientMsgId!),
  ]);
  for (const row of rows) existing.set(pairKey(row[3], row[7]!), row);
  return existing;
}

/** A later draft with the same clientMsgId in one batch answers the earlier one's message, not created. */
function asRepeat(outcome: Error | AppendResult | { sameAs: number }): Error | AppendResult {
  if (outcome instanceof Error) return outcome;
  if ("sameAs" in outcome) throw new Error("a repeated draft points at another repeat");
  return { message: outcome.message, created: false };
}
