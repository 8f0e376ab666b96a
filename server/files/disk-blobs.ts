import { mkdir, open, readdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import type { FileBlobs } from "../store/types.js";

/**
 * Uploads' bytes on this node's disk: one file per id under `dir`, named by the id (ids are made by the
 * server, never by a client). The upload's temporary file must be on the same file system, so `put` is a
 * rename.
 */
export class DiskBlobs implements FileBlobs {
  constructor(private readonly dir: string) {}

  async put(id: string, tempPath: string): Promise<void> {
    // The directory may not exist before the first upload (uploads are rare: one call each is cheap).
    await mkdir(this.dir, { recursive: true });
    await rename(tempPath, this.path(id));
  }

  async open(id: string): Promise<{ size: number; stream: NodeJS.ReadableStream } | undefined> {
    // The handle keeps the bytes readable for the stream even if the file is removed meanwhile.
    const handle = await open(this.path(id), "r").catch((error: unknown) => {
      if ((error as { code?: string }).code === "ENOENT") return undefined;
      throw error;
    });
    if (handle === undefined) return undefined;
    try {
      const { size } = await handle.stat();
      return { size, stream: handle.createReadStream() };
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  async remove(id: string): Promise<void> {
    await rm(this.path(id), { force: true });
  }

  async list(limit: number): Promise<string[]> {
    const entries = await readdir(this.dir, { withFileTypes: true }).catch((error: unknown) => {
      if ((error as { code?: string }).code === "ENOENT") return [];
      throw error;
    });
    // Uploads in progress sit in `tmp/`, a directory: only files are stored bytes.
    return entries
      .filter((entry) => entry.isFile())
      .map((entry) => entry.name)
      .sort()
      .slice(0, limit);
  }

  private path(id: string): string {
    return join(this.dir, id);
  }
}
