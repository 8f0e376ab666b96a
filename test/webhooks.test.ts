import { createHmac, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { createChatServer, type ChatServerOptions } from "../server/app.js";
import { WebhookSender } from "../server/webhooks/sender.js";
import { verifyWebhook, WebhookVerificationError } from "../client/webhooks.js";
import type { RoomMemberChange } from "../shared/schemas.js";
import type { WebhookCreated, WebhookDelivery } from "../shared/webhooks.js";
import {
  ADMIN_KEY,
  cleanup,
  connect,
  ok,
  openSocket,
  signToken,
  tempDir,
  testConfig,
  until,
  type TestServer,
} from "./support/harness.js";
import { startCluster } from "./support/cluster.js";
import { killAll, spawnServer } from "./support/process.js";
import { createTestDatabase, missingServices } from "./support/services.js";
import { signatureValid, startReceiver, type Receiver } from "./support/webhook-receiver.js";

/*
 * Section 13: signed, at-least-once webhooks from the outbox. Real servers on port 0, real receivers on
 * 127.0.0.1 port 0; signatures are checked here with an HMAC of the test's own (signatureValid), not with the
 * SDK's verifyWebhook, which has its own tests at the end.
 */

const skipCluster = await missingServices(["postgres", "redis"], "the webhook cluster tests");
const closers: (() => Promise<void>)[] = [];
afterEach(cleanup);
afterEach(async () => {
  killAll();
  while (closers.length > 0) await closers.pop()!();
});

const SECRET = `whsec_${randomBytes(32).toString("base64")}`;
/** Short timings: a 100 ms first retry, a 400 ms timeout, a 20 ms poll. */
const FAST: NonNullable<ChatServerOptions["webhookSender"]> = { retryBaseMs: 100, timeoutMs: 400, pollMs: 20 };

async function receiver(decide?: Parameters<typeof startReceiver>[0]): Promise<Receiver> {
  const started = await startReceiver(decide);
  closers.push(() => started.close());
  return started;
}

/** One node, in this process, with the sender's timings shortened. */
async function start(env: Record<string, string> = {}, sender = FAST, dataDir?: string): Promise<TestServer> {
  const config = testConfig(env, dataDir);
  const server = await createChatServer({ config, webhookSender: sender });
  const { port } = await server.listen();
  const stop = () => server.close();
  closers.unshift(stop);
  const url = `http://127.0.0.1:${port}`;
  return { server, config, url, urls: [url], stop };
}

const admin = { authorization: `Bearer ${ADMIN_KEY}` };

async function api<T>(server: TestServer, method: string, path: string, body?: unknown) {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: body === undefined ? admin : { ...admin, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: (text === "" ? undefined : JSON.parse(text)) as T };
}

async function subscribe(server: TestServer, url: string, events?: string[]): Promise<WebhookCreated> {
  const created = await api<WebhookCreated>(server, "POST", "/api/admin/webhooks", events ? { url, events } : { url });
  expect(created.status).toBe(201);
  return created.body;
}

async function deliveries(server: TestServer, id: string): Promise<WebhookDelivery[]> {
  return (await api<{ deliveries: WebhookDelivery[] }>(server, "GET", `/api/admin/webhooks/${id}/deliveries`)).body
    .deliveries;
}

/** The types a receiver got, in the order of their seq, each webhook-id once. */
function typesBySeq(got: Receiver): string[] {
  const seen = new Map(got.received.map((request) => [request.event.id, request.event]));
  return [...seen.values()].sort((a, b) => a.seq - b.seq).map((event) => event.type);
}

const waitFor = (predicate: () => boolean, ms = 8000) => until(predicate, ms);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `read` until `done` holds for what it answered; answers that. */
async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, ms = 8000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`condition not met in time: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("webhooks: what is sent", () => {
  it("delivers every event type, signed over id, timestamp and body, in seq order of creation", async () => {
    const hook = await receiver();
    const server = await start({ WEBHOOK_URL: hook.url, WEBHOOK_SECRET: SECRET });
    const alice = await connect(server, "alice");
    const bob = await connect(server, "bob");
    const room = await ok(alice.socket, "room:create", { name: "Ops" });
    await ok(bob.socket, "room:join", { roomId: room.id });
    const sent = await ok(alice.socket, "message:send", {
      messageType: "group",
      mediaType: "text",
      to: room.id,
      content: "hi",
    });
    await ok(alice.socket, "message:edit", { id: sent.id, content: "hello" });
    await ok(bob.socket, "message:react", { id: sent.id, emoji: "👍", on: true });
    const tombstone = await ok(alice.socket, "message:delete", { id: sent.id });
    await ok(bob.socket, "room:leave", { roomId: room.id });
    bob.socket.disconnect();
    const expected = [
      "user.created",
      "user.online",
      "user.created",
      "user.online",
      "room.created",
      "room.member",
      "room.member",
      "message.created",
      "message.updated",
      "message.updated",
      "message.deleted",
      "room.member",
      "user.offline",
    ];
    await waitFor(() => typesBySeq(hook).length === expected.length);
    expect(typesBySeq(hook)).toEqual(expected);

    const now = Math.floor(Date.now() / 1000);
    for (const request of hook.received) {
      expect(request.headers["content-type"]).toBe("application/json");
      expect(signatureValid(SECRET, request), request.body).toBe(true);
      expect(signatureValid(`whsec_${randomBytes(32).toString("base64")}`, request)).toBe(false);
      expect(request.headers["webhook-id"]).toBe(request.event.id);
      expect(Math.abs(Number(request.headers["webhook-timestamp"]) - now)).toBeLessThan(10);
      expect(new Date(request.event.timestamp).toISOString()).toBe(request.event.timestamp);
    }
    // Delivery order is not promised (4 requests in flight per endpoint): compare in seq order.
    const bySeq = [...hook.received].sort((a, b) => a.event.seq - b.event.seq);
    const byType = (type: string) => bySeq.filter((request) => request.event.type === type).map((r) => r.event);
    expect(byType("user.created").map((event) => event.data)).toEqual([
      { user: { id: "alice", name: "alice" } },
      { user: { id: "bob", name: "bob" } },
    ]);
    expect(byType("room.created")[0]!.data).toEqual({ room: { ...room, members: 1 } });
    expect(byType("room.member").map((event) => event.data)).toEqual([
      { roomId: room.id, userId: "alice", change: "joined" },
      { roomId: room.id, userId: "bob", change: "joined" },
      { roomId: room.id, userId: "bob", change: "left" },
    ]);
    expect(byType("message.created")[0]!.data).toEqual({ message: sent });
    expect(byType("message.updated").map((event) => (event.data["message"] as { content: string }).content)).toEqual([
      "hello",
      "hello",
    ]);
    expect(byType("message.updated")[1]!.data["message"]).toMatchObject({ reactions: { "👍": ["bob"] } });
    expect(byType("message.deleted")[0]!.data).toEqual({ message: tombstone });
    const offline = byType("user.offline")[0]!.data as { userId: string; at: number };
    expect(offline.userId).toBe("bob");
    // The SDK's helper accepts what the server signed.
    const first = hook.received[0]!;
    expect((await verifyWebhook(SECRET, first.headers, first.body)).id).toBe(first.event.id);
  });

  it("retries a 500 with the same webhook-id and growing delays, then delivers; counted in the metrics", async () => {
    let calls = 0;
    const hook = await receiver(() => (++calls <= 3 ? 500 : 204));
    const server = await start();
    const endpoint = await subscribe(server, hook.url, ["user.created"]);
    await connect(server, "carol");
    await waitFor(() => hook.received.length === 4);
    const ids = new Set(hook.received.map((request) => request.headers["webhook-id"]));
    expect(ids.size).toBe(1);
    for (const request of hook.received) expect(signatureValid(endpoint.secret, request)).toBe(true);
    // Retry n waits 100 ms × 2^(n-1) ± 20 %: never less than 80, 160, 320 ms (later under load, never earlier).
    const gaps = hook.received.slice(1).map((request, index) => request.at - hook.received[index]!.at);
    expect(gaps[0]).toBeGreaterThanOrEqual(78);
    expect(gaps[1]).toBeGreaterThanOrEqual(158);
    expect(gaps[2]).toBeGreaterThanOrEqual(318);
    expect(gaps[2]).toBeGreaterThan(gaps[0]!);
    const listed = await eventually(
      () => deliveries(server, endpoint.id),
      (found) => found[0]?.status === "delivered",
    );
    expect(listed).toEqual([
      {
        eventId: hook.received[0]!.event.id,
        type: "user.created",
        attempts: 4,
        status: "delivered",
        lastStatusCode: 204,
      },
    ]);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/^chat_webhook_deliveries_total\{status="retry"\} 3$/m);
    expect(metrics).toMatch(/^chat_webhook_deliveries_total\{status="delivered"\} 1$/m);
    expect(metrics).toMatch(/^chat_webhook_outbox_pending 0$/m);
  });

  it("attempts a new event as soon as it is committed, not at the next look at the outbox", async () => {
    const hook = await receiver();
    // The outbox is looked at once a minute here: only the commit's own wake-up can bring these in time.
    const server = await start({}, { ...FAST, pollMs: 60_000 });
    await subscribe(server, hook.url, ["user.created", "message.created"]);
    const erin = await connect(server, "erin");
    await waitFor(() => hook.received.length === 1, 3000);
    await ok(erin.socket, "message:send", { messageType: "single", mediaType: "text", to: "erin", content: "hi" });
    await waitFor(() => hook.received.length === 2, 3000);
    expect(hook.received.map((request) => request.event.type)).toEqual(["user.created", "message.created"]);
  });

  it("retries when the retry falls due, not at the next look at the outbox", async () => {
    let calls = 0;
    const hook = await receiver(() => (++calls <= 2 ? 503 : 204));
    // The outbox is looked at every 1.5 s here (and at once after each attempt): a retry found by that look
    // alone comes 1.5 s after the attempt before it; its own due time brings it after 100-200 ms.
    const server = await start({}, { ...FAST, pollMs: 1500 });
    await subscribe(server, hook.url, ["user.created"]);
    await connect(server, "carol");
    await waitFor(() => hook.received.length === 3, 8000);
    const gaps = hook.received.slice(1).map((request, index) => request.at - hook.received[index]!.at);
    // 100 ms × 2^(n-1) ± 20 %: at least 80 and 160 ms, and (with room for a loaded machine) well before a poll.
    expect(gaps[0]).toBeGreaterThanOrEqual(78);
    expect(gaps[1]).toBeGreaterThanOrEqual(158);
    expect(Math.max(...gaps)).toBeLessThan(1000);
  });

  it("fails a delivery after WEBHOOK_MAX_ATTEMPTS; a manual retry sends it once more", async () => {
    let status = 503;
    const hook = await receiver(() => status);
    const server = await start({ WEBHOOK_MAX_ATTEMPTS: "2" });
    const endpoint = await subscribe(server, hook.url, ["user.created"]);
    await connect(server, "dave");
    let listed = await eventually(
      () => deliveries(server, endpoint.id),
      (found) => found[0]?.status === "failed",
    );
    expect(hook.received).toHaveLength(2);
    expect(listed[0]).toMatchObject({ attempts: 2, status: "failed", lastStatusCode: 503 });
    status = 200;
    const eventId = listed[0]!.eventId;
    const retried = await api<WebhookDelivery>(
      server,
      "POST",
      `/api/admin/webhooks/${endpoint.id}/deliveries/${eventId}/retry`,
    );
    expect(retried.status).toBe(202);
    expect(retried.body).toMatchObject({ eventId, status: "pending", nextAttemptAt: expect.any(Number) });
    await waitFor(() => hook.received.length === 3);
    listed = await eventually(
      () => deliveries(server, endpoint.id),
      (found) => found[0]?.status === "delivered",
    );
    expect(listed[0]).toMatchObject({ attempts: 3, status: "delivered", lastStatusCode: 200 });
    expect(hook.received[2]!.headers["webhook-id"]).toBe(eventId);
    const missing = await api(server, "POST", `/api/admin/webhooks/${endpoint.id}/deliveries/evt_nope/retry`);
    expect(missing.status).toBe(404);
  });

  it("times out a receiver that never answers without delaying a second endpoint", async () => {
    const silent = await receiver(() => "hang");
    const fine = await receiver();
    const server = await start({}, { ...FAST, timeoutMs: 5000, retryBaseMs: 60_000 });
    const stuck = await subscribe(server, silent.url, ["user.created"]);
    await subscribe(server, fine.url, ["user.created"]);
    for (let n = 0; n < 10; n++)
      await server.server.store.createUser({ id: `user${n}`, name: `user${n}`, passwordHash: null, createAt: n });
    // The second endpoint gets all ten while the first holds its four slots, before the first times out: none
    // of the first's deliveries has an error yet (no wall-clock bound: a loaded machine only narrows the
    // 5 s margin, which a second endpoint that waited for the first could not pass).
    await waitFor(() => fine.received.length === 10);
    expect(silent.received.length).toBe(4);
    expect((await deliveries(server, stuck.id)).filter((delivery) => delivery.lastError !== undefined)).toEqual([]);
    const listed = await eventually(
      () => deliveries(server, stuck.id),
      (found) => found.filter((delivery) => delivery.lastError !== undefined).length >= 4,
      15_000,
    );
    expect(listed.find((delivery) => delivery.lastError !== undefined)).toMatchObject({
      status: "pending",
      attempts: 1,
      lastError: "no answer within 5000 ms",
    });
    // The outbox shows the backlog.
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(Number(/^chat_webhook_outbox_pending (\d+)$/m.exec(metrics)?.[1])).toBe(10);
    expect(Number(/^chat_webhook_outbox_oldest_pending_seconds (\S+)$/m.exec(metrics)?.[1])).toBeGreaterThan(0);
  });

  it("sends an endpoint only the event types it subscribed to", async () => {
    const all = await receiver();
    const filtered = await receiver();
    const server = await start();
    await subscribe(server, all.url);
    const endpoint = await subscribe(server, filtered.url, ["room.created", "user.offline"]);
    expect(endpoint.events).toEqual(["room.created", "user.offline"]);
    const erin = await connect(server, "erin");
    await ok(erin.socket, "room:create", { name: "Filtered" });
    erin.socket.disconnect();
    await waitFor(() => typesBySeq(all).includes("user.offline"));
    await waitFor(() => filtered.received.length === 2);
    expect(typesBySeq(filtered)).toEqual(["room.created", "user.offline"]);
    expect(typesBySeq(all)).toEqual(["user.created", "user.online", "room.created", "room.member", "user.offline"]);
  });

  it("announces online and offline once per change, after the grace, not for a reconnect within it", async () => {
    const hook = await receiver();
    const server = await start({ WEBHOOK_URL: hook.url, WEBHOOK_SECRET: SECRET, PRESENCE_GRACE_MS: "1000" });
    const first = await connect(server, "frank");
    const second = await connect(server, "frank");
    first.socket.disconnect();
    second.socket.disconnect();
    await new Promise((resolve) => setTimeout(resolve, 100));
    // Back within the grace: no offline, no second online.
    const back = await connect(server, "frank");
    await new Promise((resolve) => setTimeout(resolve, 1200));
    expect(typesBySeq(hook)).toEqual(["user.created", "user.online"]);
    const leftAt = Date.now();
    back.socket.disconnect();
    await waitFor(() => typesBySeq(hook).length === 3);
    const offline = hook.received.find((request) => request.event.type === "user.offline")!;
    expect(offline.at - leftAt).toBeGreaterThanOrEqual(990);
    expect(offline.event.data).toEqual({ userId: "frank", at: expect.any(Number) });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(typesBySeq(hook)).toEqual(["user.created", "user.online", "user.offline"]);
  });
  it("on one node, says offline for the users online at shutdown (sent then, or after the restart)", async () => {
    const hook = await receiver();
    const dataDir = tempDir();
    const env = { WEBHOOK_URL: hook.url, WEBHOOK_SECRET: SECRET, PRESENCE_GRACE_MS: "60000" };
    const first = await start(env, FAST, dataDir);
    await connect(first, "hank");
    await waitFor(() => typesBySeq(hook).length === 2);
    await first.stop();
    // The sender stops last: the event may go out during the shutdown; if not, the next start sends it.
    await start(env, FAST, dataDir);
    await waitFor(() => typesBySeq(hook).length === 3);
    expect(typesBySeq(hook)).toEqual(["user.created", "user.online", "user.offline"]);
    const offline = hook.received.find((request) => request.event.type === "user.offline")!;
    expect(offline.event.data).toEqual({ userId: "hank", at: expect.any(Number) });
  });
});

describe("webhooks: the admin API", () => {
  it("creates, lists, bounds and deletes endpoints; secrets are shown once; unknown events are 400", async () => {
    const server = await start({ WEBHOOK_URL: "http://127.0.0.1:9/env", WEBHOOK_SECRET: SECRET });
    expect((await fetch(`${server.url}/api/admin/webhooks`)).status).toBe(401);
    const refused = await fetch(`${server.url}/api/admin/webhooks`, { headers: { authorization: "Bearer nope" } });
    expect(refused.status).toBe(401);
    const created = await subscribe(server, "https://example.test/hook");
    expect(created).toEqual({
      id: expect.stringMatching(/^wh_/),
      url: "https://example.test/hook",
      events: null,
      secret: expect.any(String),
    });
    expect(Buffer.from(created.secret.slice("whsec_".length), "base64").length).toBeGreaterThanOrEqual(24);
    const listed = await api<{ webhooks: Record<string, unknown>[] }>(server, "GET", "/api/admin/webhooks");
    expect(listed.body.webhooks).toEqual([
      { id: "env", url: "http://127.0.0.1:9/env", events: null, source: "env", createdAt: expect.any(Number) },
      { id: created.id, url: "https://example.test/hook", events: null, source: "api", createdAt: expect.any(Number) },
    ]);
    expect(JSON.stringify(listed.body)).not.toContain("whsec_");
    for (const body of [{ url: "https://x.test", events: ["message.sent"] }, { url: "ftp://x.test" }, { events: [] }]) {
      const bad = await api<{ error: { code: string } }>(server, "POST", "/api/admin/webhooks", body);
      expect(bad.status, JSON.stringify(body)).toBe(400);
      expect(bad.body.error.code).toBe("INVALID_PAYLOAD");
    }
    expect((await api(server, "DELETE", "/api/admin/webhooks/env")).status).toBe(409);
    expect((await api(server, "DELETE", `/api/admin/webhooks/${created.id}`)).status).toBe(204);
    expect((await api(server, "DELETE", `/api/admin/webhooks/${created.id}`)).status).toBe(404);
    expect((await api(server, "GET", `/api/admin/webhooks/${created.id}/deliveries`)).status).toBe(404);
    expect((await api(server, "GET", "/api/admin/webhooks/env/deliveries?limit=0")).status).toBe(400);
    // At most 100 endpoints besides the environment's.
    for (let n = 0; n < 100; n++) {
      const response = await server.server.app.inject({
        method: "POST",
        url: "/api/admin/webhooks",
        headers: admin,
        payload: { url: `https://example.test/${n}` },
      });
      expect(response.statusCode).toBe(201);
    }
    const over = await api<{ error: { code: string; message: string } }>(server, "POST", "/api/admin/webhooks", {
      url: "https://example.test/101",
    });
    expect(over.status).toBe(409);
    expect(over.body.error.message).toMatch(/at most 100/);
  });
});

