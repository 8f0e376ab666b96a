import type { Server as HttpServer } from "node:http";
import type { Socket } from "node:net";

/** Shared by every connection: destroys the silent one it is called on. */
function destroySilent(this: Socket): void {
  this.destroy();
}

/** Stops watching a connection that has sent a request (or an upgrade): its own timeouts govern it now. */
function spoke(socket: Socket): void {
  socket.off("timeout", destroySilent);
  socket.setTimeout(0);
}

/**
 * Closes a TCP connection that sends no request within `ms` of connecting. Node's own `headersTimeout` only
 * starts once a request has begun, so without this a peer that connects and stays silent holds a descriptor
 * for ever. A connection that sent a request is then governed by `keepAliveTimeout` (between requests) and
 * `headersTimeout`; an upgraded WebSocket by the Engine.IO heartbeat (ws clears the socket timeout as well).
 * Call it after Socket.IO is attached: engine.io replaces the server's `request` listeners with one that
 * passes on only the requests that are not its own, and a long-poll must count as a request.
 */
export function closeSilentConnections(server: HttpServer, ms: number): void {
  server.on("connection", (socket: Socket) => {
    socket.setTimeout(ms);
    socket.once("timeout", destroySilent);
  });
  server.on("request", (request) => spoke(request.socket));
  server.on("upgrade", (request) => spoke(request.socket as Socket));
}
