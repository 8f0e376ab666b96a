import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import {
  appendFileSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
} from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/*
 * `npm start` on a fresh clone: the first start builds dist/ (scripts/ensure-build.mjs, then scripts/build.mjs)
 * and runs the compiled server with plain node; later starts build only when a source is newer than the build,
 * and never while PORT is taken. Everything runs in a copy of the repository's files (node_modules linked in),
 * so the real dist/, which the other test files' servers serve, is never touched. The build (tsc and Vite) runs
 * twice: once on the first start, once after a source changes.
 */

const ROOT = fileURLToPath(new URL("..", import.meta.url));
let clone: string;
const DIST = () => join(clone, "dist");
const STAMP = () => join(DIST(), "build.json");
const mtime = (file: string) => statSync(file).mtimeMs;

interface Run {
  child: ChildProcess;
  output: () => { stdout: string; stderr: string };
  exited: Promise<number | null>;
}

const running = new Set<ChildProcess>();

/** Runs `command` in the clone with only PATH, HOME and `env`, in a process group of its own. */
function run(command: string, args: string[], env: Record<string, string>): Run {
  const child = spawn(command, args, {
    cwd: clone,
    env: { PATH: process.env["PATH"] ?? "", HOME: process.env["HOME"] ?? "", HOST: "127.0.0.1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  running.add(child);
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) =>
    child.once("close", (code) => {
      running.delete(child);
      resolve(code);
    }),
  );
  return { child, output: () => ({ stdout, stderr }), exited };
}

/** Waits for the server's "listening" log line and returns it. */
async function listening(started: Run, ms: number): Promise<{ url: string; pid: number }> {
  const deadline = Date.now() + ms;
  let exited = false;
  started.exited.then(
    () => (exited = true),
    () => (exited = true),
  );
  for (;;) {
    const line = started
      .output()
      .stdout.split("\n")
      .filter((text) => text.startsWith("{"))
      .map((text) => JSON.parse(text) as { msg?: string; url?: string; pid?: number })
      .find((entry) => entry.msg === "listening");
    if (line) return { url: line.url!, pid: line.pid! };
    const { stdout, stderr } = started.output();
    if (exited) throw new Error(`npm start exited before listening:\n${stdout}\n${stderr}`);
    if (Date.now() > deadline) throw new Error(`npm start did not listen within ${ms} ms:\n${stdout}\n${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The repository's files as a fresh clone has them (tracked, or new and not ignored), node_modules linked in. */
function copyRepository(to: string): void {
  const files = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], {
    cwd: ROOT,
    encoding: "utf8",
  })
    .split("\0")
    // Regular files only: not the node_modules link of a worktree, nor files deleted but not yet committed.
    .filter((file) => file !== "" && existsSync(join(ROOT, file)) && lstatSync(join(ROOT, file)).isFile());
  for (const file of files) {
    mkdirSync(dirname(join(to, file)), { recursive: true });
    copyFileSync(join(ROOT, file), join(to, file));
  }
  symlinkSync(realpathSync(join(ROOT, "node_modules")), join(to, "node_modules"));
}

let first: Run;
let server: { url: string; pid: number };

beforeAll(async () => {
  clone = mkdtempSync(join(tmpdir(), "chat-build-"));
  copyRepository(clone);
  expect(existsSync(DIST())).toBe(false);
  first = run("npm", ["start"], { PORT: "0", DATA_DIR: join(clone, "data"), LOG_LEVEL: "info" });
  // A build is 15-40 s on two busy cores (tsc type-checks the server, then Vite): generous limits, not waits.
  server = await listening(first, 110_000);
}, 120_000);

afterAll(() => {
  for (const child of running) {
    try {
      process.kill(-child.pid!, "SIGKILL");
    } catch {
      child.kill("SIGKILL");
    }
  }
  if (clone) rmSync(clone, { recursive: true, force: true });
});

describe("production build", () => {
  it("npm start on a fresh clone builds dist/ and runs the compiled server with plain node", async () => {
    expect(first.output().stdout).toMatch(/build: dist\/ is missing or incomplete; building/);
    for (const file of ["build.json", "server/main.js", "shared/schemas.js", "web/index.html"]) {
      expect(existsSync(join(DIST(), file)), file).toBe(true);
    }
    // No TypeScript loader: the process is `node <flags> dist/server/main.js`, and nothing adds one through
    // NODE_OPTIONS.
    const argv = readFileSync(`/proc/${server.pid}/cmdline`, "utf8").split("\0").filter(Boolean);
    expect(argv.slice(1)).toEqual(["--min-semi-space-size=32", "--max-semi-space-size=32", "dist/server/main.js"]);
    expect(realpathSync(`/proc/${server.pid}/cwd`)).toBe(realpathSync(clone));
    const environ = readFileSync(`/proc/${server.pid}/environ`, "utf8").split("\0");
    const nodeOptions = environ.find((entry) => entry.startsWith("NODE_OPTIONS=")) ?? "";
    expect(nodeOptions).not.toMatch(/tsx|--import|--loader|--require/);

    const health = await fetch(`${server.url}/healthz`, { signal: AbortSignal.timeout(5000) });
    expect(await health.json()).toEqual({ status: "ok" });
    const { version } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
    const versionResponse = await fetch(`${server.url}/api/version`, { signal: AbortSignal.timeout(5000) });
    expect(await versionResponse.json()).toEqual({ version });
    const openapi = await fetch(`${server.url}/api/openapi.json`, { signal: AbortSignal.timeout(5000) });
    expect(await openapi.json()).toMatchObject({ openapi: "3.1.0", info: { version } });
    // The built client, not the placeholder: its index.html and the script it loads.
    const page = await fetch(`${server.url}/`, { signal: AbortSignal.timeout(5000) });
    const html = await page.text();
    expect(html).toBe(readFileSync(join(DIST(), "web", "index.html"), "utf8"));
    const script = /<script type="module" crossorigin src="(\/assets\/[^"]+\.js)">/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(`${server.url}${script}`, { signal: AbortSignal.timeout(5000) });
    expect(asset.status).toBe(200);
    expect(asset.headers.get("content-type")).toMatch(/javascript/);

    // SIGTERM to the server: a clean stop, and npm start ends with it.
    process.kill(server.pid, "SIGTERM");
    expect(await first.exited).toBe(0);
  });

  it("builds nothing when dist/ is newer than every source", async () => {
    const before = [STAMP(), join(DIST(), "server", "main.js"), join(DIST(), "web", "index.html")].map(mtime);
    const check = run(process.execPath, ["scripts/ensure-build.mjs"], { PORT: "0" });
    expect(await check.exited).toBe(0);
    expect(check.output()).toEqual({ stdout: "", stderr: "" });
    expect([STAMP(), join(DIST(), "server", "main.js"), join(DIST(), "web", "index.html")].map(mtime)).toEqual(before);
  });

  describe("with a source newer than the build", () => {
    let holder: Server | undefined;
    afterAll(() => new Promise<void>((resolve) => (holder ? holder.close(() => resolve()) : resolve())));

    it("does not touch dist/ or DATA_DIR while PORT is taken: the server prints the hint and exits 1", async () => {
      const source = join(clone, "shared", "ids.ts");
      const later = new Date(mtime(STAMP()) + 10_000);
      utimesSync(source, later, later);
      const port = await new Promise<number>((resolve) => {
        holder = createServer().listen(0, "127.0.0.1", () => resolve((holder!.address() as { port: number }).port));
      });
      const stamp = mtime(STAMP());
      const index = mtime(join(DIST(), "web", "index.html"));
      const dataDir = join(clone, "data-second");
      const second = run("npm", ["start"], { PORT: String(port), DATA_DIR: dataDir });
      expect(await second.exited).toBe(1);
      const { stdout, stderr } = second.output();
      expect(stderr).toMatch(`build: not rebuilt while port ${port} is in use (shared changed since the last build)`);
      expect(stderr).toMatch(
        `chat server: port ${port} is in use (PORT=${port}); set PORT to a free port, or stop the other server`,
      );
      expect(stdout).not.toMatch(/building|listening/);
      expect(existsSync(dataDir)).toBe(false);
      expect(mtime(STAMP())).toBe(stamp);
      expect(mtime(join(DIST(), "web", "index.html"))).toBe(index);
    });

    it("rebuilds with the port free, into a new directory renamed over dist/", async () => {
      const marker = `// rebuilt ${Date.now()}`;
      appendFileSync(join(clone, "server", "main.ts"), `${marker}\n`);
      const stamp = mtime(STAMP());
      const check = run(process.execPath, ["scripts/ensure-build.mjs"], { PORT: "0" });
      expect(await check.exited).toBe(0);
      expect(check.output().stdout).toMatch(/build: server changed since the last build; building/);
      expect(mtime(STAMP())).toBeGreaterThan(stamp);
      expect(readFileSync(join(DIST(), "server", "main.js"), "utf8")).toContain(marker);
      // No temporary or set-aside directory is left beside dist/.
      expect(readdirSync(clone).filter((entry) => entry.startsWith("dist"))).toEqual(["dist"]);
    }, 120_000);
  });
});
