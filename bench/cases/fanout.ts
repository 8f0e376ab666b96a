import { closeAll, type RawConn } from "../lib/client.js";
import {
  fmt,
  populate,
  profiled,
  startServers,
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
import { seedChatDb, tempDataDir, userIds } from "../lib/seed.js";

const KINDS: ServerKind[] = ["chat", "socketio", "ws", "wsc"];
/**
 * The servers of a room of `size`: at 5,000 members the plain raw `ws` baseline (no target compares with it)
 * is left out, since four servers of 5,000 connections each would pass the load client's open-file limit.
 */
const kindsFor = (size: number): ServerKind[] => (size > 1000 ? KINDS.filter((kind) => kind !== "ws") : KINDS);
const ROOM = "fan";
const IN_FLIGHT = 8;

const METRICS: MetricSpec[] = [
  { key: "deliveriesPerCpuS", label: "deliveries / server-CPU-s", ratio: true, digits: 0 },
  { key: "deliveriesPerS", label: "deliveries / s (wall)", digits: 0 },
  { key: "serverCpuUtil", label: "server CPU use (cores)", digits: 2 },
  { key: "deliveryP50", label: "delivery p50 (ms)", ratio: true, digits: 1 },
  { key: "deliveryP99", label: "delivery p99 (ms)", ratio: true, digits: 1 },
  { key: "ackP50", label: "sender ack p50 (ms)", digits: 1 },
  { key: "errors", label: "errors + lost", digits: 0 },
];

/**
 * Fan-out: one room of N members all connected, one member sends ~140-byte text with 8 messages in
 * flight (a message is in flight until acked and delivered to all N-1 others). Every server is up and
 * populated at once; measured slices alternate between them.
 */
export async function fanoutCase(ctx: BenchContext): Promise<CaseResult> {
  const started = Date.now();
  const sizes = ctx.quick ? [1000] : [1000, 5000];
  const timing = ctx.quick ? { warmMs: 300, measureMs: 1500 } : { warmMs: 400, measureMs: 2000 };
  const slices = (size: number) => (ctx.quick ? 2 : size > 1000 ? 2 : 3);
  const timingOf = (size: number) => (size > 1000 && !ctx.quick ? { warmMs: 600, measureMs: 2000 } : timing);
  const variants: VariantResult[] = [];
  const profiles: ProfileSummary[] = [];
  for (const size of sizes) {
    const users = userIds("f", size);
    const dataDir = tempDataDir();
    seedChatDb(dataDir, users, [{ id: ROOM, members: users }]);
    const kinds = kindsFor(size);
    const servers = await startServers(kinds, dataDir);
    const conns: Partial<Record<ServerKind, RawConn[]>> = {};
    try {
      for (const kind of kinds) {
        ctx.log(`fanout ${fmt(size)}: connecting ${fmt(size)} to ${kind}`);
        conns[kind] = await populate(servers[kind]!, users, () => [ROOM]);
      }
      const window = (kind: ServerKind, tally: Tally, first: boolean) => {
        const [sender, ...receivers] = conns[kind]!;
        const senders: Sender[] = [{ conn: sender!, messageType: "group", to: ROOM, expected: size - 1 }];
        const t = timingOf(size);
        return closedLoop(servers[kind]!, tally, senders, receivers, IN_FLIGHT, {
          ...t,
          warmMs: first ? t.warmMs * 4 : t.warmMs,
        });
      };
      const runs = await interleaved(kinds, ctx.runs, slices(size), window, (run, results) => {
        ctx.log(
          `fanout ${fmt(size)} run ${run + 1}: deliveries/CPU-s ` +
            kinds.map((kind) => `${kind} ${fmt(results[kind].deliveriesPerCpuS)}`).join(", "),
        );
      });
      variants.push(variantOf(`${fmt(size)} members`, METRICS, runs));
      if (ctx.profile) {
        profiles.push(await profiled(ctx, servers.chat!, `fanout-${size}`, () => window("chat", new Tally(), false)));
      }
    } finally {
      for (const kind of kinds) await closeAll(conns[kind] ?? []);
      await stopServers(servers);
    }
  }
  const targets: TargetResult[] = variants.flatMap((variant) => {
    const ofLimit = variant.ratios["deliveriesPerCpuS"]!.wsc!;
    const ofSocketIo = variant.ratios["deliveriesPerCpuS"]!.socketio!;
    return [
      {
        target: `fan-out deliveries per server-CPU-second ≥ 0.9× the coalescing raw ws limit (${variant.name})`,
        measured: `${ofLimit}×`,
        met: ofLimit >= 0.9,
      },
      {
        target: `fan-out deliveries per server-CPU-second ≥ 2× bare Socket.IO (${variant.name})`,
        measured: `${ofSocketIo}×`,
        met: ofSocketIo >= 2,
      },
    ];
  });
  return {
    name: "fanout",
    title: "Fan-out",
    method: [
      `One room of N members, all connected over raw Engine.IO/Socket.IO frames; one member sends ~140-byte text with ${IN_FLIGHT} messages in flight (closed loop: a message is in flight until acked and received by all N-1 others).`,
      "Servers: ours, bare Socket.IO, raw ws (one write per frame), and raw ws coalescing each turn's frames per connection into one write as ours does (the limit for fan-out on this stack; the target is against it).",
      `All four servers (at 5,000 members three: the plain raw ws is left out, for the load client's open-file limit) are up and populated at once. A run gives each server ${slices(1000)} (5,000 members: ${slices(5000)}) measured slices of ${timing.measureMs} ms, interleaved A B C A B C…, each after ${timing.warmMs} ms of unmeasured load; deliveries counted at the receivers, server CPU from /proc/<pid>/task/*/schedstat over exactly the slices. ${ctx.runs} run(s): medians, and ratios as the median of per-run ratios.`,
      "Delivery latency: from the send time (carried in the content) to the receiver reading the frame, both on the load client's clock; it includes queueing behind the 7 other messages in flight.",
    ],
    params: { sizes, inFlight: IN_FLIGHT, contentBytes: 140, ...timing, runs: ctx.runs },
    variants,
    targets,
    notes: [],
    profiles,
    seconds: Math.round((Date.now() - started) / 1000),
  };
}
