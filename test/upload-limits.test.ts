import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { HttpErrorBody } from "../shared/errors.js";
import type { UploadedFile } from "../shared/schemas.js";
import { createChatServer } from "../server/app.js";
import { loadConfig } from "../server/config.js";
import { directConversation } from "../server/messages/conversation.js";
import { fileUrl } from "../server/files/routes.js";
import { createLogger } from "../server/logger.js";
import { SqliteStore } from "../server/store/sqlite/store.js";
import {
  cleanup,
  connect,
  ok,
  request,
  signToken,
  startServer,
  tempDir,
  testConfig,
  type TestServer,
  storedUploads,
} from "./support/harness.js";

afterEach(cleanup);

/** Bytes that sniff as no known type: stored as `application/octet-stream`. */
const bytes = (size: number, fill = 0x61) => Buffer.alloc(size, fill);

/** Posts one multipart upload as `as`. */
function upload(server: { url: string }, body: Buffer, as = "alice"): Promise<Response> {
  const form = new FormData();
  form.append("file", new Blob([new Uint8Array(body)]), "notes.bin");
  return fetch(`${server.url}/api/files`, {
    method: "POST",
    body: form,
    headers: { Authorization: `Bearer ${signToken(as)}` },
  });
}

/** Uploads and expects 201. */
async function uploaded(server: { url: string }, body: Buffer, as = "alice"): Promise<UploadedFile> {
  const response = await upload(server, body, as);
  expect(response.status).toBe(201);
  return (await response.json()) as UploadedFile;
}

/** The status and error code of an answer (the code is undefined for a success). */
async function outcome(response: Response): Promise<[number, string | undefined]> {
  if (response.ok) {
    await response.arrayBuffer();
    return [response.status, undefined];
  }
  return [response.status, ((await response.json()) as HttpErrorBody).error.code];
}

/** The status of a GET of a file's URL (its body read, so the connection is free again). */
async function fetchStatus(server: { url: string }, url: string): Promise<number> {
  const response = await fetch(new URL(url, server.url));
  await response.arrayBuffer();
  return response.status;
}

/** Whether a file's bytes are stored (on disk or in the database). */
const hasBytes = async (server: TestServer, fileId: string) => (await storedUploads(server)).includes(fileId);

