import type { ChatServerOptions } from "./app.js";
import { connectCluster } from "./cluster/engines.js";
import type { Config } from "./config.js";
import { fileUrl } from "./files/urls.js";
import type { Logger } from "./logger.js";
import { resolveSecrets, resolveSharedSecrets, type SecretsReport } from "./secrets.js";
import { PgStore } from "./store/postgres/store.js";

/** What the environment asks the server to run on, opened, and the configuration with its secrets. */
export interface Engines {
  config: Config;
  report: SecretsReport;
  /** The parts of `createChatServer`'s options that the engines decide (none: SQLite, one node). */
  components: Pick<ChatServerOptions, "store" | "blobs" | "cluster" | "storeReady">;
}

/**
 * Opens what `DATABASE_URL` and `REDIS_URL` name: PostgreSQL for the store and uploads (migrated under an
 * advisory lock, so nodes may boot together) with the secrets kept in it, and the cluster's Redis. Neither
 * set: SQLite under `DATA_DIR` (opened by `createChatServer`) with secrets in `DATA_DIR/secrets.json`.
 * A failure closes what was opened and rejects.
 */
export async function openEngines(base: Config, logger: Logger): Promise<Engines> {
  if (base.databaseUrl === undefined) return { ...resolveSecrets(base), components: {} };
  const store = await PgStore.open({
    url: base.databaseUrl,
    fileUrl,
    onBackgroundError: (task, err) => logger.error({ err, task }, "background task failed"),
  });
  try {
    const { config, report } = await resolveSharedSecrets(base, (name, fresh) => store.claimSetting(name, fresh));
    const cluster =
      config.redisUrl === undefined
        ? undefined
        : await connectCluster({
            url: config.redisUrl,
            prefix: config.redisPrefix,
            nodeId: config.nodeId,
            graceMs: config.presenceGraceMs,
            logger,
          });
    const storeReady = () => store.ping().then(() => true);
    return { config, report, components: { store, blobs: store.blobs, cluster, storeReady } };
  } catch (error) {
    await store.close();
    throw error;
  }
}
