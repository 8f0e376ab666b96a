import { spawn, type ChildProcess } from "node:child_process";
import { ADMIN_KEY, PUSH_KEY, TEST_SECRET } from "./harness.js";

/** A server running as a real child process (`node --import tsx server/main.ts`, one process, no wrapper). */
export interface ServerProcess {
  child: ChildProcess;
  url: string;
  /** Everything the process wrote to stdout and stderr so far. */
  output: () => string;
  /** Resolves with the exit code (or the signal name). */
  exited: Promise<number | string>;
}

const running = new Set<ChildProcess>();

/** Kills every server process still running; call in `afterEach`. */
export function killAll(): void {
  for (const child of running) child.kill("SIGKILL");
  running.clear();
}

/** Starts the real server process on a free port and waits for its "listening" log line. */
export async function spawnServer(
  dataDir: string,
  env: Record<string, string> = {},
  /** The entry point, relative to the repository (the task-logs example is a server too). */
  script = "server/main.ts",
): Promise<ServerProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", script], {
    cwd: new URL("../..", import.meta.url).pathname,
    env: {
      PATH: process.env["PATH"] ?? "",
      PORT: "0",
      HOST: "127.0.0.1",
      DATA_DIR: dataDir,
      LOG_LEVEL: "info",
      JWT_SECRET: TEST_SECRET,
      PUSH_API_KEY: PUSH_KEY,
      ADMIN_API_KEY: ADMIN_KEY,
      RATE_LIMIT_EVENTS_PER_10S: "100000",
      RATE_LIMIT_CONNECTIONS_PER_MIN: "100000",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.add(child);
  let output = "";
  const exited = new Promise<number | string>((resolve) =>
    child.once("exit", (code, signal) => {
      running.delete(child);
      resolve(code ?? signal ?? "unknown");
    }),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output}`)), 20_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /"url":"(http:\/\/127\.0\.0\.1:\d+)","msg":"(?:task logs example )?listening"/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    exited.then((code) => reject(new Error(`server exited (${code}) before listening:\n${output}`)), reject);
  });
  return { child, url, output: () => output, exited };
}
