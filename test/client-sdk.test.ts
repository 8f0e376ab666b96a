import { createServer, connect as tcpConnect, type Server as TcpServer, type Socket as TcpSocket } from "node:net";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import {
  createChatClient,
  login,
  register,
  type ChatClient,
  type ChatClientOptions,
  type ConnectionState,
} from "../client/index.js";
import type { ErrorInfo } from "../shared/errors.js";
import type { PresenceMessage, StoredMessage } from "../shared/schemas.js";
import { PUSH_KEY, cleanup, connect, ok, signToken, startServer, type TestServer } from "./support/harness.js";

const clients: ChatClient[] = [];
const proxies: TcpProxy[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) {
    client.close();
    client.removeAllListeners();
  }
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
  await cleanup();
});

/** Quick reconnects so tests do not wait on Socket.IO's default one-second backoff. */
const FAST = { reconnectionDelay: 20, reconnectionDelayMax: 100, transports: ["websocket"] };

/** A client whose every stored message, presence notice and state change is recorded. */
interface Recorded {
  client: ChatClient;
  messages: StoredMessage[];
  presence: PresenceMessage[];
  states: ConnectionState[];
  errors: ErrorInfo[];
  /** Resolves once `predicate` holds for the recorded messages. */
  received(predicate: (messages: StoredMessage[]) => boolean, ms?: number): Promise<void>;
  /** Resolves on the next change to `state`. */
  reaches(state: ConnectionState, ms?: number): Promise<void>;
}

function chatClient(url: string, userId: string, options: Partial<ChatClientOptions> = {}): Recorded {
  const client = createChatClient({ url, token: signToken(userId), socket: FAST, ...options });
  clients.push(client);
  const recorded: Recorded = {
    client,
    messages: [],
    presence: [],
    states: [client.state],
    errors: [],
    received: (predicate, ms = 5000) =>
      new Promise((resolve, reject) => {
        if (predicate(recorded.messages)) return resolve();
        const timer = setTimeout(() => {
          off();
          reject(new Error(`expected messages did not arrive; got ${recorded.messages.map((m) => m.id).join(",")}`));
        }, ms);
        const off = client.on("message", () => {
          if (!predicate(recorded.messages)) return;
          clearTimeout(timer);
          off();
          resolve();
        });
      }),
    reaches: (state, ms = 5000) =>
      new Promise((resolve, reject) => {
        if (client.state === state) return resolve();
        const timer = setTimeout(() => {
          off();
          reject(new Error(`state ${state} not reached; states: ${recorded.states.join(" > ")}`));
        }, ms);
        const off = client.on("state", (next) => {
          if (next !== state) return;
          clearTimeout(timer);
          off();
          resolve();
        });
      }),
  };
  // Registered before any waiter of `received`, so a waiter sees the message that woke it.
  client.on("message", (message) => recorded.messages.push(message));
  client.on("presence", (notice) => recorded.presence.push(notice));
  client.on("state", (state) => recorded.states.push(state));
  client.on("error", (error) => recorded.errors.push(error));
  return recorded;
}

const hasIds = (ids: number[]) => (messages: StoredMessage[]) => {
  const got = new Set(messages.map((m) => m.id));
  return ids.every((id) => got.has(id));
};

const idsOf = (messages: StoredMessage[]) => messages.map((m) => m.id);

