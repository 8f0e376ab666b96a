import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startCluster } from "./support/cluster.js";
import {
  cleanup,
  nextEvent,
  ok,
  openSocket,
  signToken,
  tempDir,
  testConfig,
  waitForMessage,
  type Connected,
} from "./support/harness.js";
import { missingServices, REQUIRE_SERVICES } from "./support/services.js";
import type { Message, SessionInfo } from "../shared/schemas.js";

const NGINX = "/usr/sbin/nginx";

/** Why nginx cannot run here (Debian's package: `apt-get install nginx`), undefined when it can. */
function missingNginx(): string | undefined {
  const probe = spawnSync(NGINX, ["-v"], { encoding: "utf8" });
  if (probe.status === 0) return undefined;
  const reason = `nginx not found at ${NGINX} (apt-get install nginx)`;
  if (REQUIRE_SERVICES) throw new Error(`the nginx cluster test needs nginx (REQUIRE_SERVICES=1): ${reason}`);
  process.stderr.write(`skipping the nginx cluster test: ${reason}\n`);
  return reason;
}

const missing =
  (await missingServices(["postgres", "redis"], "the nginx cluster test (test/nginx-cluster.test.ts)")) ??
  missingNginx();

/** The README's nginx block for several nodes, exactly as written there. */
function readmeExample(): string {
  const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
  const block = [...readme.matchAll(/```nginx\n([\s\S]*?)```/g)]
    .map((match) => match[1]!)
    .find((text) => text.includes("upstream chat_nodes"));
  if (!block) throw new Error("README.md has no nginx block with `upstream chat_nodes`");
  return block;
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

const children: ChildProcess[] = [];
const stops: (() => Promise<void>)[] = [];
/**
 * Stops a child and waits for it: SIGTERM first (nginx's fast shutdown takes its worker with it; a SIGKILLed
 * master left its worker running after the test run), SIGKILL if it is still there after 3 s.
 */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
  await exited;
  clearTimeout(timer);
}

afterEach(async () => {
  await Promise.all(children.splice(0).map(stop));
  await cleanup();
  while (stops.length > 0) await stops.pop()!();
});

/** Runs nginx in the foreground with the README's block, its ports replaced by these. */
async function runNginx(nodePorts: number[]): Promise<string> {
  const prefix = tempDir();
  mkdirSync(join(prefix, "logs"));
  const port = await freePort();
  let servers = 0;
  const site = readmeExample()
    .replace(/listen 80;/, `listen 127.0.0.1:${port};`)
    .replace(/server 127\.0\.0\.1:\d+;/g, () => `server 127.0.0.1:${nodePorts[servers++]};`);
  expect(servers).toBe(nodePorts.length);
  const temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
    .map((name) => `${name}_temp_path ${join(prefix, name)};`)
    .join("\n");
  writeFileSync(
    join(prefix, "nginx.conf"),
    `daemon off;\nworker_processes 1;\npid ${join(prefix, "nginx.pid")};\nerror_log ${join(prefix, "logs", "error.log")};\n` +
      `events { worker_connections 256; }\nhttp {\naccess_log off;\n${temp}\n${site}\n}\n`,
  );
  const child = spawn(NGINX, ["-p", prefix, "-c", join(prefix, "nginx.conf")], { stdio: "ignore" });
  children.push(child);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    const answered = await fetch(`${url}/healthz`).then(
      (response) => response.ok,
      () => false,
    );
    if (answered) return url;
    if (Date.now() > deadline || child.exitCode !== null)
      throw new Error(`nginx did not start: ${readFileSync(join(prefix, "logs", "error.log"), "utf8")}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function through(url: string, user: string, transports: string[]): Promise<Connected> {
  const socket = openSocket(url, signToken(user), { transports });
  const received: Message[] = [];
  socket.on("message", (message) => received.push(message));
  const session: SessionInfo = await nextEvent(socket, "session");
  return { socket, session, received };
}

describe.skipIf(missing !== undefined)("the README's nginx example for several nodes", () => {
  it("carries both transports to two nodes, and messages between clients of either node", async () => {
    const dataDir = tempDir();
    const cluster = await startCluster(2, (index) =>
      testConfig({ NODE_ID: `node-${index}`, TRUST_PROXY: "1" }, dataDir),
    );
    stops.push(cluster.stop);
    const ports = cluster.nodes.map((node) => Number(new URL(node.url).port));
    const proxy = await runNginx(ports);

    const polling = await through(proxy, "polly", ["polling"]);
    const websocket = await through(proxy, "webby", ["websocket"]);
    // A client of the node nginx does not pick for 127.0.0.1, straight: the message crosses nodes either way.
    const direct = await Promise.all(
      cluster.nodes.map((node, index) => through(node.url, `direct${index}`, ["websocket"])),
    );

    const fromPolling = await ok(polling.socket, "message:send", {
      messageType: "group",
      mediaType: "text",
      to: "lobby",
      content: "over long-polling",
    });
    for (const client of [websocket, ...direct])
      await waitForMessage(client, (m) => "id" in m && m.id === fromPolling.id);
    const fromWebsocket = await ok(websocket.socket, "message:send", {
      messageType: "single",
      mediaType: "text",
      to: "polly",
      content: "over websocket",
    });
    await waitForMessage(polling, (m) => "id" in m && m.id === fromWebsocket.id);
    // Long-polling keeps working across many requests: it stays on its node.
    for (let n = 0; n < 5; n += 1) {
      const page = await ok(polling.socket, "history:list", { room: "lobby", limit: 5 });
      expect(page.messages.at(-1)?.id).toBe(fromPolling.id);
    }
    expect(polling.socket.io.engine.transport.name).toBe("polling");
    expect(websocket.socket.io.engine.transport.name).toBe("websocket");
  }, 30_000);
});