/** Waits until an async condition holds, failing after `ms` (for background work with no event to await). */
async function eventually(predicate: () => Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error("condition did not become true in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Sends a file message from `sender` to bob. */
const sendFile = (sender: Awaited<ReturnType<typeof connect>>, fileId: string) =>
  ok(sender.socket, "message:send", { messageType: "single", mediaType: "file", to: "bob", fileId });

describe("upload configuration", () => {
  it("defaults to 30 uploads a minute, a 1 GiB quota and a one-day orphan TTL, and names a bad value", () => {
    expect(loadConfig({})).toMatchObject({
      rateLimitUploadsPerMin: 30,
      uploadQuotaBytes: 1024 * 1024 * 1024,
      uploadOrphanTtlMs: 86_400_000,
    });
    expect(() => loadConfig({ UPLOAD_QUOTA_BYTES: "1e9" })).toThrow(/UPLOAD_QUOTA_BYTES/);
  });
});

describe("upload rate limit", () => {
  it("answers 429 RATE_LIMITED to a user's 31st upload within a minute, while other users still upload", async () => {
    const server = await startServer();
    for (let i = 0; i < 30; i++) await uploaded(server, bytes(10));
    expect(await outcome(await upload(server, bytes(10)))).toEqual([429, "RATE_LIMITED"]);
    await uploaded(server, bytes(10), "bob");
  });

  it("counts an upload before its body is read: a refused one stores nothing, whatever its size", async () => {
    const server = await startServer({ RATE_LIMIT_UPLOADS_PER_MIN: "1", MAX_UPLOAD_BYTES: "100" });
    // Too large, so refused, but it was an attempt.
    expect(await outcome(await upload(server, bytes(200)))).toEqual([413, "PAYLOAD_TOO_LARGE"]);
    expect(await outcome(await upload(server, bytes(10)))).toEqual([429, "RATE_LIMITED"]);
    expect(await server.server.store.fileBytesOf("alice")).toBe(0);
  });
});

describe("upload quota", () => {
  it("answers 413 PAYLOAD_TOO_LARGE to an upload past UPLOAD_QUOTA_BYTES and stores nothing of it", async () => {
    const server = await startServer({ UPLOAD_QUOTA_BYTES: "100" });
    const first = await uploaded(server, bytes(60));
    expect(await outcome(await upload(server, bytes(60)))).toEqual([413, "PAYLOAD_TOO_LARGE"]);
    const second = await uploaded(server, bytes(40));
    expect(await outcome(await upload(server, bytes(1)))).toEqual([413, "PAYLOAD_TOO_LARGE"]);
    expect(await server.server.store.fileBytesOf("alice")).toBe(100);
    expect(await storedUploads(server)).toEqual([first.fileId, second.fileId].sort());
    // Another user's quota is their own.
    await uploaded(server, bytes(100), "bob");
  });

  it("keeps exactly the parallel uploads that fit the quota together, and none of the others' bytes", async () => {
    const server = await startServer({ UPLOAD_QUOTA_BYTES: "1000" });
    const answers = await Promise.all(Array.from({ length: 6 }, () => upload(server, bytes(300)).then(outcome)));
    expect(answers.filter(([status]) => status === 201)).toHaveLength(3);
    expect(answers.filter(([status, code]) => status === 413 && code === "PAYLOAD_TOO_LARGE")).toHaveLength(3);
    expect(await server.server.store.fileBytesOf("alice")).toBe(900);
    expect(await storedUploads(server)).toHaveLength(3);
  });
});

describe("files of deleted messages", () => {
  it("answers 404 for the file of a deleted message, removes its bytes and frees its quota", async () => {
    const server = await startServer({ UPLOAD_QUOTA_BYTES: "100" });
    const alice = await connect(server, "alice");
    await connect(server, "bob");
    const file = await uploaded(server, bytes(100));
    expect(await outcome(await upload(server, bytes(1)))).toEqual([413, "PAYLOAD_TOO_LARGE"]);
    const sent = await sendFile(alice, file.fileId);
    expect(await fetchStatus(server, file.url)).toBe(200);
    await ok(alice.socket, "message:delete", { id: sent.id });
    expect(await fetchStatus(server, file.url)).toBe(404);
    expect(await hasBytes(server, file.fileId)).toBe(false);
    await uploaded(server, bytes(100));
    // A file whose row is gone cannot be sent again.
    const resend = await request(alice.socket, "message:send", {
      messageType: "single",
      mediaType: "file",
      to: "bob",
      fileId: file.fileId,
    });
    expect(resend).toEqual({ ok: false, error: { code: "NOT_FOUND", message: expect.any(String) } });
  });

  it("keeps a file two messages share until both are deleted", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    await connect(server, "bob");
    const file = await uploaded(server, bytes(50));
    const first = await sendFile(alice, file.fileId);
    const second = await sendFile(alice, file.fileId);
    await ok(alice.socket, "message:delete", { id: first.id });
    expect(await fetchStatus(server, file.url)).toBe(200);
    expect(await hasBytes(server, file.fileId)).toBe(true);
    await ok(alice.socket, "message:delete", { id: second.id });
    expect(await fetchStatus(server, file.url)).toBe(404);
    expect(await hasBytes(server, file.fileId)).toBe(false);
  });
  it("keeps a deleted message's file while another message holding it waits in the group commit", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    await connect(server, "bob");
    const file = await uploaded(server, bytes(50));
    const first = await sendFile(alice, file.fileId);
    // The second message is queued, not yet committed, when the first one's delete releases the file.
    const second = server.server.store.appendMessage({
      messageType: "single",
      mediaType: "file",
      from: "alice",
      to: "bob",
      conversation: directConversation("alice", "bob"),
      recipientUser: "bob",
      fileId: file.fileId,
      createAt: Date.now(),
    });
    await server.server.messages.delete("alice", first.id);
    expect((await second).message.fileId).toBe(file.fileId);
    expect(await fetchStatus(server, file.url)).toBe(200);
    expect(await hasBytes(server, file.fileId)).toBe(true);
  });
});

