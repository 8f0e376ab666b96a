import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import type { PushResponse } from "../shared/schemas.js";
import { cleanup, tempDir } from "./support/harness.js";
import { killAll, spawnServer, type ServerProcess } from "./support/process.js";

/*
 * The README's shell and TypeScript examples run as written on a fresh install. The convention, in README.md:
 * the line right before a ```sh, ```bash or ```ts block is either `<!-- example: NAME -->` (this file runs it
 * and checks its output with CHECKS[NAME]) or `<!-- not run: why -->`. Each example gets a fresh server
 * (`npm start`'s process, generated secrets) and runs in a directory laid out like a fresh clone: the
 * repository's code linked in, its own `data/` being the server's DATA_DIR. `http://127.0.0.1:3000` in a
 * block is replaced by that server's URL; nothing else is changed.
 */

afterEach(killAll);
afterEach(cleanup);

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const README = readFileSync(join(ROOT, "README.md"), "utf8");
/** Sections whose blocks need more than a fresh install, and where they are run instead. */
const SECTIONS_NOT_RUN: Record<string, string> = {
  "Scaling out": "needs PostgreSQL and Redis; test/nginx-cluster.test.ts runs its nginx block in front of two nodes",
};

interface Block {
  lang: "sh" | "ts";
  code: string;
  /** The marker line before the fence. */
  marker: string | undefined;
  section: string;
  line: number;
}

/** Every sh/bash/ts fenced block of the README with the line before its fence. */
function blocks(markdown: string): Block[] {
  const lines = markdown.split("\n");
  const found: Block[] = [];
  let section = "";
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith("## ")) section = line.slice(3);
    const fence = /^```(\w*)/.exec(line);
    if (!fence) continue;
    const end = lines.indexOf("```", i + 1);
    const lang = fence[1] === "bash" ? "sh" : fence[1] === "typescript" ? "ts" : fence[1];
    if (lang === "sh" || lang === "ts") {
      const before = lines[i - 1]?.trim();
      found.push({
        lang,
        code: lines.slice(i + 1, end).join("\n"),
        marker: before?.startsWith("<!--") ? before : undefined,
        section,
        line: i + 1,
      });
    }
    i = end;
  }
  return found;
}

