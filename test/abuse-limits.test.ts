import { afterEach, describe, expect, it } from "vitest";
import { createChatClient, type ChatClient } from "../client/index.js";
import { createChatServer } from "../server/app.js";
import { createLogger } from "../server/logger.js";
import { MAX_EXPENSIVE_PER_USER, MAX_QUEUED_REQUESTS } from "../server/socket/gateway.js";
import type { StoredMessage } from "../shared/schemas.js";
import { ok, request, signToken, TEST_NODES, testConfig, until } from "./support/harness.js";
import { RawClient } from "./support/raw-client.js";
import { client, finish, say, startClockedServer, type Client } from "./state-support.js";
import { startServer } from "./support/harness.js";

const sdkClients: ChatClient[] = [];
afterEach(async () => {
  for (const sdk of sdkClients.splice(0)) sdk.close();
  await finish();
});

const react = (who: Client, id: number, emoji: string, on = true) =>
  request(who.socket, "message:react", { id, emoji, on });

describe("reactions", () => {
  it("allows 20 distinct keys on a message and answers CONFLICT to a 21st, changing nothing", async () => {
    const server = await startServer();
    const alice = await client(server, "alice");
    const bob = await client(server, "bob");
    const sent = await say(alice, "bob", "react");
    for (let i = 0; i < 20; i += 1) expect((await react(bob, sent.id, `k${i}`)).ok).toBe(true);
    const before = await ok(alice.socket, "history:list", { user: "bob" });
    expect(await react(bob, sent.id, "k20")).toMatchObject({ ok: false, error: { code: "CONFLICT" } });
    expect(await react(alice, sent.id, "k20")).toMatchObject({ ok: false, error: { code: "CONFLICT" } });
    // Joining an existing key, and removing one, still work at the cap.
    expect((await react(alice, sent.id, "k0")).ok).toBe(true);
    expect((await react(bob, sent.id, "k1", false)).ok).toBe(true);
    expect((await react(bob, sent.id, "k20")).ok).toBe(true);
    const after = await ok(alice.socket, "history:list", { user: "bob" });
    expect(Object.keys(after.messages[0]!.reactions!)).toHaveLength(20);
    expect(before.messages[0]!.rev).toBeLessThan(after.messages[0]!.rev);
  });

  it("tells the others the whole message on every toggle, as for an edit: its size bounded by the 20 keys", async () => {
    const server = await startServer();
    const alice = await client(server, "alice");
    const bob = await client(server, "bob");
    const listener = await client(server, "carol");
    const sent = await say(alice, "lobby", "x".repeat(4000), "group");
    const acks: StoredMessage[] = [];
    for (let i = 0; i < 20; i += 1)
      acks.push(await ok(bob.socket, "message:react", { id: sent.id, emoji: `emoji-${i}`, on: true }));
    await until(() => listener.updated.length === 20);
    // Each toggle reaches the others as the message it made, content and every key included (section 8).
    expect(listener.updated).toEqual(acks);
    const full = (await ok(alice.socket, "history:list", { room: "lobby" })).messages.at(-1)!;
    expect(listener.updated.at(-1)).toEqual(full);
    expect(Object.keys(full.reactions!)).toHaveLength(20);
    // The most a toggle can carry: the longest content and 20 keys (a 21st is CONFLICT, above).
    expect(JSON.stringify(full).length).toBeLessThan(4000 + 20 * 60 + 400);
    // Removing the last user of a key drops the key.
    await react(bob, sent.id, "emoji-3", false);
    await until(() => listener.updated.length === 21);
    expect(Object.keys(listener.updated.at(-1)!.reactions!)).not.toContain("emoji-3");
    expect(listener.updated.at(-1)!.content).toBe("x".repeat(4000));
  });

  it("treats __proto__ and constructor as ordinary keys: stored, shown, removed, and a repeat changes nothing", async () => {
    const server = await startServer();
    const alice = await client(server, "alice");
    const bob = await client(server, "bob");
    const sent = await say(alice, "bob", "proto");
    const first = await react(bob, sent.id, "__proto__");
    expect(first.ok).toBe(true);
    const reacted = (first as { data: StoredMessage }).data;
    expect(Object.hasOwn(reacted.reactions!, "__proto__")).toBe(true);
    expect(reacted.reactions!["__proto__"]).toEqual(["bob"]);
    await react(bob, sent.id, "constructor");
    const stored = (await ok(alice.socket, "history:list", { user: "bob" })).messages[0]!;
    expect(Object.keys(stored.reactions!).sort()).toEqual(["__proto__", "constructor"]);
    expect(stored.reactions!["constructor"]).toEqual(["bob"]);
    // A repeat neither bumps rev nor emits.
    await until(() => alice.updated.length === 2);
    const again = await react(bob, sent.id, "__proto__");
    expect((again as { data: StoredMessage }).data.rev).toBe(stored.rev);
    const removed = await react(bob, sent.id, "__proto__", false);
    expect(Object.keys((removed as { data: StoredMessage }).data.reactions!)).toEqual(["constructor"]);
    await until(() => alice.updated.length === 3);
    // The others got the message without the key: `__proto__` was an own key, and is gone as one.
    const update = alice.updated.at(-1)!;
    expect(Object.keys(update.reactions!)).toEqual(["constructor"]);
    expect(Object.hasOwn(alice.updated.at(-2)!.reactions!, "__proto__")).toBe(true);
  });
});

