import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import jwt from "jsonwebtoken";
import { io as ioClient, type Socket } from "socket.io-client";
import type { Result } from "../../shared/errors.js";
import type {
  AckData,
  ClientEventName,
  ClientToServerEvents,
  EventPayload,
  ServerToClientEvents,
} from "../../shared/events.js";
import type { Message, SessionInfo, StoredMessage } from "../../shared/schemas.js";
import { createChatServer, type ChatServer } from "../../server/app.js";
import { loadConfig, type Config } from "../../server/config.js";
import { startCluster } from "./cluster.js";
import { createTestDatabase, type TestDatabase } from "./services.js";

/** The typed client socket. */
export type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export const TEST_SECRET = "test-secret-that-is-at-least-32-bytes-long!";
export const PUSH_KEY = "push-key-that-is-at-least-32-bytes-long-ok";
export const ADMIN_KEY = "admin-key-that-is-at-least-32-bytes-long-ok";

const cleanups: (() => Promise<void> | void)[] = [];

/** Runs every registered cleanup (sockets first, then servers, then temp dirs); call in `afterEach`. */
export async function cleanup(): Promise<void> {
  while (cleanups.length > 0) await cleanups.pop()!();
}

/** A fresh temp data directory, removed at cleanup. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "chat-test-"));
  cleanups.unshift(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Test configuration: fast password hashing, short presence grace, fixed secrets, silent logs. */
export function testConfig(env: Record<string, string> = {}, dataDir = tempDir()): Config {
  return loadConfig({
    PORT: "0",
    HOST: "127.0.0.1",
    DATA_DIR: dataDir,
    LOG_LEVEL: "silent",
    JWT_SECRET: TEST_SECRET,
    PUSH_API_KEY: PUSH_KEY,
    ADMIN_API_KEY: ADMIN_KEY,
    SCRYPT_LOG_N: "14",
    PRESENCE_GRACE_MS: "150",
    RATE_LIMIT_AUTH_PER_MIN: "1000",
    RATE_LIMIT_CONNECTIONS_PER_MIN: "10000",
    RATE_LIMIT_EVENTS_PER_10S: "10000",
    ...env,
  });
}

/** A running test server: one node, or the first of a cluster's nodes. */
export interface TestServer {
  server: ChatServer;
  config: Config;
  url: string;
  /** Every node's URL (one for a single node); `connect` spreads clients over them. */
  urls: string[];
  /** Every node (`server` is the first). */
  servers?: ChatServer[];
  /** The PostgreSQL database of a test cluster (TEST_NODES > 1). */
  databaseUrl?: string;
  /** Stops the server (idempotent). */
  stop(): Promise<void>;
}

/**
 * Nodes each test server has: `TEST_NODES=2` runs a file's tests against two nodes sharing Redis and the
 * store, with its clients spread over both (see `connect`).
 */
export const TEST_NODES = Number(process.env["TEST_NODES"] ?? "1");

/** The PostgreSQL database of each DATA_DIR a test cluster ran on (TEST_NODES > 1). */
const clusterDatabases = new Map<string, TestDatabase>();

/** Starts the real server on 127.0.0.1 and a free port (or TEST_NODES nodes), stopped at cleanup. */
export async function startServer(env: Record<string, string> = {}, dataDir?: string): Promise<TestServer> {
  if (TEST_NODES > 1) {
    const shared = dataDir ?? tempDir();
    const configFor = (index: number) => testConfig({ NODE_ID: `node-${index}`, ...env }, shared);
    // A server started again on the same DATA_DIR (a restart) finds the same database, as a node would.
    let database = clusterDatabases.get(shared);
    if (!database) {
      const created = await createTestDatabase();
      clusterDatabases.set(shared, created);
      cleanups.unshift(async () => {
        clusterDatabases.delete(shared);
        await created.drop();
      });
      database = created;
    }
    const cluster = await startCluster(TEST_NODES, configFor, database);
    cleanups.push(cluster.stop);
    const urls = cluster.nodes.map((node) => node.url);
    const servers = cluster.nodes.map((node) => node.server);
    return {
      server: servers[0]!,
      config: configFor(0),
      url: urls[0]!,
      urls,
      servers,
      databaseUrl: database.url,
      stop: cluster.stop,
    };
  }
  const config = testConfig(env, dataDir);
  const server = await createChatServer({ config });
  const address = await server.listen();
  const stop = () => server.close();
  cleanups.push(stop);
  const url = `http://127.0.0.1:${address.port}`;
  return { server, config, url, urls: [url], stop };
}

/** The server side of a client's socket, on whichever node it connected to. */
export function serverSocketOf(server: TestServer, socketId: string) {
  for (const node of server.servers ?? [server.server]) {
    const socket = node.io.of("/").sockets.get(socketId);
    if (socket) return socket;
  }
  return undefined;
}

/**
 * What a server holds of uploads: the ids whose bytes are stored (on disk or in the database, wherever its
 * blobs are) and, as `tmp/<name>`, anything left in the upload temp dir on disk. Sorted.
 */
