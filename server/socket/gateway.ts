import { LOBBY_ROOM_ID } from "../../shared/ids.js";
import type { IncomingMessage } from "node:http";
import { LeasedBudget, type LimiterFactory } from "../cluster/limiters.js";
import type { Server, Socket } from "socket.io";
import type { ErrorCode } from "../../shared/errors.js";
import type {
  ClientEventName,
  ClientToServerEvents,
  ConnectErrorData,
  InterServerEvents,
  ServerToClientEvents,
  SocketData,
} from "../../shared/events.js";
import type { SessionInfo } from "../../shared/schemas.js";
import { refusal as accessRefusal } from "../auth/access.js";
import type { TokenService } from "../auth/tokens.js";
import type { Config } from "../config.js";
import { AppError } from "../errors.js";
import type { Logger } from "../logger.js";
import type { PresenceTransition } from "../cluster/presence.js";
import type { ConnectionRegistry } from "../presence/registry.js";
import type { Store } from "../store/types.js";
import { roomChannel, userChannel } from "./channels.js";
import type { ConnectionBudget } from "./connection-budget.js";
import type { HandlerTable } from "./define-handler.js";
import { fileUrl } from "../files/urls.js";
import { ensureTokenUser, userView } from "../users/names.js";
import { createDispatcher } from "./dispatch.js";
import { SocketQuota } from "./socket-quota.js";

type ChatIo = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
type ChatSocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

/** What the gateway needs. */
export interface GatewayDeps {
  /** Makes the rate limiters (in memory, or in Redis across nodes). */
  limiters: LimiterFactory;
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
  /** Bytes an Engine.IO connection holds unsent (see `coalesceWrites`), for the request queue's backpressure. */
  backlogOf?: (connection: object) => number;
  /** The client's address of a handshake request (behind trusted proxies, from X-Forwarded-For). */
  addressOf?: (request: IncomingMessage) => string;
  /**
   * Seats a connecting user who is not in `lobby` back in it, unless it is banned from it; answers whether
   * it is in `lobby` now.
   */
  reseatInLobby?: (userId: string) => Promise<boolean>;
  /** Told when a connected socket closed (after the registry), to drop what it held. */
  onSocketClosed?: (socketId: string) => void;
  /** Told how each request ended (error code, or undefined on success), for metrics. */
  observe?: (event: ClientEventName, seconds: number, code: ErrorCode | undefined) => void;
}

/** A user already holds MAX_SOCKETS_PER_USER sockets across the cluster. */
class SocketsExhausted extends Error {}

/** Requests one socket may have waiting (payloads kept); more are answered RATE_LIMITED. */
export const MAX_QUEUED_REQUESTS = 100;
/** Expensive requests one user may have running at once over all its sockets; the rest wait in order. */
export const MAX_EXPENSIVE_PER_USER = 2;
/** Requests whose cost grows with the data they read (bounded by their page, but still the costliest). */
const EXPENSIVE_EVENTS: ReadonlySet<ClientEventName> = new Set([
  "history:search",
  "history:list",
  "sync",
  "conversation:list",
  "room:members",
  "room:list",
]);
/**
 * Requests that may overlap with the same socket's next one once their store write is queued: a burst of
 * sends commits as one group and is delivered in one write per receiver (order is kept; see dispatch.ts).
 */
const PIPELINED_EVENTS: ReadonlySet<ClientEventName> = new Set(["message:send"]);
/** Strikes (refused requests) count within windows of this length: the event budget's own window. */
const STRIKE_WINDOW_MS = 10_000;
/** A budget that failed to answer refuses (the limiters fall back to counting locally, so this is rare). */
const refusedByBudget = () => false;

