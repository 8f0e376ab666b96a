/**
 * Where a fan-out delivery's CPU goes, side by side on our server and bare Socket.IO: both up and
 * populated with one room of N members, measured in interleaved slices as `--case fanout` does, and for
 * each slice the process's user and system CPU (/proc/<pid>/stat), its write syscalls and bytes
 * (/proc/<pid>/io), and — in separate profiled slices — V8 self time by function, all per delivery.
 * Evidence for the fan-out analysis in bench/README.md; not part of `npm run bench`.
 * `npx tsx bench/diagnostics/fanout-split.ts [members=1000] [slices=6]`; `CHAT_SETTINGS=DB_SYNC=normal,…` adds
 * settings to our server.
 */
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { closeAll, type RawConn } from "../lib/client.js";
import { CHAT_ENV, populate, startServers, stopServers } from "../lib/harness.js";
import { closedLoop, Tally, type Sender } from "../lib/load.js";
import { CLIENT_CPU, pinSelf, type ServerKind, type ServerProcess } from "../lib/proc.js";
import { summarizeProfile } from "../lib/profile.js";
import { seedChatDb, tempDataDir, userIds } from "../lib/seed.js";

const MEMBERS = Number(process.argv[2] ?? 1000);
const SLICES = Number(process.argv[3] ?? 6);
const KINDS: ServerKind[] = ["chat", "socketio"];
const ROOM = "fan";
const TIMING = { warmMs: 400, measureMs: 2000 };
const TICK_S = 0.01; // USER_HZ is 100 on Linux

/** CPU seconds (user + system) per thread name, e.g. `node`, `V8 DefaultWorke`, `libuv-worker`. */
function threads(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      out.set(name, (out.get(name) ?? 0) + (Number(fields[11]) + Number(fields[12])) * TICK_S);
    } catch {
      // the thread ended
    }
  }
  return out;
}

interface Counters {
  user: number;
  system: number;
  syscw: number;
  wchar: number;
  syscr: number;
}

function counters(pid: number): Counters {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const io = Object.fromEntries(
    readFileSync(`/proc/${pid}/io`, "utf8")
      .trim()
      .split("\n")
      .map((line) => {
        const [key, value] = line.split(": ");
        return [key!, Number(value)];
      }),
  );
  return {
    user: Number(fields[11]) * TICK_S,
    system: Number(fields[12]) * TICK_S,
    syscw: io["syscw"]!,
    wchar: io["wchar"]!,
    syscr: io["syscr"]!,
  };
}

pinSelf(CLIENT_CPU);
// Extra settings for our server, e.g. `CHAT_SETTINGS=DB_SYNC=normal`, to see what a setting costs.
for (const pair of (process.env["CHAT_SETTINGS"] ?? "").split(",").filter(Boolean)) {
  const [key, value] = pair.split("=");
  CHAT_ENV[key!] = value!;
}
const users = userIds("f", MEMBERS);
const dataDir = tempDataDir();
seedChatDb(dataDir, users, [{ id: ROOM, members: users }]);
const servers = await startServers(KINDS, dataDir);
const conns: Partial<Record<ServerKind, RawConn[]>> = {};
const totals = Object.fromEntries(
  KINDS.map((kind) => [kind, { deliveries: 0, user: 0, system: 0, syscw: 0, wchar: 0, syscr: 0 }]),
) as Record<ServerKind, Counters & { deliveries: number }>;
const byThread = Object.fromEntries(KINDS.map((kind) => [kind, new Map<string, number>()])) as Record<
  ServerKind,
  Map<string, number>
>;
const profileDir = mkdtempSync(join(tmpdir(), "fanout-split-"));

const window = (server: ServerProcess, tally: Tally) => {
  const [sender, ...receivers] = conns[server.kind]!;
  const senders: Sender[] = [{ conn: sender!, messageType: "group", to: ROOM, expected: MEMBERS - 1 }];
  return closedLoop(server, tally, senders, receivers, 8, TIMING);
};

async function commits(url: string): Promise<{ messages: number; commits: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? 0);
  return { messages: value("chat_store_commit_messages_sum"), commits: value("chat_store_commit_messages_count") };
}