describe("well-formed text and honest names", () => {
  const lone = ["x\ud800y", "x\udc00y", "end\ud83d", "nul\u0000inside"];

  it("refuses content, names and emoji with a lone UTF-16 surrogate or a U+0000, and stores nothing", async () => {
    const server = await startServer();
    const alice = await client(server, "alice");
    const sent = await say(alice, "alice", "fine");
    for (const bad of lone) {
      const refused = { ok: false, error: { code: "INVALID_PAYLOAD" } };
      expect(
        await request(alice.socket, "message:send", {
          messageType: "single",
          mediaType: "text",
          to: "alice",
          content: bad,
        }),
      ).toMatchObject(refused);
      expect(await request(alice.socket, "message:edit", { id: sent.id, content: bad })).toMatchObject(refused);
      expect(await request(alice.socket, "message:react", { id: sent.id, emoji: bad, on: true })).toMatchObject(
        refused,
      );
      expect(await request(alice.socket, "room:create", { name: bad })).toMatchObject(refused);
      expect(await request(alice.socket, "user:update", { name: bad })).toMatchObject(refused);
    }
    // A well-formed pair is fine, and what is acked is what is stored.
    const emoji = await say(alice, "alice", "x\ud83d\ude00y");
    const page = await ok(alice.socket, "history:list", { user: "alice" });
    expect(page.messages.map((m) => m.content)).toEqual(["fine", emoji.content]);
    expect(emoji.content).toBe("x😀y");
    expect((await ok(alice.socket, "room:list", {})).joined).toHaveLength(1);
  });

  it("refuses a display name equal to System (any case) or to another user's id, and keeps the old name", async () => {
    const server = await startServer();
    const alice = await client(server, "alice");
    await client(server, "bob");
    for (const name of ["System", "SYSTEM", "system", " system ", "bob", "BOB"]) {
      expect(await request(alice.socket, "user:update", { name })).toMatchObject({
        ok: false,
        error: { code: "INVALID_PAYLOAD" },
      });
    }
    expect(await ok(alice.socket, "user:update", {})).toMatchObject({ name: "alice" });
    expect(await ok(alice.socket, "user:update", { name: "Alice" })).toMatchObject({ name: "Alice" });
    expect(await ok(alice.socket, "user:update", { name: "Bobby" })).toMatchObject({ name: "Bobby" });
  });

  it("does not take a new user's name claim that is another user's id: the user is named by its id", async () => {
    const server = await startServer();
    await client(server, "bob");
    const mallory = await client(server, "mallory", "bob");
    expect(mallory.session.user).toEqual({ id: "mallory", name: "mallory" });
    const carol = await client(server, "carol", "Carol C.");
    expect(carol.session.user).toEqual({ id: "carol", name: "Carol C." });
  });

  it("does not take a token's name claim of System: the user is named by its id", async () => {
    const server = await startServer();
    const mallory = await client(server, "mallory", "System");
    expect(mallory.session.user).toEqual({ id: "mallory", name: "mallory" });
  });
});

