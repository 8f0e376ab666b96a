/**
 * Soak test (`npm run soak`, not part of `npm test`): many clients on loopback in rooms and direct
 * conversations, steady sends, reconnect churn, for a configurable time. Each client behaves as the SDK
 * does — remembers the highest id it saw and calls `sync` from it on every reconnect — and at the end the
 * report says how many messages a recipient never saw (lost; 0 expected), how many a socket got twice
 * (duplicates), the p99 delivery latency and the server's RSS and heap drift.
 *
 * Flags: --seconds N (default 600), --clients N (1000), --rate N messages/s overall (200),
 * --churn N reconnects/s (5), --rooms N (20). Loopback only; bounded in count and time.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import jwt from "jsonwebtoken";
import { io, type Socket } from "socket.io-client";
import type { Result } from "../shared/errors.js";
import type { ClientToServerEvents, ServerToClientEvents } from "../shared/events.js";
import type { MessagePage, Room, StoredMessage } from "../shared/schemas.js";

type Client = Socket<ServerToClientEvents, ClientToServerEvents>;

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2)
  args.set(process.argv[i]!.replace(/^--/, ""), process.argv[i + 1] ?? "");
const num = (name: string, fallback: number) => (args.has(name) ? Number(args.get(name)) : fallback);
const SECONDS = num("seconds", 600);
const CLIENTS = num("clients", 1000);
const RATE = num("rate", 200);
const CHURN = num("churn", 5);
const ROOMS = num("rooms", 20);
const SECRET = "soak-secret-soak-secret-soak-secret-0123456789";

interface Member {
  id: string;
  socket: Client;
  seen: Set<number>;
  cursor: number;
  /**
   * Where the catch-up after the latest connect starts: the cursor as it was when that connect's `session`
   * arrived. Read later, it could already include live messages of the new socket (ws can hand several frames
   * over in one turn), and skip what the previous socket missed below them.
   */
  syncFrom: number;
  duplicates: number;
  room: string;
}

const latencies: number[] = [];
const acked = new Map<number, { to: string; kind: "group" | "single"; from: string }>();

function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function request<T>(socket: Client, event: string, payload: unknown): Promise<T> {
  const emit = socket.timeout(10_000).emitWithAck as (event: string, payload: unknown) => Promise<Result<T>>;
  const result = await emit.call(socket.timeout(10_000), event, payload);
  if (!result.ok) throw new Error(`${event}: ${result.error.code} ${result.error.message}`);
  return result.data;
}

/** Catches up from the member's cursor, following pages to the end. */
async function catchUp(member: Member): Promise<void> {
  let after = member.syncFrom;
  for (;;) {
    const page = await request<MessagePage>(member.socket, "sync", { after });
    for (const message of page.messages) member.seen.add(message.id);
    after = page.messages.at(-1)?.id ?? after;
    member.cursor = Math.max(member.cursor, after);
    if (!page.hasMore) return;
  }
}

function open(url: string, member: Omit<Member, "socket">): Promise<Member> {
  const socket: Client = io(url, {
    auth: { token: jwt.sign({}, SECRET, { subject: member.id, expiresIn: "2h" }) },
    transports: ["websocket"],
    reconnection: false,
    forceNew: true,
  });
  const full = member as Member;
  full.socket = socket;
  socket.on("message", (message) => {
    if (!("id" in message)) return;
    if (full.seen.has(message.id)) full.duplicates += 1;
    full.seen.add(message.id);
    full.cursor = Math.max(full.cursor, message.id);
    latencies.push(Date.now() - message.createAt);
  });
  return new Promise((resolve, reject) => {
    socket.once("session", () => {
      full.syncFrom = full.cursor;
      resolve(full);
    });
    socket.once("connect_error", reject);
  });
}

