/**
 * Connection-level attacks of issue 12 (items 4, 6, 9), run against a server started from any checkout, on
 * loopback only, each bounded in count and time. Every scenario gets a fresh server (its own DATA_DIR and
 * port) and reports what the server's process did: its RSS (VmRSS from /proc), its open descriptors, and what
 * the attack got through.
 *
 *   npx tsx bench/attacks/connection-attacks.ts [--dir <checkout>] [--only a,b,...] [--json <file>]
 *
 * `--dir` is the checkout whose `server/main.ts` is started (default: this one), e.g. a worktree of the code
 * before the fix. Scenarios: stalled-ws, flood-control (the same load with no stalled reader), stalled-polling,
 * forged-xff, sessions, silent-tcp, sockets-per-user, logins. `--trust-proxy` is the TRUST_PROXY value the
 * forged-xff scenario gives the server: `true` (the old README's advice) by default.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, connect as tcpConnect, type Socket as NetSocket } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import jwt from "jsonwebtoken";
import { io as ioClient, type Socket } from "socket.io-client";
import WebSocket from "ws";

const SECRET = "attack-secret-that-is-at-least-32-bytes-long";
const PUSH_KEY = "attack-push-key-that-is-at-least-32-bytes";
const ADMIN_KEY = "attack-admin-key-that-is-at-least-32-bytes";

const { values: args } = parseArgs({
  options: {
    dir: { type: "string", default: resolve(import.meta.dirname, "../..") },
    only: { type: "string" },
    json: { type: "string" },
    "trust-proxy": { type: "string", default: "true" },
  },
});

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
const token = (sub: string) => jwt.sign({}, SECRET, { algorithm: "HS256", expiresIn: 3600, subject: sub });

/** A server process under attack. */
interface Target {
  url: string;
  port: number;
  pid: number;
  /** Resident memory of the server process, in MiB. */
  rssMiB(): number;
  /** Open file descriptors of the server process. */
  fds(): number;
  /** Samples RSS every 100 ms; `stop` returns the peak in MiB. */
  sampleRss(): { stop(): number };
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as { port: number };
  await new Promise((done) => server.close(done));
  return port;
}

