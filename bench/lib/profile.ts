import { readFileSync } from "node:fs";
import { relative } from "node:path";
import { ROOT } from "./proc.js";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** One line of a profile summary. */
export interface ProfileEntry {
  name: string;
  where: string;
  /** Share of the non-idle samples, in percent. */
  pct: number;
}

/** Top self-time functions, the split by origin, and our code's inclusive times, of a V8 CPU profile. */
export interface ProfileSummary {
  file: string;
  /** Sampled time not idle in the event loop (includes time blocked in synchronous calls such as fsync). */
  activeMs: number;
  /** Self time; a native function (empty url) is shown with the JS function that called it. */
  top: ProfileEntry[];
  /** Self time by origin (npm package, node internals, our server, GC); natives count for their caller. */
  byOrigin: { origin: string; pct: number }[];
  /**
   * Inclusive time by npm package (and `server` for ours): samples with any frame of it on the stack, each
   * counted once per package, so a package's callees (Node's internals, other packages) count for it too.
   */
  inclusiveByOrigin: { origin: string; pct: number }[];
  /** Inclusive time of our own functions (server/, shared/): everything they and their callees took. */
  ours: ProfileEntry[];
}

const SPECIAL = new Set(["(garbage collector)", "(program)", "(root)", "(idle)"]);

function pathOf(url: string): string {
  const modules = url.lastIndexOf("node_modules/");
  if (modules >= 0) return url.slice(modules + "node_modules/".length);
  if (url.startsWith("file://")) return relative(ROOT, new URL(url).pathname);
  return url;
}

/**
 * Our compiled code (dist/server, dist/shared: the bench runs our server as `npm start` does) counts for its
 * source directory.
 */
const sourceOf = (path: string): string =>
  path.startsWith("dist/server/") || path.startsWith("dist/shared/") ? path.slice("dist/".length) : path;

/** `socket.io`, `better-sqlite3`, `server`, `node`, `(gc)`… */
function originOf(url: string, functionName: string): string {
  if (url === "")
    return functionName === "(garbage collector)" ? "(gc)" : functionName === "(program)" ? "(program)" : "(native)";
  if (url.startsWith("node:")) return "node";
  const modules = url.lastIndexOf("node_modules/");
  if (modules >= 0) {
    const parts = url.slice(modules + "node_modules/".length).split("/");
    return parts[0]!.startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  const top = sourceOf(pathOf(url)).split("/")[0]!;
  return top === "server" || top === "shared" || top === "bench" ? top : pathOf(url);
}

/**
 * File and line (of the compiled JavaScript for our code in dist/); tsx strips our TypeScript's line structure,
 * so our files run from source (tools that import them) are named without a line.
 */
function whereOf(frame: CallFrame): string {
  if (frame.url === "") return "";
  const path = pathOf(frame.url);
  return path.startsWith("server/") || path.startsWith("shared/") ? path : `${path}:${frame.lineNumber + 1}`;
}

const isOurs = (frame: CallFrame) => {
  const path = frame.url === "" ? "" : sourceOf(pathOf(frame.url));
  return path.startsWith("server/") || path.startsWith("shared/");
};

/**
 * Reads a `.cpuprofile` and sums self time per function (natives attributed to their JS caller), per
 * origin, and inclusive time per function of ours. Percentages are of the non-idle sampled time.
 */
export function summarizeProfile(file: string, topN = 15): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, index) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0)));

  /** The nearest ancestor with a script (for natives). */
  const caller = (id: number): CallFrame | undefined => {
    for (let at = parent.get(id); at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)!.callFrame;
      if (frame.url !== "") return frame;
    }
    return undefined;
  };

  const functions = new Map<string, ProfileEntry & { us: number }>();
  const origins = new Map<string, number>();
  const inclusive = new Map<string, ProfileEntry & { us: number }>();
  const packages = new Map<string, number>();
  let active = 0;
  /** Samples inside the inspector session that takes the profile are the profiler's, not the server's. */
  const profilerOwn = (id: number): boolean => {
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const url = byId.get(at)!.callFrame.url;
      if (url === "node:inspector" || url.endsWith("bench/servers/probe.ts")) return true;
    }
    return false;
  };
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    if (frame.functionName === "(idle)" || profilerOwn(id)) continue;
    active += us;
    let name = frame.functionName || "(anonymous)";
    let where = whereOf(frame);
    let origin = originOf(frame.url, frame.functionName);
    if (frame.url === "" && !SPECIAL.has(frame.functionName)) {
      const from = caller(id);
      if (from) {
        name = `${name} ← ${from.functionName || "(anonymous)"}`;
        where = whereOf(from);
        origin = originOf(from.url, from.functionName);
      }
    }
    const key = `${name}@${where}`;
    const entry = functions.get(key) ?? { name, where, pct: 0, us: 0 };
    entry.us += us;
    functions.set(key, entry);
    origins.set(origin, (origins.get(origin) ?? 0) + us);
    // Inclusive time of our functions on this sample's stack, each counted once, and of the packages on it.
    const seen = new Set<string>();
    const onStack = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const f = byId.get(at)!.callFrame;
      const from = f.url === "" || f.url.startsWith("node:") ? undefined : originOf(f.url, f.functionName);
      if (from !== undefined && !onStack.has(from)) {
        onStack.add(from);
        packages.set(from, (packages.get(from) ?? 0) + us);
      }
      if (!isOurs(f)) continue;
      const k = `${f.functionName || "(anonymous)"}@${whereOf(f)}`;
      if (seen.has(k)) continue;
      seen.add(k);
      const e = inclusive.get(k) ?? { name: f.functionName || "(anonymous)", where: whereOf(f), pct: 0, us: 0 };
      e.us += us;
      inclusive.set(k, e);
    }
  }
  const pct = (us: number) => Math.round((us / Math.max(active, 1)) * 1000) / 10;
  const top = (map: Map<string, ProfileEntry & { us: number }>, n: number) =>
    [...map.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, n)
      .map(({ name, where, us }) => ({ name, where, pct: pct(us) }));
  return {
    file: relative(ROOT, file),
    activeMs: Math.round(active / 1000),
    top: top(functions, topN),
    byOrigin: [...origins.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 14)
      .map(([origin, us]) => ({ origin, pct: pct(us) })),
    inclusiveByOrigin: [...packages.entries()]
      .filter(([origin]) => origin !== "bench")
      .sort((a, b) => b[1] - a[1])
      .slice(0, 14)
      .map(([origin, us]) => ({ origin, pct: pct(us) })),
    ours: top(inclusive, 12).filter((entry) => entry.name !== "(anonymous)" || entry.pct >= 5),
  };
}

/** Prints a summary (for `tsx bench/lib/profile.ts file.cpuprofile`). */
if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split("/").pop()!) && process.argv[2]) {
  const summary = summarizeProfile(process.argv[2], Number(process.argv[3] ?? 25));
  process.stdout.write(`${JSON.stringify(summary, null, 1)}\n`);
}
