/**
 * Baseline: a raw `ws` server speaking the minimal subset of Engine.IO v4 / Socket.IO v5 framing the load
 * client uses (open packet, CONNECT with auth, ping/pong, EVENT with ack id, ACK), so the same client
 * drives it. Rooms are plain Maps of Sets; a broadcast encodes the frame once and sends the same buffer to
 * every member but the sender. No auth, no store, no validation: the floor under any Socket.IO server.
 *
 * With `BENCH_COALESCE=1` it also coalesces writes as our server does (server/socket/coalesce-writes.ts): the
 * frames a connection gets in one turn of the event loop leave in one write system call (its TCP socket is
 * corked at the first frame and uncorked once the turn's microtasks ran): the limit for fan-out on this stack.
 */
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { WebSocketServer, type WebSocket } from "ws";

const port = Number(process.env["PORT"] ?? 0);
const PING_INTERVAL = 25_000;
const PING_TIMEOUT = 20_000;

const http = createServer((request, response) => {
  if (request.url === "/healthz") {
    response.setHeader("content-type", "application/json");
    response.end('{"status":"ok"}');
    return;
  }
  response.statusCode = 404;
  response.end();
});

interface Conn {
  ws: WebSocket;
  sid: string;
  user: string;
  channels: string[];
  connected: boolean;
  alive: boolean;
  corked: boolean;
}

const channels = new Map<string, Set<Conn>>();
const conns = new Set<Conn>();
let nextId = 1;
/** A Buffer is sent as a binary frame unless told otherwise; Engine.IO text packets must stay text. */
const TEXT = { binary: false } as const;

/** The TCP socket under a `ws` WebSocket (an internal of ws 8, as server/socket/coalesce-writes.ts uses). */
type Corkable = { _socket?: { cork(): void; uncork(): void } };
const coalesce = process.env["BENCH_COALESCE"] === "1";
let corked: Conn[] = [];

/** Sends a text frame; with coalescing, the connection's frames of this turn go out in one write. */
function send(conn: Conn, frame: string | Buffer): void {
  if (coalesce && !conn.corked) {
    const tcp = (conn.ws as unknown as Corkable)._socket;
    if (tcp) {
      tcp.cork();
      conn.corked = true;
      corked.push(conn);
      if (corked.length === 1) queueMicrotask(() => process.nextTick(uncorkAll));
    }
  }
  conn.ws.send(frame, TEXT);
}

function uncorkAll(): void {
  const list = corked;
  corked = [];
  for (const conn of list) {
    conn.corked = false;
    (conn.ws as unknown as Corkable)._socket?.uncork();
  }
}

function join(conn: Conn, channel: string): void {
  let members = channels.get(channel);
  if (!members) channels.set(channel, (members = new Set()));
  members.add(conn);
  conn.channels.push(channel);
}

function leaveAll(conn: Conn): void {
  for (const channel of conn.channels) {
    const members = channels.get(channel);
    members?.delete(conn);
    if (members?.size === 0) channels.delete(channel);
  }
  conn.channels = [];
}

interface SendPayload {
  messageType: "single" | "group";
  mediaType: string;
  to: string;
  content?: string;
}

function onEvent(conn: Conn, text: string): void {
  // 42<ackId>["event",payload]
  let index = 2;
  while (index < text.length && text.charCodeAt(index) >= 48 && text.charCodeAt(index) <= 57) index++;
  const ackId = index > 2 ? text.slice(2, index) : undefined;
  const [event, payload] = JSON.parse(text.slice(index)) as [string, SendPayload];
  if (event !== "message:send") return;
  const at = Date.now();
  const message = {
    id: nextId++,
    messageType: payload.messageType,
    mediaType: payload.mediaType,
    from: conn.user,
    to: payload.to,
    content: payload.content,
    createAt: at,
    updateAt: at,
  };
  const targets = payload.messageType === "single" ? [`u:${payload.to}`, `u:${conn.user}`] : [`r:${payload.to}`];
  const frame = Buffer.from(`42${JSON.stringify(["message", message])}`);
  if (targets.length === 1) {
    for (const member of channels.get(targets[0]!) ?? []) if (member !== conn) send(member, frame);
  } else {
    const seen = new Set<Conn>();
    for (const target of targets) {
      for (const member of channels.get(target) ?? []) {
        if (member === conn || seen.has(member)) continue;
        seen.add(member);
        send(member, frame);
      }
    }
  }
  if (ackId !== undefined) send(conn, `43${ackId}${JSON.stringify([{ ok: true, data: message }])}`);
}

const wss = new WebSocketServer({ server: http, path: "/socket.io/", perMessageDeflate: false, maxPayload: 65536 });
wss.on("connection", (ws) => {
  const sid = randomBytes(15).toString("base64url");
  const conn: Conn = { ws, sid, user: sid, channels: [], connected: false, alive: true, corked: false };
  conns.add(conn);
  ws.send(
    `0${JSON.stringify({ sid, upgrades: [], pingInterval: PING_INTERVAL, pingTimeout: PING_TIMEOUT, maxPayload: 65536 })}`,
  );
  ws.on("message", (data: Buffer) => {
    const text = data.toString();
    if (text === "3") {
      conn.alive = true;
    } else if (text.startsWith("42")) {
      if (conn.connected) onEvent(conn, text);
    } else if (text.startsWith("40")) {
      const auth = (text.length > 2 ? JSON.parse(text.slice(2)) : {}) as { user?: unknown; rooms?: unknown };
      conn.user = typeof auth.user === "string" ? auth.user : sid;
      join(conn, `u:${conn.user}`);
      if (Array.isArray(auth.rooms))
        for (const room of auth.rooms) if (typeof room === "string") join(conn, `r:${room}`);
      conn.connected = true;
      ws.send(`40${JSON.stringify({ sid: randomBytes(15).toString("base64url") })}`);
    } else if (text.startsWith("41")) {
      ws.close();
    }
  });
  ws.on("close", () => {
    leaveAll(conn);
    conns.delete(conn);
  });
});

// Engine.IO's heartbeat: a ping every interval; a connection that did not answer the previous one is dropped.
setInterval(() => {
  for (const conn of conns) {
    if (!conn.alive) {
      conn.ws.terminate();
      continue;
    }
    conn.alive = false;
    conn.ws.send("2");
  }
}, PING_INTERVAL).unref();

http.listen(port, "127.0.0.1");
