import type { Logger } from "./logger.js";
import type { Metrics } from "./metrics.js";

/**
 * Logs and counts one failure of background work (`chat_background_errors_total{task}`); the caller carries on
 * and retries when that applies. `task` is one of a small fixed set, since it becomes a label value:
 * `search-index`, `presence`, `worker`, `worker-notice`, `unhandled`, `upload-sweep`, `file-release`.
 */
export type BackgroundErrorReporter = (task: string, error: unknown, bindings?: Record<string, unknown>) => void;

/** The reporter of a server: one log line (no message bodies: only the error and its bindings) and one count. */
export function createBackgroundErrorReporter(logger: Logger, metrics: Metrics): BackgroundErrorReporter {
  return (task, error, bindings) => {
    metrics.backgroundError(task);
    logger.error({ ...bindings, task, err: error }, `background task failed: ${task}`);
  };
}

/** What installProcessGuards listens on: `process`, or a stand-in in tests. */
export interface ProcessEvents {
  on(event: "unhandledRejection", listener: (reason: unknown) => void): unknown;
  on(event: "uncaughtException", listener: (error: Error) => void): unknown;
}

/**
 * Makes an unhandled promise rejection a logged and counted background failure (task `unhandled`) instead of
 * the end of the process (Node's default since v15), and logs an uncaught exception before exiting.
 */
export function installProcessGuards(
  target: ProcessEvents,
  logger: Logger,
  report: BackgroundErrorReporter,
  exit: (code: number) => void = (code) => process.exit(code),
): void {
  // A rejection nobody awaited is a fire-and-forget job (a notice, a webhook, a worker's stray promise) that
  // failed on its own: the code that was running when it settled finished normally, so no state was left
  // half-changed, and one such failure should not disconnect every user.
  target.on("unhandledRejection", (reason) => report("unhandled", reason));
  // An uncaught exception stays fatal. It was thrown through a synchronous stack that did not expect it — a
  // timer or event handler cut off half-way through changing in-memory state (the registry's counts, the
  // store's sequence and watermarks, a pending group commit) — and Node documents that resuming after it is
  // unsafe. Every background task catches its own errors, so reaching this is a bug: log it where the logs
  // are collected, then exit non-zero so the supervisor restarts a clean process (SQLite's WAL keeps what was
  // committed).
  target.on("uncaughtException", (error) => {
    logger.fatal({ err: error }, "uncaught exception: exiting");
    exit(1);
  });
}
