/**
 * Baseline: a bare Socket.IO 4.8 server doing only the transport work of the chat — the same Socket.IO
 * options as server/app.ts, no authentication, no store, no validation. The client says who it is and
 * which rooms it is in through the handshake `auth` (the chat server's token is ignored); `message:send`
 * is routed exactly as the chat routes it (room channel, or both users' channels, except the sending
 * socket) and acked with an echo of the message under a counter id.
 *
 * With `BENCH_DURABLE_DB` set (a file path) it is the durable floor: the least durable work a chat server
 * must do per message — one prepared INSERT into SQLite (WAL, `synchronous=FULL`), committed as one group per
 * event-loop turn, then the deliveries and the ack — and nothing else (no auth, no validation, no read).
 *
 * With `BENCH_REDIS_URL` (and `BENCH_REDIS_PREFIX`) set, it runs with Socket.IO's Redis Streams adapter,
 * made as server/cluster/engines.ts makes it, so several of these processes are one bare cluster (the
 * cluster case's baseline).
 */
import { createServer } from "node:http";
import { createAdapter } from "@socket.io/redis-streams-adapter";
import Database from "better-sqlite3";
import { createClient } from "redis";
import { Server } from "socket.io";

const port = Number(process.env["PORT"] ?? 0);
const http = createServer((request, response) => {
  if (request.url === "/healthz") {
    response.setHeader("content-type", "application/json");
    response.end('{"status":"ok"}');
    return;
  }
  response.statusCode = 404;
  response.end();
});

const redisUrl = process.env["BENCH_REDIS_URL"];
const prefix = process.env["BENCH_REDIS_PREFIX"] ?? "bench:";
const redis = redisUrl === undefined ? undefined : createClient({ url: redisUrl });
await redis?.connect();

const io = new Server(http, {
  serveClient: false,
  maxHttpBufferSize: 65536,
  perMessageDeflate: false,
  pingInterval: 25_000,
  pingTimeout: 20_000,
  ...(redis === undefined
    ? {}
    : {
        adapter: createAdapter(redis, {
          streamName: `${prefix}socket.io`,
          channelPrefix: `${prefix}socket.io`,
          onlyPlaintext: true,
        }),
      }),
});

interface BenchAuth {
  user?: unknown;
  rooms?: unknown;
}

interface SendPayload {
  messageType: "single" | "group";
  mediaType: string;
  to: string;
  content?: string;
}

let nextId = 1;

/** A message waiting for the turn's group commit, with what to do once it is stored. */
interface Pending {
  message: {
    id: number;
    messageType: string;
    mediaType: string;
    from: string;
    to: string;
    content?: string | undefined;
    createAt: number;
  };
  deliver: () => void;
}

/** The durable floor's store: one table, one prepared insert, one transaction per turn. */
function durableStore(file: string): (pending: Pending) => void {
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.exec(`CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT, message_type TEXT NOT NULL, media_type TEXT NOT NULL,
    sender TEXT NOT NULL, recipient TEXT NOT NULL, content TEXT, create_at INTEGER NOT NULL)`);
  const insert = db.prepare(
    "INSERT INTO messages (message_type, media_type, sender, recipient, content, create_at) VALUES (?, ?, ?, ?, ?, ?)",
  );
  let queue: Pending[] = [];
  const commit = db.transaction((batch: Pending[]) => {
    for (const { message } of batch) {
      const row = insert.run(
        message.messageType,
        message.mediaType,
        message.from,
        message.to,
        message.content ?? null,
        message.createAt,
      );
      message.id = Number(row.lastInsertRowid);
    }
  });
  return (pending) => {
    queue.push(pending);
    if (queue.length > 1) return;
    setImmediate(() => {
      const batch = queue;
      queue = [];
      commit(batch);
      for (const item of batch) item.deliver();
    });
  };
}

const durableFile = process.env["BENCH_DURABLE_DB"];
const store = durableFile === undefined ? undefined : durableStore(durableFile);

io.on("connection", (socket) => {
  const auth = socket.handshake.auth as BenchAuth;
  const user = typeof auth.user === "string" ? auth.user : socket.id;
  const rooms = Array.isArray(auth.rooms) ? auth.rooms.filter((room) => typeof room === "string") : [];
  // Both adapters join this node's socket synchronously; `join` is typed for adapters that do not.
  Promise.resolve(socket.join([`u:${user}`, ...rooms.map((room) => `r:${room}`)])).catch((error: unknown) =>
    console.error(error),
  );
  socket.on("message:send", (payload: SendPayload, ack?: (result: unknown) => void) => {
    const at = Date.now();
    const message = {
      id: nextId++,
      messageType: payload.messageType,
      mediaType: payload.mediaType,
      from: user,
      to: payload.to,
      content: payload.content,
      createAt: at,
      updateAt: at,
    };
    const channels = payload.messageType === "single" ? [`u:${payload.to}`, `u:${user}`] : [`r:${payload.to}`];
    const deliver = () => {
      socket.to(channels).emit("message", message);
      ack?.({ ok: true, data: message });
    };
    if (store) store({ message, deliver });
    else deliver();
  });
});

http.listen(port, "127.0.0.1");
