import { randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import type { FastifyInstance } from "fastify";
import type { UploadedFile } from "../../shared/schemas.js";
import { authenticateRequest, type AuthDeps } from "../auth/routes.js";
import { AppError } from "../errors.js";
import { cleanFileName, sniffFile } from "./sniff.js";

const FILE_ID = /^[A-Za-z0-9_-]{22}$/;

/** The URL a stored file is fetched from; knowing it is the capability to read it. */
export const fileUrl = (fileId: string): string => `/files/${fileId}`;

/** RFC 6266 `Content-Disposition` with an ASCII fallback and the UTF-8 name. */
function contentDisposition(kind: "inline" | "attachment", name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]/g, "_").replace(/["\\]/g, "_");
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

/**
 * Uploads (`POST /api/files`, one multipart field `file`) and downloads (`GET /files/:id`). Files are stored
 * under a server-made name; their type comes from their content; only images are served inline.
 */
export function registerFileRoutes(
  app: FastifyInstance,
  deps: AuthDeps & { filesDir: string; maxUploadBytes: number },
) {
  const tmpDir = join(deps.filesDir, "tmp");

  app.post("/api/files", async (request, reply) => {
    const user = await authenticateRequest(request, deps);
    if (!request.isMultipart())
      throw new AppError("INVALID_PAYLOAD", "expected multipart/form-data with a field named file");
    const part = await request.file({ limits: { fileSize: deps.maxUploadBytes, files: 1, fields: 10 } });
    if (!part || part.fieldname !== "file") throw new AppError("INVALID_PAYLOAD", "expected one field named file");
    await mkdir(tmpDir, { recursive: true });
    const id = randomBytes(16).toString("base64url");
    const tmpPath = join(tmpDir, id);
    try {
      await pipeline(part.file, createWriteStream(tmpPath, { mode: 0o600 }));
      if (part.file.truncated)
        throw new AppError("PAYLOAD_TOO_LARGE", `files are limited to ${deps.maxUploadBytes} bytes`);
      const size = part.file.bytesRead;
      const { mime, mediaType } = await sniffFile(tmpPath);
      await rename(tmpPath, join(deps.filesDir, id));
      const name = cleanFileName(part.filename);
      await deps.store.createFile({ id, owner: user.id, name, size, mime, mediaType, createAt: deps.now() });
      const body: UploadedFile = { fileId: id, url: fileUrl(id), name, size, mime, mediaType };
      return reply.status(201).send(body);
    } catch (error) {
      await rm(tmpPath, { force: true });
      if ((error as { code?: string }).code === "FST_REQ_FILE_TOO_LARGE") {
        throw new AppError("PAYLOAD_TOO_LARGE", `files are limited to ${deps.maxUploadBytes} bytes`, { cause: error });
      }
      throw error;
    }
  });

  app.get<{ Params: { id: string } }>("/files/:id", async (request, reply) => {
    const { id } = request.params;
    const file = FILE_ID.test(id) ? await deps.store.getFile(id) : undefined;
    if (!file) throw new AppError("NOT_FOUND", "file not found");
    const inline = file.mediaType === "image";
    return reply
      .header("Content-Type", file.mime)
      .header("Content-Length", file.size)
      .header("Content-Disposition", contentDisposition(inline ? "inline" : "attachment", file.name))
      .header("X-Content-Type-Options", "nosniff")
      .header("Content-Security-Policy", "default-src 'none'; sandbox")
      .header("Cache-Control", "private, max-age=31536000, immutable")
      .send(createReadStream(join(deps.filesDir, id)));
  });
}
