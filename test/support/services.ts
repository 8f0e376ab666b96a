import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import pg from "pg";
import { createClient } from "redis";

/**
 * The engines cluster mode needs, for tests: PostgreSQL and Redis on this machine. A test file that needs
 * them asks `missingServices()` once; without them its suite is skipped with the reason printed, unless
 * `REQUIRE_SERVICES=1` (CI), where a missing engine fails the run instead.
 */
export const REQUIRE_SERVICES = process.env["REQUIRE_SERVICES"] === "1";
/** An existing database to connect to for creating per-run databases. */
export const PG_ADMIN_URL = process.env["TEST_POSTGRES_URL"] ?? "postgres://postgres@127.0.0.1:5432/postgres";
export const REDIS_URL = process.env["TEST_REDIS_URL"] ?? "redis://127.0.0.1:6379";

type Engine = "postgres" | "redis";

async function probePostgres(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query("SELECT 1");
    return undefined;
  } catch (error) {
    return `PostgreSQL unreachable at ${PG_ADMIN_URL}: ${(error as Error).message}`;
  } finally {
    await client.end().catch(() => {});
  }
}

async function probeRedis(): Promise<string | undefined> {
  const client = createClient({ url: REDIS_URL, socket: { connectTimeout: 2000, reconnectStrategy: false } });
  client.on("error", () => {});
  try {
    await client.connect();
    await client.ping();
    return undefined;
  } catch (error) {
    return `Redis unreachable at ${REDIS_URL}: ${(error as Error).message}`;
  } finally {
    if (client.isOpen) await client.quit().catch(() => {});
  }
}

const probes: Record<Engine, () => Promise<string | undefined>> = { postgres: probePostgres, redis: probeRedis };

/**
 * Why the suite cannot run here (undefined when every engine answered). Prints the reason once per file,
 * so `npm test` says which cluster tests it skipped and why.
 */
export async function missingServices(engines: Engine[], suite: string): Promise<string | undefined> {
  const reasons = (await Promise.all(engines.map((engine) => probes[engine]()))).filter(Boolean);
  if (reasons.length === 0) return undefined;
  const reason = reasons.join("; ");
  // In CI a missing engine fails the file outright: nothing is skipped.
  if (REQUIRE_SERVICES) throw new Error(`${suite} need ${engines.join(" and ")} (REQUIRE_SERVICES=1): ${reason}`);
  process.stderr.write(`skipping ${suite}: ${reason} (set REQUIRE_SERVICES=1 to fail instead)\n`);
  return reason;
}

/** A database of its own for one test run, dropped by `drop()`. */
export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** Creates an empty database with a unique name next to the admin database. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `chat_test_${process.pid}_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    async drop() {
      const client = new pg.Client({ connectionString: PG_ADMIN_URL });
      await client.connect();
      try {
        // Connections still closing are let go first: FORCE would send them a FATAL that a client already
        // ending (its pool's listeners gone) raises as an uncaught error. FORCE then ends whatever is left.
        for (let waited = 0; waited < 2000; waited += 20) {
          const open = await client.query<{ n: number }>(
            "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1",
            [name],
          );
          if (open.rows[0]!.n === 0) break;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

/** A unique Redis key prefix for one test run, and a cleanup that deletes its keys. */
export function redisPrefix(): { prefix: string; clear(): Promise<void> } {
  const prefix = `chat-test:${process.pid}:${randomBytes(4).toString("hex")}:`;
  return {
    prefix,
    async clear() {
      const client = createClient({ url: REDIS_URL });
      client.on("error", () => {});
      await client.connect();
      try {
        for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
          if (keys.length > 0) await client.del(keys);
        }
      } finally {
        await client.quit();
      }
    },
  };
}

/**
 * A redis-server of the test's own on a free port, that it may stop (SIGKILL) and start again on that port;
 * the caller stops it after the test.
 */
export async function privateRedis(): Promise<{ url: string; stop(): Promise<void>; start(): Promise<void> }> {
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const { port: free } = probe.address() as { port: number };
      probe.close(() => resolve(free));
    });
  });
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
      stdio: ["ignore", "pipe", "ignore"],
    });
    await new Promise<void>((resolve, reject) => {
      child!.once("error", reject);
      child!.stdout!.on("data", (chunk: Buffer) => {
        if (chunk.toString().includes("Ready to accept connections")) resolve();
      });
    });
  };
  const stop = async () => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child!.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
  };
  await start();
  return { url: `redis://127.0.0.1:${port}`, stop, start };
}
