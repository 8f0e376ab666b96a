import { spawn } from "node:child_process";
import { copyFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { BackupError, backupDatabase } from "../server/backup.js";
import type { StoredMessage } from "../shared/schemas.js";
import {
  cleanup,
  nextEvent,
  ok,
  openSocket,
  PUSH_KEY,
  signToken,
  startServer,
  tempDir,
  type ClientSocket,
} from "./support/harness.js";
import { killAll, spawnServer } from "./support/process.js";

afterEach(killAll);
afterEach(cleanup);

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** Runs `npm run backup -- <target>` as a user would, with only DATA_DIR set. */
function npmBackup(dataDir: string, target: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn("npm", ["run", "--silent", "backup", "--", target], {
    cwd: ROOT,
    env: { PATH: process.env["PATH"] ?? "", HOME: process.env["HOME"] ?? "", DATA_DIR: dataDir },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  return new Promise((resolve) => child.once("close", (code) => resolve({ code, stdout, stderr })));
}

async function connected(url: string, userId: string): Promise<ClientSocket> {
  const socket = openSocket(url, signToken(userId));
  await nextEvent(socket, "session");
  return socket;
}

async function push(url: string, content: string): Promise<StoredMessage> {
  const response = await fetch(`${url}/api/push`, {
    method: "POST",
    headers: { authorization: `Bearer ${PUSH_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ to: { room: "lobby" }, content }),
  });
  expect(response.status).toBe(202);
  return ((await response.json()) as { message: StoredMessage }).message;
}

/** Every message the user may see, following `sync` pages to the end. */
async function everything(socket: ClientSocket): Promise<StoredMessage[]> {
  const all: StoredMessage[] = [];
  for (;;) {
    const page = await ok(socket, "sync", { after: Math.max(0, ...all.map((m) => m.rev)) });
    all.push(...page.messages);
    if (!page.hasMore) return all;
  }
}

describe("npm run backup", () => {
  it("copies a running server's database with every acked message; a server started on the copy serves them all", async () => {
    const dataDir = tempDir();
    const running = await spawnServer(dataDir);
    const alice = await connected(running.url, "alice");
    await connected(running.url, "bob");
    const acked: StoredMessage[] = [];
    for (let i = 0; i < 40; i++) {
      acked.push(
        await ok(alice, "message:send", { messageType: "group", mediaType: "text", to: "lobby", content: `g${i}` }),
      );
      acked.push(
        await ok(alice, "message:send", { messageType: "single", mediaType: "text", to: "bob", content: `d${i}` }),
      );
    }
    for (let i = 0; i < 10; i++) acked.push(await push(running.url, `p${i}`));

    // The server keeps committing while the copy runs: the copy is one consistent snapshot.
    let writing = true;
    const writer = (async () => {
      for (let i = 0; writing; i++) await push(running.url, `during ${i}`);
    })();
    const target = join(tempDir(), "chat-backup.db");
    const backup = await npmBackup(dataDir, target);
    writing = false;
    await writer;
    expect(backup.stderr).toBe("");
    expect(backup.code).toBe(0);
    expect(backup.stdout).toMatch(/^backup: copied \d+ pages \([\d.]+ MiB\) of .*chat\.db to .*chat-backup\.db/);
    expect(backup.stdout).toMatch(/copy .*files too/);

    // Restore as the README says: the copy becomes DATA_DIR/chat.db of a stopped (here: new) server.
    const restoredDir = tempDir();
    copyFileSync(target, join(restoredDir, "chat.db"));
    const restored = await startServer({}, restoredDir);
    const seen = await everything(await connected(restored.url, "alice"));
    const byId = new Map(seen.map((m) => [m.id, m]));
    for (const message of acked) expect(byId.get(message.id), `message ${message.id}`).toEqual(message);
    // Whatever the writer committed before the snapshot is there too, in id order without gaps of its own.
    const during = seen.filter((m) => m.content?.startsWith("during "));
    expect(during.map((m) => m.content)).toEqual(during.map((_, i) => `during ${i}`));
  });

  it("refuses a target that exists, and leaves it as it was", async () => {
    const target = join(tempDir(), "taken.db");
    writeFileSync(target, "not a backup");
    const backup = await npmBackup(tempDir(), target);
    expect(backup.code).toBe(1);
    expect(backup.stderr).toMatch(/^backup: .*taken\.db exists; a backup never overwrites/);
    expect(readFileSync(target, "utf8")).toBe("not a backup");
  });

  it("refuses a PostgreSQL store, pointing to pg_dump, and a DATA_DIR without a database", async () => {
    const target = join(tempDir(), "never.db");
    const pg = backupDatabase({ dataDir: tempDir(), databaseUrl: "postgres://127.0.0.1/chat" }, target);
    await expect(pg).rejects.toThrow(BackupError);
    await expect(pg).rejects.toThrow(/DATABASE_URL is set.*pg_dump/);
    await expect(backupDatabase({ dataDir: tempDir(), databaseUrl: undefined }, target)).rejects.toThrow(
      /no database at .*chat\.db; set DATA_DIR/,
    );
    expect(existsSync(target)).toBe(false);
  });
});
