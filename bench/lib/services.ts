import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { createClient } from "redis";
import { PG_ADMIN_URL, REDIS_URL, missingServices } from "../../test/support/services.js";
import type { CpuSnapshot } from "./load.js";
import { cpuSeconds } from "./proc.js";

/**
 * PostgreSQL and Redis for the cluster case: the machine's running servers (the test suite's, at
 * `TEST_POSTGRES_URL` / `TEST_REDIS_URL`, see test/support/services.ts, whose per-run database and key
 * prefix the case uses too), and the processes that serve them, whose CPU the case reads beside our nodes'.
 */
export {
  createTestDatabase as createBenchDatabase,
  redisPrefix as redisSpace,
  type TestDatabase as BenchDatabase,
} from "../../test/support/services.js";
export { PG_ADMIN_URL, REDIS_URL };

/** Fails with the reason when PostgreSQL or Redis does not answer (the cluster case cannot run without). */
export async function requireServices(): Promise<void> {
  const reason = await missingServices(["postgres", "redis"], "the cluster bench");
  if (reason !== undefined) throw new Error(`the cluster case needs PostgreSQL and Redis: ${reason}`);
}

/** The pid of the Redis server (`INFO server` → `process_id`), if it runs in this machine's pid namespace. */
export async function redisPid(): Promise<number | undefined> {
  const client = createClient({ url: REDIS_URL });
  client.on("error", () => undefined);
  await client.connect();
  try {
    const info = await client.info("server");
    const pid = Number(/^process_id:(\d+)/m.exec(info)?.[1]);
    return Number.isInteger(pid) && commOf(pid)?.startsWith("redis") ? pid : undefined;
  } finally {
    await client.close();
  }
}

/** Redis's `INFO commandstats`: calls and µs per command so far (the whole server's, every client's). */
export async function redisCommandStats(): Promise<Map<string, { calls: number; usec: number }>> {
  const client = createClient({ url: REDIS_URL });
  client.on("error", () => undefined);
  await client.connect();
  try {
    const stats = new Map<string, { calls: number; usec: number }>();
    for (const match of (await client.info("commandstats")).matchAll(/^cmdstat_(\S+?):calls=(\d+),usec=(\d+)/gm)) {
      stats.set(match[1]!, { calls: Number(match[2]), usec: Number(match[3]) });
    }
    return stats;
  } finally {
    await client.close();
  }
}

function commOf(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return undefined;
  }
}

/**
 * Every PostgreSQL process of this machine (postmaster, its auxiliary processes, every backend) with its
 * process title, which for a backend names its database: `postgres: 15/main: <user> <database> <client> …`.
 */
export function postgresProcesses(): { pid: number; title: string }[] {
  const out: { pid: number; title: string }[] = [];
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || commOf(pid) !== "postgres") continue;
    try {
      out.push({ pid, title: readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ") });
    } catch {
      // Exited since readdir.
    }
  }
  return out;
}

/** The backends (and any other process, e.g. autovacuum's) whose title names one of `databases`. */
export function backendsOf(databases: readonly string[]): number[] {
  return postgresProcesses()
    .filter(({ title }) => databases.some((name) => title.includes(` ${name} `)))
    .map(({ pid }) => pid);
}

/** CPU seconds so far of each of `pids` (those still running). */
export function cpuOf(pids: readonly number[]): CpuSnapshot {
  const snapshot: CpuSnapshot = new Map();
  for (const pid of pids) {
    try {
      snapshot.set(pid, cpuSeconds(pid));
    } catch {
      // Exited: its time since the last reading is lost (see cpuBetween).
    }
  }
  return snapshot;
}

/** The CPU list a process may run on (`taskset -p`'s list form), or undefined if it cannot be read. */
export function affinityOf(pid: number): string | undefined {
  try {
    const out = execFileSync("taskset", ["-c", "-p", String(pid)], { stdio: ["ignore", "pipe", "ignore"] });
    return /list:\s*(\S+)/.exec(out.toString())?.[1];
  } catch {
    return undefined;
  }
}

/** Pins every thread of `pid` to `cpus` (a taskset list such as `1` or `0,1`); false if refused. */
export function pinProcess(pid: number, cpus: string): boolean {
  try {
    execFileSync("taskset", ["-a", "-c", "-p", cpus, String(pid)], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
