import { afterEach, describe, expect, it } from "vitest";
import type { WorkerContext } from "../server/workers/manager.js";
import { startCluster, type TestCluster } from "./support/cluster.js";
import {
  ADMIN_KEY,
  cleanup,
  connect,
  nextEvent,
  ok,
  openSocket,
  signToken,
  storedOnly,
  tempDir,
  testConfig,
  until,
  waitForMessage,
  type TestServer,
} from "./support/harness.js";
import { missingServices } from "./support/services.js";

const missing = await missingServices(["postgres", "redis"], "the two-node cluster tests (test/cluster.test.ts)");

/** Two nodes sharing Redis and the store; `node(i)` is a TestServer whose clients all connect to node i. */
async function twoNodes(env: Record<string, string> = {}) {
  const dataDir = tempDir();
  const cluster: TestCluster = await startCluster(2, (index) =>
    testConfig({ NODE_ID: `node-${index}`, ...env }, dataDir),
  );
  stops.push(cluster.stop);
  const node = (index: number): TestServer => {
    const { server, url } = cluster.nodes[index]!;
    return { server, config: server.config, url, urls: [url], stop: cluster.stop };
  };
  return { cluster, a: node(0), b: node(1) };
}

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  await cleanup();
  while (stops.length > 0) await stops.pop()!();
});

