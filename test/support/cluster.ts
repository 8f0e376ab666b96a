import { pino } from "pino";
import { createChatServer, type ChatServer, type ChatServerOptions } from "../../server/app.js";
import { connectCluster } from "../../server/cluster/engines.js";
import type { Config } from "../../server/config.js";
import { fileUrl } from "../../server/files/urls.js";
import { PgStore } from "../../server/store/postgres/store.js";
import { createTestDatabase, REDIS_URL, redisPrefix, type TestDatabase } from "./services.js";

/** The nodes of a test cluster: one PostgreSQL database and one Redis key prefix of their own. */
export interface TestCluster {
  nodes: { server: ChatServer; url: string }[];
  /** Stops every node, then drops the database and removes the Redis keys (idempotent). */
  stop(): Promise<void>;
}

/**
 * Starts `count` nodes on port 0, as `main.ts` does with DATABASE_URL and REDIS_URL set: each node has its
 * own PostgreSQL pool (a fresh database for the cluster) and its own Redis connections (a fresh key prefix).
 * `configFor(i)` gives node i's configuration.
 */
export async function startCluster(
  count: number,
  configFor: (index: number) => Config,
  /** A database to use (and keep) instead of a fresh one dropped at stop: a restart of the same cluster. */
  existing?: TestDatabase,
  /** More options of every node's createChatServer (e.g. the webhook sender's timings). */
  extra: Pick<ChatServerOptions, "webhookSender"> = {},
): Promise<TestCluster> {
  const space = redisPrefix();
  const database = existing ?? (await createTestDatabase());
  const nodes: TestCluster["nodes"] = [];
  const silent = pino({ level: "silent" });
  const stop = async () => {
    await Promise.all(nodes.map((node) => node.server.close()));
    if (!existing) await database.drop();
    await space.clear();
  };
  try {
    // Opened together, as nodes booting at once would: the migrations take turns under their lock.
    const stores = await Promise.all(
      Array.from({ length: count }, () => PgStore.open({ url: database.url, fileUrl, poolSize: 4 })),
    );
    for (const [index, store] of stores.entries()) {
      const config = configFor(index);
      const cluster = await connectCluster({
        url: REDIS_URL,
        prefix: space.prefix,
        nodeId: config.nodeId,
        graceMs: config.presenceGraceMs,
        logger: silent,
      });
      const storeReady = () => store.ping().then(() => true);
      const server = await createChatServer({ config, store, blobs: store.blobs, cluster, storeReady, ...extra });
      const address = await server.listen();
      nodes.push({ server, url: `http://127.0.0.1:${address.port}` });
    }
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
  let stopping: Promise<void> | undefined;
  return { nodes, stop: () => (stopping ??= stop()) };
}
