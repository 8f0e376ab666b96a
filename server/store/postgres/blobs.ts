import { readFile, rm } from "node:fs/promises";
import { Readable } from "node:stream";
import type pg from "pg";
import type { FileBlobs } from "../types.js";
import { query } from "./db.js";

/**
 * Upload bytes in PostgreSQL (`file_blobs`), where every node reads them. `put` may come before the file's
 * row exists (the route stores the bytes first, then admits the row within the quota), hence a table of its
 * own. `remove` deletes the bytes; `PgFiles.forgetFiles` also deletes those of the rows it drops, so bytes
 * never outlive their file. A file is read whole into memory (uploads are bounded by the upload limit).
 */
export class PgBlobs implements FileBlobs {
  constructor(private readonly pool: pg.Pool) {}

  async put(id: string, tempPath: string): Promise<void> {
    try {
      const bytes = await readFile(tempPath);
      await query(
        this.pool,
        "INSERT INTO file_blobs (id, bytes) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET bytes = excluded.bytes",
        [id, bytes],
      );
    } finally {
      await rm(tempPath, { force: true });
    }
  }

  async open(id: string): Promise<{ size: number; stream: NodeJS.ReadableStream } | undefined> {
    const rows = await query<{ bytes: Buffer }>(this.pool, "SELECT bytes FROM file_blobs WHERE id = $1", [id]);
    const bytes = rows.rows[0]?.bytes;
    // Readable.from emits a Buffer as one chunk (it does not iterate its bytes).
    return bytes && { size: bytes.length, stream: Readable.from(bytes) };
  }

  async remove(id: string): Promise<void> {
    await query(this.pool, "DELETE FROM file_blobs WHERE id = $1", [id]);
  }

  async list(limit: number): Promise<string[]> {
    const rows = await query<{ id: string }>(this.pool, "SELECT id FROM file_blobs ORDER BY id LIMIT $1", [limit]);
    return rows.rows.map((row) => row.id);
  }
}
