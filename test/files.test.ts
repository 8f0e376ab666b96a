import { existsSync, readdirSync, statSync } from "node:fs";
import { join, sep } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { HttpErrorBody } from "../shared/errors.js";
import type { UploadedFile } from "../shared/schemas.js";
import {
  barrier,
  cleanup,
  connect,
  ok,
  request,
  signToken,
  startServer,
  storedOnly,
  tempDir,
  waitForMessage,
  type TestServer,
  storedUploads,
} from "./support/harness.js";

afterEach(cleanup);

/** A valid 1×1 PNG (signature, IHDR, IDAT, IEND). */
const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
  "base64",
);
/** A valid 1×1 GIF89a. */
const GIF = Buffer.from("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7", "base64");
/** The head of a JFIF JPEG: SOI, APP0 "JFIF", EOI. */
const JPEG = Buffer.from([
  0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00,
  0x00, 0xff, 0xd9,
]);
const TEXT = Buffer.from("just some text, certainly not an image\n");
const SVG = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>');

const FILE_ID = /^[A-Za-z0-9_-]{22}$/;

/** Posts one multipart upload (field `file` unless told otherwise) as alice, or as nobody with `token: null`. */
async function upload(
  server: TestServer,
  bytes: Buffer,
  name: string,
  options: { field?: string; token?: string | null } = {},
): Promise<Response> {
  const form = new FormData();
  form.append(options.field ?? "file", new Blob([new Uint8Array(bytes)]), name);
  const token = options.token === undefined ? signToken("alice") : options.token;
  return fetch(`${server.url}/api/files`, {
    method: "POST",
    body: form,
    headers: token === null ? {} : { Authorization: `Bearer ${token}` },
  });
}

/** Uploads and expects 201; returns the answer. */
async function uploaded(server: TestServer, bytes: Buffer, name: string, as = "alice"): Promise<UploadedFile> {
  const response = await upload(server, bytes, name, { token: signToken(as) });
  expect(response.status).toBe(201);
  return (await response.json()) as UploadedFile;
}

/** Fetches a path of the test server (keep-alive, as browsers do: shutdown must not wait on it). */
const get = (server: TestServer, path: string) => fetch(new URL(path, server.url));

/** Every regular file under `dir`, as paths relative to it with `/` separators. */
function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((entry) => statSync(join(dir, entry)).isFile())
    .map((entry) => entry.split(sep).join("/"))
    .sort();
}

async function expectError(response: Response, status: number, code: string): Promise<void> {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toMatch(/^application\/json/);
  const body = (await response.json()) as HttpErrorBody;
  expect(body).toEqual({ error: { code, message: expect.any(String) } });
}

