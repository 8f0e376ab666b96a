import { createServer } from "node:http";
import pino from "pino";
import { Server } from "socket.io";
import { afterAll, describe, expect, it } from "vitest";
import { COMMANDS_QUEUE_MAX, connectCluster, type ClusterEngines } from "../server/cluster/engines.js";
import { missingServices, privateRedis, REDIS_URL, redisPrefix } from "./support/services.js";

const missing = await missingServices(["redis"], "the cluster adapter tests (test/cluster-adapter.test.ts)");

/** What the test reaches of the Redis Streams adapter (a ClusterAdapter). */
interface StreamsAdapter {
  uid: string;
  onRawMessage(raw: Record<string, string>, offset: string): void;
  onMessage(message: unknown, offset?: string): void;
}

describe.skipIf(missing !== undefined)("the cluster adapter", () => {
  const space = redisPrefix();
  const closers: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    while (closers.length > 0) await closers.pop()!();
    await space.clear();
  });

  it("drops this node's own stream entries before parsing them, and parses the other nodes'", async () => {
    const engines: ClusterEngines = await connectCluster({
      url: REDIS_URL,
      prefix: space.prefix,
      nodeId: "node-a",
      graceMs: 1000,
      logger: pino({ level: "silent" }),
    });
    closers.push(() => engines.close());
    const io = new Server(createServer(), { adapter: engines.adapter });
    // As the server shuts down: Socket.IO (and its adapter's stream reads) first, then the Redis clients.
    closers.push(() => io.close());
    const adapter = io.of("/").adapter as unknown as StreamsAdapter;
    // Closing before the subscription is in would leave its SUBSCRIBE to reject unhandled.
    await engines.subscribed(adapter.uid);
    const handled: unknown[] = [];
    adapter.onMessage = (message) => handled.push(message);
    const entry = (uid: string) => ({ uid, nsp: "/", type: "3", data: JSON.stringify({ packet: { type: 2 } }) });
    adapter.onRawMessage(entry(adapter.uid), "1-0");
    expect(handled).toEqual([]);
    adapter.onRawMessage(entry("another-node"), "2-0");
    expect(handled).toEqual([{ uid: "another-node", nsp: "/", type: 3, data: { packet: { type: 2 } } }]);
  });

  it("holds at most COMMANDS_QUEUE_MAX commands while Redis is down, failing the rest at once", async () => {
    const redis = await privateRedis();
    closers.push(() => redis.stop());
    const engines = await connectCluster({
      url: redis.url,
      prefix: space.prefix,
      nodeId: "node-q",
      graceMs: 1000,
      logger: pino({ level: "silent" }),
    });
    closers.push(() => engines.close());
    await redis.stop();
    const over = 50;
    const outcomes = await Promise.allSettled(
      Array.from({ length: COMMANDS_QUEUE_MAX + over }, (_, i) => engines.typingGate(`k${i}`, 1000)),
    );
    const full = outcomes.filter((o) => o.status === "rejected" && String(o.reason).includes("queue is full"));
    // The first ones waited (and timed out after the commands client's 1 s); the excess failed at once.
    expect(full.length).toBeGreaterThanOrEqual(over);
    expect(outcomes.every((o) => o.status === "rejected")).toBe(true);
  });
});