describe("what one user can grow", () => {
  it("lets a user own MAX_ROOMS_PER_USER rooms, even when it creates them in parallel, then answers CONFLICT", async () => {
    const server = await startServer({ MAX_ROOMS_PER_USER: "3" });
    const tabs = await Promise.all([client(server, "alice"), client(server, "alice"), client(server, "alice")]);
    const results = await Promise.all(
      tabs.flatMap((tab, t) => [0, 1].map((i) => request(tab.socket, "room:create", { name: `room ${t}-${i}` }))),
    );
    expect(results.filter((r) => r.ok)).toHaveLength(3);
    expect(results.filter((r) => !r.ok)).toEqual(
      Array.from({ length: 3 }, () =>
        expect.objectContaining({ ok: false, error: expect.objectContaining({ code: "CONFLICT" }) }),
      ),
    );
    expect((await ok(tabs[0]!.socket, "room:list", {})).joined).toHaveLength(4); // lobby + 3
    const bob = await client(server, "bob");
    expect((await request(bob.socket, "room:create", { name: "bob's" })).ok).toBe(true);
  });

  it("keeps a message's 50 newest revisions", async () => {
    const server = await startServer();
    const alice = await client(server, "alice");
    const sent = await say(alice, "alice", "v0");
    for (let i = 1; i <= 55; i += 1) await ok(alice.socket, "message:edit", { id: sent.id, content: `v${i}` });
    const revisions = await ok(alice.socket, "message:revisions", { id: sent.id });
    expect(revisions.map((r) => r.content)).toEqual(Array.from({ length: 50 }, (_, i) => `v${i + 5}`));
    // What is kept, not only what is answered: SQLite's table (the two-node run's PostgreSQL store is held to
    // the same bound by the store contract suite).
    if (TEST_NODES === 1) {
      const db = (server.server.store as unknown as { database: { prepare(sql: string): { get(): unknown } } })
        .database;
      expect(db.prepare("SELECT COUNT(*) AS n FROM message_revisions").get()).toEqual({ n: 50 });
    }
  });

  it(`queues at most ${MAX_QUEUED_REQUESTS} requests per socket: the rest are RATE_LIMITED, answered in order`, async () => {
    const server = await startServer();
    const { client: raw } = await RawClient.connect(server.url, { token: signToken("alice") });
    const tcp = (raw.ws as unknown as { _socket: { cork(): void; uncork(): void } })._socket;
    const count = MAX_QUEUED_REQUESTS + 50;
    tcp.cork();
    for (let i = 1; i <= count; i += 1) raw.send(`42${i}["sync",{"after":0}]`);
    tcp.uncork();
    const answers: { id: number; ok: boolean }[] = [];
    while (answers.length < count) {
      const frame = await raw.next((f) => f.startsWith("43"));
      const id = Number(/^43(\d+)/.exec(frame)![1]);
      answers.push({ id, ok: (JSON.parse(frame.slice(2 + String(id).length)) as [{ ok: boolean }])[0].ok });
    }
    expect(answers.map((a) => a.id)).toEqual(Array.from({ length: count }, (_, i) => i + 1));
    const served = answers.filter((a) => a.ok).length;
    expect(served).toBeGreaterThanOrEqual(MAX_QUEUED_REQUESTS);
    expect(served).toBeLessThanOrEqual(MAX_QUEUED_REQUESTS + 1);
    // The refused ones are the tail: the queue kept the first ones.
    expect(answers.slice(0, MAX_QUEUED_REQUESTS).every((a) => a.ok)).toBe(true);
    raw.close();
  });

  it(`runs at most ${MAX_EXPENSIVE_PER_USER} expensive requests of one user at once, over all its sockets`, async () => {
    const server = await startServer();
    const tabs = await Promise.all([1, 2, 3, 4].map(() => client(server, "alice")));
    const other = await client(server, "bob");
    const store = server.server.store;
    const original = store.search.bind(store);
    let running = 0;
    let peak = 0;
    const peaks = new Map<string, number>();
    const runningBy = new Map<string, number>();
    store.search = async (...args: Parameters<typeof store.search>) => {
      const user = args[0];
      runningBy.set(user, (runningBy.get(user) ?? 0) + 1);
      peaks.set(user, Math.max(peaks.get(user) ?? 0, runningBy.get(user)!));
      running += 1;
      peak = Math.max(peak, running);
      await new Promise((resolve) => setTimeout(resolve, 30));
      running -= 1;
      runningBy.set(user, runningBy.get(user)! - 1);
      return original(...args);
    };
    await Promise.all([
      ...tabs.flatMap((tab) => [1, 2].map(() => ok(tab.socket, "history:search", { q: "anything" }))),
      ok(other.socket, "history:search", { q: "anything" }),
    ]);
    expect(peaks.get("alice")).toBe(MAX_EXPENSIVE_PER_USER);
    expect(peaks.get("bob")).toBe(1);
    // Another user is not held behind alice's queue.
    expect(peak).toBe(MAX_EXPENSIVE_PER_USER + 1);
  });
});