/** A TCP proxy in front of the server that can cut every connection and refuse new ones: a network outage. */
interface TcpProxy {
  url: string;
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

async function startProxy(target: () => number): Promise<TcpProxy> {
  const open = new Set<TcpSocket>();
  let up = true;
  const server: TcpServer = createServer((downstream) => {
    if (!up) return void downstream.destroy();
    const upstream = tcpConnect(target(), "127.0.0.1");
    for (const [a, b] of [
      [downstream, upstream],
      [upstream, downstream],
    ] as const) {
      open.add(a);
      a.pipe(b);
      a.on("error", () => b.destroy());
      a.on("close", () => {
        open.delete(a);
        b.destroy();
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const proxy: TcpProxy = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    cut() {
      up = false;
      for (const socket of open) socket.destroy();
    },
    restore() {
      up = true;
    },
    close: () =>
      new Promise<void>((resolve) => {
        proxy.cut();
        server.close(() => resolve());
      }),
  };
  proxies.push(proxy);
  return proxy;
}

const portOf = (server: TestServer) => Number(new URL(server.url).port);

const lobbyText = (content: string) => ({ messageType: "group", mediaType: "text", to: "lobby", content }) as const;

async function push(server: TestServer, user: string, content: string): Promise<StoredMessage> {
  const response = await fetch(`${server.url}/api/push`, {
    method: "POST",
    headers: { Authorization: `Bearer ${PUSH_KEY}`, "Content-Type": "application/json" },
    body: JSON.stringify({ to: { user }, content }),
  });
  expect(response.status).toBe(202);
  return ((await response.json()) as { message: StoredMessage }).message;
}

describe("requests", () => {
  it("answers a request with a typed Result: data on success, the server's error code on refusal", async () => {
    const server = await startServer();
    const { client } = chatClient(server.url, "alice");
    await client.whenOnline();
    const rooms = await client.request("room:list", {});
    expect(rooms.ok && rooms.data.joined.map((room) => room.id)).toEqual(["lobby"]);
    const refused = await client.request("room:join", { roomId: "no-such-room" });
    expect(refused).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
  });

  it("answers UNAVAILABLE when no answer comes in time, and at once while not connected", async () => {
    const server = await startServer();
    const { client } = chatClient(server.url, "alice");
    await client.whenOnline();
    // The server ignores events outside the contract, so this one never gets an answer.
    const unanswered = await client.request("no:such:event" as "room:list", {}, { timeoutMs: 100 });
    expect(unanswered).toMatchObject({ ok: false, error: { code: "UNAVAILABLE" } });
    client.close();
    const offline = await client.request("room:list", {});
    expect(offline).toMatchObject({ ok: false, error: { code: "UNAVAILABLE", message: /not connected/ } });
  });

  it("sends with an idempotency key, so a retry with the same key returns the first message", async () => {
    const server = await startServer();
    const { client } = chatClient(server.url, "alice");
    await client.whenOnline();
    const first = await client.send(lobbyText("once"));
    expect(first.ok && first.data.clientMsgId).toMatch(/^[0-9a-f]{32}$/);
    if (!first.ok) return;
    const again = await client.send({ ...lobbyText("once, retried"), clientMsgId: first.data.clientMsgId });
    expect(again).toEqual(first);
  });

  it("registers and signs in over HTTP, answering CONFLICT for a taken name and UNAUTHORIZED for a wrong password", async () => {
    const server = await startServer();
    const created = await register(server.url, { username: "Dora", password: "correct horse" });
    expect(created).toMatchObject({ ok: true, data: { user: { id: "dora", name: "dora" } } });
    expect(await register(server.url, { username: "dora", password: "another one" })).toMatchObject({
      ok: false,
      error: { code: "CONFLICT" },
    });
    expect(await login(server.url, { username: "dora", password: "wrong password" })).toMatchObject({
      ok: false,
      error: { code: "UNAUTHORIZED" },
    });
    const signedIn = await login(server.url, { username: "DORA", password: "correct horse" });
    expect(signedIn.ok).toBe(true);
    if (!signedIn.ok) return;
    const { client } = chatClient(server.url, "unused", { token: signedIn.data.token });
    await client.whenOnline();
    expect(client.user).toEqual({ id: "dora", name: "dora" });
  });
});

describe("connection state", () => {
  it("goes connecting, online, reconnecting when the network drops, online again, and offline after close", async () => {
    const server = await startServer();
    const proxy = await startProxy(() => portOf(server));
    const alice = chatClient(proxy.url, "alice");
    expect(alice.client.state).toBe("connecting");
    await alice.reaches("online");
    proxy.cut();
    await alice.reaches("reconnecting");
    proxy.restore();
    await alice.reaches("online");
    alice.client.close();
    expect(alice.states).toEqual(["connecting", "online", "reconnecting", "online", "offline"]);
  });

  it("connects again after close() and catches up what was sent while it was closed", async () => {
    const server = await startServer();
    const bob = await connect(server, "bob");
    const alice = chatClient(server.url, "alice");
    await alice.reaches("online");
    alice.client.close();
    const missed = await ok(bob.socket, "message:send", lobbyText("while closed"));
    alice.client.connect();
    expect(alice.client.state).toBe("reconnecting");
    await alice.received(hasIds([missed.id]));
    await alice.reaches("online");
    expect(alice.states).toEqual(["connecting", "online", "offline", "reconnecting", "online"]);
  });

  it("goes offline with UNAUTHORIZED for a refused token and does not retry", async () => {
    const server = await startServer();
    const refused = chatClient(server.url, "alice", { token: signToken("alice", { secret: "x".repeat(40) }) });
    await refused.reaches("offline");
    expect(refused.errors).toEqual([{ code: "UNAUTHORIZED", message: "unauthorized" }]);
    expect(refused.client.socket.active).toBe(false);
  });
});

describe("lossless catch-up", () => {
  it("starts from session.lastId on its first session: nothing sent before it connected is replayed", async () => {
    const server = await startServer();
    const bob = await connect(server, "bob");
    await ok(bob.socket, "message:send", lobbyText("before alice"));
    const alice = chatClient(server.url, "alice");
    await alice.reaches("online");
    expect(alice.client.cursor).toBe(alice.client.session?.lastId);
    const after = await ok(bob.socket, "message:send", lobbyText("after alice"));
    await alice.received(hasIds([after.id]));
    expect(alice.messages.map((m) => m.content)).toEqual(["after alice"]);
  });

  it("a client that was offline while messages were sent receives each exactly once after it reconnects, in order", async () => {
    const server = await startServer();
    const proxy = await startProxy(() => portOf(server));
    // Pages of 4 make the catch-up follow hasMore through several sync requests.
    const alice = chatClient(proxy.url, "alice", { syncPageSize: 4 });
    const syncs: number[] = [];
    alice.client.socket.onAnyOutgoing((event, payload: { after: number }) => {
      if (event === "sync") syncs.push(payload.after);
    });
    const bob = await connect(server, "bob");
    await alice.reaches("online");
    const live = await ok(bob.socket, "message:send", lobbyText("while online"));
    await alice.received(hasIds([live.id]));

    proxy.cut();
    await alice.reaches("reconnecting");
    const missed: StoredMessage[] = [];
    for (let i = 0; i < 5; i += 1) {
      missed.push(await ok(bob.socket, "message:send", lobbyText(`lobby ${i}`)));
      missed.push(
        await ok(bob.socket, "message:send", { ...lobbyText(`direct ${i}`), messageType: "single", to: "alice" }),
      );
    }
    missed.push(await push(server, "alice", "system notice while away"));
    syncs.length = 0;
    proxy.restore();
    // More messages while the client reconnects and catches up: they must neither be lost nor doubled.
    const during = await Promise.all(
      Array.from({ length: 6 }, (_, i) => ok(bob.socket, "message:send", lobbyText(`during ${i}`))),
    );
    const expected = [live, ...missed, ...during].map((m) => m.id).sort((a, b) => a - b);
    await alice.received(hasIds(expected));
    await alice.reaches("online");
    const after = await ok(bob.socket, "message:send", lobbyText("after"));
    await alice.received(hasIds([after.id]));

    expect(idsOf(alice.messages)).toEqual([...expected, after.id]);
    expect(alice.messages.find((m) => m.id === missed.at(-1)!.id)).toMatchObject({
      messageType: "system",
      content: "system notice while away",
    });
    expect(syncs.length).toBeGreaterThanOrEqual(3);
    expect(syncs[0]).toBe(live.id);
  });

  it("hands a message that arrives both live during catch-up and in the sync page to its listeners once", async () => {
    const server = await startServer();
    const proxy = await startProxy(() => portOf(server));
    const alice = chatClient(proxy.url, "alice");
    const bob = await connect(server, "bob");
    await alice.reaches("online");
    // Hold the server's answer to the next sync until the same message has also arrived live.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    server.server.io.on("connection", (socket) => {
      socket.use((packet, next) => (packet[0] === "sync" ? void gate.then(() => next()) : next()));
    });
    proxy.cut();
    await alice.reaches("reconnecting");
    const session = new Promise((resolve) => alice.client.socket.once("session", resolve));
    proxy.restore();
    await session;
    const arrivedLive = new Promise((resolve) => alice.client.socket.once("message", resolve));
    const both = await ok(bob.socket, "message:send", lobbyText("live and synced"));
    expect(await arrivedLive).toMatchObject({ id: both.id });
    release();
    await alice.reaches("online");
    const after = await ok(bob.socket, "message:send", lobbyText("after"));
    await alice.received(hasIds([after.id]));
    expect(idsOf(alice.messages)).toEqual([both.id, after.id]);
  });

  it("passes on an edit made while it was away once, as an update, paging sync by rev", async () => {
    const server = await startServer();
    const proxy = await startProxy(() => portOf(server));
    // One message per page: the edited message sorts after a newer one, so paging by id would go backwards.
    const alice = chatClient(proxy.url, "alice", { syncPageSize: 1 });
    const updates: StoredMessage[] = [];
    alice.client.on("updated", (message) => updates.push(message));
    const bob = await connect(server, "bob");
    await alice.reaches("online");
    const first = await ok(bob.socket, "message:send", lobbyText("frist"));
    await alice.received(hasIds([first.id]));

    proxy.cut();
    await alice.reaches("reconnecting");
    const second = await ok(bob.socket, "message:send", lobbyText("second"));
    const edited = await ok(bob.socket, "message:edit", { id: first.id, content: "first" });
    const third = await ok(bob.socket, "message:send", lobbyText("third"));
    expect(edited.rev).toBeGreaterThan(second.id);
    proxy.restore();
    await alice.received(hasIds([second.id, third.id]));
    await alice.reaches("online");

    const live = await ok(bob.socket, "message:edit", { id: first.id, content: "first!" });
    const after = await ok(bob.socket, "message:send", lobbyText("after"));
    await alice.received(hasIds([after.id]));
    expect(idsOf(alice.messages)).toEqual([first.id, second.id, third.id, after.id]);
    expect(updates.map((m) => [m.id, m.rev, m.content])).toEqual([
      [first.id, edited.rev, "first"],
      [first.id, live.rev, "first!"],
    ]);
    expect(alice.client.cursor).toBe(after.rev);
  });

  it("does not replay a message it sent itself when it catches up after a reconnect", async () => {
    const server = await startServer();
    const proxy = await startProxy(() => portOf(server));
    const alice = chatClient(proxy.url, "alice");
    const bob = await connect(server, "bob");
    await alice.reaches("online");
    const own = await alice.client.send(lobbyText("mine"));
    expect(own.ok).toBe(true);
    proxy.cut();
    await alice.reaches("reconnecting");
    const theirs = await ok(bob.socket, "message:send", lobbyText("theirs"));
    proxy.restore();
    await alice.received(hasIds([theirs.id]));
    await alice.reaches("online");
    expect(alice.messages.map((m) => m.content)).toEqual(["theirs"]);
  });

  it("reconnects by itself after the server shuts down and comes back on the same port, and catches up", async () => {
    const first = await startServer();
    let target = portOf(first);
    const proxy = await startProxy(() => target);
    const alice = chatClient(proxy.url, "alice");
    const notices: string[] = [];
    alice.client.on("notice", (notice) => notices.push(notice.reason));
    await alice.reaches("online");
    const before = await alice.client.send(lobbyText("before restart"));
    expect(before.ok).toBe(true);

    await first.stop();
    await alice.reaches("reconnecting");
    proxy.cut();
    const second = await startServer({ PORT: String(portOf(first)) }, first.config.dataDir);
    target = portOf(second);
    const bob = await connect(second, "bob");
    const missed = [
      await ok(bob.socket, "message:send", lobbyText("sent while alice was away")),
      await push(second, "alice", "for alice only"),
    ];
    proxy.restore();
    await alice.received(hasIds(missed.map((m) => m.id)));
    await alice.reaches("online");

    expect(notices).toEqual(["shutdown"]);
    expect(alice.messages.map((m) => m.content)).toEqual(["sent while alice was away", "for alice only"]);
  });

  it("resumes from a saved cursor: a new client receives what was sent after it, in order", async () => {
    const server = await startServer();
    const bob = await connect(server, "bob");
    const first = chatClient(server.url, "alice");
    await first.reaches("online");
    const seen = await ok(bob.socket, "message:send", lobbyText("seen by the first client"));
    await first.received(hasIds([seen.id]));
    const cursor = first.client.cursor;
    first.client.close();
    const missed = [
      await ok(bob.socket, "message:send", lobbyText("one")),
      await ok(bob.socket, "message:send", { ...lobbyText("two"), messageType: "single", to: "alice" }),
    ];
    const second = chatClient(server.url, "alice", { cursor });
    await second.received(hasIds(missed.map((m) => m.id)));
    expect(second.messages.map((m) => m.content)).toEqual(["one", "two"]);
  });

  it("starts again from lastId when its cursor is beyond what the server has (a reset store)", async () => {
    const server = await startServer();
    const bob = await connect(server, "bob");
    const alice = chatClient(server.url, "alice", { cursor: 10_000 });
    await alice.reaches("online");
    expect(alice.client.cursor).toBe(0);
    const next = await ok(bob.socket, "message:send", lobbyText("first of a new store"));
    await alice.received(hasIds([next.id]));
  });
});

describe("typed events", () => {
  it("emits online and offline notices and room invitations", async () => {
    const server = await startServer();
    const alice = chatClient(server.url, "alice");
    await alice.reaches("online");
    const invited = new Promise((resolve) => alice.client.once("invited", resolve));
    const online = new Promise((resolve) => alice.client.once("presence", resolve));
    const bob = await connect(server, "bob");
    expect(await online).toMatchObject({ messageType: "online", from: "bob" });
    const room = await ok(bob.socket, "room:create", { name: "secret", visibility: "private" });
    await ok(bob.socket, "room:invite", { roomId: room.id, userId: "alice" });
    expect(await invited).toMatchObject({ room: { id: room.id, name: "secret" }, by: "bob" });
    const offline = new Promise((resolve) => alice.client.once("presence", resolve));
    bob.socket.disconnect();
    expect(await offline).toMatchObject({ messageType: "offline", from: "bob" });
  });
});

describe("chat client SDK: room moderation (section 11)", () => {
  it("wraps the moderation requests and emits roomUpdated and roomRemoved", async () => {
    const server = await startServer();
    const alice = chatClient(server.url, "alice");
    const bob = chatClient(server.url, "bob");
    await Promise.all([alice.client.whenOnline(), bob.client.whenOnline()]);
    const room = await ok(alice.client.socket, "room:create", { name: "den" });
    await ok(bob.client.socket, "room:join", { roomId: room.id });
    const updated = new Promise((resolve) => bob.client.once("roomUpdated", resolve));
    const answer = await alice.client.updateRoom(room.id, { topic: "rules" });
    expect(answer).toMatchObject({ ok: true, data: { id: room.id, topic: "rules" } });
    expect(await updated).toMatchObject({ id: room.id, topic: "rules" });
    expect(await alice.client.setRole(room.id, "bob", "moderator")).toEqual({ ok: true, data: {} });
    expect(await alice.client.setRole(room.id, "bob", "member")).toEqual({ ok: true, data: {} });
    expect(await alice.client.mute(room.id, "bob", Date.now() + 60_000, "calm")).toEqual({ ok: true, data: {} });
    expect(await alice.client.unmute(room.id, "bob")).toEqual({ ok: true, data: {} });
    const removed = new Promise((resolve) => bob.client.once("roomRemoved", resolve));
    expect(await alice.client.ban(room.id, "bob", { reason: "bye" })).toEqual({ ok: true, data: {} });
    expect(await removed).toEqual({ roomId: room.id, by: "alice", reason: "bye", kind: "ban" });
    expect(await alice.client.unban(room.id, "bob")).toEqual({ ok: true, data: {} });
    await ok(bob.client.socket, "room:join", { roomId: room.id });
    expect(await alice.client.kick(room.id, "bob")).toEqual({ ok: true, data: {} });
    const audit = await alice.client.roomAudit(room.id, { limit: 3 });
    expect(audit.ok && audit.data.entries.map((e) => e.action)).toEqual(["room.kick", "room.unban", "room.ban"]);
    expect(audit.ok && audit.data.hasMore).toBe(true);
    const deleted = new Promise((resolve) => alice.client.once("roomRemoved", resolve));
    expect(await alice.client.deleteRoom(room.id)).toEqual({ ok: true, data: {} });
    expect(await deleted).toEqual({ roomId: room.id, by: "alice", kind: "deleted" });
  });
});
