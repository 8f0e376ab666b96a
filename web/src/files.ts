import type { ErrorInfo, HttpErrorBody, Result } from "../../shared/errors.js";
import type { UploadedFile } from "../../shared/schemas.js";

/**
 * Uploads one file to `POST /api/files`. XMLHttpRequest rather than fetch: only it reports upload progress.
 * `onProgress` gets 0..1.
 */
export function uploadFile(
  file: File,
  token: string,
  onProgress: (fraction: number) => void,
): Promise<Result<UploadedFile>> {
  return new Promise((resolve) => {
    const request = new XMLHttpRequest();
    const fail = (error: ErrorInfo) => resolve({ ok: false, error });
    request.open("POST", "/api/files");
    request.setRequestHeader("Authorization", `Bearer ${token}`);
    request.responseType = "json";
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable && event.total > 0) onProgress(event.loaded / event.total);
    });
    request.addEventListener("load", () => {
      const body = request.response as UploadedFile | Partial<HttpErrorBody> | null;
      if (request.status === 201 && body && "fileId" in body) {
        onProgress(1);
        resolve({ ok: true, data: body });
      } else if (body && "error" in body && body.error) {
        fail(body.error);
      } else {
        fail({
          code: request.status === 413 ? "PAYLOAD_TOO_LARGE" : "INTERNAL",
          message: `upload failed (${request.status})`,
        });
      }
    });
    request.addEventListener("error", () =>
      fail({ code: "UNAVAILABLE", message: "the upload could not reach the server" }),
    );
    request.addEventListener("abort", () => fail({ code: "UNAVAILABLE", message: "the upload was cancelled" }));
    const form = new FormData();
    form.append("file", file, file.name);
    request.send(form);
  });
}

/** A file's name and size, for the download link. */
export interface FileMeta {
  name: string;
  size: number;
}

const metaCache = new Map<string, Promise<FileMeta | undefined>>();

/** Remembers what this tab uploaded, so its own links need no request. */
export function rememberFileMeta(url: string, meta: FileMeta): void {
  metaCache.set(url, Promise.resolve(meta));
}

/**
 * A file's name and size. Messages carry only the file's URL, so this asks the server with a HEAD request
 * and reads `Content-Disposition` and `Content-Length` (see the report: the message could carry them).
 */
export function fileMeta(url: string): Promise<FileMeta | undefined> {
  let meta = metaCache.get(url);
  if (!meta) {
    meta = fetch(url, { method: "HEAD" }).then(
      (response) => {
        if (!response.ok) return undefined;
        const size = Number(response.headers.get("Content-Length") ?? Number.NaN);
        return { name: fileNameOf(response.headers.get("Content-Disposition")) ?? "file", size };
      },
      () => undefined,
    );
    metaCache.set(url, meta);
  }
  return meta;
}

/** The file name of a `Content-Disposition` header: the RFC 5987 `filename*` when present, else `filename`. */
export function fileNameOf(header: string | null): string | undefined {
  if (!header) return undefined;
  const extended = /filename\*=UTF-8''([^;]+)/i.exec(header);
  if (extended?.[1]) {
    try {
      return decodeURIComponent(extended[1]);
    } catch {
      // fall through to the plain name
    }
  }
  return /filename="([^"]*)"/i.exec(header)?.[1];
}
