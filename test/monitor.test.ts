import { afterEach, describe, expect, it } from "vitest";
import type { HubStats } from "../server/hub.js";
import { ADMIN_KEY, cleanup, connect, ok, PUSH_KEY, startServer, until, waitForMessage } from "./support/harness.js";

afterEach(cleanup);

describe("GET /api/admin/stats", () => {
  it("reports connections, unique users and per-room members, online members and sockets as opened", async () => {
    const server = await startServer();
    const a1 = await connect(server, "alice");
    await connect(server, "alice");
    const bob = await connect(server, "bob");
    await connect(server, "carol");
    const room = await ok(a1.socket, "room:create", { name: "pair" });
    await ok(bob.socket, "room:join", { roomId: room.id });
    const response = await server.server.app.inject({
      method: "GET",
      url: "/api/admin/stats",
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    expect(response.statusCode).toBe(200);
    const stats = response.json<HubStats>();
    expect(stats.connections).toBe(4);
    expect(stats.users).toBe(3);
    expect(stats.rooms.find((r) => r.id === "lobby")).toEqual({
      id: "lobby",
      name: "Lobby",
      members: 3,
      online: 3,
      sockets: 4,
    });
    expect(stats.rooms.find((r) => r.id === room.id)).toEqual({
      id: room.id,
      name: "pair",
      members: 2,
      online: 2,
      sockets: 3,
    });
    expect(stats.workers).toEqual([]);
  });

  it("counts a user with no socket left out of users and online, though still a member", async () => {
    const server = await startServer();
    await connect(server, "alice");
    const bob = await connect(server, "bob");
    bob.socket.disconnect();
    await until(() => server.server.registry.connectionCount === 1);
    const stats = await server.server.hub.stats();
    expect(stats.users).toBe(1);
    expect(stats.connections).toBe(1);
    expect(stats.rooms.find((r) => r.id === "lobby")).toMatchObject({ members: 2, online: 1, sockets: 1 });
  });

  it("answers 401 without the admin key and with the push key", async () => {
    const server = await startServer();
    for (const headers of [{}, { authorization: `Bearer ${PUSH_KEY}` }]) {
      const response = await server.server.app.inject({ method: "GET", url: "/api/admin/stats", headers });
      expect(response.statusCode).toBe(401);
      expect(response.json()).toMatchObject({ error: { code: "UNAUTHORIZED" } });
    }
  });
});

describe("GET /metrics", () => {
  const scrape = async (server: Awaited<ReturnType<typeof startServer>>) => {
    const response = await server.server.app.inject({ method: "GET", url: "/metrics" });
    expect(response.statusCode).toBe(200);
    expect(response.headers["content-type"]).toMatch(/^text\/plain/);
    return response.body;
  };
  const value = (body: string, series: string) => {
    const line = body.split("\n").find((l) => l.startsWith(`${series} `));
    return line === undefined ? undefined : Number(line.split(" ")[1]);
  };

  it("moves message, delivery, rejection, ack-latency and commit counters when messages are sent", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const bob = await connect(server, "bob");
    const before = await scrape(server);
    expect(value(before, "chat_connected_sockets")).toBe(2);
    expect(value(before, "chat_connected_users")).toBe(2);
    expect(value(before, 'chat_messages_accepted_total{message_type="group",media_type="text"}') ?? 0).toBe(0);
    const sent = await ok(alice.socket, "message:send", {
      messageType: "group",
      mediaType: "text",
      to: "lobby",
      content: "x",
    });
    await waitForMessage(bob, (m) => "id" in m && m.id === sent.id);
    await alice.socket
      .timeout(5000)
      .emitWithAck("message:send", { messageType: "group", mediaType: "text", to: "nowhere", content: "x" });
    const after = await scrape(server);
    expect(value(after, 'chat_messages_accepted_total{message_type="group",media_type="text"}')).toBe(1);
    expect(value(after, "chat_deliveries_total")).toBe(1);
    expect(value(after, 'chat_rejections_total{code="NOT_FOUND"}')).toBe(1);
    expect(value(after, 'chat_ack_latency_seconds_count{event="message:send"}')).toBe(2);
    expect(value(after, "chat_store_commit_seconds_count")).toBeGreaterThanOrEqual(1);
    expect(after).toContain("process_cpu_user_seconds_total");
    expect(value(after, "chat_workers_running")).toBe(0);
  });

  it("counts HTTP pushes by route", async () => {
    const server = await startServer();
    await connect(server, "alice");
    await server.server.app.inject({
      method: "POST",
      url: "/send?uid=alice&message=x",
      headers: { authorization: `Bearer ${PUSH_KEY}` },
    });
    expect(value(await scrape(server), 'chat_http_push_total{route="/send"}')).toBe(1);
  });

  it("never turns a client-chosen event name into a label", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    (alice.socket.emit as (event: string, ...args: unknown[]) => void)("made:up", {});
    await ok(alice.socket, "room:list", {});
    expect(await scrape(server)).not.toContain("made:up");
  });
});

describe("health", () => {
  it("answers /healthz and /readyz while running, and /readyz 503 once closing", async () => {
    const server = await startServer();
    expect((await server.server.app.inject({ method: "GET", url: "/healthz" })).json()).toEqual({ status: "ok" });
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    const closing = server.stop();
    const response = await server.server.app.inject({ method: "GET", url: "/readyz" });
    expect(response.statusCode).toBe(503);
    await closing;
  });
});
