/**
 * `tsx bench/attacks/uploads.ts <phase>...` — the upload abuse of issue 12 (item 8), against a running server.
 *
 * Env: `BASE_URL` (e.g. http://127.0.0.1:4100), `JWT_SECRET` (the server's, to sign tokens for made-up users),
 * `DATA_DIR` (the server's, to measure what is on disk). Phases:
 * - `burst`: 20 uploads of 10 MiB from one account, one after another; then as many more as fit in `BURST_MORE`
 *   (default 100) or 60 s, whichever ends first; and one upload from another account.
 * - `parallel`: `PARALLEL` (default 12) uploads of 10 MiB at once from a fresh account (run against a server with
 *   a small `UPLOAD_QUOTA_BYTES` to see how many are kept).
 * - `deleted`: upload, send it in a message, delete the message, fetch the file's URL.
 * - `orphan`: upload, never send, fetch the URL again after `ORPHAN_WAIT_MS` (default 3000; run against a server
 *   with a small `UPLOAD_ORPHAN_TTL_MS`).
 * Every request has a 30 s timeout; every loop is bounded. Prints one JSON line per phase.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import jwt from "jsonwebtoken";
import { io } from "socket.io-client";

const BASE_URL = process.env.BASE_URL ?? "http://127.0.0.1:4100";
const SECRET = process.env.JWT_SECRET ?? "";
const DATA_DIR = process.env.DATA_DIR;
const MiB = 1024 * 1024;
const TEN_MIB = Buffer.alloc(10 * MiB - 1024, 0x61);

const token = (user: string) => jwt.sign({}, SECRET, { algorithm: "HS256", expiresIn: 600, subject: user });

/** Bytes under DATA_DIR/files (temp dir included), or undefined when DATA_DIR is not given. */
function bytesOnDisk(): number | undefined {
  if (!DATA_DIR) return undefined;
  const dir = join(DATA_DIR, "files");
  if (!existsSync(dir)) return 0;
  let total = 0;
  for (const entry of readdirSync(dir, { recursive: true, encoding: "utf8" })) {
    const stat = statSync(join(dir, entry));
    if (stat.isFile()) total += stat.size;
  }
  return total;
}

async function upload(
  user: string,
  body: Buffer = TEN_MIB,
): Promise<{ status: number; fileId?: string; url?: string }> {
  const form = new FormData();
  form.append("file", new Blob([new Uint8Array(body)]), "big.bin");
  try {
    const response = await fetch(`${BASE_URL}/api/files`, {
      method: "POST",
      body: form,
      headers: { Authorization: `Bearer ${token(user)}` },
      signal: AbortSignal.timeout(30_000),
    });
    const answer = (await response.json()) as { fileId?: string; url?: string };
    return { status: response.status, fileId: answer.fileId, url: answer.url };
  } catch (error) {
    return { status: -1, fileId: String(error) };
  }
}

async function status(url: string): Promise<number> {
  const response = await fetch(new URL(url, BASE_URL), { signal: AbortSignal.timeout(30_000) });
  await response.arrayBuffer();
  return response.status;
}

const count = (statuses: number[]) =>
  statuses.reduce<Record<string, number>>((tally, code) => ({ ...tally, [code]: (tally[code] ?? 0) + 1 }), {});

async function burst() {
  const user = `burst-${Date.now()}`;
  const started = performance.now();
  const first: number[] = [];
  for (let i = 0; i < 20; i++) first.push((await upload(user)).status);
  const firstSeconds = (performance.now() - started) / 1000;
  const more: number[] = [];
  const limit = Number(process.env.BURST_MORE ?? 100);
  while (more.length < limit && performance.now() - started < 60_000) more.push((await upload(user)).status);
  const other = await upload(`other-${Date.now()}`, Buffer.from("small"));
  return {
    phase: "burst",
    first20: count(first),
    first20Seconds: Number(firstSeconds.toFixed(2)),
    more: count(more),
    totalSeconds: Number(((performance.now() - started) / 1000).toFixed(2)),
    acceptedMiB: Math.round(([...first, ...more].filter((code) => code === 201).length * TEN_MIB.length) / MiB),
    otherUser: other.status,
    bytesOnDiskMiB: DATA_DIR ? Math.round(bytesOnDisk()! / MiB) : undefined,
  };
}

async function parallel() {
  const user = `parallel-${Date.now()}`;
  const before = bytesOnDisk();
  const n = Number(process.env.PARALLEL ?? 12);
  const answers = await Promise.all(Array.from({ length: n }, () => upload(user)));
  const after = bytesOnDisk();
  return {
    phase: "parallel",
    uploads: n,
    statuses: count(answers.map((answer) => answer.status)),
    keptMiBOnDisk: before === undefined ? undefined : Math.round((after! - before) / MiB),
  };
}

async function deleted() {
  const user = `deleter-${Date.now()}`;
  const file = await upload(user, Buffer.from("a file to be deleted with its message"));
  const socket = io(BASE_URL, { auth: { token: token(user) }, transports: ["websocket"], reconnection: false });
  try {
    await new Promise((resolve, reject) => {
      socket.once("session", resolve);
      socket.once("connect_error", reject);
    });
    const send = (await socket.timeout(10_000).emitWithAck("message:send", {
      messageType: "group",
      mediaType: "file",
      to: "lobby",
      fileId: file.fileId,
    })) as { ok: boolean; data?: { id: number } };
    const beforeDelete = await status(file.url!);
    const removed = (await socket.timeout(10_000).emitWithAck("message:delete", { id: send.data!.id })) as {
      ok: boolean;
    };
    const onDisk = DATA_DIR ? existsSync(join(DATA_DIR, "files", file.fileId!)) : undefined;
    return {
      phase: "deleted",
      upload: file.status,
      sent: send.ok,
      urlBeforeDelete: beforeDelete,
      deleted: removed.ok,
      urlAfterDelete: await status(file.url!),
      bytesStillOnDisk: onDisk,
    };
  } finally {
    socket.disconnect();
  }
}

async function orphan() {
  const file = await upload(`orphan-${Date.now()}`, Buffer.from("never sent"));
  const wait = Number(process.env.ORPHAN_WAIT_MS ?? 3000);
  const first = await status(file.url!);
  await new Promise((resolve) => setTimeout(resolve, wait));
  return {
    phase: "orphan",
    upload: file.status,
    urlAtOnce: first,
    waitedMs: wait,
    urlAfterWait: await status(file.url!),
    bytesStillOnDisk: DATA_DIR ? existsSync(join(DATA_DIR, "files", file.fileId!)) : undefined,
  };
}

const PHASES: Record<string, () => Promise<object>> = { burst, parallel, deleted, orphan };
for (const name of process.argv.slice(2)) {
  const phase = PHASES[name];
  if (!phase) throw new Error(`unknown phase ${name}; phases: ${Object.keys(PHASES).join(", ")}`);
  console.log(JSON.stringify(await phase()));
}
