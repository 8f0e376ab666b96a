import { pino } from "pino";
import { createChatServer, type ChatServer } from "../../server/app.js";
import { connectCluster } from "../../server/cluster/engines.js";
import type { Config } from "../../server/config.js";
import { fileUrl } from "../../server/files/urls.js";
import { SqliteStore } from "../../server/store/sqlite/store.js";
import type { Store } from "../../server/store/types.js";
import { join } from "node:path";
import { REDIS_URL, redisPrefix } from "./services.js";

/** The nodes of a test cluster, all sharing one key prefix in Redis and one store. */
export interface TestCluster {
  nodes: { server: ChatServer; url: string }[];
  /** Stops every node, then removes the Redis keys (idempotent). */
  stop(): Promise<void>;
}

/**
 * Starts `count` nodes on port 0 sharing Redis (a fresh key prefix) and one store. `configFor(i)` gives node
 * i's configuration (they share DATA_DIR, so uploads are where every node reads them).
 */
export async function startCluster(count: number, configFor: (index: number) => Config): Promise<TestCluster> {
  const space = redisPrefix();
  const first = configFor(0);
  const shared = new SqliteStore({ file: join(first.dataDir, "chat.db"), sync: "normal", fileUrl });
  // Every node gets the one store; it closes after the last node stopped, not with the first.
  const store: Store = Object.create(shared, { close: { value: async () => {} } }) as Store;
  const nodes: TestCluster["nodes"] = [];
  const silent = pino({ level: "silent" });
  for (let index = 0; index < count; index += 1) {
    const config = configFor(index);
    const cluster = await connectCluster({
      url: REDIS_URL,
      prefix: space.prefix,
      nodeId: config.nodeId,
      graceMs: config.presenceGraceMs,
      logger: silent,
    });
    const server = await createChatServer({ config, store, cluster });
    const address = await server.listen();
    nodes.push({ server, url: `http://127.0.0.1:${address.port}` });
  }
  let stopping: Promise<void> | undefined;
  return {
    nodes,
    stop: () =>
      (stopping ??= (async () => {
        await Promise.all(nodes.map((node) => node.server.close()));
        await shared.close();
        await space.clear();
      })()),
  };
}