/** The server's RSS and used heap right after a full garbage collection (see bench/gc-on-signal.ts). */
async function serverSample(pid: number, url: string): Promise<{ rss: number; heap: number }> {
  process.kill(pid, "SIGUSR2");
  await new Promise((resolve) => setTimeout(resolve, 500));
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
  const metrics = await (await fetch(`${url}/metrics`)).text();
  const heap = Number(/^nodejs_heap_size_used_bytes (\S+)/m.exec(metrics)?.[1] ?? 0);
  return { rss, heap };
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), "chat-soak-"));
  const child = spawn(
    process.execPath,
    ["--expose-gc", "--import", "tsx", "--import", "./bench/gc-on-signal.ts", "server/main.ts"],
    {
      env: {
        ...process.env,
        PORT: "0",
        DATA_DIR: dataDir,
        LOG_LEVEL: "info",
        JWT_SECRET: SECRET,
        PUSH_API_KEY: SECRET,
        ADMIN_API_KEY: SECRET,
        PRESENCE_ROOM_LIMIT: "100",
        PRESENCE_GRACE_MS: "1000",
        RATE_LIMIT_EVENTS_PER_10S: "1000000",
        RATE_LIMIT_CONNECTIONS_PER_MIN: "1000000",
      },
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const match = /"url":"(http:\/\/[^"]+)","msg":"listening"/.exec(out);
      if (match) resolve(match[1]!);
    });
    child.once("exit", (code) => reject(new Error(`server exited ${code} before listening`)));
  });
  console.log(`soak: server at ${url}, ${CLIENTS} clients, ${SECONDS}s, ${RATE} msg/s, ${CHURN} reconnects/s`);

  const members: Member[] = [];
  for (let i = 0; i < CLIENTS; i += 50) {
    const batch = Array.from({ length: Math.min(50, CLIENTS - i) }, (_, k) => {
      const id = `soak${i + k}`;
      return open(url, { id, seen: new Set(), cursor: 0, syncFrom: 0, duplicates: 0, room: "" });
    });
    members.push(...(await Promise.all(batch)));
  }
  const rooms: Room[] = [];
  for (let r = 0; r < ROOMS; r++)
    rooms.push(await request<Room>(members[r]!.socket, "room:create", { name: `soak ${r}` }));
  await Promise.all(
    members.map(async (member, index) => {
      member.room = rooms[index % ROOMS]!.id;
      if (index >= ROOMS) await request(member.socket, "room:join", { roomId: member.room });
    }),
  );
  const roomMembers = new Map<string, string[]>();
  for (const member of members) roomMembers.set(member.room, [...(roomMembers.get(member.room) ?? []), member.id]);

  const baseline = await serverSample(child.pid!, url);
  const started = Date.now();
  const deadline = started + SECONDS * 1000;
  let sent = 0;
  let failures = 0;
  const inflight = new Set<Promise<void>>();
  const reconnecting = new Set<Member>();

  const sendOne = (member: Member) => {
    const direct = Math.random() < 0.3;
    const peer = members[Math.floor(Math.random() * members.length)]!;
    const payload = direct
      ? { messageType: "single", mediaType: "text", to: peer.id, content: `dm ${sent}` }
      : { messageType: "group", mediaType: "text", to: member.room, content: `room ${sent}` };
    sent += 1;
    const p = request<StoredMessage>(member.socket, "message:send", { ...payload, clientMsgId: `${member.id}-${sent}` })
      .then((message) => {
        acked.set(message.id, { to: message.to, kind: direct ? "single" : "group", from: member.id });
        member.seen.add(message.id);
      })
      .catch(() => {
        failures += 1;
      });
    inflight.add(p);
    p.then(
      () => inflight.delete(p),
      () => inflight.delete(p),
    );
  };

  const churn = async () => {
    const member = members[Math.floor(Math.random() * members.length)]!;
    if (reconnecting.has(member)) return;
    reconnecting.add(member);
    member.socket.disconnect();
    const again = await open(url, member);
    await catchUp(again);
    reconnecting.delete(member);
  };

  let lastReport = Date.now();
  while (Date.now() < deadline) {
    const tick = Date.now();
    for (let i = 0; i < RATE / 10; i++) {
      const member = members[Math.floor(Math.random() * members.length)]!;
      if (!reconnecting.has(member) && inflight.size < 2000) sendOne(member);
    }
    if (Math.random() < CHURN / 10) void churn().catch(() => (failures += 1));
    if (tick - lastReport > 30_000) {
      lastReport = tick;
      const sample = await serverSample(child.pid!, url);
      console.log(
        `  t=${Math.round((tick - started) / 1000)}s sent=${sent} acked=${acked.size} rss=${(sample.rss / 2 ** 20).toFixed(1)}MiB`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, 100 - (Date.now() - tick))));
  }
  await Promise.all(inflight);
  while (reconnecting.size > 0) await new Promise((resolve) => setTimeout(resolve, 50));
  // Let live deliveries drain, then catch every member up as a reconnecting client would.
  await new Promise((resolve) => setTimeout(resolve, 2000));
  for (let i = 0; i < members.length; i += 100) await Promise.all(members.slice(i, i + 100).map(catchUp));
  const end = await serverSample(child.pid!, url);

  let lost = 0;
  for (const [id, info] of acked) {
    const recipients = info.kind === "group" ? (roomMembers.get(info.to) ?? []) : [info.to, info.from];
    for (const recipient of recipients) {
      const member = members.find((m) => m.id === recipient);
      if (member && !member.seen.has(id)) lost += 1;
    }
  }
  const duplicates = members.reduce((sum, m) => sum + m.duplicates, 0);
  const report = {
    seconds: SECONDS,
    clients: CLIENTS,
    sent,
    acked: acked.size,
    failedRequests: failures,
    lost,
    duplicateLiveDeliveries: duplicates,
    deliveryP50Ms: percentile(latencies, 50),
    deliveryP99Ms: percentile(latencies, 99),
    rssStartMiB: +(baseline.rss / 2 ** 20).toFixed(1),
    rssEndMiB: +(end.rss / 2 ** 20).toFixed(1),
    heapStartMiB: +(baseline.heap / 2 ** 20).toFixed(1),
    heapEndMiB: +(end.heap / 2 ** 20).toFixed(1),
  };
  console.log(JSON.stringify(report, null, 2));
  for (const member of members) member.socket.disconnect();
  child.kill("SIGTERM");
  await new Promise((resolve) => child.once("exit", resolve));
  rmSync(dataDir, { recursive: true, force: true });
  process.exit(lost === 0 ? 0 : 1);
}

await main();