/** A `connect_error` for the client: the code in `data`, and a message (the code in lower case by default). */
function refusal(code: ConnectErrorData["code"], message = code.toLowerCase()): Error & { data: ConnectErrorData } {
  return Object.assign(new Error(message), { data: { code } });
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
  // Every client event is charged here: leased, so most charges are answered on this node without a
  // round trip to the limiter (Redis in a cluster).
  const events = { name: "events", points: config.rateLimitEventsPer10s, durationSeconds: 10 };
  const eventBudget = new LeasedBudget(deps.limiters(events), events);
  const sessions = new WeakMap<ChatSocket, SessionInfo>();
  /** Cluster: whether a socket's handshake made its user online (see ConnectionRegistry.prepare). */
  const transitions = new WeakMap<ChatSocket, PresenceTransition>();
  const registered = new WeakSet<ChatSocket>();
  const attachDispatch = createDispatcher(deps.handlers, {
    maxQueued: MAX_QUEUED_REQUESTS,
    maxExpensivePerUser: MAX_EXPENSIVE_PER_USER,
    expensive: EXPENSIVE_EVENTS,
    pipelined: PIPELINED_EVENTS,
    // Half the slow-consumer limit: a reading client is paused well before it could be dropped.
    maxBacklogBytes: config.maxSocketBufferBytes / 2,
  });

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
    // Same code either way (the contract's); the message tells a client that forgot `auth: { token }`.
    if (token === undefined || token === null || token === "") return next(refusal("UNAUTHORIZED", "missing token"));
    let identity;
    try {
      identity = tokens.verify(token);
    } catch {
      return next(refusal("UNAUTHORIZED"));
    }
    // Taken now, before anything is awaited, so concurrent handshakes of one user cannot overshoot.
    const userId = identity.id;
    if (!quota.reserve(userId, socket.id)) return next(refusal("RATE_LIMITED"));
    let prepared = false;
    const release = () => {
      quota.release(userId, socket.id);
      // Once registered, the registry's own `remove` gives the socket back.
      if (prepared && !registered.has(socket)) registry.abandon(userId, socket.id);
    };
    socket.once("disconnect", release);
    (async () => {
      const [record, signedOut] = await Promise.all([
        ensureTokenUser(store, identity, deps.now()),
        store.isTokenRevoked(identity.hash),
      ]);
      const refused = accessRefusal(record, identity, signedOut);
      if (refused) throw refused;
      const user = userView(record, fileUrl);
      let { rooms, lastId } = await store.sessionOf(user.id);
      // Out of `lobby` after a kick (or a ban that lapsed): back in, with what it may now see.
      if (
        deps.reseatInLobby &&
        !rooms.some((room) => room.id === LOBBY_ROOM_ID) &&
        (await deps.reseatInLobby(user.id))
      ) {
        ({ rooms, lastId } = await store.sessionOf(user.id));
      }
      socket.data.user = user;
      socket.data.access = { exp: identity.exp, issuedAt: identity.issuedAt, hash: identity.hash };
      socket.data.connectedAt = deps.now();
      socket.data.node = config.nodeId;
      socket.data.address = deps.addressOf?.(socket.request) ?? socket.handshake.address;
      socket.data.transport = socket.conn.transport.name;
      await socket.join([userChannel(user.id), ...rooms.map((room) => roomChannel(room.id))]);
      // In a cluster the per-user socket limit counts every node's sockets, in the same script as the record.
      const transition = await registry.prepare(user.id, socket.id, config.maxSocketsPerUser);
      if (transition === "full") throw new SocketsExhausted();
      prepared = transition !== undefined;
      sessions.set(socket, { user, rooms, lastId });
      if (transition !== undefined) transitions.set(socket, transition);
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
        if (error instanceof SocketsExhausted) return next(refusal("RATE_LIMITED"));
        if (error instanceof AppError && (error.code === "FORBIDDEN" || error.code === "UNAUTHORIZED")) {
          return next(refusal(error.code, error.message));
        }
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
    // Strikes are requests refused for budget within the current window; a socket that piles up more than
    // a window's budget of them keeps sending after being told, and is dropped (logged once). They decay:
    // a well-behaved tab refused now and then, because another tab of its user flooded, is never dropped.
    let strikes = 0;
    let strikeWindow = 0;
    let dropped = false;
    const queue = attachDispatch(
      socket,
      {
        user,
        socketId: socket.id,
        get log() {
          return log();
        },
        observe: deps.observe,
      },
      {
        admit: () => {
          const verdict = eventBudget.take(user.id);
          return typeof verdict === "boolean" ? verdict : verdict.catch(refusedByBudget);
        },
        refused: (event) => {
          deps.observe?.(event as ClientEventName, 0, "RATE_LIMITED");
          const at = deps.now();
          if (at - strikeWindow >= STRIKE_WINDOW_MS) {
            strikeWindow = at;
            strikes = 0;
          }
          strikes += 1;
          if (strikes > config.rateLimitEventsPer10s && !dropped) {
            dropped = true;
            log().warn("disconnecting a flooding socket");
            socket.disconnect(true);
          }
        },
        backlog: () => deps.backlogOf?.(socket.conn) ?? 0,
      },
    );
    const session = sessions.get(socket);
    sessions.delete(socket);
    const transition = transitions.get(socket);
    transitions.delete(socket);
    registry.add(user.id, socket.id, session?.rooms, transition);
    registered.add(socket);
    socket.conn.once("upgrade", () => {
      socket.data.transport = socket.conn.transport.name;
    });
    socket.on("disconnect", (reason) => {
      queue.close();
      registry.remove(user.id, socket.id);
      deps.onSocketClosed?.(socket.id);
      if (debug) log().debug({ reason }, "disconnected");
    });
    if (session) socket.emit("session", session);
    if (debug) log().debug("connected");
  });
}
