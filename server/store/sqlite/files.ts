import { toFile, type FileRow } from "../rows.js";
import type { FileCursor, FileRecord, FileRepository } from "../types.js";
import type { SqliteContext } from "./database.js";

/** A batch of the orphan sweep: the files marked, and where the next batch starts. */
type OrphanBatch = Awaited<ReturnType<FileRepository["markOrphanFiles"]>>;

/**
 * Uploads' rows and their lifecycle, in SQLite. A file is held by the messages that reference it and by an
 * avatar; appends still in the group commit hold theirs too, so releases and sweeps commit them first.
 */
export class SqliteFiles implements FileRepository {
  private readonly statements;

  constructor(private readonly context: SqliteContext) {
    const { db } = context;
    this.statements = {
      insertFile: db.prepare(
        `INSERT INTO files (id, owner, name, size, mime, media_type, create_at)
         VALUES (@id, @owner, @name, @size, @mime, @mediaType, @createAt)`,
      ),
      getFile: db.prepare<[string], FileRow>("SELECT * FROM files WHERE id = ? AND deleted_at IS NULL"),
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
      forgetFile: db.prepare<[string]>("DELETE FROM files WHERE id = ? AND deleted_at IS NOT NULL"),
    };
  }

  async createFile(file: FileRecord): Promise<void> {
    this.statements.insertFile.run(file);
  }

  async getFile(id: string): Promise<FileRecord | undefined> {
    const row = this.statements.getFile.get(id);
    return row && toFile(row);
  }

  async createFileWithinQuota(file: FileRecord, quotaBytes: number): Promise<boolean> {
    return this.statements.insertFileWithinQuota.run({ ...file, quota: quotaBytes }).changes > 0;
  }

  async fileBytesOf(owner: string): Promise<number> {
    return this.statements.fileBytesOf.get(owner)!;
  }

  async releaseFile(id: string, at: number): Promise<boolean> {
    // A message in the group commit that is not yet written holds its file too: commit it first.
    this.context.commits.flush();
    return this.statements.releaseFile.run(at, id).changes > 0;
  }

  async markOrphanFiles(
    after: FileCursor | undefined,
    before: number,
    at: number,
    limit: number,
  ): Promise<OrphanBatch> {
    this.context.commits.flush();
    return this.markOrphanBatch(after ?? { createAt: Number.MIN_SAFE_INTEGER, id: "" }, before, at, limit);
  }

  /** See markOrphanFiles: the range read and the marks are one transaction. */
  private markOrphanBatch(from: FileCursor, before: number, at: number, limit: number): OrphanBatch {
    return this.context.db.transaction((): OrphanBatch => {
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
    this.context.db.transaction(() => {
      for (const id of ids) this.statements.forgetFile.run(id);
    })();
  }
}
