import { spawn, spawnSync, execFileSync, type ChildProcess } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { request } from "node:http";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { ProbeReply, ProbeRequest } from "../servers/probe.js";

/** The repository root. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** CPU the servers run on; the load client (this process) takes the other one. */
export const SERVER_CPU = 0;
export const CLIENT_CPU = 1;

/** Pins this process (every thread) to one CPU; returns false when taskset is missing or refused. */
export function pinSelf(cpu: number): boolean {
  try {
    execFileSync("taskset", ["-a", "-p", "-c", String(cpu), String(process.pid)], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Raises this process's open-file limit (children inherit it); returns the limit in force. */
export function raiseFdLimit(wanted: number): number {
  try {
    execFileSync("prlimit", ["--pid", String(process.pid), `--nofile=${wanted}:${wanted}`], { stdio: "ignore" });
  } catch {
    // Not root or no prlimit: keep what we have and let the cases scale down.
  }
  return fdLimit();
}

/** The soft open-file limit of this process. */
export function fdLimit(): number {
  const line = readFileSync("/proc/self/limits", "utf8")
    .split("\n")
    .find((l) => l.startsWith("Max open files"));
  return Number(line?.split(/\s+/)[3] ?? 1024);
}

/** A free TCP port on 127.0.0.1 (listens on 0, closes). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/**
 * CPU time of a process in seconds: the sum over its threads of `/proc/<pid>/task/<tid>/schedstat`
 * (nanoseconds on CPU), which is finer than utime+stime's 10 ms ticks. Falls back to `/proc/<pid>/stat`.
 */
export function cpuSeconds(pid: number): number {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
      } catch {
        // The thread exited between readdir and read.
      }
    }
    return ns / 1e9;
  } catch {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  }
}

/** System calls of a process so far (all threads): `syscw` counts write, writev and the like; `syscr` reads. */
export function syscalls(pid: number): { reads: number; writes: number } {
  const text = readFileSync(`/proc/${pid}/io`, "utf8");
  const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, "m").exec(text)?.[1] ?? NaN);
  return { reads: field("syscr"), writes: field("syscw") };
}

/** User and kernel CPU time of a process so far, in clock ticks (10 ms; all threads), from /proc/<pid>/stat. */
export function cpuTicks(pid: number): { user: number; system: number } {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return { user: Number(fields[11]), system: Number(fields[12]) };
}

/**
 * Times the main thread of a process (the event loop's) was put on a CPU so far: the third field of its
 * schedstat. Each is a wake-up from waiting (or a return after preemption): the loop's fixed cost is paid per one.
 */
export function wakeups(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, "utf8").split(" ")[2]);
}

/** Resident set size of a process in bytes (VmRSS). */
export function rssBytes(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8")
    .split("\n")
    .find((l) => l.startsWith("VmRSS:"));
  return Number(line?.split(/\s+/)[1] ?? 0) * 1024;
}

/**
 * The server kinds a case compares: ours, bare Socket.IO, raw `ws`, and two floors — the durable floor (bare
 * Socket.IO storing each message with one SQLite insert, group commit per turn, WAL + FULL) and raw `ws`
 * coalescing each turn's frames per connection into one write.
 */
export type ServerKind = "chat" | "socketio" | "ws" | "durable" | "wsc";

export const SERVER_LABEL: Record<ServerKind, string> = {
  chat: "our server",
  socketio: "bare Socket.IO",
  ws: "raw ws",
  durable: "durable floor",
  wsc: "coalescing raw ws",
};

/**
 * Our server runs compiled, as `npm start` runs it (`dist/server/main.js`, built by `ensureBuild`): run from its
 * TypeScript through tsx it would also pay for esbuild's `__name` wrapper around every function it creates
 * (0.5-1% of a profile), which production never does.
 */
const ENTRY: Record<ServerKind, string> = {
  chat: join(ROOT, "dist/server/main.js"),
  socketio: join(ROOT, "bench/servers/bare-socketio.ts"),
  ws: join(ROOT, "bench/servers/bare-ws.ts"),
  durable: join(ROOT, "bench/servers/bare-socketio.ts"),
  wsc: join(ROOT, "bench/servers/bare-ws.ts"),
};

/** A probe request without its id (distributes over the union). */
type ProbeRequestBody = ProbeRequest extends infer R ? (R extends ProbeRequest ? Omit<R, "id"> : never) : never;

const PROBE = pathToFileURL(join(ROOT, "bench/servers/probe.ts")).href;

/**
 * The Node flags `npm start` gives our server (package.json `start`: `node <flags> dist/server/main.js`), so the
 * bench runs it with the same heap settings as production, on the same compiled code (`ensureBuild`).
 */