describe("webhooks: durability and the cluster", () => {
  it("delivers every event after a kill -9 with deliveries pending, once the server is back", async () => {
    let up = false;
    const answeredOk = new Set<string>();
    const hook = await receiver((request) => {
      if (!up) return 500;
      answeredOk.add(request.event.id);
      return 200;
    });
    const dataDir = tempDir();
    const env = { WEBHOOK_URL: hook.url, WEBHOOK_SECRET: SECRET, SCRYPT_LOG_N: "14" };
    const first = await spawnServer(dataDir, env);
    const users = ["kill1", "kill2", "kill3", "kill4", "kill5"];
    for (const user of users) {
      const response = await fetch(`${first.url}/api/auth/register`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username: user, password: "correct horse" }),
      });
      expect(response.status).toBe(201);
    }
    // Every event was tried once, refused, and that recorded (a delivery killed mid-request would wait for its
    // lease, 15 s, before it is tried again: at least once, but slow for a test).
    const pending = await eventually(
      () =>
        fetch(`${first.url}/api/admin/webhooks/env/deliveries`, { headers: admin }).then(
          async (response) => ((await response.json()) as { deliveries: WebhookDelivery[] }).deliveries,
        ),
      (found) => found.length === users.length && found.every((delivery) => delivery.lastStatusCode === 500),
    );
    expect(pending.every((delivery) => delivery.status === "pending")).toBe(true);
    const ids = new Set(pending.map((delivery) => delivery.eventId));
    first.child.kill("SIGKILL");
    expect(await first.exited).toBe("SIGKILL");
    up = true;
    const second = await spawnServer(dataDir, env);
    // Each retry is due 1 s ± 20 % after the first attempt (the contract's timings: a real process).
    await waitFor(() => [...ids].every((id) => answeredOk.has(id)), 15_000);
    expect(answeredOk).toEqual(ids);
    for (const request of hook.received) expect(signatureValid(SECRET, request)).toBe(true);
    const events = hook.received.map((request) => request.event);
    expect(new Set(events.map((event) => event.type))).toEqual(new Set(["user.created"]));
    second.child.kill("SIGTERM");
    expect(await second.exited).toBe(0);
  }, 60_000);

  it("says user.offline at the next boot for the users a killed single node had online, once", async () => {
    const hook = await receiver();
    const dataDir = tempDir();
    const env = { WEBHOOK_URL: hook.url, WEBHOOK_SECRET: SECRET, PRESENCE_GRACE_MS: "100" };
    const first = await spawnServer(dataDir, env);
    const sockets = ["stays", "leaves"].map((id) => openSocket(first.url, signToken(id)));
    await Promise.all(sockets.map((socket) => new Promise((resolve) => socket.once("session", resolve))));
    sockets[1]!.disconnect();
    const presence = () =>
      hook.received
        .map((request) => request.event)
        .filter((event) => event.type === "user.online" || event.type === "user.offline")
        .map((event) => `${event.type} ${(event.data as { userId: string }).userId}`);
    await waitFor(() => presence().includes("user.offline leaves"), 10_000);
    first.child.kill("SIGKILL");
    expect(await first.exited).toBe("SIGKILL");
    sockets[0]!.disconnect();
    const second = await spawnServer(dataDir, env);
    await waitFor(() => presence().includes("user.offline stays"), 10_000);
    second.child.kill("SIGTERM");
    expect(await second.exited).toBe(0);
    // A third boot after a clean stop says nothing more.
    const third = await spawnServer(dataDir, env);
    await sleep(500);
    third.child.kill("SIGTERM");
    expect(await third.exited).toBe(0);
    expect(presence().sort()).toEqual(
      ["user.online leaves", "user.online stays", "user.offline leaves", "user.offline stays"].sort(),
    );
    for (const request of hook.received) expect(signatureValid(SECRET, request)).toBe(true);
  }, 60_000);

  it.skipIf(skipCluster !== undefined)(
    "delivers each event once from a cluster of two nodes, and each online/offline once",
    async () => {
      const hook = await receiver();
      const dataDir = tempDir();
      const configFor = (index: number) =>
        testConfig({ NODE_ID: `node-${index}`, WEBHOOK_URL: hook.url, WEBHOOK_SECRET: SECRET }, dataDir);
      const database = await createTestDatabase();
      closers.push(() => database.drop());
      const cluster = await startCluster(2, configFor, database, { webhookSender: FAST });
      closers.unshift(cluster.stop);
      const nodes: TestServer = {
        server: cluster.nodes[0]!.server,
        config: configFor(0),
        url: cluster.nodes[0]!.url,
        urls: cluster.nodes.map((node) => node.url),
        stop: cluster.stop,
      };
      const clients = [];
      for (let n = 0; n < 6; n++) clients.push(await connect(nodes, `c${n % 3}`));
      for (const client of clients) {
        await ok(client.socket, "message:send", { messageType: "group", mediaType: "text", to: "lobby", content: "x" });
      }
      for (const client of clients) client.socket.disconnect();
      // 3 × (user.created, user.online, user.offline) and 6 messages.
      await waitFor(() => new Set(hook.received.map((request) => request.event.id)).size === 15, 10_000);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const ids = hook.received.map((request) => request.event.id);
      expect(ids.length).toBe(new Set(ids).size);
      const count = (type: string) => hook.received.filter((request) => request.event.type === type).length;
      expect([count("user.created"), count("user.online"), count("user.offline"), count("message.created")]).toEqual([
        3, 3, 3, 6,
      ]);
      for (const request of hook.received) expect(signatureValid(SECRET, request)).toBe(true);
    },
    30_000,
  );
});

