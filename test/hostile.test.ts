import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { connect as netConnect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { createChatServer } from "../server/app.js";
import { createLogger } from "../server/logger.js";
import {
  cleanup,
  connect,
  ok,
  openSocket,
  request,
  signToken,
  startServer,
  testConfig,
  until,
  waitForMessage,
  type TestServer,
} from "./support/harness.js";
import { RawClient } from "./support/raw-client.js";

afterEach(cleanup);

const raws: RawClient[] = [];
afterEach(() => {
  for (const raw of raws.splice(0)) raw.close();
});

async function rawConnected(server: TestServer, userId: string): Promise<RawClient> {
  const { client, answer } = await RawClient.connect(server.url, { token: signToken(userId) });
  raws.push(client);
  expect(answer.startsWith("40")).toBe(true);
  return client;
}

/** After a hostile act: the server still takes a fresh connection, and it still works. */
async function stillServes(server: TestServer): Promise<void> {
  const fresh = await connect(server, `fresh${Math.random().toString(36).slice(2, 8)}`);
  expect(await ok(fresh.socket, "room:list", {})).toHaveProperty("joined");
  expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
}

const engineUrl = (server: TestServer, query: string) => `${server.url}/socket.io/?${query}`;

describe("handshakes the server does not speak", () => {
  it.each([
    ["an unknown transport", "EIO=4&transport=carrier-pigeon"],
    ["Engine.IO protocol version 3", "EIO=3&transport=polling"],
    ["an unknown protocol version", "EIO=99&transport=polling"],
    ["an unknown session id", "EIO=4&transport=polling&sid=AAAAAAAAAAAAAAAAAAAA"],
  ])("refuses %s with a 400 and stays up", async (_name, query) => {
    const server = await startServer();
    const response = await fetch(engineUrl(server, query));
    expect(response.status).toBe(400);
    await stillServes(server);
  });

  it("answers an upgrade request with thousands of headers with an error and stays up", async () => {
    const server = await startServer();
    const { port } = new URL(server.url);
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = netConnect(Number(port), "127.0.0.1");
      let data = "";
      socket.on("data", (chunk) => (data += chunk.toString()));
      socket.on("close", () => resolve(data));
      socket.on("error", reject);
      const headers = Array.from({ length: 5000 }, (_, i) => `X-Header-${i}: ${"v".repeat(10)}`).join("\r\n");
      socket.write(
        `GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
          `Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${headers}\r\n\r\n`,
      );
    });
    expect(reply).toMatch(/^HTTP\/1\.1 431/);
    await stillServes(server);
  });
});

describe("size limits", () => {
  it("closes a WebSocket that sends a frame over MAX_FRAME_BYTES, storing nothing", async () => {
    const server = await startServer({ MAX_FRAME_BYTES: "2048" });
    const bob = await connect(server, "bob");
    const raw = await rawConnected(server, "mallory");
    raw.send(
      `42["message:send",{"messageType":"group","mediaType":"text","to":"lobby","content":"${"x".repeat(3000)}"}]`,
    );
    await raw.whenClosed();
    expect(raw.closeCode).toBe(1009);
    expect(bob.socket.connected).toBe(true);
    expect((await ok(bob.socket, "sync", { after: 0 })).messages).toEqual([]);
    await stillServes(server);
  });

  it("refuses a long-polling payload over MAX_FRAME_BYTES and closes that session; one at the limit passes", async () => {
    const server = await startServer({ MAX_FRAME_BYTES: "2048" });
    const session = async () => {
      const open = await (await fetch(engineUrl(server, "EIO=4&transport=polling"))).text();
      const { sid } = JSON.parse(open.slice(1)) as { sid: string };
      const post = (body: string) =>
        fetch(engineUrl(server, `EIO=4&transport=polling&sid=${sid}`), { method: "POST", body });
      return { sid, post };
    };
    const fits = await session();
    // A ping-shaped payload of exactly 2048 bytes is taken; the session stays.
    expect((await fits.post(`3${"x".repeat(2047)}`)).status).toBe(200);
    expect((await fits.post("3")).status).toBe(200);
    const over = await session();
    expect((await over.post(`4${"x".repeat(5000)}`)).status).toBe(413);
    // The connection is closed, as a WebSocket sending too much is: its sid is gone.
    expect((await over.post("3")).status).toBe(400);
    const poll = await fetch(engineUrl(server, `EIO=4&transport=polling&sid=${over.sid}`));
    expect(poll.status).toBe(400);
    await stillServes(server);
  });

  it("survives a flood of tiny WebSocket fragments, closing the connection once they pass the limit", async () => {
    const server = await startServer({ MAX_FRAME_BYTES: "4096" });
    const bob = await connect(server, "bob");
    const raw = await rawConnected(server, "mallory");
    raw.ws.send("42", { fin: false });
    for (let i = 0; i < 20_000 && raw.ws.readyState === WebSocket.OPEN; i++) raw.ws.send("[", { fin: false });
    await raw.whenClosed();
    expect(raw.closeCode).toBe(1009);
    expect(bob.socket.connected).toBe(true);
    await stillServes(server);
  });
});

describe("browser origins", () => {
  it.each([
    ["a foreign origin", "http://evil.example"],
    ["the null origin", "null"],
    ["an https localhost look-alike", "https://localhost.evil.example"],
  ])("refuses a WebSocket handshake from %s", async (_name, origin) => {
    const server = await startServer();
    await expect(RawClient.open(server.url, undefined, { Origin: origin })).rejects.toThrow(/HTTP 4\d\d/);
    await stillServes(server);
  });

  it("refuses a long-polling handshake from a foreign origin and sends it no CORS headers", async () => {
    const server = await startServer();
    const response = await fetch(engineUrl(server, "EIO=4&transport=polling"), {
      headers: { Origin: "http://evil.example" },
    });
    expect(response.status).toBe(403);
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("accepts the server's own origin, localhost in development, and ALLOWED_ORIGINS", async () => {
    const server = await startServer({ ALLOWED_ORIGINS: "https://chat.example.com" });
    const own = server.url;
    for (const origin of [own, "http://localhost:5173", "https://chat.example.com"]) {
      const raw = await RawClient.open(server.url, undefined, { Origin: origin });
      raws.push(raw);
    }
  });

  it("refuses localhost origins in production", async () => {
    const server = await startServer({ NODE_ENV: "production" });
    await expect(RawClient.open(server.url, undefined, { Origin: "http://localhost:5173" })).rejects.toThrow(
      /HTTP 4\d\d/,
    );
  });

  it("answers CORS preflights for allowed origins only, and refuses foreign writes to the API", async () => {
    const server = await startServer({ ALLOWED_ORIGINS: "https://chat.example.com" });
    const preflight = (origin: string) =>
      server.server.app.inject({
        method: "OPTIONS",
        url: "/api/auth/login",
        headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
      });
    const allowed = await preflight("https://chat.example.com");
    expect(allowed.statusCode).toBe(204);
    expect(allowed.headers["access-control-allow-origin"]).toBe("https://chat.example.com");
    const foreign = await preflight("http://evil.example");
    expect(foreign.headers["access-control-allow-origin"]).toBeUndefined();
    const write = await server.server.app.inject({
      method: "POST",
      url: "/api/auth/register",
      headers: { origin: "http://evil.example" },
      payload: { username: "victim", password: "password123" },
    });
    expect(write.statusCode).toBe(403);
    expect(await server.server.store.getUser("victim")).toBeUndefined();
  });

  it("sets security headers on HTTP responses", async () => {
    const server = await startServer();
    const response = await server.server.app.inject({ method: "GET", url: "/" });
    expect(response.headers["x-content-type-options"]).toBe("nosniff");
    expect(response.headers["content-security-policy"]).toContain("default-src 'self'");
    expect(response.headers["x-frame-options"]).toBeDefined();
    // Over plain HTTP on a LAN address this directive would blank the web client.
    expect(response.headers["content-security-policy"]).not.toContain("upgrade-insecure-requests");
  });

  it("negotiates no WebSocket compression", async () => {
    const server = await startServer();
    const raw = await RawClient.open(server.url);
    raws.push(raw);
    expect(raw.ws.extensions).toBe("");
  });
});

describe("tokens outside the auth payload", () => {
  it("ignores a token in the query string and never logs it", async () => {
    const lines: string[] = [];
    const config = testConfig({ LOG_LEVEL: "trace" });
    const server = await createChatServer({
      config,
      logger: createLogger("trace", { write: (line: string) => lines.push(line) }),
    });
    const { port } = await server.listen();
    afterEach(() => server.close());
    const token = signToken("alice");
    const socket = openSocket(`http://127.0.0.1:${port}`, undefined, { query: { token } });
    const error = await new Promise<Error & { data?: unknown }>((resolve) => socket.once("connect_error", resolve));
    expect(error.data).toEqual({ code: "UNAUTHORIZED" });
    await fetch(`http://127.0.0.1:${port}/api/me?token=${token}`);
    await server.close();
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join("\n")).not.toContain(token);
  });
});

describe("rate limits", () => {
  it("answers RATE_LIMITED past the per-user event budget, across tabs, and drops a socket that keeps flooding", async () => {
    const server = await startServer({ RATE_LIMIT_EVENTS_PER_10S: "6" });
    const tab1 = await connect(server, "alice");
    const tab2 = await connect(server, "alice");
    for (let i = 0; i < 3; i++) await ok(tab1.socket, "room:list", {});
    for (let i = 0; i < 3; i++) await ok(tab2.socket, "room:list", {});
    expect(await request(tab1.socket, "room:list", {})).toMatchObject({ ok: false, error: { code: "RATE_LIMITED" } });
    const dropped = new Promise<string>((resolve) => tab1.socket.once("disconnect", resolve));
    for (let i = 0; i < 10; i++) tab1.socket.emit("room:list", {}, () => {});
    expect(await dropped).toBe("io server disconnect");
    const metrics = await server.server.app.inject({ method: "GET", url: "/metrics" });
    expect(metrics.body).toMatch(/chat_rejections_total\{code="RATE_LIMITED"\} \d+/);
  });

  it("refuses handshakes past the per-address connection budget with RATE_LIMITED", async () => {
    const server = await startServer({ RATE_LIMIT_CONNECTIONS_PER_MIN: "3" });
    for (let i = 0; i < 3; i++) await connect(server, `u${i}`);
    const socket = openSocket(server.url, signToken("u4"));
    const error = await new Promise<Error & { data?: unknown }>((resolve) => socket.once("connect_error", resolve));
    expect(error.data).toEqual({ code: "RATE_LIMITED" });
  });

  it("limits register attempts per address", async () => {
    const server = await startServer({ RATE_LIMIT_AUTH_PER_MIN: "2" });
    const register = (username: string) =>
      server.server.app.inject({
        method: "POST",
        url: "/api/auth/register",
        payload: { username, password: "password123" },
      });
    expect((await register("one")).statusCode).toBe(201);
    expect((await register("two")).statusCode).toBe(201);
    const third = await register("three");
    expect(third.statusCode).toBe(429);
    expect(third.json()).toMatchObject({ error: { code: "RATE_LIMITED" } });
    expect(await server.server.store.getUser("three")).toBeUndefined();
  });
});

describe("heartbeat", () => {
  it("drops a peer that stops answering pings and announces it offline after the grace", async () => {
    const server = await startServer({ PING_INTERVAL_MS: "1000", PING_TIMEOUT_MS: "1000", PRESENCE_GRACE_MS: "100" });
    const alice = await connect(server, "alice");
    const raw = await rawConnected(server, "silent");
    raw.autoPong = false;
    await waitForMessage(alice, (m) => m.messageType === "offline" && m.from === "silent", 8000);
    await until(() => server.server.registry.connectionCount === 1);
  });
});

describe("dependency versions with known advisories", () => {
  const require = createRequire(import.meta.url);
  /** The version of `pkg` as `from` resolves it (some packages do not export their package.json). */
  const versionOf = (pkg: string, from: string) => {
    let dir = dirname(createRequire(require.resolve(from)).resolve(pkg));
    for (;;) {
      const manifest = join(dir, "package.json");
      if (existsSync(manifest)) {
        const parsed = JSON.parse(readFileSync(manifest, "utf8")) as { name?: string; version: string };
        if (parsed.name === pkg) return parsed.version;
      }
      if (dirname(dir) === dir) throw new Error(`no package.json for ${pkg}`);
      dir = dirname(dir);
    }
  };
  const atLeast = (version: string, minimum: string) => {
    const a = version.split(".").map(Number);
    const b = minimum.split(".").map(Number);
    for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
    return true;
  };

  it.each([
    ["ws", "engine.io", "8.21.0"],
    ["socket.io-parser", "socket.io", "4.2.4"],
    ["engine.io", "socket.io", "6.6.2"],
    ["jws", "jsonwebtoken", "4.0.1"],
  ])("runs %s (as %s loads it) at or above %s", (pkg, from, minimum) => {
    expect(atLeast(versionOf(pkg, from), minimum)).toBe(true);
  });
});