function startFlags(): string[] {
  const manifest = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: { start: string } };
  const words = manifest.scripts.start.trim().split(/\s+/);
  const script = words.findIndex((word) => !word.startsWith("-") && word !== "node");
  if (words[0] !== "node" || script < 0 || !words[script]!.endsWith("server/main.js")) {
    throw new Error(`package.json start is not "node <flags> dist/server/main.js": update bench/lib/proc.ts`);
  }
  return words.slice(1, script);
}

/**
 * Builds dist/ when it is missing or older than the sources (scripts/ensure-build.mjs, what `npm start` runs
 * first), so the bench measures the code of the working tree; once per process. Answers what the build said
 * (nothing when dist/ was up to date, or on a later call); throws when the build fails.
 */
let built: string | undefined;

export function ensureBuild(): string {
  if (built !== undefined) return "";
  // PORT=0: the script's check for a server running from dist/ on PORT has nothing to look at.
  const result = spawnSync(process.execPath, [join(ROOT, "scripts/ensure-build.mjs")], {
    cwd: ROOT,
    env: { ...process.env, PORT: "0" },
    encoding: "utf8",
  });
  if (result.status !== 0) throw new Error(`build failed:\n${result.stdout}${result.stderr}`);
  built = result.stdout.trim();
  return built;
}

// The baselines get the same flags: the comparison is of the servers, not of their heap settings.
export const NODE_FLAGS = startFlags();

const children = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of children) child.kill("SIGKILL");
});

/** A running server process pinned to the server CPU, with the bench probe preloaded. */
export class ServerProcess {
  private nextId = 1;
  private readonly waiting = new Map<number, (reply: ProbeReply) => void>();
  private stderr = "";
  readonly url: string;

  private constructor(
    readonly kind: ServerKind,
    readonly port: number,
    readonly child: ChildProcess,
  ) {
    this.url = `http://127.0.0.1:${port}`;
    child.on("message", (reply: ProbeReply) => {
      const resolveReply = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      resolveReply?.(reply);
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-4000);
    });
    child.stdout?.on("data", (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-4000);
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Starts a server of `kind` on a free port with `env` added, and waits until it answers /healthz. */
  static async start(kind: ServerKind, env: Record<string, string> = {}): Promise<ServerProcess> {
    // Once per process: the diagnostics that start our server get the working tree's code too.
    if (kind === "chat") ensureBuild();
    const port = await freePort();
    const child = spawn(
      "taskset",
      [
        "-c",
        String(SERVER_CPU),
        process.execPath,
        ...NODE_FLAGS,
        "--expose-gc",
        "--import",
        "tsx",
        "--import",
        PROBE,
        ENTRY[kind],
      ],
      {
        cwd: ROOT,
        env: { ...process.env, NODE_ENV: "production", PORT: String(port), HOST: "127.0.0.1", ...env },
        stdio: ["ignore", "pipe", "pipe", "ipc"],
      },
    );
    children.add(child);
    child.once("exit", () => children.delete(child));
    const server = new ServerProcess(kind, port, child);
    await server.waitHealthy();
    return server;
  }

  private async waitHealthy(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null) throw new Error(`${this.kind} server exited: ${this.stderr}`);
      if (await healthy(this.port)) return;
      await sleep(100);
    }
    throw new Error(`${this.kind} server did not become healthy: ${this.stderr}`);
  }

  /** CPU seconds used by the server process so far. */
  cpu(): number {
    return cpuSeconds(this.pid);
  }

  rss(): number {
    return rssBytes(this.pid);
  }

  /** Asks the probe inside the server process. */
  probe(request: ProbeRequestBody, timeoutMs = 60_000): Promise<ProbeReply> {
    const id = this.nextId++;
    return new Promise((resolveReply, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`probe ${request.op} timed out`));
      }, timeoutMs);
      this.waiting.set(id, (reply) => {
        clearTimeout(timer);
        if (reply.error) reject(new Error(reply.error));
        else resolveReply(reply);
      });
      this.child.send({ ...request, id } as ProbeRequest);
    });
  }

  /** Recent stdout/stderr of the server, for error messages. */
  get output(): string {
    return this.stderr;
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolveExit) => this.child.once("exit", () => resolveExit()));
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
    await exited;
    clearTimeout(timer);
  }
}

function healthy(port: number): Promise<boolean> {
  return new Promise((resolveHealth) => {
    const req = request({ host: "127.0.0.1", port, path: "/healthz", timeout: 1000 }, (res) => {
      res.resume();
      resolveHealth(res.statusCode === 200);
    });
    req.on("error", () => resolveHealth(false));
    req.on("timeout", () => {
      req.destroy();
      resolveHealth(false);
    });
    req.end();
  });
}

export const sleep = (ms: number) => new Promise<void>((resolveSleep) => setTimeout(resolveSleep, ms));
