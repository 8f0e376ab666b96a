import { existsSync } from "node:fs";
import type { Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import cors from "@fastify/cors";
import helmet from "@fastify/helmet";
import multipart from "@fastify/multipart";
import fastifyStatic from "@fastify/static";
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from "fastify";
import { Server } from "socket.io";
import type { ClientToServerEvents, InterServerEvents, ServerToClientEvents, SocketData } from "../shared/events.js";
import { SYSTEM_USER_ID } from "../shared/ids.js";
import { requireAdmin } from "./admin/access.js";
import { registerAdminAccountRoutes } from "./admin/account-routes.js";
import { registerAdminContentRoutes } from "./admin/content-routes.js";
import { registerAdminRoutes } from "./admin/routes.js";
import { AccountService } from "./auth/accounts.js";
import { registerAuthRoutes } from "./auth/routes.js";
import { memoryLimiters, type LimiterFactory } from "./cluster/limiters.js";
import { createBackgroundErrorReporter, type BackgroundErrorReporter } from "./background.js";
import { ConversationService } from "./conversations/service.js";
import { createTokenService, type TokenService } from "./auth/tokens.js";
import type { Config } from "./config.js";
import { DiskBlobs } from "./files/disk-blobs.js";
import { fileUrl, registerFileRoutes } from "./files/routes.js";
import { FileService } from "./files/service.js";
import { registerAdminPage } from "./http/admin-page.js";
import { API_ROUTES } from "./http/api-routes.js";
import { installErrorHandling, sendError } from "./http/errors.js";
import { registerApiDocs } from "./http/openapi.js";
import { ChatHub } from "./hub.js";
import { Metrics } from "./metrics.js";
import { registerPushRoutes } from "./push/routes.js";
import { UserService } from "./users/service.js";
import { WorkerManager } from "./workers/manager.js";
import { createOriginCheck } from "./http/origins.js";
import { clientAddress, createProxyTrust } from "./http/client-address.js";
import { closeSilentConnections } from "./http/idle-connections.js";
import { PasswordHasher } from "./auth/password.js";
import { ConnectionBudget } from "./socket/connection-budget.js";
import { createLogger, type Logger } from "./logger.js";
import { MessageService } from "./messages/service.js";
import { createPresenceNotifier, presenceEvent } from "./presence/notices.js";
import { Delivery } from "./delivery/deliver.js";
import { ConnectionRegistry } from "./presence/registry.js";
import { RoomService } from "./rooms/service.js";
import { roomChannel } from "./socket/channels.js";
import { coalesceWrites } from "./socket/coalesce-writes.js";
import { closeOversizedPolling } from "./socket/polling-limit.js";
import { attachGateway } from "./socket/gateway.js";
import { createHandlerTable } from "./socket/handlers.js";
import { ModerationService } from "./rooms/moderation.js";
import { createModerationHandlers } from "./socket/moderation-handlers.js";
import { SqliteStore } from "./store/sqlite/store.js";
import type { ClusterEngines } from "./cluster/engines.js";
import { nodeDirectory } from "./cluster/nodes.js";
import type { FileBlobs, Store } from "./store/types.js";
import { packageVersion } from "./version.js";
import { WebhookEndpoints } from "./webhooks/endpoints.js";
import { registerWebhookRoutes } from "./webhooks/routes.js";
import { WebhookSender, type WebhookSenderOptions } from "./webhooks/sender.js";
import { projectRoot, webClientDir } from "./project.js";

/** The typed Socket.IO server of the chat. */
export type ChatIo = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

/** What `createChatServer` needs; everything but `config` has a default. */
export interface ChatServerOptions {
  /** The resolved configuration (secrets filled in, see `resolveSecrets`). */
  config: Config;
  /** @default a pino logger at `config.logLevel` */
  logger?: Logger;
  /** Milliseconds since the epoch. @default Date.now */
  clock?: () => number;
  /** @default SQLite at `DATA_DIR/chat.db` */
  store?: Store;
  /** Where uploads' bytes live. @default one file per id under `DATA_DIR/files` (`DiskBlobs`) */
  blobs?: FileBlobs;
  /** Where rate limits are counted. @default the cluster's (Redis), else in this process (`memoryLimiters`) */
  limiters?: LimiterFactory;
  /**
   * The engines shared with the other nodes (Redis: adapter, presence, limits, leases, typing); the store
   * must then be the shared PostgreSQL one. @default none: one node
   */
  cluster?: ClusterEngines;
  /** Whether the store's database answers (for `/readyz`). @default the store is open */
  storeReady?: () => Promise<boolean>;
  /**
   * The webhook sender's timings and bounds, for tests (a short timeout and backoff). Not configuration:
   * the contract fixes them. @default the contract's: 10 s timeout, 1 s first retry
   */
  webhookSender?: Pick<WebhookSenderOptions, "timeoutMs" | "retryBaseMs" | "pollMs" | "perEndpoint" | "maxInFlight">;
}

/** A built, not yet listening, chat server. */
export interface ChatServer {
  readonly config: Config;
  readonly app: FastifyInstance;
  readonly http: HttpServer;
  readonly io: ChatIo;
  readonly store: Store;
  readonly tokens: TokenService;
  readonly messages: MessageService;
  readonly conversations: ConversationService;
  readonly rooms: RoomService;
  readonly registry: ConnectionRegistry;
  /** The only sender to channels: who receives what, on every node. */
  readonly delivery: Delivery;
  /** Password hashing for register and login, at most 4 (and no more than the cores) at a time. */
  readonly passwords: PasswordHasher;
  /** The library API: system messages to users, rooms and everyone; socket counts; sessions; stats. */
  readonly hub: ChatHub;
  /** One server-side worker per room while the room has online members. */
  readonly workers: WorkerManager;
  /** Uploads: quota, removal once unreferenced, the orphan sweep. */
  readonly files: FileService;
  /** Where uploads' bytes live (this node's disk, or the database). */
  readonly blobs: FileBlobs;
  readonly metrics: Metrics;
  /** Logs and counts a failure of background work (`chat_background_errors_total{task}`); never fatal. */
  readonly backgroundError: BackgroundErrorReporter;
  /** Delivers the webhook outbox (section 13). */
  readonly webhooks: WebhookSender;
  /** Starts listening on `config.host:config.port` (port 0 picks a free one). */
  listen(): Promise<AddressInfo>;
  /** Disconnects every socket, stops HTTP, commits what is pending and closes the database. Idempotent. */
  close(): Promise<void>;
}

function requireSecret(value: string | undefined, name: string): string {
  if (value === undefined) throw new Error(`${name} is not resolved: call resolveSecrets(config) first`);
  return value;
}

/**
 * Builds the whole chat server — HTTP routes, Socket.IO gateway, store — with nothing listening yet.
 * @example
 * const server = await createChatServer({ config });
 * const { port } = await server.listen();
 */
export async function createChatServer(options: ChatServerOptions): Promise<ChatServer> {
  const { config } = options;
  const logger = options.logger ?? createLogger(config.logLevel);
  const now = options.clock ?? Date.now;
  // Gauges read the registry and workers at scrape time; both exist before the first scrape.
  const metrics = new Metrics({
    sockets: () => registry.connectionCount,
    users: () => registry.userCount,
    workers: () => workers.size,
    webhookOutbox: () => store.outboxStats(),
    now,
  });
  const backgroundError = createBackgroundErrorReporter(logger, metrics);
  const store =
    options.store ??
    new SqliteStore({
      file: join(config.dataDir, "chat.db"),
      sync: config.dbSync,
      fileUrl,
      now,
      onCommit: (ms, count) => metrics.committed(ms, count),
      onBackgroundError: backgroundError,
    });
  // A store opened before the server (PostgreSQL) reports its commits to this server's metrics.
  if (options.store) options.store.observeCommits?.((ms, count) => metrics.committed(ms, count));
  const webhookEndpoints = new WebhookEndpoints(store, now, () => webhooks.wake());
  await webhookEndpoints.configure(config.webhook);
  const webhooks = new WebhookSender({
    store,
    now,
    onBackgroundError: backgroundError,
    onAttempt: (status) => metrics.webhookAttempt(status),
    maxAttempts: config.webhookMaxAttempts,
    retentionMs: config.webhookRetentionMs,
    ...options.webhookSender,
  });
  // A committed event is attempted at once, not at the next poll (events committed by other nodes wait for it).
  store.observeDeliveries(() => webhooks.wake());
  webhooks.start();
  /** The webhook event of a presence change (the registry calls once per change in the whole cluster). */
  const presenceHook = (type: "user.online" | "user.offline", userId: string, at: number): Promise<void> =>
    store.recordEvent({ type, at, data: { userId, at } });
  const presenceHookFailed = (type: string, userId: string) => (err: unknown) =>
    backgroundError("webhook", err, { event: type, userId });
  if (!options.cluster) {
    // A single node killed (kill -9, a power loss) never wrote the offline (nor the last seen) of the users it
    // had online: say it now, before anyone can connect. A node that stops cleanly writes both (close, below).
    const at = now();
    for (const userId of await store.usersLeftOnline()) {
      await presenceHook("user.offline", userId, at);
      await store.setLastSeen(userId, at);
    }
  }
  const tokens = createTokenService(config);
  const originAllowed = createOriginCheck(config);
  // One notion of the client's address for HTTP (`request.ip`) and the Socket.IO handshake.
  const proxyTrust = createProxyTrust(config.trustProxy);
  const cluster = options.cluster;
  const limiters = options.limiters ?? cluster?.limiters ?? memoryLimiters;
  const startedAt = now();
  const budget = new ConnectionBudget(config.rateLimitConnectionsPerMin, proxyTrust, limiters);
  const passwords = new PasswordHasher({ logN: config.scryptLogN });
  let accepting = true;

  const app: FastifyInstance = Fastify({
    // pino's Logger carries more than FastifyBaseLogger declares; fastify uses only the base part.
    loggerInstance: logger as FastifyBaseLogger,
    // Fastify's own request lines would carry the query string; the onResponse hook logs the path only.
    logController: new LogController({ disableRequestLogging: true }),
    // A function, not a hop count: fastify 5 ignores X-Forwarded-For for a number (it cannot check the peer).
    trustProxy: proxyTrust ?? false,
    bodyLimit: 1024 * 1024,
    forceCloseConnections: true,
    keepAliveTimeout: config.idleConnectionTimeoutMs,
  });
  // A request must send its headers within the idle timeout too (slow headers hold a descriptor as well).
  app.server.headersTimeout = config.idleConnectionTimeoutMs;
  installErrorHandling(app);
  // Form bodies for the push-center compatible `POST /send`; no plugin needed for one flat form.
  app.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string" }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
  await app.register(helmet, {
    contentSecurityPolicy: {
      directives: {
        "img-src": ["'self'", "data:", "blob:"],
        "connect-src": ["'self'"],
        // Served over plain HTTP on a LAN address, this would make browsers fetch the page's scripts over
        // https and show a blank page; TLS is the proxy's business (see the README's nginx section).
        "upgrade-insecure-requests": null,
      },
    },
  });
  await app.register(multipart);
  // CORS to the same origins the Socket.IO handshake accepts; other browser origins get no CORS headers.
  await app.register(cors, {
    delegator: async (request: FastifyRequest) => ({
      origin: originAllowed(request.headers.origin, request.headers.host),
      methods: ["GET", "POST"],
      allowedHeaders: ["Authorization", "Content-Type"],
      maxAge: 600,
    }),
  });
  app.addHook("onRequest", async (request, reply) => {
    if (!accepting) return sendError(reply, "UNAVAILABLE", "server is shutting down");
    const origin = request.headers.origin;
    if (origin !== undefined && request.method !== "GET" && !originAllowed(origin, request.headers.host)) {
      return sendError(reply, "FORBIDDEN", "origin not allowed");
    }
  });
  app.addHook("onResponse", async (request, reply) => {
    // The path only: query strings may carry tokens or pushed messages.
    request.log.info({ method: request.method, path: request.url.split("?")[0], status: reply.statusCode }, "request");
  });

  const io: ChatIo = new Server(app.server, {
    serveClient: false,
    ...(cluster ? { adapter: cluster.adapter } : {}),
    maxHttpBufferSize: config.maxFrameBytes,
    perMessageDeflate: false,
    pingInterval: config.pingIntervalMs,
    pingTimeout: config.pingTimeoutMs,
    // An Engine.IO session that has not connected its namespace by then is closed.
    connectTimeout: config.connectTimeoutMs,
    // Runs before engine.io creates a session: the per-address budget counts sessions, connected or not.
    allowRequest: (request, callback) => {
      if (!originAllowed(request.headers.origin, request.headers.host)) return callback("origin not allowed", false);
      budget.admitSession(request).then(
        (admitted) => callback(admitted ? null : "too many connections", admitted),
        (error: unknown) => {
          logger.error({ err: error }, "connection budget failed");
          callback("unavailable", false);
        },
      );
    },
    cors: {
      origin: (origin, callback) => callback(null, originAllowed(origin, undefined)),
    },
  });

  // A cluster adapter (socket.io-adapter's ClusterAdapter) names itself by `uid`; the base type does not say so.
  if (cluster) await cluster.subscribed((io.of("/").adapter as unknown as { uid: string }).uid);
  // After Socket.IO attached: engine.io takes the server's `request` listeners over, and only passes it the
  // requests that are not its own.
  closeSilentConnections(app.server, config.idleConnectionTimeoutMs);
  closeOversizedPolling(io);

  const delivery = new Delivery(io, {
    cluster: cluster !== undefined,
    ...(cluster ? { linked: () => cluster.linked(), floor: await store.newestMessageId() } : {}),
    onDelivered: (sockets) => metrics.delivered(sockets),
    onClusterTimeout: (err) => backgroundError("cluster", err),
  });
  const writeBacklog = coalesceWrites(io, {
    maxPendingBytes: config.maxSocketBufferBytes,
    onError: (err: unknown) => logger.error({ err }, "socket write failed; connection closed"),
    onOverflow: (pendingBytes, transport) => {
      logger.warn(
        { pendingBytes, transport },
        "disconnected a slow consumer: unsent output over MAX_SOCKET_BUFFER_BYTES",
      );
    },
  });

  const registry = new ConnectionRegistry({
    graceMs: config.presenceGraceMs,
    now,
    cluster: cluster?.presence,
    onError: (err) => backgroundError("cluster-presence", err),
    onOnline: (userId, rooms) => {
      tellFollowers(userId, true);
      presenceHook("user.online", userId, now()).catch(presenceHookFailed("user.online", userId));
      announce("online", userId, rooms).catch((err: unknown) =>
        backgroundError("presence", err, { notice: "online", userId }),
      );
    },
    onOffline: (userId, lastSeenAt) => {
      tellFollowers(userId, false, lastSeenAt);
      presenceHook("user.offline", userId, lastSeenAt).catch(presenceHookFailed("user.offline", userId));
      Promise.all([store.setLastSeen(userId, lastSeenAt), announce("offline", userId)]).catch((err: unknown) =>
        backgroundError("presence", err, { notice: "offline", userId }),
      );
    },
  });
  /** `presence` to the sockets that subscribed to this user, at the moments of the online/offline notices. */
  const tellFollowers = (userId: string, online: boolean, lastSeenAt?: number) =>
    delivery.presence(presenceEvent(userId, online, lastSeenAt));
  const announce = createPresenceNotifier(delivery, store, config.presenceRoomLimit, now);
  const isOnline = (userIds: readonly string[]) => registry.isOnline(userIds);
  const filesDir = join(config.dataDir, "files");
  const blobs = options.blobs ?? new DiskBlobs(filesDir);
  const files = new FileService({
    store,
    blobs,
    quotaBytes: config.uploadQuotaBytes,
    orphanTtlMs: config.uploadOrphanTtlMs,
    now,
    onBackgroundError: backgroundError,
  });
  files.start();
  const messages = new MessageService(delivery, store, {
    now,
    editWindowMs: config.editWindowMs,
    files,
    events: { accepted: (message) => metrics.messageAccepted(message) },
  });
  const conversations = new ConversationService(delivery, store, now, cluster?.typing);
  const users = new UserService(delivery, store, isOnline, {
    url: fileUrl,
    releaseIfUnreferenced: (fileId) => files.releaseIfUnreferenced(fileId),
  });
  const rooms = new RoomService(delivery, store, now, isOnline, config.maxRoomsPerUser);
  const nsp = io.of("/");
  const workers = new WorkerManager({
    onlineSockets: (roomId) => nsp.adapter.rooms.get(roomChannel(roomId))?.size ?? 0,
    publish: async (roomId, content) => (await messages.sendSystem({ room: roomId }, content)).message,
    logger,
    now,
    idleGraceMs: config.presenceGraceMs,
    onBackgroundError: backgroundError,
    ...(cluster
      ? {
          cluster: {
            leases: cluster.leases,
            nodeId: cluster.nodeId,
            roomSockets: (roomId: string) => delivery.countSockets([roomChannel(roomId)]),
          },
        }
      : {}),
  });
  // Workers follow their room's presence through the adapter's own events: no polling.
  nsp.adapter.on("join-room", (channel: string) => {
    if (channel.startsWith("r:")) workers.roomOccupied(channel.slice(2));
  });
  nsp.adapter.on("delete-room", (channel: string) => {
    if (channel.startsWith("r:")) workers.roomEmpty(channel.slice(2));
  });
  const nodes = nodeDirectory(
    io,
    () => ({
      id: cluster?.nodeId ?? config.nodeId,
      connections: registry.connectionCount,
      startedAt,
      messages: metrics.acceptedCount,
    }),
    cluster !== undefined,
  );
  const hub = new ChatHub(io, store, messages, delivery, workers, nodes);
  const accounts = new AccountService({
    store,
    tokens,
    passwords,
    delivery,
    now,
    socketAccess: (socketId) => nsp.sockets.get(socketId)?.data,
    onBackgroundError: backgroundError,
  });
  accounts.start();
  // `system` is the admin key's actor in moderation and the audit log (no user can be `system`).
  const moderationAdmins = new Set([...config.adminUsers, SYSTEM_USER_ID]);
  const moderation = new ModerationService(delivery, store, messages, { now, adminUsers: moderationAdmins, files });
  const handlers = {
    ...createHandlerTable({ messages, rooms, conversations, users, delivery, accounts }),
    ...createModerationHandlers(moderation),
  };
  attachGateway(io, {
    limiters,
    backlogOf: (connection) => writeBacklog.of(connection),
    config,
    store,
    tokens,
    registry,
    budget,
    handlers,
    logger,
    now,
    accepting: () => accepting,
    reseatInLobby: (userId) => rooms.reseatInLobby(userId, (err) => backgroundError("rooms", err, { userId })),
    addressOf: (request) => clientAddress(request, proxyTrust),
    observe: (event, seconds, code) => {
      if (code !== undefined) metrics.rejected(code);
      // Only the contract's events become label values: a client can send any event name.
      if (code !== "RATE_LIMITED" && Object.hasOwn(handlers, event)) metrics.acked(event, seconds);
    },
  });

  const authDeps = { config, store, tokens, now, limiters, accounts };
  registerAuthRoutes(app, { ...authDeps, passwords });
  registerFileRoutes(app, { ...authDeps, blobs, tmpDir: join(filesDir, "tmp"), files });
  registerPushRoutes(app, { hub, pushApiKey: requireSecret(config.pushApiKey, "PUSH_API_KEY"), metrics });
  const adminAccess = { config, store, tokens, now, adminApiKey: requireSecret(config.adminApiKey, "ADMIN_API_KEY") };
  registerAdminRoutes(app, { ...adminAccess, hub, metrics });
  registerAdminContentRoutes(app, { ...adminAccess, hub, moderation });
  registerAdminAccountRoutes(app, {
    ...adminAccess,
    accounts,
    delivery,
    isOnline: (ids) => registry.isOnline(ids),
  });
  registerWebhookRoutes(app, {
    endpoints: webhookEndpoints,
    authorize: async (request) => {
      await requireAdmin(request, adminAccess);
    },
  });
  app.get("/healthz", async () => ({ status: "ok" }));
  const version = packageVersion();
  app.get("/api/version", async () => ({ version }));
  registerApiDocs(app, API_ROUTES, version);
  const storeReady = options.storeReady ?? (async () => store.isOpen());
  app.get("/readyz", async (_request, reply) => {
    if (!accepting) return sendError(reply, "UNAVAILABLE", "shutting down");
    if (cluster && !cluster.ready()) return sendError(reply, "UNAVAILABLE", "redis unreachable");
    if (!(await storeReady().catch(() => false))) return sendError(reply, "UNAVAILABLE", "database unreachable");
    return { status: "ready" };
  });
  const root = projectRoot();
  const built = webClientDir(root);
  await app.register(fastifyStatic, {
    root: existsSync(join(built, "index.html")) ? built : join(root, "web", "placeholder"),
    index: "index.html",
    wildcard: false,
  });
  registerAdminPage(app);

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      accepting = false;
      await workers.close();
      accounts.close();
      delivery.shutdownNotice();
      // Whoever is online here was last seen now: their offline timers will not fire (in a cluster, the node
      // that claims their offline later records it again, unless they came back elsewhere).
      const online = registry.onlineUsers();
      const at = now();
      io.local.disconnectSockets(true);
      await Promise.all(online.map((userId) => store.setLastSeen(userId, at)));
      // One node: their offline timers will not fire, so the webhook says it now (in a cluster, whichever node
      // claims their due offline does).
      if (!cluster) {
        await Promise.all(
          online.map((userId) =>
            presenceHook("user.offline", userId, at).catch(presenceHookFailed("user.offline", userId)),
          ),
        );
      }
      await registry.close();
      conversations.close();
      delivery.close();
      // HTTP first: fastify's forceCloseConnections ends stalled downloads and keep-alive connections, which
      // io.close() (it calls httpServer.close and waits) would otherwise wait on for ever.
      await app.close();
      await io.close();
      await files.close();
      await webhooks.close();
      await store.close();
      await cluster?.close();
    })());

  return {
    config,
    app,
    http: app.server,
    io,
    store,
    tokens,
    messages,
    conversations,
    rooms,
    registry,
    delivery,
    passwords,
    hub,
    workers,
    files,
    blobs,
    metrics,
    backgroundError,
    webhooks,
    async listen() {
      await app.listen({ port: config.port, host: config.host });
      return app.server.address() as AddressInfo;
    },
    close,
  };
}