describe("orphan sweep", () => {
  it("removes a file no message references after UPLOAD_ORPHAN_TTL_MS and keeps the one a message holds", async () => {
    const server = await startServer({ UPLOAD_ORPHAN_TTL_MS: "200" });
    const alice = await connect(server, "alice");
    await connect(server, "bob");
    // The kept file is the older one: when the orphan goes, the sweep had looked at it too.
    const kept = await uploaded(server, bytes(20));
    await sendFile(alice, kept.fileId);
    const orphan = await uploaded(server, bytes(30));
    expect(await fetchStatus(server, orphan.url)).toBe(200);
    await eventually(async () => (await fetchStatus(server, orphan.url)) === 404);
    // The sweep marks the row (404 from then on), then removes the bytes: they go a moment later.
    await eventually(async () => !(await hasBytes(server, orphan.fileId)));
    expect(await fetchStatus(server, kept.url)).toBe(200);
    expect(await hasBytes(server, kept.fileId)).toBe(true);
    const late = await request(alice.socket, "message:send", {
      messageType: "single",
      mediaType: "file",
      to: "bob",
      fileId: orphan.fileId,
    });
    expect(late).toEqual({ ok: false, error: { code: "NOT_FOUND", message: expect.any(String) } });
  });

  it("does not sweep a file whose message is still waiting in the group commit", async () => {
    let now = Date.now();
    const config = testConfig({ UPLOAD_ORPHAN_TTL_MS: "60000" });
    const server = await createChatServer({ config, clock: () => now });
    try {
      const { port } = await server.listen();
      const file = await uploaded({ url: `http://127.0.0.1:${port}` }, bytes(10));
      now += 120_000;
      // Queued, not yet committed, when the sweep runs.
      const stored = server.store.appendMessage({
        messageType: "single",
        mediaType: "file",
        from: "alice",
        to: "bob",
        conversation: directConversation("alice", "bob"),
        recipientUser: "bob",
        fileId: file.fileId,
        createAt: now,
      });
      expect(await server.files.sweepNow()).toBe(0);
      expect((await stored).message.fileId).toBe(file.fileId);
      expect(await server.store.getFile(file.fileId)).toMatchObject({ id: file.fileId });
      expect(await storedUploads({ server, config })).toEqual([file.fileId]);
    } finally {
      await server.close();
    }
  });

  it("logs and counts a failed sweep, keeps serving, and sweeps on the next run", async () => {
    const lines: string[] = [];
    const config = testConfig({ UPLOAD_ORPHAN_TTL_MS: "200", LOG_LEVEL: "error" }, tempDir());
    const store = new SqliteStore({ file: join(config.dataDir, "chat.db"), sync: "normal", fileUrl });
    const markOrphanFiles = store.markOrphanFiles.bind(store);
    let failures = 1;
    store.markOrphanFiles = async (...args) => {
      if (failures-- > 0) throw new Error("disk on fire");
      return markOrphanFiles(...args);
    };
    const server = await createChatServer({
      config,
      store,
      logger: createLogger("error", { write: (line: string) => lines.push(line) }),
    });
    try {
      const { port } = await server.listen();
      const base = { url: `http://127.0.0.1:${port}` };
      const orphan = await uploaded(base, bytes(10));
      await eventually(async () => (await fetchStatus(base, orphan.url)) === 404);
      expect(failures).toBeLessThan(0);
      const metrics = await server.app.inject({ method: "GET", url: "/metrics" });
      expect(metrics.body).toMatch(/^chat_background_errors_total\{task="upload-sweep"\} 1$/m);
      const logged = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(logged).toContainEqual(
        expect.objectContaining({
          level: 50,
          task: "upload-sweep",
          err: expect.objectContaining({ message: "disk on fire" }),
        }),
      );
      expect((await server.app.inject({ method: "GET", url: "/healthz" })).statusCode).toBe(200);
      await uploaded(base, bytes(10));
    } finally {
      await server.close();
    }
  });
});
