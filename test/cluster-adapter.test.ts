import { createServer } from "node:http";
import pino from "pino";
import { Server } from "socket.io";
import { afterAll, describe, expect, it } from "vitest";
import { createClient, type RedisClientType } from "redis";
import { COMMANDS_QUEUE_MAX, connectCluster, type ClusterEngines } from "../server/cluster/engines.js";
import { batchStreamWrites } from "../server/cluster/stream-writes.js";
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

  /** A Socket.IO server on the cluster's adapter, subscribed, closed after the tests. */
  async function node(nodeId: string): Promise<{ io: Server; adapter: StreamsAdapter }> {
    const engines: ClusterEngines = await connectCluster({
      url: REDIS_URL,
      prefix: space.prefix,
      nodeId,
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
    return { io, adapter };
  }

  it("drops this node's own stream entries before parsing them, and parses the other nodes'", async () => {
    const { adapter } = await node("node-a");
    const handled: unknown[] = [];
    adapter.onMessage = (message) => handled.push(message);
    const entry = (uid: string) => ({ uid, nsp: "/", type: "3", data: JSON.stringify({ packet: { type: 2 } }) });
    adapter.onRawMessage(entry(adapter.uid), "1-0");
    expect(handled).toEqual([]);
    adapter.onRawMessage(entry("another-node"), "2-0");
    expect(handled).toEqual([{ uid: "another-node", nsp: "/", type: 3, data: { packet: { type: 2 } } }]);
  });

  it("puts a turn's broadcasts into the stream at once, so another node's reader gets them in one read", async () => {
    const { io } = await node("node-b");
    // Another node's reader, as the adapter reads: blocked on the stream's end.
    const reader = createClient({ url: REDIS_URL });
    await reader.connect();
    closers.push(() => reader.close());
    const stream = `${space.prefix}socket.io`;
    const read = reader.xRead([{ key: stream, id: "$" }], { BLOCK: 5000, COUNT: 100 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    for (let i = 0; i < 5; i++) io.to("room").emit("message", { n: i });
    const entries = (await read)![0]!.messages;
    // One XADD after another, the reader was served after the first (1 entry) and read the rest later.
    expect(entries).toHaveLength(5);
  });

  it("answers each batched stream write its own entry id or error, in order", async () => {
    const client = createClient({ url: REDIS_URL });
    await client.connect();
    closers.push(() => client.close());
    const key = (name: string) => `${space.prefix}${name}`;
    await client.set(key("not-a-stream"), "x");
    const batched = batchStreamWrites(client as RedisClientType);
    const outcomes = await Promise.allSettled([
      batched.xAdd(key("s"), "*", { n: "1" }),
      batched.xAdd(key("not-a-stream"), "*", { n: "2" }),
      batched.xAdd(key("s"), "*", { n: "3" }),
    ]);
    expect(outcomes.map((outcome) => outcome.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(String((outcomes[1] as PromiseRejectedResult).reason)).toMatch(/WRONGTYPE/);
    const stored = (await client.xRange(key("s"), "-", "+"))!;
    expect(stored.map((entry) => [entry.id, entry.message["n"]])).toEqual([
      [(outcomes[0] as PromiseFulfilledResult<string>).value, "1"],
      [(outcomes[2] as PromiseFulfilledResult<string>).value, "3"],
    ]);
    // A lone write goes as itself.
    expect(await batched.xAdd(key("s"), "*", { n: "4" })).toMatch(/^\d+-\d+$/);
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
      Array.from({ length: COMMANDS_QUEUE_MAX + over }, (_, i) => engines.typing.stop(`k${i}`)),
    );
    const full = outcomes.filter((o) => o.status === "rejected" && String(o.reason).includes("queue is full"));
    // The first ones waited (and timed out after the commands client's 1 s); the excess failed at once.
    expect(full.length).toBeGreaterThanOrEqual(over);
    expect(outcomes.every((o) => o.status === "rejected")).toBe(true);
  });
});
