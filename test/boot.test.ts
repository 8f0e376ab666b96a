import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { cleanup, tempDir } from "./support/harness.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const TSX = join(ROOT, "node_modules", ".bin", "tsx");

/** A spawned server process and everything it has written so far. */
interface Booted {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code (or the signal) once the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children: ChildProcess[] = [];

afterEach(async () => {
  // Kill what is still running: the whole process group, since tsx runs the server in a child of its own.
  for (const child of children.splice(0)) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const gone = new Promise((resolve) => child.once("exit", resolve));
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      child.kill("SIGKILL");
    }
    await gone;
  }
  await cleanup();
});

/** Starts `tsx <entry>` (the server by default) with only the given environment (plus PATH and HOME). */
function boot(env: Record<string, string>, entry = "server/main.ts"): Booted {
  const child = spawn(TSX, [entry], {
    cwd: ROOT,
    env: { PATH: process.env["PATH"] ?? "", HOME: process.env["HOME"] ?? "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  children.push(child);
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

/** The JSON log lines written to stdout so far. */
function logLines(booted: Booted): Record<string, unknown>[] {
  return booted
    .stdout()
    .split("\n")
    .filter((line) => line.trim().startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** Waits for the "listening" log line and returns its url; fails if the process exits first or time runs out. */
async function listeningUrl(booted: Booted, ms = 15_000): Promise<string> {
  const deadline = Date.now() + ms;
  let exited = false;
  booted.exited.then(
    () => (exited = true),
    () => (exited = true),
  );
  for (;;) {
    const line = logLines(booted).find((entry) => entry["msg"] === "listening");
    if (line) return String(line["url"]);
    if (exited) throw new Error(`server exited before listening:\n${booted.stdout()}\n${booted.stderr()}`);
    if (Date.now() > deadline) throw new Error(`no "listening" log line within ${ms} ms:\n${booted.stdout()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Resolves with how the process exited, or rejects after `ms`. */
function exitWithin(booted: Booted, ms: number) {
  return Promise.race([
    booted.exited,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`process still running after ${ms} ms`)), ms)),
  ]);
}

const devEnv = (dataDir: string) => ({
  NODE_ENV: "development",
  PORT: "0",
  HOST: "127.0.0.1",
  DATA_DIR: dataDir,
  LOG_LEVEL: "info",
});

describe("boot of server/main.ts", () => {
  it("starts without secrets, generates them into DATA_DIR with mode 0600 and never logs them", async () => {
    const dataDir = tempDir();
    const booted = boot(devEnv(dataDir));
    const url = await listeningUrl(booted);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    const health = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(5000) });
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "ok" });

    const secretsFile = join(dataDir, "secrets.json");
    expect(statSync(secretsFile).mode & 0o777).toBe(0o600);
    const secrets = JSON.parse(readFileSync(secretsFile, "utf8")) as Record<string, string>;
    expect(Object.keys(secrets).sort()).toEqual(["ADMIN_API_KEY", "JWT_SECRET", "PUSH_API_KEY"]);

    // Some traffic that carries a password and a token, then a clean stop so every log line is flushed.
    const password = "a password that must not be logged";
    const registered = await fetch(`${url}/api/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "booter", password }),
      signal: AbortSignal.timeout(5000),
    });
    expect(registered.status).toBe(201);
    const { token } = (await registered.json()) as { token: string };
    const meResponse = await fetch(`${url}/api/me`, {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(5000),
    });
    expect(meResponse.status).toBe(200);
    booted.child.kill("SIGTERM");
    await exitWithin(booted, 5000);

    const output = booted.stdout() + booted.stderr();
    // The log says secrets were generated, by name.
    expect(logLines(booted).some((line) => JSON.stringify(line).includes("JWT_SECRET"))).toBe(true);
    for (const [name, value] of Object.entries(secrets)) {
      expect(value.length, name).toBeGreaterThanOrEqual(32);
      expect(output.includes(value), `${name} appears in the log`).toBe(false);
    }
    expect(output.includes(password), "the password appears in the log").toBe(false);
    expect(output.includes(token), "the token appears in the log").toBe(false);
  });

  it("reuses the generated secrets on the next boot with the same DATA_DIR", async () => {
    const dataDir = tempDir();
    const first = boot(devEnv(dataDir));
    await listeningUrl(first);
    const secrets = readFileSync(join(dataDir, "secrets.json"), "utf8");
    first.child.kill("SIGTERM");
    await exitWithin(first, 5000);

    const second = boot(devEnv(dataDir));
    await listeningUrl(second);
    expect(readFileSync(join(dataDir, "secrets.json"), "utf8")).toBe(secrets);
    expect(logLines(second).some((line) => /reus/i.test(String(line["msg"])))).toBe(true);
  });

  it("refuses a second server on the same DATA_DIR, naming it; the first keeps serving; after a SIGKILL it starts", async () => {
    const dataDir = tempDir();
    const first = boot(devEnv(dataDir));
    const url = await listeningUrl(first);
    // Another port, the same data directory: two processes would hand out the same message ids.
    const second = boot(devEnv(dataDir));
    expect((await exitWithin(second, 10_000)).code).toBe(1);
    expect(second.stderr()).toContain(
      `chat server: DATA_DIR ${dataDir} is in use by another chat server process: stop it, or set DATA_DIR`,
    );
    expect(logLines(second).some((line) => line["msg"] === "listening")).toBe(false);
    expect((await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(5000) })).status).toBe(200);
    // No clean shutdown: the kernel drops the lock with the process.
    process.kill(-first.child.pid!, "SIGKILL");
    await exitWithin(first, 5000);
    const third = boot(devEnv(dataDir));
    await listeningUrl(third);
  });

  it("exits with code 0 within a few seconds of SIGTERM", async () => {
    const booted = boot(devEnv(tempDir()));
    const url = await listeningUrl(booted);
    expect((await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(5000) })).status).toBe(200);
    booted.child.kill("SIGTERM");
    expect(await exitWithin(booted, 5000)).toEqual({ code: 0, signal: null });
  });

  it("refuses to start in production without secrets: exits non-zero and names JWT_SECRET on stderr", async () => {
    const dataDir = tempDir();
    const booted = boot({ ...devEnv(dataDir), NODE_ENV: "production" });
    const { code } = await exitWithin(booted, 15_000);
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    expect(booted.stderr()).toMatch(/JWT_SECRET/);
    expect(logLines(booted).some((line) => line["msg"] === "listening")).toBe(false);
  });

  describe("with PORT held by another process", () => {
    let holder: Server | undefined;
    afterEach(async () => {
      await new Promise((resolve) => holder?.close(resolve) ?? resolve(undefined));
      holder = undefined;
    });
    /** Listens on a free port of 127.0.0.1 from this process, as an already running server would. */
    const occupy = () =>
      new Promise<number>((resolve) => {
        holder = createServer().listen(0, "127.0.0.1", () => resolve((holder!.address() as { port: number }).port));
      });
    const webIndex = join(ROOT, "dist", "web", "index.html");
    const mtime = (file: string) => (existsSync(file) ? statSync(file).mtimeMs : undefined);

    for (const [what, entry] of [
      ["the server", "server/main.ts"],
      ["the task logs example", "examples/task-logs.ts"],
    ] as const) {
      it(`${what} prints one line naming the port and PORT, exits 1, and writes nothing to DATA_DIR`, async () => {
        const port = await occupy();
        const dataDir = join(tempDir(), "data");
        const webBefore = mtime(webIndex);
        const booted = boot({ ...devEnv(dataDir), PORT: String(port) }, entry);
        expect(await exitWithin(booted, 15_000)).toEqual({ code: 1, signal: null });
        const lines = booted.stderr().trim().split("\n");
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatch(
          new RegExp(`: port ${port} is in use \\(PORT=${port}\\); set PORT to a free port, or stop the other server$`),
        );
        expect(booted.stdout()).not.toMatch(/EADDRINUSE|listening/);
        // Not even the directory: no database, no generated secrets, no room of the example.
        expect(existsSync(dataDir)).toBe(false);
        expect(mtime(webIndex)).toBe(webBefore);
      });
    }
  });

  it("refuses to start on a bad PORT: exits non-zero and names PORT on stderr", async () => {
    const booted = boot({ ...devEnv(tempDir()), PORT: "not-a-port" });
    const { code } = await exitWithin(booted, 15_000);
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    expect(booted.stderr()).toMatch(/\bPORT\b/);
  });
});
