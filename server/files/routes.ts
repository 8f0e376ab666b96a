import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import type { FastifyInstance } from "fastify";
import { RateLimiterRes } from "rate-limiter-flexible";
import { z } from "zod";
import type { UploadedFile } from "../../shared/schemas.js";
import { authenticateRequest, type AuthDeps } from "../auth/routes.js";
import { AppError } from "../errors.js";
import type { FileBlobs } from "../store/types.js";
import type { FileService } from "./service.js";
import { cleanFileName, sniffFile } from "./sniff.js";

import { fileUrl } from "./urls.js";

/** The path parameters of `GET /files/:id`: a file id is 16 random bytes in base64url. */
export const fileParamsSchema = z.object({
  id: z.string().regex(/^[A-Za-z0-9_-]{22}$/, "a file id is 22 characters of A-Za-z0-9_-"),
});

export { fileUrl };

/** RFC 6266 `Content-Disposition` with an ASCII fallback and the UTF-8 name. */
function contentDisposition(kind: "inline" | "attachment", name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]/g, "_").replace(/["\\]/g, "_");
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

/** What the file routes need besides authentication. */
export interface FileRouteDeps extends AuthDeps {
  /** Where uploads' bytes are kept. */
  blobs: FileBlobs;
  /** A local directory for upload bodies while they are received and sniffed (on the blobs' disk, if any). */
  tmpDir: string;
  files: FileService;
}

/**
 * Uploads (`POST /api/files`, one multipart field `file`) and downloads (`GET /files/:id`). Files are stored
 * under a server-made name; their type comes from their content; only images are served inline. Uploads are
 * rate limited per user and held to the user's quota.
 */
export function registerFileRoutes(app: FastifyInstance, deps: FileRouteDeps) {
  const { maxUploadBytes, rateLimitUploadsPerMin } = deps.config;
  const { tmpDir, blobs } = deps;
  const limiter = deps.limiters({ name: "uploads", points: rateLimitUploadsPerMin, durationSeconds: 60 });
  const overQuota = (cause?: unknown) =>
    new AppError("PAYLOAD_TOO_LARGE", "upload quota exceeded: delete messages with files to free space", { cause });

  app.post("/api/files", async (request, reply) => {
    const user = await authenticateRequest(request, deps);
    // Counted before the body is read: a refused upload costs its sender an attempt, not the server a write.
    try {
      await limiter.consume(user.id);
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) throw new AppError("RATE_LIMITED", "too many uploads, try again later");
      throw rejection;
    }
    if (!request.isMultipart())
      throw new AppError("INVALID_PAYLOAD", "expected multipart/form-data with a field named file");
    // Only a shortcut: the quota is enforced by the conditional insert below, whatever runs in parallel.
    const remaining = await deps.files.remainingBytes(user.id);
    if (remaining === 0) throw overQuota();
    const cap = Math.min(maxUploadBytes, remaining);
    const tooLarge = (cause?: unknown) =>
      cap < maxUploadBytes
        ? overQuota(cause)
        : new AppError("PAYLOAD_TOO_LARGE", `files are limited to ${maxUploadBytes} bytes`, { cause });
    const part = await request.file({ limits: { fileSize: cap, files: 1, fields: 10 } });
    if (!part || part.fieldname !== "file") throw new AppError("INVALID_PAYLOAD", "expected one field named file");
    await mkdir(tmpDir, { recursive: true });
    const id = randomBytes(16).toString("base64url");
    const tmpPath = join(tmpDir, id);
    try {
      await pipeline(part.file, createWriteStream(tmpPath, { mode: 0o600 }));
      if (part.file.truncated) throw tooLarge();
      const size = part.file.bytesRead;
      const { mime, mediaType } = await sniffFile(tmpPath);
      await blobs.put(id, tmpPath);
      const name = cleanFileName(part.filename);
      const file = { id, owner: user.id, name, size, mime, mediaType, createAt: deps.now() };
      if (!(await deps.files.admit(file))) throw overQuota();
      const body: UploadedFile = { fileId: id, url: fileUrl(id), name, size, mime, mediaType };
      return reply.status(201).send(body);
    } catch (error) {
      await Promise.all([rm(tmpPath, { force: true }), blobs.remove(id)]);
      if ((error as { code?: string }).code === "FST_REQ_FILE_TOO_LARGE") throw tooLarge(error);
      throw error;
    }
  });

  app.get("/files/:id", async (request, reply) => {
    // A malformed id is a file that does not exist: 404, as for an unknown one.
    const params = fileParamsSchema.safeParse(request.params);
    if (!params.success) throw new AppError("NOT_FOUND", "file not found");
    const { id } = params.data;
    const file = await deps.store.getFile(id);
    if (!file) throw new AppError("NOT_FOUND", "file not found");
    // Opened before answering: a file removed since the row was read is a 404, not a broken 200.
    const bytes = await blobs.open(id);
    if (!bytes) throw new AppError("NOT_FOUND", "file not found");
    const inline = file.mediaType === "image";
    return reply
      .header("Content-Type", file.mime)
      .header("Content-Length", file.size)
      .header("Content-Disposition", contentDisposition(inline ? "inline" : "attachment", file.name))
      .header("X-Content-Type-Options", "nosniff")
      .header("Content-Security-Policy", "default-src 'none'; sandbox")
      .header("Cache-Control", "private, max-age=31536000, immutable")
      .send(bytes.stream);
  });
}
