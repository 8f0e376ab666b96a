import { toFile, type FileRow } from "../rows.js";
import type { FileCursor, FileRecord, FileRepository } from "../types.js";
import type { PgDatabase } from "./db.js";
import { query, transaction } from "./db.js";

/** First key of the advisory locks that serialise one owner's quota checks: "file". */
const QUOTA_LOCK = 0x66696c65;

/** No message and no avatar holds the file (`files` in the statement): the condition for its removal. */
const UNREFERENCED = `NOT EXISTS (SELECT 1 FROM messages WHERE file_id = files.id)
  AND NOT EXISTS (SELECT 1 FROM users WHERE avatar_file_id = files.id)`;

/** What the file repository needs of the messages: a way to have this node's pending appends committed. */
export interface PendingAppends {
  flush(): Promise<void>;
}

/**
 * Uploads' records and their lifecycle, on PostgreSQL. A removal locks the file's row before it checks
 * the references in a new statement: group appends and avatar changes hold the row FOR SHARE until they
 * commit, so the check sees every message and avatar that took the file, and those that come later wait
 * and then find the file marked.
 */
export class PgFiles implements FileRepository {
  constructor(
    private readonly db: PgDatabase,
    private readonly messages: PendingAppends,
  ) {}

  async createFile(file: FileRecord): Promise<void> {
    await query(
      this.db.pool,
      `INSERT INTO files (id, owner, name, size, mime, media_type, create_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [file.id, file.owner, file.name, file.size, file.mime, file.mediaType, file.createAt],
    );
  }

  async getFile(id: string): Promise<FileRecord | undefined> {
    const rows = await query<FileRow>(
      this.db.pool,
      "SELECT id, owner, name, size, mime, media_type, create_at FROM files WHERE id = $1 AND deleted_at IS NULL",
      [id],
    );
    return rows.rows[0] && toFile(rows.rows[0]);
  }

  async createFileWithinQuota(file: FileRecord, quotaBytes: number): Promise<boolean> {
    return transaction(this.db.pool, async (client) => {
      // One owner's admissions take turns on this lock (on every node), and the sum is read after it is
      // held, by a new statement: two uploads cannot both fit in the same remaining bytes.
      await query(client, "SELECT pg_advisory_xact_lock($1, hashtext($2))", [QUOTA_LOCK, file.owner]);
      const inserted = await query(
        client,
        `INSERT INTO files (id, owner, name, size, mime, media_type, create_at)
         SELECT $1, $2, $3, $4::bigint, $5, $6, $7
         WHERE (SELECT COALESCE(SUM(size), 0) FROM files WHERE owner = $2 AND deleted_at IS NULL) + $4::bigint
           <= $8::bigint`,
        [file.id, file.owner, file.name, file.size, file.mime, file.mediaType, file.createAt, quotaBytes],
      );
      return inserted.rowCount === 1;
    });
  }

  async fileBytesOf(owner: string): Promise<number> {
    const rows = await query<{ bytes: number }>(
      this.db.pool,
      "SELECT COALESCE(SUM(size), 0)::bigint AS bytes FROM files WHERE owner = $1 AND deleted_at IS NULL",
      [owner],
    );
    return rows.rows[0]!.bytes;
  }

  async releaseFile(id: string, at: number): Promise<boolean> {
    // A message of this node's group commit not yet written holds its file too: commit it first.
    await this.messages.flush();
    return transaction(this.db.pool, async (client) => {
      const live = await query(client, "SELECT 1 FROM files WHERE id = $1 AND deleted_at IS NULL FOR UPDATE", [id]);
      if (live.rowCount === 0) return false;
      const marked = await query(
        client,
        `UPDATE files SET deleted_at = $1 WHERE id = $2 AND deleted_at IS NULL AND ${UNREFERENCED}`,
        [at, id],
      );
      return marked.rowCount === 1;
    });
  }

  async markOrphanFiles(
    after: FileCursor | undefined,
    before: number,
    at: number,
    limit: number,
  ): Promise<{ marked: string[]; next: FileCursor | undefined }> {
    await this.messages.flush();
    const from = after ?? { createAt: Number.MIN_SAFE_INTEGER, id: "" };
    return transaction(this.db.pool, async (client) => {
      const batch = await query<{ create_at: number; id: string }>(
        client,
        `SELECT create_at, id FROM files WHERE (create_at, id) > ($1, $2) AND create_at < $3
         ORDER BY create_at, id LIMIT $4`,
        [from.createAt, from.id, before, limit],
      );
      const last = batch.rows.at(-1);
      if (!last) return { marked: [], next: undefined };
      // Rows a group append or an avatar change holds right now are skipped, not waited for: they are being
      // referenced, so they are no orphans (and the sweep never waits behind a commit).
      const locked = await query<{ id: string }>(
        client,
        `SELECT id FROM files WHERE id = ANY($1::text[]) AND deleted_at IS NULL FOR UPDATE SKIP LOCKED`,
        [batch.rows.map((row) => row.id)],
      );
      const marked = await query<{ id: string }>(
        client,
        `UPDATE files SET deleted_at = $1 WHERE id = ANY($2::text[]) AND ${UNREFERENCED} RETURNING id`,
        [at, locked.rows.map((row) => row.id)],
      );
      const ids = new Set(marked.rows.map((row) => row.id));
      return {
        marked: batch.rows.filter((row) => ids.has(row.id)).map((row) => row.id),
        next: { createAt: last.create_at, id: last.id },
      };
    });
  }

  async markedFiles(limit: number): Promise<string[]> {
    const rows = await query<{ id: string }>(
      this.db.pool,
      "SELECT id FROM files WHERE deleted_at IS NOT NULL ORDER BY deleted_at, id LIMIT $1",
      [limit],
    );
    return rows.rows.map((row) => row.id);
  }

  async forgetFiles(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    // The bytes go with the rows (PgBlobs.remove drops them first; this catches any it did not).
    await query(
      this.db.pool,
      `WITH gone AS (DELETE FROM files WHERE id = ANY($1::text[]) AND deleted_at IS NOT NULL RETURNING id)
       DELETE FROM file_blobs WHERE id IN (SELECT id FROM gone)`,
      [[...ids]],
    );
  }
}