describe("flood strikes", () => {
  it("forgets strikes after the budget's window: a tab refused now and then is never dropped", async () => {
    const server = await startClockedServer({ RATE_LIMIT_EVENTS_PER_10S: "3" });
    const tab = await client(server, "alice");
    for (let i = 0; i < 3; i += 1) await ok(tab.socket, "room:list", {});
    for (let round = 0; round < 3; round += 1) {
      for (let i = 0; i < 3; i += 1) {
        expect(await request(tab.socket, "room:list", {})).toMatchObject({
          ok: false,
          error: { code: "RATE_LIMITED" },
        });
      }
      server.setNow(server.now() + 10_000);
    }
    expect(tab.socket.connected).toBe(true);
  });

  it("drops a socket that floods one polling payload, logging it once", async () => {
    const lines: string[] = [];
    const config = testConfig({ RATE_LIMIT_EVENTS_PER_10S: "5", LOG_LEVEL: "warn" });
    const server = await createChatServer({
      config,
      logger: createLogger("warn", { write: (line: string) => lines.push(line) }),
    });
    const { port } = await server.listen();
    try {
      const base = `http://127.0.0.1:${port}/socket.io/?EIO=4&transport=polling`;
      const open = await (await fetch(base)).text();
      const sid = (JSON.parse(open.slice(1)) as { sid: string }).sid;
      const url = `${base}&sid=${sid}`;
      await fetch(url, { method: "POST", body: `40${JSON.stringify({ token: signToken("alice") })}` });
      expect(await (await fetch(url)).text()).toMatch(/^40/);
      // One 60 KB POST of tiny events, far past the budget.
      const body = Array.from({ length: 6000 }, () => '42["room:list",{}]')
        .join("\x1e")
        .slice(0, 60_000);
      await fetch(url, { method: "POST", body });
      await until(() => server.io.of("/").sockets.size === 0);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(lines.filter((line) => line.includes("disconnecting a flooding socket"))).toHaveLength(1);
    } finally {
      await server.close();
    }
  });
});