async function startTarget(env: Record<string, string> = {}): Promise<Target> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), "attack-"));
  const child = spawn(process.execPath, ["--import", "tsx", "server/main.ts"], {
    cwd: args.dir,
    env: {
      ...process.env,
      PORT: String(port),
      HOST: "127.0.0.1",
      DATA_DIR: dataDir,
      LOG_LEVEL: "warn",
      JWT_SECRET: SECRET,
      PUSH_API_KEY: PUSH_KEY,
      ADMIN_API_KEY: ADMIN_KEY,
      ...env,
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let attempt = 0; ; attempt++) {
    if (attempt > 200) throw new Error("server did not start");
    const ready = await fetch(`${url}/healthz`).then(
      (response) => response.ok,
      () => false,
    );
    if (ready) break;
    await sleep(100);
  }
  const pid = child.pid!;
  const rssMiB = () => {
    const line = readFileSync(`/proc/${pid}/status`, "utf8")
      .split("\n")
      .find((l) => l.startsWith("VmRSS:"));
    return Number(/(\d+)/.exec(line ?? "")?.[1] ?? 0) / 1024;
  };
  return {
    url,
    port,
    pid,
    rssMiB,
    fds: () => readdirSync(`/proc/${pid}/fd`).length,
    sampleRss() {
      let peak = rssMiB();
      const timer = setInterval(() => {
        try {
          peak = Math.max(peak, rssMiB());
        } catch {
          // The process is gone; keep the peak seen.
        }
      }, 100);
      return {
        stop() {
          clearInterval(timer);
          return peak;
        },
      };
    },
    async stop() {
      child.kill("SIGTERM");
      await new Promise((done) => child.once("exit", done));
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function adminConnections(target: Target): Promise<number> {
  const response = await fetch(`${target.url}/api/admin/stats`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
  return ((await response.json()) as { connections: number }).connections;
}

/** A raw Engine.IO WebSocket session; `connectAs` also connects the namespace. */
function openRawWs(
  target: Target,
  options: { connectAs?: string; headers?: Record<string, string> } = {},
): Promise<{ ws: WebSocket; answer: string | undefined }> {
  return new Promise((done, fail) => {
    const ws = new WebSocket(`ws://127.0.0.1:${target.port}/socket.io/?EIO=4&transport=websocket`, {
      headers: options.headers,
    });
    let opened = false;
    ws.on("error", (error) => {
      if (!opened) fail(error);
    });
    ws.on("unexpected-response", (_request, response) => {
      fail(new Error(`HTTP ${response.statusCode}`));
      ws.terminate();
    });
    ws.on("message", (data) => {
      const frame = data.toString();
      if (frame.startsWith("0") && !opened) {
        opened = true;
        if (!options.connectAs) return done({ ws, answer: undefined });
        ws.send(`40${JSON.stringify({ token: token(options.connectAs) })}`);
      } else if (frame.startsWith("40") || frame.startsWith("44")) {
        done({ ws, answer: frame });
      } else if (frame === "2") {
        ws.send("3");
      }
    });
  });
}

/** Runs `count` tasks, `width` at a time. */
async function pool<T>(count: number, width: number, task: (index: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array<T>(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < count) {
        const index = next++;
        results[index] = await task(index);
      }
    }),
  );
  return results;
}

/**
 * Senders that keep `window` messages of 4,000 characters in flight each, until `total` have been sent (or
 * `stop`); `done` resolves then. A count, not a duration, so runs on a busy machine stay comparable.
 */
async function startSenders(target: Target, count: number, total: number, window = 32) {
  const sockets: Socket[] = [];
  let sent = 0;
  let running = true;
  const content = "y".repeat(4000);
  for (let index = 0; index < count; index++) {
    const socket = ioClient(target.url, {
      auth: { token: token(`sender${index}`) },
      transports: ["websocket"],
      reconnection: false,
    });
    await new Promise((done) => socket.once("session", done));
    sockets.push(socket);
  }
  const loops = sockets.map(async (socket) => {
    const lane = async () => {
      while (running && socket.connected && sent < total) {
        await socket
          .timeout(10_000)
          .emitWithAck("message:send", { messageType: "group", mediaType: "text", to: "lobby", content })
          .catch(() => undefined);
        sent += 1;
      }
    };
    await Promise.all(Array.from({ length: window }, lane));
  });
  return {
    get sent() {
      return sent;
    },
    done: Promise.all(loops),
    async stop() {
      running = false;
      await Promise.all(loops);
      for (const socket of sockets) socket.disconnect();
    },
  };
}

/** A polling session that connects its namespace, reads the answer, then never GETs again. */
async function stalledPolling(target: Target, user: string): Promise<{ pong(): Promise<number> }> {
  const handshake = await (await fetch(`${target.url}/socket.io/?EIO=4&transport=polling`)).text();
  const { sid } = JSON.parse(handshake.slice(1)) as { sid: string };
  const url = `${target.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`;
  await (await fetch(url, { method: "POST", body: `40${JSON.stringify({ token: token(user) })}` })).text();
  await (await fetch(url)).text();
  return {
    async pong() {
      const response = await fetch(url, { method: "POST", body: "3" });
      await response.text();
      return response.status;
    },
  };
}

type Report = Record<string, unknown>;

/** `count` WebSockets that stop reading (answering pings blindly) while 4 senders send 15,000 lobby messages. */
async function stalledWs(count: number): Promise<Report> {
  const target = await startTarget({ RATE_LIMIT_EVENTS_PER_10S: "1000000" });
  try {
    const stalled: WebSocket[] = [];
    for (let index = 0; index < count; index++) {
      const { ws } = await openRawWs(target, { connectAs: `stalled${index}` });
      (ws as unknown as { _socket: NetSocket })._socket.pause();
      stalled.push(ws);
    }
    const pongs = setInterval(() => stalled.forEach((ws) => ws.readyState === WebSocket.OPEN && ws.send("3")), 5000);
    const before = target.rssMiB();
    const rss = target.sampleRss();
    const started = Date.now();
    const senders = await startSenders(target, 4, 15_000);
    await Promise.race([senders.done, sleep(60_000)]);
    const seconds = (Date.now() - started) / 1000;
    const connectedAtEnd = await adminConnections(target);
    await senders.stop();
    clearInterval(pongs);
    const peak = rss.stop();
    for (const ws of stalled) ws.terminate();
    return {
      rssBeforeMiB: before,
      rssPeakMiB: peak,
      messagesSent: senders.sent,
      seconds,
      stalledStillConnected: connectedAtEnd - 4,
    };
  } finally {
    await target.stop();
  }
}

const scenarios: Record<string, () => Promise<Report>> = {
  /** 5 WebSockets that stop reading (answering pings blindly) while 4 senders send 15,000 lobby messages. */
  "stalled-ws": () => stalledWs(5),
  /** The same load with no stalled reader: what the load itself costs. */
  "flood-control": () => stalledWs(0),

  /** 3 long-polling sessions that never GET (pong blindly) while 4 senders send 15,000 lobby messages. */
  async "stalled-polling"() {
    const target = await startTarget({ RATE_LIMIT_EVENTS_PER_10S: "1000000" });
    try {
      const sessions = await Promise.all([0, 1, 2].map((index) => stalledPolling(target, `stalled${index}`)));
      const pongs = setInterval(() => sessions.forEach((session) => void session.pong().catch(() => 0)), 5000);
      const before = target.rssMiB();
      const rss = target.sampleRss();
      const started = Date.now();
      const senders = await startSenders(target, 4, 15_000);
      await Promise.race([senders.done, sleep(60_000)]);
      const seconds = (Date.now() - started) / 1000;
      const connectedAtEnd = await adminConnections(target);
      await senders.stop();
      clearInterval(pongs);
      return {
        rssBeforeMiB: before,
        rssPeakMiB: rss.stop(),
        messagesSent: senders.sent,
        seconds,
        stalledStillConnected: connectedAtEnd - 4,
      };
    } finally {
      await target.stop();
    }
  },

  /**
   * Behind one proxy that appends the peer (nginx's `$proxy_add_x_forwarded_for`), a client writes its own
   * X-Forwarded-For entries first: 40 logins (limit 30/min) and 650 handshakes (limit 600/min).
   */
  async "forged-xff"() {
    const target = await startTarget({ TRUST_PROXY: args["trust-proxy"] });
    try {
      // 192.0.2.1 plays the attacker's real address, as the proxy appends it.
      const header = (index: number) => ({ "x-forwarded-for": `10.${index >> 8}.${index & 255}.1, 192.0.2.1` });
      const logins = await pool(40, 4, async (index) => {
        const response = await fetch(`${target.url}/api/auth/login`, {
          method: "POST",
          headers: { "content-type": "application/json", ...header(index) },
          body: JSON.stringify({ username: `victim${index}`, password: "wrong password" }),
        });
        await response.text();
        return response.status;
      });
      const handshakes = await pool(650, 20, async (index) => {
        try {
          const { ws, answer } = await openRawWs(target, { connectAs: `u${index}`, headers: header(index) });
          ws.terminate();
          return answer?.startsWith("40") ? "connected" : "refused";
        } catch {
          return "refused";
        }
      });
      return {
        trustProxy: args["trust-proxy"],
        loginsPastAddressLimit: `${logins.filter((status) => status !== 429).length}/40`,
        handshakesConnected: `${handshakes.filter((outcome) => outcome === "connected").length}/650`,
      };
    } finally {
      await target.stop();
    }
  },

  /** 2,000 WebSocket and 1,000 polling Engine.IO sessions that never connect a namespace, then 12 s idle. */
  async sessions() {
    const target = await startTarget();
    try {
      const fdsBefore = target.fds();
      const started = Date.now();
      const sockets: WebSocket[] = [];
      const ws = await pool(2000, 100, async () => {
        try {
          const { ws } = await openRawWs(target);
          sockets.push(ws);
          return true;
        } catch {
          return false;
        }
      });
      const sids: string[] = [];
      const polling = await pool(1000, 50, async () => {
        const response = await fetch(`${target.url}/socket.io/?EIO=4&transport=polling`).catch(() => undefined);
        const body = (await response?.text()) ?? "";
        if (response?.status !== 200) return false;
        sids.push((JSON.parse(body.slice(1)) as { sid: string }).sid);
        return true;
      });
      const seconds = (Date.now() - started) / 1000;
      const fdsAfterOpen = target.fds();
      await sleep(12_000);
      const wsOpenAfter12s = sockets.filter((socket) => socket.readyState === WebSocket.OPEN).length;
      const pollingAliveAfter12s = (
        await pool(sids.length, 50, async (index) => {
          const response = await fetch(`${target.url}/socket.io/?EIO=4&transport=polling&sid=${sids[index]}`, {
            method: "POST",
            body: "3",
          });
          await response.text();
          return response.status === 200;
        })
      ).filter(Boolean).length;
      const fdsAfter12s = target.fds();
      for (const socket of sockets) socket.terminate();
      return {
        wsSessionsOpened: `${ws.filter(Boolean).length}/2000`,
        pollingSessionsOpened: `${polling.filter(Boolean).length}/1000`,
        seconds,
        fdsBefore,
        fdsAfterOpen,
        wsOpenAfter12s,
        pollingAliveAfter12s,
        fdsAfter12s,
      };
    } finally {
      await target.stop();
    }
  },

  /** 200 TCP connections that never send a byte; how many the server still holds after 35 s. */
  async "silent-tcp"() {
    const target = await startTarget();
    try {
      const fdsBefore = target.fds();
      const open = new Set<NetSocket>();
      await Promise.all(
        Array.from(
          { length: 200 },
          () =>
            new Promise<void>((done) => {
              const socket = tcpConnect(target.port, "127.0.0.1", () => done());
              open.add(socket);
              socket.on("error", () => {});
              socket.on("close", () => open.delete(socket));
            }),
        ),
      );
      const fdsAfterOpen = target.fds();
      await sleep(35_000);
      const result = { fdsBefore, fdsAfterOpen, stillOpenAfter35s: open.size, fdsAfter35s: target.fds() };
      for (const socket of open) socket.destroy();
      return result;
    } finally {
      await target.stop();
    }
  },

  /** 550 sockets for one user (the per-address budget raised out of the way). */
  async "sockets-per-user"() {
    const target = await startTarget({ RATE_LIMIT_CONNECTIONS_PER_MIN: "100000" });
    try {
      const sockets: Socket[] = [];
      const outcomes = await pool(550, 25, async () => {
        const socket = ioClient(target.url, {
          auth: { token: token("mallory") },
          transports: ["websocket"],
          reconnection: false,
        });
        sockets.push(socket);
        return new Promise<string>((done) => {
          socket.once("session", () => done("connected"));
          socket.once("connect_error", (error: Error & { data?: { code?: string } }) =>
            done(error.data?.code ?? "error"),
          );
        });
      });
      const connected = await adminConnections(target);
      for (const socket of sockets) socket.disconnect();
      return {
        accepted: `${outcomes.filter((outcome) => outcome === "connected").length}/550`,
        serverSockets: connected,
      };
    } finally {
      await target.stop();
    }
  },

  /**
   * 30 parallel wrong logins (30 usernames, one address, scrypt N=2^17 as shipped): the server's RSS; then 40
   * wrong logins for one username from 4 loopback addresses (10 each, under the per-address limit).
   */
  async logins() {
    const target = await startTarget();
    try {
      const register = await fetch(`${target.url}/api/auth/register`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username: "victim", password: "the right password" }),
      });
      await register.text();
      const before = target.rssMiB();
      const rss = target.sampleRss();
      const started = Date.now();
      const parallel = await Promise.all(
        Array.from({ length: 30 }, async (_, index) => {
          const response = await fetch(`${target.url}/api/auth/login`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ username: `user${index}`, password: "wrong password" }),
          });
          await response.text();
          return response.status;
        }),
      );
      const parallelSeconds = (Date.now() - started) / 1000;
      const peak = rss.stop();
      // Loopback has every 127.x.y.z: 4 real client addresses, each under the per-address limit of 30/min.
      const guesses = await pool(40, 4, (index) => loginFrom(target, `127.0.0.${2 + (index % 4)}`));
      return {
        rssBeforeMiB: before,
        rssPeakMiB: peak,
        parallelStatuses: countBy(parallel),
        parallelSeconds,
        guessesOnOneAccount: countBy(guesses),
      };
    } finally {
      await target.stop();
    }
  },
};

function countBy(values: number[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}

/** One wrong login for `victim` over a TCP connection bound to `localAddress`. */
function loginFrom(target: Target, localAddress: string): Promise<number> {
  return new Promise((done, fail) => {
    const body = JSON.stringify({ username: "victim", password: "a wrong guess" });
    const socket = tcpConnect({ port: target.port, host: "127.0.0.1", localAddress }, () => {
      socket.write(
        `POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
      );
    });
    let response = "";
    socket.on("data", (chunk: Buffer) => (response += chunk.toString()));
    socket.on("error", fail);
    socket.on("close", () => done(Number(/^HTTP\/1\.1 (\d+)/.exec(response)?.[1] ?? 0)));
  });
}

const chosen = args.only ? args.only.split(",") : Object.keys(scenarios);
const results: Record<string, Report> = {};
for (const name of chosen) {
  const scenario = scenarios[name];
  if (!scenario) throw new Error(`unknown scenario ${name}`);
  const started = Date.now();
  results[name] = await scenario();
  console.log(name, JSON.stringify(results[name]), `(${((Date.now() - started) / 1000).toFixed(0)} s)`);
}
if (args.json) writeFileSync(args.json, JSON.stringify({ dir: args.dir, results }, null, 2));
process.exit(0);
