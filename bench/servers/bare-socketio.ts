/**
 * Baseline: a bare Socket.IO 4.8 server doing only the transport work of the chat — the same Socket.IO
 * options as server/app.ts, no authentication, no store, no validation. The client says who it is and
 * which rooms it is in through the handshake `auth` (the chat server's token is ignored); `message:send`
 * is routed exactly as the chat routes it (room channel, or both users' channels, except the sending
 * socket) and acked with an echo of the message under a counter id.
 *
 * With `BENCH_REDIS_URL` (and `BENCH_REDIS_PREFIX`) set, it runs with Socket.IO's Redis Streams adapter,
 * made as server/cluster/engines.ts makes it, so several of these processes are one bare cluster (the
 * cluster case's baseline).
 */
import { createServer } from "node:http";
import { createAdapter } from "@socket.io/redis-streams-adapter";
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
    socket.to(channels).emit("message", message);
    ack?.({ ok: true, data: message });
  });
});

http.listen(port, "127.0.0.1");