describe("POST /api/files", () => {
  it("answers 201 with the file's id, server path, cleaned name, size, sniffed mime and media type", async () => {
    const server = await startServer();
    const response = await upload(server, PNG, "pixel.png");
    expect(response.status).toBe(201);
    const body = (await response.json()) as UploadedFile;
    expect(body).toEqual({
      fileId: expect.stringMatching(FILE_ID),
      url: expect.any(String),
      name: "pixel.png",
      size: PNG.length,
      mime: "image/png",
      mediaType: "image",
    });
    // A path on this server, not an absolute URL elsewhere (nor a protocol-relative one).
    expect(body.url).toMatch(/^\/[^/]/);
    expect(new URL(body.url, server.url).origin).toBe(server.url);
    expect(body.url).toContain(body.fileId);
  });

  it("gives every upload a new id, even for the same bytes and name", async () => {
    const server = await startServer();
    const first = await uploaded(server, PNG, "same.png");
    const second = await uploaded(server, PNG, "same.png");
    expect(second.fileId).not.toBe(first.fileId);
    expect(second.url).not.toBe(first.url);
  });

  it("sniffs a PNG named photo.txt as an image/png image, from its content", async () => {
    const server = await startServer();
    const file = await uploaded(server, PNG, "photo.txt");
    expect(file).toMatchObject({ name: "photo.txt", mime: "image/png", mediaType: "image" });
  });

  it("treats a text file named evil.png as an application/octet-stream file, never by its name", async () => {
    const server = await startServer();
    const file = await uploaded(server, TEXT, "evil.png");
    expect(file).toMatchObject({
      name: "evil.png",
      size: TEXT.length,
      mime: "application/octet-stream",
      mediaType: "file",
    });
  });

  it("recognises GIF and JPEG images by their magic bytes, whatever their names", async () => {
    const server = await startServer();
    expect(await uploaded(server, GIF, "anim.bin")).toMatchObject({ mime: "image/gif", mediaType: "image" });
    expect(await uploaded(server, JPEG, "noext")).toMatchObject({ mime: "image/jpeg", mediaType: "image" });
  });

  it("does not count an SVG as an image", async () => {
    const server = await startServer();
    const file = await uploaded(server, SVG, "logo.svg");
    expect(file.mediaType).toBe("file");
    expect(file.mime).not.toMatch(/svg|html|xml/);
  });

  it("refuses an upload without a bearer token with 401 and stores nothing", async () => {
    const server = await startServer();
    await expectError(await upload(server, PNG, "a.png", { token: null }), 401, "UNAUTHORIZED");
    await expectError(await upload(server, PNG, "a.png", { token: "not-a-jwt" }), 401, "UNAUTHORIZED");
    expect(await storedUploads(server)).toEqual([]);
  });

  it("refuses a multipart body whose file is in another field with 400 and stores nothing", async () => {
    const server = await startServer();
    await expectError(await upload(server, PNG, "a.png", { field: "upload" }), 400, "INVALID_PAYLOAD");
    expect(await storedUploads(server)).toEqual([]);
  });

  it("refuses a multipart body with no file part with 400", async () => {
    const server = await startServer();
    const form = new FormData();
    form.append("file", "a plain field, not a file");
    const response = await fetch(`${server.url}/api/files`, {
      method: "POST",
      body: form,
      headers: { Authorization: `Bearer ${signToken("alice")}` },
    });
    await expectError(response, 400, "INVALID_PAYLOAD");
    expect(await storedUploads(server)).toEqual([]);
  });

  it("refuses a body that is not multipart with 400", async () => {
    const server = await startServer();
    const response = await fetch(`${server.url}/api/files`, {
      method: "POST",
      body: JSON.stringify({ file: PNG.toString("base64") }),
      headers: { Authorization: `Bearer ${signToken("alice")}`, "Content-Type": "application/json" },
    });
    await expectError(response, 400, "INVALID_PAYLOAD");
  });

  it("refuses a file over MAX_UPLOAD_BYTES with 413 PAYLOAD_TOO_LARGE and leaves no file behind", async () => {
    const server = await startServer({ MAX_UPLOAD_BYTES: "1000" });
    await expectError(await upload(server, Buffer.alloc(5000, 0x61), "big.txt"), 413, "PAYLOAD_TOO_LARGE");
    expect(await storedUploads(server)).toEqual([]);
    // The limit is on the file, not on the server: a file within it still goes through.
    const small = await uploaded(server, Buffer.alloc(1000, 0x61), "small.txt");
    expect(small.size).toBe(1000);
    expect(await storedUploads(server)).toEqual([small.fileId]);
  });

  it("stores a name with a path and control characters cleaned, and writes nothing outside DATA_DIR/files", async () => {
    // DATA_DIR two levels below a fresh root, so "../../x" from DATA_DIR/files would land inside the root.
    const root = tempDir();
    const dataDir = join(root, "a", "data");
    const server = await startServer({}, dataDir);
    const boundary = "----chat-test-boundary";
    const evilName = "../../etc/\u0007pa\u001bss\u007fwd";
    const body = Buffer.concat([
      Buffer.from(
        `--${boundary}\r\n` +
          `Content-Disposition: form-data; name="file"; filename="${evilName}"\r\n` +
          "Content-Type: application/octet-stream\r\n\r\n",
      ),
      TEXT,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const response = await fetch(`${server.url}/api/files`, {
      method: "POST",
      body,
      headers: {
        Authorization: `Bearer ${signToken("alice")}`,
        "Content-Type": `multipart/form-data; boundary=${boundary}`,
      },
    });
    expect(response.status).toBe(201);
    const file = (await response.json()) as UploadedFile;
    expect(file.name).not.toMatch(/[/\\]/);
    // eslint-disable-next-line no-control-regex
    expect(file.name).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
    expect(file.name).toMatch(/pa.?ss.?wd$/);

    const download = await get(server, file.url);
    expect(download.status).toBe(200);
    const disposition = download.headers.get("content-disposition") ?? "";
    expect(disposition).not.toMatch(/[/\\]/);
    expect(Buffer.from(await download.arrayBuffer())).toEqual(TEXT);

    // Everything under the root: the upload in DATA_DIR/files under its id, the database files in DATA_DIR.
    const outside = listFiles(root).filter(
      (path) => !path.startsWith("a/data/files/") && !/^a\/data\/chat\.db(-wal|-shm)?$/.test(path),
    );
    expect(outside).toEqual([]);
    expect(await storedUploads(server)).toEqual([file.fileId]);
    expect(existsSync(join(root, "etc"))).toBe(false);
  });
});

describe("GET <url> of a file", () => {
  it("serves an image's exact bytes inline with its sniffed type and nosniff", async () => {
    const server = await startServer();
    const file = await uploaded(server, PNG, "photo.txt");
    const response = await get(server, file.url);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("image/png");
    expect(response.headers.get("content-disposition")).toMatch(/^inline\b/);
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    expect(Buffer.from(await response.arrayBuffer())).toEqual(PNG);
  });

  it("serves a non-image as an application/octet-stream attachment with nosniff", async () => {
    const server = await startServer();
    const file = await uploaded(server, TEXT, "evil.png");
    const response = await get(server, file.url);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/octet-stream");
    expect(response.headers.get("content-disposition")).toMatch(/^attachment\b/);
    expect(response.headers.get("content-disposition")).toContain('filename="evil.png"');
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    expect(Buffer.from(await response.arrayBuffer())).toEqual(TEXT);
  });

  it("serves an SVG as an attachment, never inline", async () => {
    const server = await startServer();
    const file = await uploaded(server, SVG, "logo.svg");
    const response = await get(server, file.url);
    expect(response.headers.get("content-disposition")).toMatch(/^attachment\b/);
    expect(response.headers.get("content-type")).not.toMatch(/svg|html|xml/);
    expect(Buffer.from(await response.arrayBuffer())).toEqual(SVG);
  });

  it("serves a file without authentication: its URL is the capability", async () => {
    const server = await startServer();
    const file = await uploaded(server, GIF, "a.gif");
    const response = await get(server, file.url);
    expect(response.status).toBe(200);
    expect(Buffer.from(await response.arrayBuffer())).toEqual(GIF);
  });

  it("does not hold up server shutdown while a client is stalled mid-download", async () => {
    const server = await startServer();
    const big = await uploaded(server, Buffer.alloc(4 * 1024 * 1024, 0x61), "big.bin");
    const abort = new AbortController();
    // A keep-alive download whose body is never read: the server's response cannot finish.
    const response = await fetch(new URL(big.url, server.url), { signal: abort.signal });
    expect(response.status).toBe(200);
    const started = Date.now();
    const stopped = await Promise.race([
      server.stop().then(() => true),
      new Promise<false>((resolve) => setTimeout(() => resolve(false), 3000)),
    ]);
    const elapsed = Date.now() - started;
    abort.abort();
    await server.stop();
    expect(stopped, `stop() still pending after ${elapsed} ms`).toBe(true);
  });

  it("answers 404 NOT_FOUND as JSON for an unknown or malformed file id", async () => {
    const server = await startServer();
    const file = await uploaded(server, PNG, "a.png");
    const unknownId = file.fileId === "A".repeat(22) ? "B".repeat(22) : "A".repeat(22);
    await expectError(await get(server, file.url.replace(file.fileId, unknownId)), 404, "NOT_FOUND");
    await expectError(await get(server, file.url.replace(file.fileId, "nope")), 404, "NOT_FOUND");
    await expectError(await get(server, file.url.replace(file.fileId, "..%2Fchat.db")), 404, "NOT_FOUND");
  });
});

describe("image and file messages", () => {
  it("accepts an image message with an uploaded PNG, sets its url, and delivers it to the recipient", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const bob = await connect(server, "bob");
    const file = await uploaded(server, PNG, "photo.txt");
    const sent = await ok(alice.socket, "message:send", {
      messageType: "single",
      mediaType: "image",
      to: "bob",
      fileId: file.fileId,
      content: "look",
    });
    expect(sent).toMatchObject({
      messageType: "single",
      mediaType: "image",
      from: "alice",
      to: "bob",
      content: "look",
      fileId: file.fileId,
      url: file.url,
    });
    const got = await waitForMessage(bob, (m) => "id" in m && m.id === sent.id);
    expect(got).toEqual(sent);
    const page = await ok(bob.socket, "history:list", { user: "alice" });
    expect(page.messages).toEqual([sent]);
  });

  it("delivers an image message to a room with its url", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const bob = await connect(server, "bob");
    const file = await uploaded(server, JPEG, "x.jpg");
    const sent = await ok(alice.socket, "message:send", {
      messageType: "group",
      mediaType: "image",
      to: "lobby",
      fileId: file.fileId,
    });
    expect(sent).toMatchObject({ mediaType: "image", fileId: file.fileId, url: file.url });
    expect(sent.content).toBeUndefined();
    expect(await waitForMessage(bob, (m) => "id" in m && m.id === sent.id)).toEqual(sent);
  });

  it("refuses an image message that references a file that is not an image, and stores nothing", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const bob = await connect(server, "bob");
    const file = await uploaded(server, TEXT, "evil.png");
    const result = await request(alice.socket, "message:send", {
      messageType: "single",
      mediaType: "image",
      to: "bob",
      fileId: file.fileId,
    });
    expect(result).toEqual({ ok: false, error: { code: "INVALID_PAYLOAD", message: expect.any(String) } });
    expect(await ok(alice.socket, "sync", { after: 0 })).toEqual({ messages: [], hasMore: false });
    await barrier(alice, [bob]);
    expect(storedOnly(bob.received).filter((m) => m.to === "bob")).toEqual([]);
  });

  it("accepts a file message that references any of the sender's files, image or not", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const bob = await connect(server, "bob");
    const text = await uploaded(server, TEXT, "notes.txt");
    const image = await uploaded(server, PNG, "pixel.png");
    for (const file of [text, image]) {
      const sent = await ok(alice.socket, "message:send", {
        messageType: "single",
        mediaType: "file",
        to: "bob",
        fileId: file.fileId,
      });
      expect(sent).toMatchObject({ mediaType: "file", fileId: file.fileId, url: file.url });
      expect(await waitForMessage(bob, (m) => "id" in m && m.id === sent.id)).toEqual(sent);
    }
  });

  it("answers NOT_FOUND for another user's file, for both image and file messages", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    await connect(server, "bob");
    const bobs = await uploaded(server, PNG, "bob.png", "bob");
    for (const mediaType of ["image", "file"] as const) {
      const result = await request(alice.socket, "message:send", {
        messageType: "single",
        mediaType,
        to: "bob",
        fileId: bobs.fileId,
      });
      expect(result).toEqual({ ok: false, error: { code: "NOT_FOUND", message: expect.any(String) } });
    }
    expect(await ok(alice.socket, "sync", { after: 0 })).toEqual({ messages: [], hasMore: false });
  });

  it("answers NOT_FOUND for a file id that was never uploaded", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const result = await request(alice.socket, "message:send", {
      messageType: "group",
      mediaType: "file",
      to: "lobby",
      fileId: "A".repeat(22),
    });
    expect(result).toEqual({ ok: false, error: { code: "NOT_FOUND", message: expect.any(String) } });
  });

  it("refuses a text message that carries a fileId with INVALID_PAYLOAD", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const file = await uploaded(server, PNG, "a.png");
    const result = await request(alice.socket, "message:send", {
      messageType: "group",
      mediaType: "text",
      to: "lobby",
      content: "hi",
      fileId: file.fileId,
    });
    expect(result).toEqual({ ok: false, error: { code: "INVALID_PAYLOAD", message: expect.any(String) } });
    expect(await ok(alice.socket, "sync", { after: 0 })).toEqual({ messages: [], hasMore: false });
  });

  it("refuses an image or file message without a fileId with INVALID_PAYLOAD", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    for (const mediaType of ["image", "file"] as const) {
      const result = await request(alice.socket, "message:send", {
        messageType: "group",
        mediaType,
        to: "lobby",
        content: "caption without a file",
      });
      expect(result).toEqual({ ok: false, error: { code: "INVALID_PAYLOAD", message: expect.any(String) } });
    }
    expect(await ok(alice.socket, "sync", { after: 0 })).toEqual({ messages: [], hasMore: false });
  });

  it("ignores a client-set url and uses the server's", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const file = await uploaded(server, PNG, "a.png");
    const sent = await ok(alice.socket, "message:send", {
      messageType: "group",
      mediaType: "image",
      to: "lobby",
      fileId: file.fileId,
      url: "https://evil.example/x.png",
    } as never);
    expect(sent.url).toBe(file.url);
  });
});
