import { RateLimiterMemory } from "rate-limiter-flexible";
import type { Server, Socket } from "socket.io";
import type { ErrorCode, Result } from "../../shared/errors.js";
import type {
  ClientEventName,
  ClientToServerEvents,
  ConnectErrorData,
  InterServerEvents,
  ServerToClientEvents,
  SocketData,
} from "../../shared/events.js";
import type { SessionInfo } from "../../shared/schemas.js";
import type { TokenService } from "../auth/tokens.js";
import type { Config } from "../config.js";
import type { Logger } from "../logger.js";
import type { ConnectionRegistry } from "../presence/registry.js";
import type { Store } from "../store/types.js";
import { roomChannel, userChannel } from "./channels.js";
import type { ConnectionBudget } from "./connection-budget.js";
import { SocketQuota } from "./socket-quota.js";
import { handlerBinder, type HandlerTable } from "./define-handler.js";

type ChatIo = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
type ChatSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

/** What the gateway needs. */
export interface GatewayDeps {
  config: Config;
  store: Store;
  tokens: TokenService;
  registry: ConnectionRegistry;
  /** The per-address connection budget, shared with the Engine.IO handshake check. */
  budget: ConnectionBudget;
  handlers: HandlerTable;
  logger: Logger;
  now: () => number;
  /** True while the server accepts new connections. */
  accepting: () => boolean;
  /** Told how each request ended (error code, or undefined on success), for metrics. */
  observe?: (event: ClientEventName, seconds: number, code: ErrorCode | undefined) => void;
}

function refusal(code: ConnectErrorData["code"]): Error & { data: ConnectErrorData } {
  return Object.assign(new Error(code === "UNAUTHORIZED" ? "unauthorized" : code.toLowerCase()), { data: { code } });
}

/**
 * Wires authentication, rate limits and the connection lifecycle onto the Socket.IO server. Everything
 * asynchronous (token, user record, rooms, `lastId`) happens in the middleware, before the socket can
 * receive anything, so `session.lastId` never skips a message the socket did not get live; handlers are
 * bound synchronously on connect, so no early event is missed.
 */
export function attachGateway(io: ChatIo, deps: GatewayDeps): void {
  const { config, store, tokens, registry, logger } = deps;
  const quota = new SocketQuota(config.maxSocketsPerUser);
  const eventLimiter = new RateLimiterMemory({ points: config.rateLimitEventsPer10s, duration: 10 });
  const sessions = new WeakMap<ChatSocket, SessionInfo>();
  const bindHandlers = handlerBinder(deps.handlers);

  io.use((socket, next) => {
    if (!deps.accepting()) return next(refusal("UNAVAILABLE"));
    deps.budget.admitConnect(socket.request, socket.conn).then(
      (admitted) => next(admitted ? undefined : refusal("RATE_LIMITED")),
      (error: unknown) => {
        logger.error({ err: error }, "connection budget failed");
        next(refusal("UNAVAILABLE"));
      },
    );
  });

  io.use((socket, next) => {
    const auth: unknown = socket.handshake.auth;
    const token = typeof auth === "object" && auth !== null ? (auth as { token?: unknown }).token : undefined;
    let identity;
    try {
      identity = tokens.verify(token);
    } catch {
      return next(refusal("UNAUTHORIZED"));
    }
    // Taken now, before anything is awaited, so concurrent handshakes of one user cannot overshoot.
    const userId = identity.id;
    if (!quota.reserve(userId, socket.id)) return next(refusal("RATE_LIMITED"));
    const release = () => quota.release(userId, socket.id);
    socket.once("disconnect", release);
    (async () => {
      const record = await store.ensureUser(identity.id, identity.name ?? identity.id, deps.now());
      const user = { id: record.id, name: record.name };
      const [rooms, lastId] = await Promise.all([store.roomsOf(user.id), store.lastVisibleId(user.id)]);
      socket.data.user = user;
      socket.join([userChannel(user.id), ...rooms.map((room) => roomChannel(room.id))]);
      sessions.set(socket, { user, rooms, lastId });
    })().then(
      () => {
        next();
        // socket.io connects the socket on the next tick unless its connection closed meanwhile; then no
        // `disconnect` will come to give the slot back.
        process.nextTick(() => {
          if (!socket.connected) release();
        });
      },
      (error: unknown) => {
        release();
        logger.error({ err: error }, "handshake failed");
        next(refusal("UNAVAILABLE"));
      },
    );
  });

  io.on("connection", (socket) => {
    const user = socket.data.user;
    // The socket's logger is made when something is logged: most sockets never log.
    let child: Logger | undefined;
    const log = () => (child ??= logger.child({ socketId: socket.id, userId: user.id }));
    const debug = logger.isLevelEnabled("debug");
    let strikes = 0;
    socket.use((packet, next) => {
      eventLimiter.consume(user.id).then(
        () => next(),
        () => {
          deps.observe?.(packet[0] as ClientEventName, 0, "RATE_LIMITED");
          const ack = packet[packet.length - 1];
          if (typeof ack === "function") {
            const answer: Result<never> = {
              ok: false,
              error: { code: "RATE_LIMITED", message: "too many requests, slow down" },
            };
            (ack as (result: Result<never>) => void)(answer);
          }
          // A socket that keeps sending after being told is flooding: drop it.
          strikes += 1;
          if (strikes > config.rateLimitEventsPer10s) {
            log().warn("disconnecting a flooding socket");
            socket.disconnect(true);
          }
        },
      );
    });
    bindHandlers(socket, {
      user,
      socketId: socket.id,
      get log() {
        return log();
      },
      observe: deps.observe,
    });
    const session = sessions.get(socket);
    sessions.delete(socket);
    registry.add(user.id, socket.id, session?.rooms);
    socket.on("disconnect", (reason) => {
      registry.remove(user.id, socket.id);
      if (debug) log().debug({ reason }, "disconnected");
    });
    if (session) socket.emit("session", session);
    if (debug) log().debug("connected");
  });
}
