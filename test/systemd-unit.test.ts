import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../server/config.js";

/* docs/chat-server.service must agree with the server it runs: its settings example loads, it writes where
 * DATA_DIR is, and systemd waits longer than the server's own shutdown timeout. */

const UNIT = fileURLToPath(new URL("../docs/chat-server.service", import.meta.url));
const text = readFileSync(UNIT, "utf8");

/** `Key=value` lines of the unit (the last one wins, as in systemd for these keys). */
const settings = new Map(
  text
    .split("\n")
    .filter((line) => /^[A-Z]\w*=/.test(line))
    .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)] as const),
);

/** The EnvironmentFile example in the unit's comments, secrets filled with 48 random-looking bytes. */
function exampleEnv(): Record<string, string> {
  const start = text.indexOf("# /etc/chat-server.env");
  const lines = text.slice(start).split("\n").slice(1);
  const env: Record<string, string> = {};
  for (const line of lines) {
    const match = /^#\s+([A-Z_]+)=(.*)$/.exec(line);
    if (!match) break;
    env[match[1]!] = match[2] === "..." ? `${match[1]}-`.padEnd(64, "x") : match[2]!;
  }
  return env;
}

describe("docs/chat-server.service", () => {
  it("has an environment example that boots in production, with DATA_DIR the one path it may write", () => {
    const env = exampleEnv();
    expect(Object.keys(env)).toEqual(expect.arrayContaining(["NODE_ENV", "DATA_DIR", "JWT_SECRET", "TRUST_PROXY"]));
    const config = loadConfig(env);
    expect(config.production).toBe(true);
    expect(settings.get("ReadWritePaths")).toBe(config.dataDir);
    expect(settings.get("Environment")).toBe(`HOME=${config.dataDir}`);
    expect(settings.get("ProtectSystem")).toBe("strict");
  });

  it("stops with SIGTERM and waits longer than SHUTDOWN_TIMEOUT_MS before systemd would kill", () => {
    const config = loadConfig(exampleEnv());
    expect(settings.get("KillSignal")).toBe("SIGTERM");
    expect(Number(settings.get("TimeoutStopSec"))).toBeGreaterThan(config.shutdownTimeoutMs / 1000);
    expect(settings.get("Restart")).toBe("on-failure");
  });

  it("runs the compiled server with plain node and the node flags of npm start, never building at run time", () => {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
      scripts: Record<string, string>;
    };
    const start = pkg.scripts["start"]!;
    expect(start).toMatch(/^node .*dist\/server\/main\.js$/);
    expect(settings.get("ExecStart")).toBe(`/usr/bin/${start}`);
    expect(settings.get("ExecStart")).not.toMatch(/tsx|npm/);
    expect(settings.get("WorkingDirectory")).toBe("/opt/chat-server");
  });

  const analyze = "/usr/bin/systemd-analyze";
  it.skipIf(!existsSync(analyze))("passes systemd-analyze verify (when systemd is installed)", () => {
    const result = spawnSync(analyze, ["verify", UNIT], { encoding: "utf8" });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toBe("");
  });
});