describe("SDK retries", () => {
  it("sends a retry of the same input with the same clientMsgId: one message is stored", async () => {
    const server = await startServer();
    const alice = createChatClient({
      url: server.url,
      token: signToken("alice"),
      socket: { transports: ["websocket"] },
    });
    sdkClients.push(alice);
    await alice.whenOnline();
    const draft = { messageType: "single", mediaType: "text", to: "alice", content: "exactly once" } as const;
    // The first attempt gives up before the answer comes (the server stores it all the same).
    const first = await alice.send(draft, { timeoutMs: 0 });
    expect(first).toMatchObject({ ok: false, error: { code: "UNAVAILABLE" } });
    const retry = await alice.send(draft);
    expect(retry.ok).toBe(true);
    const again = await alice.send(draft);
    expect(again).toEqual(retry);
    const page = await alice.request("history:list", { user: "alice" });
    expect(page.ok && page.data.messages.map((m) => m.content)).toEqual(["exactly once"]);
    // A new input object is a new message.
    const other = await alice.send({ ...draft });
    expect(other.ok && retry.ok && other.data.id).not.toBe(retry.ok && retry.data.id);
  });
});

describe("a socket's queue shares the server", () => {
  /** Fills the lobby with `count` messages of 4,000 characters straight through the store. */
  async function bigLobby(server: Awaited<ReturnType<typeof startServer>>, count: number) {
    const store = server.server.store;
    await store.ensureUser("filler", "filler", Date.now());
    await Promise.all(
      Array.from({ length: count }, (_, i) =>
        store.appendMessage({
          messageType: "group",
          mediaType: "text",
          from: "filler",
          to: "lobby",
          conversation: "r:lobby",
          recipientUser: null,
          content: `${i} ${"x".repeat(3990)}`,
          createAt: Date.now(),
        }),
      ),
    );
  }

  it("answers other users between one socket's queued requests, and pauses that socket instead of buffering megabytes", async () => {
    const server = await startServer();
    await bigLobby(server, 300); // each `sync` page: 300 × 4,000 characters, about 1.2 MB
    const other = await client(server, "other");
    const { client: raw } = await RawClient.connect(server.url, { token: signToken("reader") });
    const tcp = (raw.ws as unknown as { _socket: { cork(): void; uncork(): void } })._socket;
    const count = 40;
    tcp.cork();
    for (let i = 1; i <= count; i += 1) raw.send(`42${i}["sync",{"after":0,"limit":500}]`);
    tcp.uncork();
    // Another user's request, sent once the burst is queued, is answered before the burst is done.
    await raw.next((f) => f.startsWith("431["), 10_000);
    const order: string[] = [];
    const probe = ok(other.socket, "presence:query", { userIds: ["reader"] }).then(() => order.push("probe"));
    let acks = 1;
    while (acks < count) {
      await raw.next((f) => /^43\d+\[/.test(f), 20_000);
      acks += 1;
    }
    order.push("burst");
    await probe;
    expect(order).toEqual(["probe", "burst"]);
    // The reading socket was paused, never dropped as a slow consumer, and got every answer.
    expect(raw.closed).toBe(false);
    raw.close();
  });

  it("drops what a socket still had queued when it disconnects: no send stored after it, no subscription left", async () => {
    const server = await startServer();
    const watcher = await client(server, "watcher");
    const { client: raw } = await RawClient.connect(server.url, { token: signToken("leaver") });
    const tcp = (raw.ws as unknown as { _socket: { cork(): void; uncork(): void } })._socket;
    const ids = Array.from({ length: 500 }, (_, i) => `u${i}`);
    tcp.cork();
    for (let i = 1; i <= 30; i += 1) {
      raw.send(
        `42${i}${JSON.stringify(["message:send", { messageType: "group", mediaType: "text", to: "lobby", content: `queued ${i}` }])}`,
      );
    }
    raw.send(`4231${JSON.stringify(["presence:subscribe", { userIds: ids }])}`);
    raw.send("41"); // the namespace disconnect, in the same write
    tcp.uncork();
    await until(() => server.server.io.of("/").sockets.size === 1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(server.server.delivery.localFollowers).toBe(0);
    const page = await ok(watcher.socket, "history:list", { room: "lobby", limit: 100 });
    expect(page.messages.filter((m) => m.from === "leaver").length).toBeLessThan(30);
    raw.close();
  });
});
