import { closeAll, type RawConn } from "../lib/client.js";
import {
  fmt,
  populate,
  profiled,
  startServers,
  storeCommits,
  stopServers,
  variantOf,
  type BenchContext,
  type CaseResult,
  type MetricSpec,
  type TargetResult,
  type VariantResult,
} from "../lib/harness.js";
import { closedLoop, interleaved, Tally, type Sender } from "../lib/load.js";
import type { ServerKind } from "../lib/proc.js";
import type { ProfileSummary } from "../lib/profile.js";
import { roomsOf, seedChatDb, tempDataDir, userIds } from "../lib/seed.js";

const KINDS: ServerKind[] = ["chat", "socketio", "durable"];
const CLIENTS = 100;
const ROOM_SIZE = 10;

const METRICS: MetricSpec[] = [
  { key: "ackedPerCpuS", label: "acked messages / server-CPU-s", ratio: true, digits: 0 },
  { key: "ackedPerS", label: "acked messages / s (wall)", digits: 0 },
  { key: "serverCpuUtil", label: "server CPU use (cores)", digits: 2 },
  { key: "ackP50", label: "ack p50 (ms)", ratio: true, digits: 2 },
  { key: "ackP99", label: "ack p99 (ms)", ratio: true, digits: 2 },
  { key: "deliveryP50", label: "sender → recipient p50 (ms)", ratio: true, digits: 2 },
  { key: "deliveryP99", label: "sender → recipient p99 (ms)", ratio: true, digits: 2 },
  { key: "errors", label: "errors + lost", digits: 0 },
];

type Mode = "group" | "direct" | "note-to-self";

/**
 * Send path: 100 connected clients each keep 1 or 4 messages in flight — group messages to their room of
 * 10 (9 deliveries each) or direct messages to a partner (1 delivery) — stored durably (DB_SYNC=full,
 * acked after the group commit) on our server, echoed by the baselines.
 */
export async function sendCase(ctx: BenchContext): Promise<CaseResult> {
  const started = Date.now();
  const users = userIds("s", CLIENTS);
  const rooms = roomsOf("g", users, ROOM_SIZE);
  const roomOf = (index: number) => rooms[Math.floor(index / ROOM_SIZE)]!.id;
  const dataDir = tempDataDir();
  seedChatDb(dataDir, users, rooms);
  const timing = ctx.quick ? { warmMs: 200, measureMs: 800 } : { warmMs: 250, measureMs: 1200 };
  const slices = 2;
  const variants: VariantResult[] = [];
  const profiles: ProfileSummary[] = [];
  const notes: string[] = [];
  const servers = await startServers(KINDS, dataDir);
  const conns: Partial<Record<ServerKind, RawConn[]>> = {};
  try {
    for (const kind of KINDS) conns[kind] = await populate(servers[kind]!, users, (_, index) => [roomOf(index)]);
    const sendersFor = (kind: ServerKind, mode: Mode): Sender[] =>
      conns[kind]!.map((conn, index) =>
        mode === "group"
          ? { conn, messageType: "group", to: roomOf(index), expected: ROOM_SIZE - 1 }
          : mode === "direct"
            ? { conn, messageType: "single", to: users[index ^ 1]!, expected: 1 }
            : { conn, messageType: "single", to: users[index]!, expected: 0 },
      );
    const plan: [Mode, number][] = ctx.quick
      ? [["group", 4]]
      : [
          ["group", 1],
          ["group", 4],
          ["direct", 1],
          ["direct", 4],
          ["note-to-self", 1],
          ["note-to-self", 4],
        ];
    for (const [mode, inFlight] of plan) {
      const window = (kind: ServerKind, tally: Tally, first: boolean) =>
        closedLoop(servers[kind]!, tally, sendersFor(kind, mode), conns[kind]!, inFlight, {
          ...timing,
          warmMs: first ? timing.warmMs * 4 : timing.warmMs,
        });
      const before = await storeCommits(servers.chat!.url);
      const runs = await interleaved(KINDS, ctx.runs, slices, window, (run, results) => {
        ctx.log(
          `send ${mode} ×${inFlight} run ${run + 1}: acked/CPU-s ` +
            KINDS.map((kind) => `${kind} ${fmt(results[kind].ackedPerCpuS)}`).join(", "),
        );
      });
      const after = await storeCommits(servers.chat!.url);
      const batch = (after.messages - before.messages) / Math.max(1, after.commits - before.commits);
      notes.push(`${mode}, ${inFlight} in flight: our server committed ${batch.toFixed(1)} messages per group commit.`);
      variants.push(variantOf(`${mode}, ${inFlight} in flight per client`, METRICS, runs));
      if (ctx.profile && inFlight === 4) {
        profiles.push(
          await profiled(ctx, servers.chat!, `send-${mode}-${inFlight}`, () => window("chat", new Tally(), false)),
        );
      }
    }
  } finally {
    for (const kind of KINDS) await closeAll(conns[kind] ?? []);
    await stopServers(servers);
  }
  const targets: TargetResult[] = variants.map((variant) => {
    const ratio = variant.ratios["ackedPerCpuS"]!.durable!;
    return {
      target: `stored + acked sends per server-CPU-second ≥ 0.75× the durable floor (${variant.name})`,
      measured: `${ratio}×`,
      met: ratio >= 0.75,
    };
  });
  return {
    name: "send",
    title: "Send path",
    method: [
      `${CLIENTS} connected clients; group: each sends to its room of ${ROOM_SIZE} (${ROOM_SIZE - 1} deliveries per message); direct: each sends single messages to a partner (1 delivery); note-to-self: each sends single messages to itself (no delivery: its only socket sent it). ~140-byte text.`,
      "Closed loop per client: a message is in flight until its ack and all its deliveries arrived. Our server acks only after the group commit (DB_SYNC=full: fsync per commit); bare Socket.IO acks at once with an echo of the message; the durable floor (bare Socket.IO + one prepared SQLite INSERT per message, committed as a group per event-loop turn, WAL + synchronous=FULL, then deliveries and ack) does the least durable work a chat server must do. The target is against the durable floor.",
      `Per run each server gets ${slices} interleaved slices of ${timing.measureMs} ms (after ${timing.warmMs} ms unmeasured load each); ${ctx.runs} run(s), medians, ratio = median of per-run ratios. Ack latency: send → ack on the sender; sender → recipient: send → frame read by the recipient.`,
    ],
    params: { clients: CLIENTS, roomSize: ROOM_SIZE, ...timing, slices, runs: ctx.runs },
    variants,
    targets,
    notes,
    profiles,
    seconds: Math.round((Date.now() - started) / 1000),
  };
}