export async function storedUploads(server: Pick<TestServer, "server" | "config">): Promise<string[]> {
  const tmp = join(server.config.dataDir, "files", "tmp");
  const temps = existsSync(tmp) ? readdirSync(tmp).map((name) => `tmp/${name}`) : [];
  return [...(await server.server.blobs.list(10_000)), ...temps].sort();
}

/** Which node the next client of a test server connects to: round robin over its nodes. */
const nextNode = new WeakMap<TestServer, number>();

/** The URL the next client connects to (the one helper that spreads clients over the nodes). */
export function nodeUrl(server: TestServer): string {
  const index = nextNode.get(server) ?? 0;
  nextNode.set(server, index + 1);
  return server.urls[index % server.urls.length]!;
}

/** Signs a token as an external issuer sharing the secret would. */
export function signToken(sub: string, options: jwt.SignOptions & { name?: string; secret?: string } = {}): string {
  const { name, secret = TEST_SECRET, ...signOptions } = options;
  return jwt.sign(name === undefined ? {} : { name }, secret, {
    algorithm: "HS256",
    expiresIn: 600,
    subject: sub,
    ...signOptions,
  });
}

/** A connected client and the `session` it received. */
export interface Connected {
  socket: ClientSocket;
  session: SessionInfo;
  /** Every `message` event received so far, in order. */
  received: Message[];
}

/** Opens a socket (websocket transport, no reconnection) that is closed at cleanup. */
export function openSocket(url: string, token: unknown, options: Record<string, unknown> = {}): ClientSocket {
  const socket: ClientSocket = ioClient(url, {
    auth: { token },
    transports: ["websocket"],
    reconnection: false,
    forceNew: true,
    ...options,
  });
  cleanups.unshift(() => {
    socket.disconnect();
  });
  return socket;
}

/** Connects as `userId` (or with a given token) and waits for its `session`. */
export async function connect(server: TestServer, userIdOrToken: { token: string } | string): Promise<Connected> {
  const token = typeof userIdOrToken === "string" ? signToken(userIdOrToken) : userIdOrToken.token;
  const socket = openSocket(nodeUrl(server), token);
  const received: Message[] = [];
  socket.on("message", (message) => received.push(message));
  const session = await new Promise<SessionInfo>((resolve, reject) => {
    socket.once("session", resolve);
    socket.once("connect_error", reject);
  });
  return { socket, session, received };
}

/** Sends a request and resolves its typed `Result`. */
export async function request<E extends ClientEventName>(
  socket: ClientSocket,
  event: E,
  payload: EventPayload<E>,
): Promise<Result<AckData<E>>> {
  // emitWithAck is typed `any` on a timeout socket; the contract says what comes back.
  const emit = socket.timeout(5000).emitWithAck as (event: string, payload: unknown) => Promise<Result<AckData<E>>>;
  return emit.call(socket.timeout(5000), event, payload);
}

/** Sends a request that must succeed and returns its data. */
export async function ok<E extends ClientEventName>(
  socket: ClientSocket,
  event: E,
  payload: EventPayload<E>,
): Promise<AckData<E>> {
  const result = await request(socket, event, payload);
  if (!result.ok) throw new Error(`${event} failed: ${result.error.code} ${result.error.message}`);
  return result.data;
}

/** Resolves with the next event of that name (or rejects after `ms`). */
export function nextEvent<E extends keyof ServerToClientEvents>(
  socket: ClientSocket,
  event: E,
  ms = 5000,
): Promise<Parameters<ServerToClientEvents[E]>[0]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${ms} ms`)), ms);
    socket.once(event, ((value: Parameters<ServerToClientEvents[E]>[0]) => {
      clearTimeout(timer);
      resolve(value);
    }) as never);
  });
}

/** Waits until a server-side condition holds (e.g. a disconnect was processed), failing after `ms`. */
export async function until(predicate: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error("condition did not become true in time");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Waits until `predicate` holds for something in `connected.received`. */
export async function waitForMessage(
  connected: Connected,
  predicate: (message: Message) => boolean,
  ms = 5000,
): Promise<Message> {
  await until(() => connected.received.some(predicate), ms).catch(() => {
    throw new Error("expected message did not arrive");
  });
  return connected.received.find(predicate)!;
}

/**
 * Sends a lobby message from `sender` and waits until every one of `receivers` got it. A socket delivers in
 * id order, so anything sent before the barrier has reached them by then: a message absent after the barrier
 * was never going to arrive.
 */
export async function barrier(sender: Connected, receivers: Connected[]): Promise<StoredMessage> {
  const marker = await ok(sender.socket, "message:send", {
    messageType: "group",
    mediaType: "text",
    to: "lobby",
    content: "barrier",
  });
  await Promise.all(receivers.map((receiver) => waitForMessage(receiver, (m) => "id" in m && m.id === marker.id)));
  return marker;
}

/** The stored messages among what a client received. */
export const storedOnly = (messages: Message[]): StoredMessage[] =>
  messages.filter((m): m is StoredMessage => "id" in m);