const all = blocks(README);
const examples = all.flatMap((block) => {
  const name = /^<!-- example: ([\w-]+) -->$/.exec(block.marker ?? "")?.[1];
  return name === undefined ? [] : [{ ...block, name }];
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface Context {
  /** The directory laid out like a fresh clone, where the example runs. */
  dir: string;
  server: ServerProcess;
}

/** The JSON objects of concatenated answers (`curl -s` prints one after another without a newline). */
function jsonObjects(text: string): Record<string, unknown>[] {
  const objects: Record<string, unknown>[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (inString) {
      if (char === "\\") i++;
      else if (char === '"') inString = false;
    } else if (char === '"') inString = true;
    else if (char === "{" && depth++ === 0) start = i;
    else if (char === "}" && --depth === 0)
      objects.push(JSON.parse(text.slice(start, i + 1)) as Record<string, unknown>);
  }
  return objects;
}

async function register(url: string, username: string): Promise<void> {
  const response = await fetch(`${url}/api/auth/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password: "correct horse" }),
  });
  expect(response.status).toBe(201);
}

/** What each example needs besides a fresh server, and what its output must show. */
const CHECKS: Record<
  string,
  {
    /** Runs after the server started, before the example. */
    prepare?: (context: Context) => Promise<void>;
    /** The example's own environment (a reader sets these in the shell). */
    env?: Record<string, string>;
    check: (run: Run, context: Context) => void;
  }
> = {
  sdk: {
    check: ({ stdout }) => {
      expect(stdout).toMatch(/^online$/m);
      expect(stdout).toMatch(/^sent #\d+$/m);
      expect(stdout).toMatch(/^\[ 'lobby' \]$/m);
      expect(stdout).toMatch(/^offline$/m);
    },
  },
  connect: {
    check: ({ stdout }) => {
      expect(stdout).toMatch(/^carol 1 0$/m);
      expect(stdout).toMatch(/^\d+$/m);
    },
  },
  push: {
    check: ({ stdout }) => {
      const [registered, ...pushed] = jsonObjects(stdout);
      expect(registered).toMatchObject({ user: { id: "alice", name: "alice" }, token: expect.any(String) });
      const answers = pushed as unknown as PushResponse[];
      expect(answers.map((answer) => [answer.message.messageType, answer.message.to, answer.message.content])).toEqual([
        ["system", "alice", "Your export is ready"],
        ["system", "lobby", "Deploy started"],
        ["system", "*", "Maintenance at 18:00"],
        ["system", "alice", "hello"],
        ["system", "alice", "hello"],
      ]);
      for (const answer of answers) expect(answer.delivered).toBe(0);
    },
  },
  library: {
    // Users alice and bob, as the README says; then the example embeds a server of its own on this DATA_DIR.
    prepare: async ({ server }) => {
      await register(server.url, "alice");
      await register(server.url, "bob");
      server.child.kill("SIGTERM");
      expect(await server.exited).toBe(0);
    },
    env: { PORT: "0" },
    check: ({ stdout }) => {
      expect(stdout).toMatch(/messageType: 'system'[\s\S]*to: 'alice'[\s\S]*content: 'Your export is ready'/);
      expect(stdout).toMatch(/delivered: 0/);
    },
  },
  backup: {
    check: ({ stdout }, { dir }) => {
      expect(stdout).toMatch(/^backup: copied \d+ pages \([\d.]+ MiB\) of .*\/data\/chat\.db to .*\/chat-backup\.db/m);
      const copy = new Database(join(dir, "chat-backup.db"), { readonly: true });
      try {
        expect(copy.pragma("integrity_check", { simple: true })).toBe("ok");
      } finally {
        copy.close();
      }
    },
  },
  "go-http": {
    check: ({ stdout }) => {
      const [me, first, second, stats] = jsonObjects(stdout);
      expect(me).toEqual({ id: "123", name: "User 123" });
      expect((first as unknown as PushResponse).message).toMatchObject({ to: "123", content: "hello" });
      expect((second as unknown as PushResponse).message).toMatchObject({ to: "123", content: "hello again" });
      expect(stats).toMatchObject({ connections: 0, users: 0, rooms: [expect.objectContaining({ id: "lobby" })] });
    },
  },
  "webhook-receiver": {
    check: ({ stdout }) => {
      expect(stdout).toMatch(/^verified user\.created: webhook-demo$/m);
    },
  },
  "go-client": {
    check: ({ stdout }) => {
      expect(stdout).toMatch(/^123 \[ 'lobby' \]$/m);
      expect(stdout).toMatch(/^stored as #\d+$/m);
    },
  },
};

/** Lays out `dir` like a fresh clone: the code linked in, an empty `data/` of its own. */
function cloneLike(dir: string): void {
  for (const entry of [
    "package.json",
    "tsconfig.json",
    "node_modules",
    "client",
    "server",
    "shared",
    "scripts",
    "web",
  ]) {
    symlinkSync(join(ROOT, entry), join(dir, entry));
  }
  mkdirSync(join(dir, "data"));
}

/** Runs an example's code in `dir` with only PATH, HOME and `env`, for at most `ms`. */
function run(block: { lang: "sh" | "ts"; name: string }, code: string, dir: string, env: Record<string, string>) {
  const file = join(dir, `readme-${block.name}.ts`);
  if (block.lang === "ts") writeFileSync(file, code);
  const child = spawn(
    block.lang === "sh" ? "sh" : process.execPath,
    block.lang === "sh" ? ["-e", "-c", code] : ["--import", "tsx", file],
    {
      cwd: dir,
      env: { PATH: process.env["PATH"] ?? "", HOME: process.env["HOME"] ?? "", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  return new Promise<Run>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`example ${block.name} did not finish within 30 s:\n${stdout}\n${stderr}`));
    }, 30_000);
    child.once("close", (exitCode) => {
      clearTimeout(timer);
      resolve({ code: exitCode, stdout, stderr });
    });
  });
}

describe("README links", () => {
  // The README is read on a machine that may reach nothing else: every link stays inside the repository.
  it("links only to files and sections of the repository, and every linked file exists", () => {
    for (const doc of ["README.md", "docs/protocol.md", "bench/README.md"]) {
      const text = readFileSync(join(ROOT, doc), "utf8");
      const targets = [...text.matchAll(/\]\(([^)\s]+)\)|<(https?:[^>]+)>/g)].map((match) => match[1] ?? match[2]!);
      expect(targets.filter((target) => /^[a-z][a-z0-9+.-]*:/i.test(target)).map((t) => `${doc}: ${t}`)).toEqual([]);
      const files = targets.map((target) => target.split("#")[0]!).filter((path) => path !== "");
      const base = join(ROOT, doc, "..");
      expect(files.filter((path) => !existsSync(join(base, path))).map((path) => `${doc}: ${path}`)).toEqual([]);
    }
  });
});

describe("README examples", () => {
  it("marks every shell and TypeScript block as an example or says why it is not run", () => {
    const unmarked = all.filter((block) => block.marker === undefined && !(block.section in SECTIONS_NOT_RUN));
    expect(unmarked.map((block) => `README.md:${block.line} (${block.section})`)).toEqual([]);
    const markers = all.flatMap((block) => (block.marker === undefined ? [] : [block.marker]));
    for (const marker of markers) expect(marker).toMatch(/^<!-- (example: [\w-]+|not run: .+) -->$/);
  });

  it("has a check for every example and an example for every check", () => {
    expect(examples.map((example) => example.name).sort()).toEqual(Object.keys(CHECKS).sort());
  });

  for (const example of examples) {
    it(`runs "${example.name}" (README.md:${example.line}) against a fresh server as written`, async () => {
      const fixture = CHECKS[example.name]!;
      const dir = tempDir();
      cloneLike(dir);
      // Blank secrets count as unset: the server generates them into data/secrets.json, as on a fresh install.
      const server = await spawnServer(join(dir, "data"), { JWT_SECRET: "", PUSH_API_KEY: "", ADMIN_API_KEY: "" });
      const context = { dir, server };
      await fixture.prepare?.(context);
      const code = example.code.replaceAll("http://127.0.0.1:3000", server.url);
      const result = await run(example, code, dir, fixture.env ?? {});
      expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
      fixture.check(result, context);
    }, 60_000);
  }
});
