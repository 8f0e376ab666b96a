/*
 * Helpers for the conversation-state tests (contract section 8): clients that record every section-8 event
 * from their first packet on, a server whose clock the test sets, uploads, and refusal checks. Kept beside
 * test/support/harness.ts, which it builds on, rather than in it.
 */
import { expect } from "vitest";
import { createChatServer } from "../server/app.js";
import type { ErrorCode, Result } from "../shared/errors.js";
import type { Receipt, SessionInfo, StoredMessage, TypingNotice, UploadedFile } from "../shared/schemas.js";
import type { Message } from "../shared/schemas.js";
import {
  cleanup,
  nodeUrl,
  ok,
  openSocket,
  serverSocketOf,
  signToken,
  testConfig,
  type ClientSocket,
  type Connected,
  type TestServer,
} from "./support/harness.js";

/** A connected client that records, from its first packet, every event section 8 adds. */
export interface Client extends Connected {
  /** Every `message:updated` received, in order. */
  updated: StoredMessage[];
  /** Every `receipt` received, in order. */
  receipts: Receipt[];
  /** Every `typing` received, in order. */
  typing: TypingNotice[];
  /** The name of every event received after `session`, in order. */
  events: string[];
}

/**
 * Connects as `userId` (named `name` through the token's `name` claim, when given), with every listener in
 * place before the first packet can arrive, and waits for the `session`.
 */
export async function client(server: TestServer, userId: string, name?: string): Promise<Client> {
  const socket: ClientSocket = openSocket(nodeUrl(server), signToken(userId, name === undefined ? {} : { name }));
  const received: Message[] = [];
  const updated: StoredMessage[] = [];
  const receipts: Receipt[] = [];
  const typing: TypingNotice[] = [];
  const events: string[] = [];
  socket.on("message", (message) => received.push(message));
  socket.on("message:updated", (message) => updated.push(message));
  socket.on("receipt", (receipt) => receipts.push(receipt));
  socket.on("typing", (notice) => typing.push(notice));
  socket.onAny((event: string) => {
    if (event !== "session") events.push(event);
  });
  const session = await new Promise<SessionInfo>((resolve, reject) => {
    socket.once("session", resolve);
    socket.once("connect_error", reject);
  });
  return { socket, session, received, updated, receipts, typing, events };
}

/** A `message:send` payload of a text message. */
export const text = (to: string, content: string, messageType: "single" | "group" = "single", replyTo?: number) =>
  ({ messageType, mediaType: "text", to, content, ...(replyTo === undefined ? {} : { replyTo }) }) as const;

/** Sends a text message that must be accepted: a single message to a user, or a group message to a room. */
export function say(
  from: Connected,
  to: string,
  content: string,
  messageType: "single" | "group" = "single",
  replyTo?: number,
): Promise<StoredMessage> {
  return ok(from.socket, "message:send", text(to, content, messageType, replyTo));
}

/** Expects a refused request with this error code. */
export function expectRefused(result: Result<unknown>, code: ErrorCode): void {
  expect(result).toMatchObject({ ok: false, error: { code } });
}

/** Waits until a list that a client fills holds `count` entries (fails after `ms`). */
export async function untilLength(list: unknown[], count: number, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (list.length < count) {
    if (Date.now() > deadline) throw new Error(`expected ${count} entries, have ${list.length}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A test server whose clock only moves when the test says so. */
export interface ClockedServer extends TestServer {
  /** The server's current time, ms since the epoch. */
  now(): number;
  /** Sets the server's clock. */
  setNow(ms: number): void;
}

const ownServers: (() => Promise<void>)[] = [];

/**
 * Builds the real server with an injected clock, starting at the real time, on 127.0.0.1 and a free port.
 * Stopped by `finish` (before the harness removes its data directory).
 */
export async function startClockedServer(env: Record<string, string> = {}): Promise<ClockedServer> {
  let now = Date.now();
  const config = testConfig(env);
  const server = await createChatServer({ config, clock: () => now });
  const address = await server.listen();
  const stop = () => server.close();
  ownServers.push(stop);
  const url = `http://127.0.0.1:${address.port}`;
  return {
    server,
    config,
    url,
    urls: [url],
    stop,
    now: () => now,
    setNow: (ms) => {
      now = ms;
    },
  };
}

/** Stops the clocked servers, then runs the harness cleanup; use as `afterEach(finish)`. */
export async function finish(): Promise<void> {
  while (ownServers.length > 0) await ownServers.pop()!();
  await cleanup();
}

/**
 * Closes a client socket and resolves once the server has handled the close (its `disconnect` listeners, the
 * gateway's among them, have run).
 */
export async function disconnect(server: TestServer, connected: Connected): Promise<void> {
  const serverSocket = serverSocketOf(server, connected.socket.id!);
  if (!serverSocket) throw new Error("the server does not know this socket");
  const gone = new Promise<void>((resolve) => serverSocket.once("disconnect", () => resolve()));
  connected.socket.disconnect();
  await gone;
}

/** A valid 1×1 PNG. */
export const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==",
  "base64",
);

/** Uploads bytes as `userId` and returns the upload's answer. */
export async function upload(server: TestServer, userId: string, bytes: Buffer, name: string): Promise<UploadedFile> {
  const form = new FormData();
  form.append("file", new Blob([new Uint8Array(bytes)]), name);
  const response = await fetch(`${server.url}/api/files`, {
    method: "POST",
    body: form,
    headers: { Authorization: `Bearer ${signToken(userId)}` },
  });
  expect(response.status).toBe(201);
  return (await response.json()) as UploadedFile;
}