try {
  for (const kind of KINDS) conns[kind] = await populate(servers[kind]!, users, () => [ROOM]);
  for (const kind of KINDS) await window(servers[kind]!, new Tally()); // warm up the JIT
  const commitsBefore = await commits(servers.chat!.url);
  for (let slice = 0; slice < SLICES; slice++) {
    for (const kind of KINDS) {
      const server = servers[kind]!;
      const tally = new Tally();
      // The counters cover warm-up + measure + drain; deliveries are counted over measure only, so
      // scale: deliveries over the whole window ≈ measured deliveries × whole wall / measured wall.
      const before = counters(server.pid);
      const threadsBefore = threads(server.pid);
      const t0 = performance.now();
      await window(server, tally);
      const wall = (performance.now() - t0) / 1000;
      const after = counters(server.pid);
      for (const [name, cpu] of threads(server.pid)) {
        byThread[kind].set(name, (byThread[kind].get(name) ?? 0) + cpu - (threadsBefore.get(name) ?? 0));
      }
      const deliveries = tally.deliveries * (wall / tally.wallS);
      const total = totals[kind];
      total.deliveries += deliveries;
      total.user += after.user - before.user;
      total.system += after.system - before.system;
      total.syscw += after.syscw - before.syscw;
      total.wchar += after.wchar - before.wchar;
      total.syscr += after.syscr - before.syscr;
    }
  }
  const commitsAfter = await commits(servers.chat!.url);
  const perCommit = (commitsAfter.messages - commitsBefore.messages) / (commitsAfter.commits - commitsBefore.commits);
  process.stdout.write(`our server: ${perCommit.toFixed(2)} messages per group commit\n`);
  const profiles: Partial<Record<ServerKind, ReturnType<typeof summarizeProfile>>> = {};
  const perDeliveryUs: Partial<Record<ServerKind, number>> = {};
  for (const kind of KINDS) {
    const total = totals[kind];
    perDeliveryUs[kind] = ((total.user + total.system) / total.deliveries) * 1e6;
    const line = [
      `${kind.padEnd(9)} CPU µs/delivery ${perDeliveryUs[kind].toFixed(2)}`,
      `(user ${((total.user / total.deliveries) * 1e6).toFixed(2)}, system ${((total.system / total.deliveries) * 1e6).toFixed(2)})`,
      `write syscalls/delivery ${(total.syscw / total.deliveries).toFixed(3)}`,
      `bytes written/delivery ${(total.wchar / total.deliveries).toFixed(0)}`,
      `read syscalls/delivery ${(total.syscr / total.deliveries).toFixed(4)}`,
    ];
    process.stdout.write(`${line.join("  ")}\n`);
    const perThread = [...byThread[kind]].filter(([, cpu]) => cpu > 0).sort((a, b) => b[1] - a[1]);
    process.stdout.write(
      `  by thread, µs/delivery: ${perThread.map(([name, cpu]) => `${name} ${((cpu / total.deliveries) * 1e6).toFixed(2)}`).join(", ")}\n`,
    );
  }
  for (const kind of KINDS) {
    const server = servers[kind]!;
    const file = join(profileDir, `${kind}.cpuprofile`);
    await server.probe({ op: "profile:start", intervalUs: 250 });
    await window(server, new Tally());
    await server.probe({ op: "profile:stop", file });
    profiles[kind] = summarizeProfile(file, 40);
  }
  // Self time per function, as µs per delivery: the profile's share × the measured CPU per delivery.
  const rows = new Map<string, Partial<Record<ServerKind, number>>>();
  for (const kind of KINDS) {
    for (const entry of profiles[kind]!.top) {
      const key = `${entry.name} ${entry.where}`;
      const row = rows.get(key) ?? {};
      row[kind] = (entry.pct / 100) * perDeliveryUs[kind]!;
      rows.set(key, row);
    }
  }
  process.stdout.write(`\nself time, µs per delivery (profiles in ${profileDir}):\n`);
  process.stdout.write(`${"chat".padStart(7)} ${"bare".padStart(7)} ${"diff".padStart(7)}  function\n`);
  const sorted = [...rows.entries()].sort(
    (a, b) => Math.abs((b[1].chat ?? 0) - (b[1].socketio ?? 0)) - Math.abs((a[1].chat ?? 0) - (a[1].socketio ?? 0)),
  );
  for (const [key, row] of sorted.slice(0, 30)) {
    const chat = row.chat ?? 0;
    const bare = row.socketio ?? 0;
    process.stdout.write(
      `${chat.toFixed(3).padStart(7)} ${bare.toFixed(3).padStart(7)} ${(chat - bare).toFixed(3).padStart(7)}  ${key}\n`,
    );
  }
  for (const kind of KINDS) {
    process.stdout.write(
      `\n${kind} by origin: ${profiles[kind]!.byOrigin.map((o) => `${o.origin} ${o.pct}%`).join(", ")}\n`,
    );
  }
} finally {
  for (const kind of KINDS) await closeAll(conns[kind] ?? []);
  await stopServers(servers);
}