describe("verifyWebhook (client SDK)", () => {
  const secret = `whsec_${Buffer.from("a key of thirty-two bytes, fixed").toString("base64")}`;
  const body = JSON.stringify({
    id: "evt_1",
    type: "user.online",
    timestamp: "2026-01-01T00:00:00.000Z",
    seq: 1,
    data: {},
  });
  const at = 1_767_225_600;
  const sign = (payload: string, timestamp = at, key = secret) =>
    `v1,${createHmac("sha256", Buffer.from(key.slice(6), "base64"))
      .update(`evt_1.${timestamp}.${payload}`)
      .digest("base64")}`;
  const headers = (signature = sign(body), timestamp = at) => ({
    "webhook-id": "evt_1",
    "webhook-timestamp": String(timestamp),
    "webhook-signature": signature,
  });
  const now = at * 1000;

  it("answers the event of a well-signed request, from Node headers or a Fetch Headers", async () => {
    expect(await verifyWebhook(secret, headers(), body, { now })).toMatchObject({ id: "evt_1", type: "user.online" });
    expect((await verifyWebhook(secret, new Headers(headers()), body, { now })).seq).toBe(1);
    // One of several signatures (a rotation) is enough.
    const rotated = headers(`v1,${Buffer.alloc(32).toString("base64")} ${sign(body)}`);
    expect((await verifyWebhook(secret, rotated, body, { now })).id).toBe("evt_1");
  });

  it("refuses a tampered body, another secret, a missing header, and a timestamp more than 5 minutes away", async () => {
    const refusal = (promise: Promise<unknown>) =>
      promise.then(
        () => "accepted",
        (error: unknown) => (error instanceof WebhookVerificationError ? error.reason : String(error)),
      );
    expect(await refusal(verifyWebhook(secret, headers(), body.replace("online", "offline"), { now }))).toBe(
      "signature",
    );
    const other = `whsec_${Buffer.from("another key of 32 bytes, fixed!!").toString("base64")}`;
    expect(await refusal(verifyWebhook(other, headers(), body, { now }))).toBe("signature");
    expect(await refusal(verifyWebhook(secret, headers("v1,not base64!"), body, { now }))).toBe("signature");
    expect(await refusal(verifyWebhook(secret, { "webhook-id": "evt_1" }, body, { now }))).toBe("headers");
    expect(await refusal(verifyWebhook(secret, headers(sign(body, at - 301), at - 301), body, { now }))).toBe(
      "timestamp",
    );
    expect(await refusal(verifyWebhook(secret, headers(sign(body, at + 301), at + 301), body, { now }))).toBe(
      "timestamp",
    );
    expect(await refusal(verifyWebhook(secret, headers(sign(body, at - 300), at - 300), body, { now }))).toBe(
      "accepted",
    );
  });

  it("keeps the web client's bundle free of Node modules (it imports the SDK's index)", async () => {
    const source = readFileSync(new URL("../client/webhooks.ts", import.meta.url), "utf8");
    expect(source).not.toMatch(/from "node:/);
  });
});

describe("webhooks: configuration and the sender's schedule", () => {
  it("refuses WEBHOOK_URL without WEBHOOK_SECRET (and the reverse), a secret not whsec_, a URL not http(s)", () => {
    const load = (env: Record<string, string>) => () => testConfig(env);
    expect(load({ WEBHOOK_URL: "https://example.test/hook" })).toThrow(/WEBHOOK_URL: set WEBHOOK_SECRET too/);
    expect(load({ WEBHOOK_SECRET: SECRET })).toThrow(/WEBHOOK_SECRET: set WEBHOOK_URL too/);
    expect(load({ WEBHOOK_URL: "https://example.test/hook", WEBHOOK_SECRET: "plain" })).toThrow(/WEBHOOK_SECRET/);
    const short = `whsec_${randomBytes(8).toString("base64")}`;
    expect(load({ WEBHOOK_URL: "https://example.test/hook", WEBHOOK_SECRET: short })).toThrow(/WEBHOOK_SECRET/);
    expect(load({ WEBHOOK_URL: "ftp://example.test/hook", WEBHOOK_SECRET: SECRET })).toThrow(/WEBHOOK_URL/);
    expect(load({ WEBHOOK_MAX_ATTEMPTS: "0" })).toThrow(/WEBHOOK_MAX_ATTEMPTS/);
    const config = testConfig({ WEBHOOK_URL: "https://example.test/hook", WEBHOOK_SECRET: SECRET });
    expect(config.webhook).toEqual({ url: "https://example.test/hook", secret: SECRET });
    expect([config.webhookMaxAttempts, config.webhookRetentionMs]).toEqual([12, 7 * 86_400_000]);
  });

  it("waits 2^(n-1) × the base ± 20 % before retry n, never more than an hour", () => {
    const delay = (n: number, random: number) =>
      new WebhookSender({
        store: {} as never,
        now: Date.now,
        onBackgroundError: () => {},
        random: () => random,
      }).retryDelay(n);
    expect([1, 2, 3, 4].map((n) => delay(n, 0.5))).toEqual([1000, 2000, 4000, 8000]);
    expect(delay(3, 0)).toBe(3200);
    expect(delay(3, 0.999_999)).toBe(4800);
    expect(delay(12, 0.5)).toBe(2048 * 1000);
    expect(delay(13, 0.999_999)).toBe(3_600_000);
    expect(delay(40, 0)).toBe(3_600_000);
  });

  it("keeps timers for at most 1,024 retry due times; the poll finds the rest", async () => {
    const OFFERED = 1100;
    let offered = 0;
    const outcomes: string[] = [];
    const store = {
      pruneDeliveries: () => Promise.resolve(0),
      webhooks: () =>
        Promise.resolve([{ id: "e1", url: "http://127.0.0.1:9/", secret: SECRET, events: null, createAt: 0 }]),
      claimDeliveries: (wanted: { endpointId: string; limit: number }[]) => {
        const count = Math.min(wanted[0]!.limit, OFFERED - offered);
        const claimed = Array.from({ length: count }, (_, i) => ({
          endpointId: "e1",
          seq: offered + i + 1,
          eventId: `msg_${offered + i}`,
          type: "user.created",
          createAt: 0,
          data: "{}",
          attempts: 1,
        }));
        offered += count;
        return Promise.resolve(claimed);
      },
      settleDelivery: (_endpoint: string, _seq: number, outcome: { kind: string }) => {
        outcomes.push(outcome.kind);
        return Promise.resolve();
      },
    };
    let draw = 0;
    const sender = new WebhookSender({
      store: store as never,
      now: Date.now,
      onBackgroundError: () => {},
      // Every attempt fails and is due again in 48-72 s, each at its own time.
      fetch: () => Promise.resolve(new Response(null, { status: 500 })),
      random: () => (draw++ % 10_000) / 10_000,
      retryBaseMs: 60_000,
      perEndpoint: OFFERED,
      maxInFlight: OFFERED,
      pollMs: 10,
    });
    closers.unshift(() => sender.close());
    sender.start();
    await until(() => outcomes.length === OFFERED, 8000);
    expect(new Set(outcomes)).toEqual(new Set(["retry"]));
    expect((sender as unknown as { dueTimes: Set<number> }).dueTimes.size).toBe(1024);
  });

  it("records a refused connection as the attempt's error, and prunes settled deliveries after the retention", async () => {
    const closed = await receiver();
    await closed.close();
    let clock = Date.now();
    const server = await start();
    const store = server.server.store;
    const endpoint = await subscribe(server, closed.url, ["user.created"]);
    // A sender of the test's own, on a clock it moves (the server's is stopped).
    const sender = new WebhookSender({
      store,
      now: () => clock,
      onBackgroundError: () => {},
      pollMs: 10,
      maxAttempts: 1,
      retentionMs: 60_000,
    });
    closers.unshift(() => sender.close());
    await server.server.webhooks.close();
    await store.ensureUser("gina", "gina", clock);
    sender.start();
    const failed = await eventually(
      () => deliveries(server, endpoint.id),
      (found) => found[0]?.status === "failed",
    );
    expect(failed[0]).toMatchObject({ attempts: 1, lastError: "request failed: ECONNREFUSED" });
    // Past the retention (and the minute between prunes), the settled delivery goes.
    clock += 60_000 + 60_000 + 1;
    sender.wake();
    await eventually(
      () => deliveries(server, endpoint.id),
      (found) => found.length === 0,
    );
  });
});

describe("webhooks: moderation (section 11)", () => {
  it("sends room.member for a role, mute, unmute, kick and ban of a member, as room:member says them, with `by`", async () => {
    const hook = await receiver();
    const server = await start();
    const endpoint = await subscribe(server, hook.url, ["room.member"]);
    const alice = await connect(server, "alice");
    const watched: RoomMemberChange[] = [];
    alice.socket.on("room:member", (change) => watched.push(change));
    const room = await ok(alice.socket, "room:create", { name: "Moderated" });
    for (const user of ["bob", "carol", "dave"]) {
      await ok((await connect(server, user)).socket, "room:join", { roomId: room.id });
    }
    const bob = await connect(server, "bob");
    await connect(server, "erin");
    await ok(alice.socket, "room:role", { roomId: room.id, userId: "bob", role: "moderator" });
    const until = Date.now() + 60_000;
    await ok(bob.socket, "room:mute", { roomId: room.id, userId: "carol", until });
    await ok(bob.socket, "room:unmute", { roomId: room.id, userId: "carol" });
    await ok(bob.socket, "room:kick", { roomId: room.id, userId: "carol", reason: "spam" });
    await ok(bob.socket, "room:ban", { roomId: room.id, userId: "dave" });
    // A ban of a user who was never a member changes no membership: no room:member, no event.
    await ok(bob.socket, "room:ban", { roomId: room.id, userId: "erin" });
    // alice's create, bob's, carol's and dave's joins, then the five changes.
    await waitFor(() => new Set(hook.received.map((request) => request.event.id)).size === 9);
    await waitFor(() => watched.filter((change) => change.change !== "joined").length === 5);
    const bySeq = [...new Map(hook.received.map((request) => [request.event.id, request])).values()].sort(
      (a, b) => a.event.seq - b.event.seq,
    );
    for (const request of bySeq) expect(signatureValid(endpoint.secret, request)).toBe(true);
    const changes = bySeq.map((request) => request.event.data).slice(4);
    expect(changes).toEqual([
      { roomId: room.id, userId: "bob", change: "role", role: "moderator", by: "alice" },
      { roomId: room.id, userId: "carol", change: "muted", until, by: "bob" },
      { roomId: room.id, userId: "carol", change: "unmuted", by: "bob" },
      { roomId: room.id, userId: "carol", change: "kicked", by: "bob" },
      { roomId: room.id, userId: "dave", change: "banned", by: "bob" },
    ]);
    // What the room's sockets got, but `name`, and with who acted.
    const told = watched.filter((change) => change.change !== "joined").map(({ name: _name, ...change }) => change);
    expect(changes.map(({ by: _by, ...change }) => change)).toEqual(told);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(new Set(hook.received.map((request) => request.event.id)).size).toBe(9);
  });

  it("sends message.deleted with the tombstone for a moderator's delete, and room.deleted with the room as it was", async () => {
    const hook = await receiver();
    const server = await start();
    const endpoint = await subscribe(server, hook.url, ["message.deleted", "room.deleted"]);
    const alice = await connect(server, "alice");
    const bob = await connect(server, "bob");
    const room = await ok(alice.socket, "room:create", { name: "Doomed", visibility: "public" });
    await ok(bob.socket, "room:join", { roomId: room.id });
    const sent = await ok(bob.socket, "message:send", {
      messageType: "group",
      mediaType: "text",
      to: room.id,
      content: "spam",
    });
    const tombstone = await ok(alice.socket, "message:delete", { id: sent.id });
    expect(tombstone).toMatchObject({ id: sent.id, deletedBy: "alice" });
    // Deleting the tombstone again changes nothing: no second event.
    await ok(alice.socket, "message:delete", { id: sent.id });
    await ok(alice.socket, "room:delete", { roomId: room.id });
    await waitFor(() => new Set(hook.received.map((request) => request.event.id)).size === 2);
    for (const request of hook.received) expect(signatureValid(endpoint.secret, request)).toBe(true);
    expect(typesBySeq(hook)).toEqual(["message.deleted", "room.deleted"]);
    const data = (type: string) => hook.received.find((request) => request.event.type === type)!.event.data;
    expect(data("message.deleted")).toEqual({ message: tombstone });
    expect(data("room.deleted")).toEqual({ room: { ...room, members: 2 } });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(typesBySeq(hook)).toEqual(["message.deleted", "room.deleted"]);
  });
});
