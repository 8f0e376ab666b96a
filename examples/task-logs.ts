/**
 * Real-time task logs, the use case of the Go ws-notifier: while anyone is in the room `task:<id>`, one
 * worker runs the task and streams each line of its output into the room; when nobody watches any more,
 * the worker stops and the task process is killed. Run it with `npm run example:task-logs`, log in at
 * http://127.0.0.1:3000, join the room "Task demo logs" and watch; leave it and the task stops.
 *
 * Environment: the server's usual variables, plus TASK_ID (default `demo`) and TASK_COMMAND (default: a
 * small Node script that prints a build log line every half second).
 */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";
import { createChatServer, type ChatServer } from "../server/app.js";
import { ConfigError, loadConfig } from "../server/config.js";
import { openEngines } from "../server/engines.js";
import { portError, reservePort } from "../server/http/port.js";
import { createLogger } from "../server/logger.js";
import type { Worker } from "../server/workers/manager.js";
import { SYSTEM_USER_ID } from "../shared/ids.js";

/** The default task: a fake build that prints a numbered line every half second for five minutes. */
export const DEMO_COMMAND = [
  process.execPath,
  "-e",
  "let i=0;const t=setInterval(()=>{i++;console.log(`[build] step ${i}/600 ok`);if(i===600)clearInterval(t)},500)",
];

/** A worker that runs `command` and publishes each output line into its room until aborted. */
export function commandWorker(command: readonly string[]): Worker {
  return async ({ signal, publish, log }) => {
    const [file, ...args] = command;
    if (file === undefined) throw new Error("empty task command");
    // The child is killed when the signal aborts (nobody watching, timeout, or shutdown).
    const child = spawn(file, args, { signal, stdio: ["ignore", "pipe", "pipe"] });
    child.on("error", (error) => {
      if (!signal.aborted) log.error({ err: error }, "task process error");
    });
    const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
    const lines = createInterface({ input: child.stdout });
    for await (const line of lines) {
      if (signal.aborted) break;
      if (line.trim() !== "") await publish(line.slice(0, 4000));
    }
    const code = await exited;
    if (!signal.aborted && code !== 0) throw new Error(`task exited with code ${code}`);
  };
}

/**
 * Creates the public room `task:<taskId>` if needed and starts the task's worker whenever a socket enters
 * the room (Socket.IO's adapter `join-room` event); the worker manager stops it when the room empties.
 * Returns the room id.
 */
export async function serveTaskLogs(server: ChatServer, taskId: string, command: readonly string[]): Promise<string> {
  const roomId = `task:${taskId}`;
  if (!(await server.store.getRoom(roomId))) {
    await server.rooms.create(SYSTEM_USER_ID, `Task ${taskId} logs`, "public", roomId);
  }
  const worker = commandWorker(command);
  const channel = `r:${roomId}`;
  // `join-room` fires once the socket is in the room (`create-room` fires before, while it is still empty);
  // ensure() is a no-op while the worker runs.
  server.io.of("/").adapter.on("join-room", (room: string) => {
    if (room === channel) server.workers.ensure(roomId, worker, { timeoutMs: 60 * 60 * 1000 });
  });
  return roomId;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  // The engines main.ts would open: SQLite by default; PostgreSQL and Redis when DATABASE_URL/REDIS_URL say
  // so, and then every node running this example shares the room, with one worker in the cluster.
  const base = loadConfig(process.env);
  // Held before the engines open and the room is written: with the port taken (a server already running),
  // nothing is changed.
  const reservation = await reservePort(base.host, base.port).catch((error: unknown) => {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`task logs example: ${error.message}\n`);
    process.exit(1);
  });
  const logger = createLogger(base.logLevel);
  const { config, components } = await openEngines(base, logger);
  const server = await createChatServer({ config, logger, ...components });
  const command = process.env["TASK_COMMAND"] ? ["/bin/sh", "-c", process.env["TASK_COMMAND"]] : DEMO_COMMAND;
  const roomId = await serveTaskLogs(server, process.env["TASK_ID"] ?? "demo", command);
  await reservation.release();
  const { port } = await server.listen().catch((error: unknown) => {
    throw portError(error, config.host, config.port);
  });
  server.app.log.info({ roomId, url: `http://${config.host}:${port}` }, "task logs example listening");
  const stop = () => {
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        server.app.log.error({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}
