import { connect } from "node:net";
import { defineConfig } from "vitest/config";

/**
 * The socket-level files of sections 2–13 that run a second time against two nodes (PostgreSQL + Redis,
 * clients spread over both; see `TEST_NODES` in test/support/harness.ts). Left out, with why:
 * workers (its per-node `ensure` answers; cluster workers have their own tests in cluster.test.ts),
 * monitor and background-errors (one node's metrics and injected faults), write-coalescing (one node's
 * transport), connection-limits (per-node address budgets and timeouts; the cluster-wide socket limit is in cluster.test.ts), client-sdk (restarts a server
 * on the same port), durability and boot (they start their own processes), and files without sockets.
 */
export const CLUSTER_FILES = [
  "test/abuse-limits.test.ts",
  "test/accounts.test.ts",
  "test/auth.test.ts",
  "test/avatars.test.ts",
  "test/bad-input.test.ts",
  "test/client-sdk-state.test.ts",
  "test/concurrency.test.ts",
  "test/conversation-list.test.ts",
  "test/conversation-state.test.ts",
  "test/everyday-rooms.test.ts",
  "test/files.test.ts",
  "test/history.test.ts",
  "test/hostile.test.ts",
  "test/jwt-canonical.test.ts",
  "test/message-changes.test.ts",
  "test/messages.test.ts",
  "test/presence.test.ts",
  "test/push.test.ts",
  "test/rooms.test.ts",
  "test/smoke.test.ts",
  "test/trust-proxy.test.ts",
  "test/upload-limits.test.ts",
  "test/moderation.test.ts",
];

const shared = {
  // The servers under test serve the built web client: build it once per run.
  globalSetup: ["test/browser/global-setup.ts"],
  testTimeout: 20_000,
  hookTimeout: 20_000,
  // Two cores: files run in parallel, each starting its own servers on port 0.
  pool: "forks" as const,
};

/** Why an engine cannot be reached (undefined when it answers a TCP connect within 2 s). */
function unreachable(name: string, url: string): Promise<string | undefined> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) });
    const done = (reason: string | undefined) => {
      socket.destroy();
      resolve(reason);
    };
    socket.setTimeout(2000, () => done(`${name} at ${hostname}:${port} did not answer`));
    socket.once("connect", () => done(undefined));
    socket.once("error", (error) => done(`${name} unreachable at ${hostname}:${port} (${error.message})`));
  });
}

export default defineConfig(async () => {
  const reasons = (
    await Promise.all([
      unreachable("PostgreSQL", process.env["TEST_POSTGRES_URL"] ?? "postgres://127.0.0.1:5432"),
      unreachable("Redis", process.env["TEST_REDIS_URL"] ?? "redis://127.0.0.1:6379"),
    ])
  ).filter((reason) => reason !== undefined);
  const twoNodes = { test: { ...shared, name: "two nodes", include: CLUSTER_FILES, env: { TEST_NODES: "2" } } };
  if (reasons.length > 0 && process.env["REQUIRE_SERVICES"] !== "1") {
    // Said once per run, so that `npm test` tells which cluster tests it skipped and why.
    process.stderr.write(
      `skipping the two-node run of ${CLUSTER_FILES.length} test files: ${reasons.join("; ")} ` +
        "(set REQUIRE_SERVICES=1 to fail instead)\n",
    );
  }
  const runTwoNodes = reasons.length === 0 || process.env["REQUIRE_SERVICES"] === "1";
  return {
    test: {
      projects: [
        { test: { ...shared, name: "one node", include: ["test/**/*.test.ts"] } },
        ...(runTwoNodes ? [twoNodes] : []),
      ],
    },
  };
});