describe.skipIf(missing !== undefined)("two nodes on Redis", () => {
  it("delivers a message sent on one node to the sockets on the other, once each", async () => {
    const { a, b } = await twoNodes();
    const alice = await connect(a, "alice");
    const bob = await connect(b, "bob");
    const bobAgain = await connect(a, "bob");
    const sent = await ok(alice.socket, "message:send", {
      messageType: "single",
      mediaType: "text",
      to: "bob",
      content: "hi",
    });
    await waitForMessage(bob, (m) => "id" in m && m.id === sent.id);
    await waitForMessage(bobAgain, (m) => "id" in m && m.id === sent.id);
    const group = await ok(bob.socket, "message:send", {
      messageType: "group",
      mediaType: "text",
      to: "lobby",
      content: "all",
    });
    await waitForMessage(alice, (m) => "id" in m && m.id === group.id);
    await waitForMessage(bobAgain, (m) => "id" in m && m.id === group.id);
    expect(storedOnly(bob.received).filter((m) => m.id === sent.id)).toHaveLength(1);
    expect(storedOnly(bob.received).filter((m) => m.id === group.id)).toHaveLength(0); // the sending socket
  });

  it("moves a user's sockets on every node into a room before the join is acknowledged", async () => {
    const { a, b } = await twoNodes();
    const owner = await connect(a, "owner");
    const room = await ok(owner.socket, "room:create", { name: "ops" });
    const carolOnB = await connect(b, "carol");
    const carolOnA = await connect(a, "carol");
    await ok(carolOnA.socket, "room:join", { roomId: room.id });
    // No waiting: the ack came after node b moved carol's socket there into the room.
    const sent = await ok(owner.socket, "message:send", {
      messageType: "group",
      mediaType: "text",
      to: room.id,
      content: "x",
    });
    await waitForMessage(carolOnB, (m) => "id" in m && m.id === sent.id);
    await ok(carolOnB.socket, "room:leave", { roomId: room.id });
    const after = await ok(owner.socket, "message:send", {
      messageType: "group",
      mediaType: "text",
      to: room.id,
      content: "y",
    });
    const marker = await ok(owner.socket, "message:send", {
      messageType: "single",
      mediaType: "text",
      to: "carol",
      content: "m",
    });
    await waitForMessage(carolOnA, (m) => "id" in m && m.id === marker.id);
    expect(storedOnly(carolOnA.received).some((m) => m.id === after.id)).toBe(false);
  });

  it("announces a user online once for the cluster, and offline once after its last socket anywhere is gone", async () => {
    const { a, b } = await twoNodes({ PRESENCE_GRACE_MS: "150" });
    const watcher = await connect(a, "watcher");
    const first = await connect(a, "dora");
    const second = await connect(b, "dora");
    await until(() => watcher.received.some((m) => m.messageType === "online" && m.from === "dora"));
    first.socket.disconnect();
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(watcher.received.filter((m) => m.messageType === "offline" && m.from === "dora")).toHaveLength(0);
    second.socket.disconnect();
    await until(() => watcher.received.some((m) => m.messageType === "offline" && m.from === "dora"));
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(watcher.received.filter((m) => m.messageType === "online" && m.from === "dora")).toHaveLength(1);
    expect(watcher.received.filter((m) => m.messageType === "offline" && m.from === "dora")).toHaveLength(1);
  });

  it("answers presence and member lists with the cluster's view, and tells followers on any node", async () => {
    const { a, b } = await twoNodes({ PRESENCE_GRACE_MS: "100" });
    const follower = await connect(a, "follower");
    expect(await ok(follower.socket, "presence:subscribe", { userIds: ["erin"] })).toEqual([
      { userId: "erin", online: false },
    ]);
    const change = nextEvent(follower.socket, "presence");
    const erin = await connect(b, "erin");
    expect(await change).toEqual({ userId: "erin", online: true });
    expect(await ok(follower.socket, "presence:query", { userIds: ["erin"] })).toEqual([
      { userId: "erin", online: true },
    ]);
    const members = await ok(follower.socket, "room:members", { roomId: "lobby" });
    expect(members.members.find((m) => m.userId === "erin")?.online).toBe(true);
    const gone = nextEvent(follower.socket, "presence");
    erin.socket.disconnect();
    expect(await gone).toMatchObject({ userId: "erin", online: false, lastSeenAt: expect.any(Number) });
  });

  it("lists both nodes and counts every node's sockets in the admin stats", async () => {
    const { a, b } = await twoNodes();
    await connect(a, "u1");
    await connect(b, "u2");
    await connect(b, "u3");
    await until(() => b.server.registry.connectionCount === 2);
    const response = await fetch(`${a.url}/api/admin/stats`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    const stats = (await response.json()) as {
      connections: number;
      users: number;
      nodes: { id: string; connections: number }[];
    };
    expect(stats.connections).toBe(3);
    expect(stats.users).toBe(3);
    expect(stats.nodes.map((node) => [node.id, node.connections])).toEqual([
      ["node-0", 1],
      ["node-1", 2],
    ]);
    expect((await fetch(`${b.url}/readyz`)).status).toBe(200);
    // Each node's PostgreSQL store reports its commits to that node's metrics.
    const u1 = await connect(a, "metered");
    await ok(u1.socket, "message:send", { messageType: "group", mediaType: "text", to: "lobby", content: "m" });
    const metrics = await (await fetch(`${a.url}/metrics`)).text();
    expect(Number(/^chat_store_commit_messages_sum (\d+)/m.exec(metrics)?.[1] ?? 0)).toBeGreaterThanOrEqual(1);
    // Each node counts the deliveries to its own sockets, the other node's messages included: u1 on A,
    // u2 and u3 on B (the sender's own socket is not a delivery).
    const deliveries = async (node: TestServer) =>
      Number(/^chat_deliveries_total (\d+)/m.exec(await (await fetch(`${node.url}/metrics`)).text())?.[1] ?? 0);
    for (let waited = 0; (await deliveries(b)) < 2 && waited < 5000; waited += 50)
      await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await deliveries(b)).toBe(2);
    expect(await deliveries(a)).toBe(1);
  });

  it("counts a user's rate limit across nodes", async () => {
    const { a, b } = await twoNodes({ RATE_LIMIT_EVENTS_PER_10S: "6" });
    const onA = await connect(a, "flood");
    const onB = await connect(b, "flood");
    const codes: string[] = [];
    for (const socket of [
      onA.socket,
      onB.socket,
      onA.socket,
      onB.socket,
      onA.socket,
      onB.socket,
      onA.socket,
      onB.socket,
    ]) {
      const result = (await socket.timeout(5000).emitWithAck("room:list", {})) as {
        ok: boolean;
        error?: { code: string };
      };
      codes.push(result.ok ? "ok" : result.error!.code);
    }
    expect(codes.filter((code) => code === "ok")).toHaveLength(6);
    expect(codes.slice(6)).toEqual(["RATE_LIMITED", "RATE_LIMITED"]);
  });

  it("counts MAX_SOCKETS_PER_USER over every node's sockets", async () => {
    const { a, b } = await twoNodes({ MAX_SOCKETS_PER_USER: "2" });
    const first = await connect(a, "greta");
    await connect(b, "greta");
    for (const node of [a, b]) {
      const refused = openSocket(node.url, signToken("greta"));
      const error = await new Promise<Error & { data?: unknown }>((resolve) => refused.once("connect_error", resolve));
      expect(error.data).toEqual({ code: "RATE_LIMITED" });
    }
    first.socket.disconnect();
    await until(() => a.server.registry.socketCount("greta") === 0);
    // The slot is back once the close reached Redis.
    let again: Awaited<ReturnType<typeof connect>> | undefined;
    for (let attempt = 0; attempt < 20 && !again; attempt += 1) {
      again = await connect(b, "greta").catch(() => undefined);
      if (!again) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(again?.session.user.id).toBe("greta");
  });

  it("runs one worker per room in the cluster, and starts it on the other node when its node stops", async () => {
    const { cluster, a, b } = await twoNodes({ PRESENCE_GRACE_MS: "200" });
    const owner = await connect(a, "owner");
    const room = await ok(owner.socket, "room:create", { name: "task" });
    const member = await connect(b, "member");
    await ok(member.socket, "room:join", { roomId: room.id });
    const runs: string[] = [];
    const worker = (node: string) => async (context: WorkerContext) => {
      runs.push(`${node}:${context.token}`);
      await new Promise<void>((resolve) => context.signal.addEventListener("abort", () => resolve(), { once: true }));
    };
    a.server.workers.ensure(room.id, worker("a"));
    b.server.workers.ensure(room.id, worker("b"));
    await until(() => runs.length === 1);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(runs).toHaveLength(1);
    const holder = runs[0]!.startsWith("a") ? 0 : 1;
    await cluster.nodes[holder]!.server.close();
    // The holder released its lease as it stopped; the other node takes it at its next try (3 s).
    await until(() => runs.length === 2, 15_000);
    expect(runs[1]!.startsWith(holder === 0 ? "b" : "a")).toBe(true);
    expect(Number(runs[1]!.split(":")[1])).toBeGreaterThan(Number(runs[0]!.split(":")[1]));
  }, 30_000);
});
