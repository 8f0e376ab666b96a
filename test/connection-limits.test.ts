import { connect as tcpConnect, type Socket as NetSocket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { StoredMessage } from "../shared/schemas.js";
import { PasswordHasher } from "../server/auth/password.js";
import { loadConfig } from "../server/config.js";
import { roomChannel } from "../server/socket/channels.js";
import {
  cleanup,
  connect,
  ok,
  openSocket,
  signToken,
  startServer,
  until,
  waitForMessage,
  type TestServer,
} from "./support/harness.js";
import { RawClient } from "./support/raw-client.js";

afterEach(cleanup);

const MiB = 1024 * 1024;

/** A stored-message-shaped payload of about `size` characters, for load that needs no database. */
function bulkMessage(id: number, size: number): StoredMessage {
  return {
    id,
    messageType: "group",
    mediaType: "text",
    from: "loadgen",
    to: "lobby",
    content: "x".repeat(size),
    createAt: Date.now(),
  } as unknown as StoredMessage;
}

/** Samples the process's RSS every 20 ms until stopped; returns the peak over the baseline, in MiB. */
function sampleRss(): { stop: () => { baseMiB: number; peakMiB: number } } {
  const base = process.memoryUsage().rss;
  let peak = base;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  return {
    stop: () => {
      clearInterval(timer);
      peak = Math.max(peak, process.memoryUsage().rss);
      return { baseMiB: base / MiB, peakMiB: peak / MiB };
    },
  };
}

/** Resolves with the reason the server gives for the disconnect of `userId`'s next socket. */
function serverDisconnectReason(server: TestServer, userId: string): Promise<string> {
  return new Promise((resolve) => {
    server.server.io.on("connection", (socket) => {
      if (socket.data.user.id === userId) socket.once("disconnect", (reason) => resolve(reason));
    });
  });
}

/** Emits `count` messages of `size` characters to the lobby, a batch per turn so each turn's writes go out. */
async function flood(server: TestServer, count: number, size: number, firstId = 1): Promise<void> {
  const channel = server.server.io.to(roomChannel("lobby"));
  for (let index = 0; index < count; index += 20) {
    for (let id = index; id < Math.min(count, index + 20); id++)
      channel.emit("message", bulkMessage(firstId + id, size));
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** A long-polling Engine.IO session driven by hand: the client decides when (if ever) it GETs. */
class PollingSession {
  private constructor(
    private readonly url: string,
    readonly sid: string,
  ) {}

  static async open(baseUrl: string): Promise<PollingSession> {
    const response = await fetch(`${baseUrl}/socket.io/?EIO=4&transport=polling`);
    const body = await response.text();
    const { sid } = JSON.parse(body.slice(1)) as { sid: string };
    return new PollingSession(`${baseUrl}/socket.io/?EIO=4&transport=polling&sid=${sid}`, sid);
  }

  /** Posts Engine.IO packets (joined with the record separator); resolves with the HTTP status. */
  async post(...packets: string[]): Promise<number> {
    const response = await fetch(this.url, { method: "POST", body: packets.join("\x1e") });
    await response.text();
    return response.status;
  }

  /** One GET: the packets the server had queued (or that came within its long-poll). */
  async get(): Promise<string[]> {
    const response = await fetch(this.url);
    return (await response.text()).split("\x1e");
  }
}

describe("slow consumers", () => {
  it("disconnects a WebSocket reader that stopped reading once its unsent output passes MAX_SOCKET_BUFFER_BYTES, and keeps delivering to the others", async () => {
    const server = await startServer({
      MAX_SOCKET_BUFFER_BYTES: String(MiB),
      PING_INTERVAL_MS: "1000",
      PING_TIMEOUT_MS: "1000",
    });
    const reader = await connect(server, "carol");
    const dropped = serverDisconnectReason(server, "bob");
    const { client: stalled, answer } = await RawClient.connect(server.url, { token: signToken("bob") });
    expect(answer.startsWith("40")).toBe(true);
    // Stop reading (the kernel buffers fill, then the server's), but answer heartbeats blindly.
    const tcp = (stalled.ws as unknown as { _socket: NetSocket })._socket;
    tcp.pause();
    const pongs = setInterval(() => stalled.send("3"), 300);
    try {
      const rss = sampleRss();
      // 2,000 messages of 8,000 characters: 16 MB, far more than the kernel buffers of one loopback connection.
      await flood(server, 2000, 8000);
      expect(await dropped).toBe("forced close");
      await waitForMessage(reader, (message) => "id" in message && message.id === 2000, 20_000);
      const { baseMiB, peakMiB } = rss.stop();
      console.info(
        `stalled WebSocket: RSS ${baseMiB.toFixed(0)} → peak ${peakMiB.toFixed(0)} MiB while 16 MB was sent to it`,
      );
      expect(peakMiB - baseMiB).toBeLessThan(400);
      // The reader got everything, in order, and is still connected.
      const ids = reader.received.map((message) => ("id" in message ? message.id : 0)).filter((id) => id > 0);
      expect(ids).toEqual(Array.from({ length: 2000 }, (_, index) => index + 1));
      expect(reader.socket.connected).toBe(true);
      await until(() => server.server.registry.socketCount("bob") === 0);
    } finally {
      clearInterval(pongs);
      stalled.close();
    }
  }, 60_000);

  it("disconnects a long-polling session that never GETs once its queued output passes MAX_SOCKET_BUFFER_BYTES", async () => {
    const server = await startServer({
      MAX_SOCKET_BUFFER_BYTES: String(MiB),
      PING_INTERVAL_MS: "1000",
      PING_TIMEOUT_MS: "1000",
    });
    const reader = await connect(server, "carol");
    const dropped = serverDisconnectReason(server, "dave");
    const session = await PollingSession.open(server.url);
    expect(await session.post(`40${JSON.stringify({ token: signToken("dave") })}`)).toBe(200);
    expect((await session.get()).some((packet) => packet.startsWith("40"))).toBe(true);
    await until(() => server.server.registry.socketCount("dave") === 1);
    // From here on it never GETs, but pongs blindly so the heartbeat does not drop it.
    const pongs = setInterval(() => void session.post("3").catch(() => {}), 300);
    try {
      const rss = sampleRss();
      await flood(server, 400, 8000);
      expect(await dropped).toBe("forced close");
      await waitForMessage(reader, (message) => "id" in message && message.id === 400, 20_000);
      const { baseMiB, peakMiB } = rss.stop();
      console.info(
        `polling session that never GETs: RSS ${baseMiB.toFixed(0)} → peak ${peakMiB.toFixed(0)} MiB while 3.2 MB was queued for it`,
      );
      expect(peakMiB - baseMiB).toBeLessThan(400);
      expect(reader.socket.connected).toBe(true);
      // The session is gone: its id is unknown now.
      expect(await session.post("3")).toBe(400);
    } finally {
      clearInterval(pongs);
    }
  }, 60_000);

  it("keeps a reader that reads, however much it is sent", async () => {
    const server = await startServer({ MAX_SOCKET_BUFFER_BYTES: String(256 * 1024) });
    const reader = await connect(server, "carol");
    await flood(server, 500, 4000);
    await waitForMessage(reader, (message) => "id" in message && message.id === 500, 20_000);
    expect(reader.socket.connected).toBe(true);
  }, 30_000);
});

describe("connection exhaustion", () => {
  it("counts Engine.IO sessions that never connect a namespace against RATE_LIMIT_CONNECTIONS_PER_MIN", async () => {
    const server = await startServer({ RATE_LIMIT_CONNECTIONS_PER_MIN: "3" });
    const idle = [];
    for (let index = 0; index < 3; index++) idle.push(await RawClient.open(server.url));
    // Just past the budget the session opens only to be told RATE_LIMITED at its namespace connect...
    const late = await RawClient.open(server.url);
    late.send(`40${JSON.stringify({ token: signToken("alice") })}`);
    const answer = await late.next((frame) => frame.startsWith("40") || frame.startsWith("44"));
    expect(JSON.parse(answer.slice(2))).toMatchObject({ data: { code: "RATE_LIMITED" } });
    // ...and well past it no session is created at all.
    const refusals: string[] = [];
    for (let index = 0; index < 4; index++) {
      await RawClient.open(server.url).then(
        (client) => client.close(),
        (error: Error) => refusals.push(error.message),
      );
    }
    // engine.io refuses a WebSocket upgrade with 400 and a polling handshake with 403.
    expect(refusals.length).toBeGreaterThan(0);
    for (const refusal of refusals) expect(refusal).toMatch(/^HTTP 40[03]$/);
    for (const client of [...idle, late]) client.close();
  });

  it("closes an Engine.IO session that has not connected its namespace within CONNECT_TIMEOUT_MS", async () => {
    const server = await startServer({ CONNECT_TIMEOUT_MS: "300" });
    const client = await RawClient.open(server.url);
    const opened = Date.now();
    await client.whenClosed(3000);
    expect(Date.now() - opened).toBeLessThan(2000);
  });

  it("gives a namespace connect 10 s by default", async () => {
    const server = await startServer();
    expect(server.server.io.connectTimeout()).toBe(10_000);
  });

  it("closes an HTTP connection that sends nothing within IDLE_CONNECTION_TIMEOUT_MS", async () => {
    const server = await startServer({ IDLE_CONNECTION_TIMEOUT_MS: "300" });
    const { port } = new URL(server.url);
    const socket = tcpConnect(Number(port), "127.0.0.1");
    socket.on("error", () => {});
    const opened = Date.now();
    await new Promise((resolve) => socket.once("close", resolve));
    expect(Date.now() - opened).toBeLessThan(2000);
  });

  it("closes a keep-alive connection that stays silent after its request", async () => {
    const server = await startServer({ IDLE_CONNECTION_TIMEOUT_MS: "300" });
    const { port } = new URL(server.url);
    const socket = tcpConnect(Number(port), "127.0.0.1");
    socket.on("error", () => {});
    socket.write("GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n");
    let response = "";
    socket.on("data", (chunk: Buffer) => (response += chunk.toString()));
    await new Promise((resolve) => socket.once("close", resolve));
    expect(response).toMatch(/^HTTP\/1\.1 200/);
  });

  it("does not apply the idle timeout to an upgraded WebSocket or a held long-poll", async () => {
    // No heartbeat within the test: only the idle timeout could close these.
    const server = await startServer({ IDLE_CONNECTION_TIMEOUT_MS: "300", PING_INTERVAL_MS: "20000" });
    const ws = await connect(server, "alice");
    const polling = openSocket(server.url, signToken("bob"), { transports: ["polling"] });
    await new Promise((resolve) => polling.once("session", resolve));
    let disconnects = 0;
    ws.socket.on("disconnect", () => disconnects++);
    polling.on("disconnect", () => disconnects++);
    await new Promise((resolve) => setTimeout(resolve, 1200));
    expect(disconnects).toBe(0);
    await ok(ws.socket, "room:list", {});
    await ok(polling, "room:list", {});
  });

  it("refuses a user's sockets beyond MAX_SOCKETS_PER_USER with RATE_LIMITED, even when they handshake at once", async () => {
    const server = await startServer({ MAX_SOCKETS_PER_USER: "3" });
    const token = signToken("alice");
    const attempts = Array.from({ length: 6 }, () => openSocket(server.url, token));
    const outcomes = await Promise.all(
      attempts.map(
        (socket) =>
          new Promise<string>((resolve) => {
            socket.once("session", () => resolve("connected"));
            socket.once("connect_error", (error: Error & { data?: { code?: string } }) =>
              resolve(error.data?.code ?? error.message),
            );
          }),
      ),
    );
    expect(outcomes.filter((outcome) => outcome === "connected")).toHaveLength(3);
    expect(outcomes.filter((outcome) => outcome === "RATE_LIMITED")).toHaveLength(3);
    // Another user is not affected.
    await connect(server, "bob");
    // A socket that goes gives its slot back.
    attempts[outcomes.indexOf("connected")]!.disconnect();
    await until(() => server.server.registry.socketCount("alice") === 2);
    const again = await connect(server, "alice");
    expect(again.session.user.id).toBe("alice");
    const refused = openSocket(server.url, token);
    const error = await new Promise<Error & { data?: unknown }>((resolve) => refused.once("connect_error", resolve));
    expect(error.data).toEqual({ code: "RATE_LIMITED" });
  });

  it("allows 50 sockets per user by default", () => {
    expect(loadConfig({}).maxSocketsPerUser).toBe(50);
  });
});

describe("logins", () => {
  const login = (server: TestServer, password: string, remoteAddress = "127.0.0.1") =>
    server.server.app.inject({
      method: "POST",
      url: "/api/auth/login",
      payload: { username: "Alice", password },
      remoteAddress,
    });

  it("refuses a username with 429 after 10 failed logins in 15 minutes, from any address; successes do not count", async () => {
    const server = await startServer();
    const registered = await server.server.app.inject({
      method: "POST",
      url: "/api/auth/register",
      payload: { username: "alice", password: "right password" },
    });
    expect(registered.statusCode).toBe(201);
    for (let index = 0; index < 9; index++) expect((await login(server, "wrong password")).statusCode).toBe(401);
    for (let index = 0; index < 5; index++) expect((await login(server, "right password")).statusCode).toBe(200);
    expect((await login(server, "wrong password", "10.0.0.1")).statusCode).toBe(401);
    const refused = await login(server, "right password", "10.0.0.2");
    expect(refused.statusCode).toBe(429);
    expect(refused.json()).toMatchObject({ error: { code: "RATE_LIMITED" } });
    // Other usernames are not affected.
    const other = await server.server.app.inject({
      method: "POST",
      url: "/api/auth/login",
      payload: { username: "nobody", password: "wrong password" },
    });
    expect(other.statusCode).toBe(401);
  });

  it("does not let parallel wrong logins for one username all pass the check", async () => {
    const server = await startServer();
    const answers = await Promise.all(Array.from({ length: 20 }, () => login(server, "wrong password")));
    const codes = answers.map((answer) => answer.statusCode);
    expect(codes.filter((code) => code === 401)).toHaveLength(10);
    expect(codes.filter((code) => code === 429)).toHaveLength(10);
  });

  it("runs at most 4 password hashes at once under 30 parallel wrong logins, with bounded memory", async () => {
    // N = 2^15: 32 MiB per running hash.
    const server = await startServer({ SCRYPT_LOG_N: "15" });
    const rss = sampleRss();
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, index) =>
        fetch(`${server.url}/api/auth/login`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ username: `user${index}`, password: "wrong password" }),
        }),
      ),
    );
    const { baseMiB, peakMiB } = rss.stop();
    expect(answers.map((answer) => answer.status)).toEqual(Array(30).fill(401));
    const peakRunning = server.server.passwords.peakRunning;
    console.info(
      `30 parallel wrong logins (scrypt N=2^15): RSS ${baseMiB.toFixed(0)} → peak ${peakMiB.toFixed(0)} MiB, at most ${peakRunning} hashes at once`,
    );
    expect(peakRunning).toBeGreaterThanOrEqual(1);
    expect(peakRunning).toBeLessThanOrEqual(4);
    // Each running hash holds 32 MiB; allow the rest of the process some slack.
    expect(peakMiB - baseMiB).toBeLessThan(peakRunning * 32 + 150);
  }, 60_000);

  it("queues hashes beyond the concurrency and refuses with UNAVAILABLE beyond the queue", async () => {
    const hasher = new PasswordHasher({ logN: 14, concurrency: 1, queueLimit: 1 });
    const first = hasher.hash("password one");
    const second = hasher.hash("password two");
    await expect(hasher.hash("password three")).rejects.toMatchObject({ code: "UNAVAILABLE" });
    expect(hasher.running).toBe(1);
    expect(hasher.queued).toBe(1);
    await Promise.all([first, second]);
    expect(hasher.peakRunning).toBe(1);
    expect(hasher.running).toBe(0);
  });
});
