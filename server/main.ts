import { createChatServer } from "./app.js";
import { installProcessGuards } from "./background.js";
import { ConfigError, loadConfig } from "./config.js";
import { createLogger, prettyDestination } from "./logger.js";
import { openEngines } from "./engines.js";
import { portError, reservePort } from "./http/port.js";
import { DataDirInUse, lockDataDir } from "./store/sqlite/data-lock.js";

// The only module with side effects at import time: read the environment, open the database, listen.
let logger;
try {
  const base = loadConfig(process.env);
  logger = createLogger(
    base.logLevel,
    await prettyDestination({ production: base.production, tty: process.stdout.isTTY === true }),
  );
  // Before anything touches DATA_DIR or the database: a port held by another process stops the boot here.
  const reservation = await reservePort(base.host, base.port);
  // The SQLite store is one process's: a second server on the same DATA_DIR stops here, before it opens it.
  // Held until the database is closed at shutdown, or the process ends (the kernel drops it then, SIGKILL
  // included). Kept referenced: a collected lock connection would be closed, and the lock with it.
  const dataLock = base.databaseUrl === undefined ? lockDataDir(base.dataDir) : undefined;
  const { config, report, components } = await openEngines(base, logger);
  if (report.generated.length > 0)
    logger.info({ secrets: report.generated, file: report.file }, "generated secrets (values not logged)");
  if (report.reused.length > 0) logger.info({ secrets: report.reused, file: report.file }, "reusing generated secrets");
  if (report.weak.length > 0)
    logger.warn({ secrets: report.weak }, "secrets shorter than 32 bytes: refused in production");
  const server = await createChatServer({ config, logger, ...components });
  if (components.cluster) logger.info({ nodeId: config.nodeId }, "cluster mode: PostgreSQL and Redis");
  else if (components.store) logger.info("PostgreSQL store, one node");
  // From here on, a stray rejected promise is logged and counted (task `unhandled`), not the end of every
  // connection; an uncaught exception is still fatal, after a log line (see installProcessGuards for why).
  installProcessGuards(process, logger, server.backgroundError);
  await reservation.release();
  const address = await server.listen().catch((error: unknown) => {
    throw portError(error, config.host, config.port);
  });
  logger.info(
    { url: `http://${config.host.includes(":") ? `[${config.host}]` : config.host}:${address.port}` },
    "listening",
  );

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger!.info({ signal }, "shutting down");
    const timer = setTimeout(() => {
      logger!.error("shutdown timed out");
      process.exit(1);
    }, config.shutdownTimeoutMs);
    timer.unref();
    server.close().then(
      () => {
        dataLock?.release();
        process.exit(0);
      },
      (error: unknown) => {
        logger!.error({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
} catch (error) {
  if (error instanceof ConfigError || error instanceof DataDirInUse) {
    process.stderr.write(`chat server: ${error.message}\n`);
    process.exit(1);
  }
  if (logger) logger.fatal({ err: error }, "failed to start");
  else process.stderr.write(`chat server: failed to start: ${String(error)}\n`);
  process.exit(1);
}
