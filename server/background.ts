import type { Logger } from "./logger.js";
import type { Metrics } from "./metrics.js";

/**
 * Logs and counts one failure of background work (`chat_background_errors_total{task}`); the caller carries on
 * and retries when that applies. `task` is one of a small fixed set, since it becomes a label value:
 * `search-index`, `presence`, `worker`, `worker-notice`, `unhandled`, `upload-sweep`, `file-release`, `webhook`.
 */
export type BackgroundErrorReporter = (task: string, error: unknown, bindings?: Record<string, unknown>) => void;

/** How many failures of one task are logged per window; the rest are counted and summed up in one line. */
const LOGGED_PER_WINDOW = 5;
const WINDOW_MS = 60_000;

/** Options of `createBackgroundErrorReporter` (tests shorten the window). */
export interface ReporterOptions {
  loggedPerWindow?: number;
  windowMs?: number;
}

/**
 * The reporter of a server: every failure is counted, and logged (the error and its bindings, never a message
 * body) up to `LOGGED_PER_WINDOW` times per task per minute. An outage makes the same failure thousands of
 * times (every broadcast queued while Redis was down, every presence write): past the first few, one line at
 * the end of the window says how many more there were, so the logs stay readable and cheap.
 */
export function createBackgroundErrorReporter(
  logger: Logger,
  metrics: Metrics,
  options: ReporterOptions = {},
): BackgroundErrorReporter {
  const limit = options.loggedPerWindow ?? LOGGED_PER_WINDOW;
  const windowMs = options.windowMs ?? WINDOW_MS;
  /** Per task: failures logged in the current window and failures left out of the log. */
  const windows = new Map<string, { logged: number; suppressed: number }>();
  return (task, error, bindings) => {
    metrics.backgroundError(task);
    let window = windows.get(task);
    if (window === undefined) {
      window = { logged: 0, suppressed: 0 };
      windows.set(task, window);
      const current = window;
      setTimeout(() => {
        windows.delete(task);
        if (current.suppressed > 0)
          logger.error(
            { task, suppressed: current.suppressed },
            `background task failed ${current.suppressed} more times (not logged one by one): ${task}`,
          );
      }, windowMs).unref();
    }
    if (window.logged >= limit) {
      window.suppressed += 1;
      return;
    }
    window.logged += 1;
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
