import { createClient, type RedisClientType } from "redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisPresence } from "../server/cluster/presence.js";
import { missingServices, REDIS_URL, redisPrefix } from "./support/services.js";

const missing = await missingServices(["redis"], "the Redis presence tests (test/cluster-presence.test.ts)");

describe.skipIf(missing !== undefined)("cluster presence on Redis", () => {
  let redis: RedisClientType;
  const space = redisPrefix();
  let run = 0;
  beforeAll(async () => {
    redis = createClient({ url: REDIS_URL });
    await redis.connect();
  });
  afterAll(async () => {
    await space.clear();
    await redis.quit();
  });

  /** Two nodes sharing one fresh key space. */
  const nodes = (graceMs = 5000) => {
    const prefix = `${space.prefix}${(run += 1)}:`;
    const make = (nodeId: string) => new RedisPresence({ redis, prefix, nodeId, graceMs, nodeTtlMs: 15_000 });
    return [make("node-a"), make("node-b")] as const;
  };

  it("reports online once for the cluster, and offline once, after the grace, when the last socket anywhere is gone", async () => {
    const [a, b] = nodes();
    expect(await a.connected("alice", "s1")).toBe("online");
    expect(await b.connected("alice", "s2")).toBe("none");
    expect(await a.isOnline(["alice", "bob"])).toEqual([true, false]);
    await a.disconnected("alice", "s1", 1_000);
    expect(await b.claimDue(1_000_000)).toEqual([]); // a socket is left on node b
    await b.disconnected("alice", "s2", 2_000);
    expect(await a.claimDue(6_999)).toEqual([]); // still within the grace
    expect(await b.isOnline(["alice"])).toEqual([true]);
    const claims = await Promise.all([a.claimDue(7_000), b.claimDue(7_000), a.claimDue(7_000)]);
    expect(claims.flat()).toEqual([{ userId: "alice", lastSeenAt: 2_000 }]);
    expect(await a.isOnline(["alice"])).toEqual([false]);
    // Online again is a new transition.
    expect(await b.connected("alice", "s3")).toBe("online");
  });

  it("refuses a socket beyond the user's limit across nodes, recording nothing, and frees the slot on a close", async () => {
    const [a, b] = nodes();
    expect(await a.connected("fay", "f1", 2)).toBe("online");
    expect(await b.connected("fay", "f2", 2)).toBe("none");
    expect(await a.connected("fay", "f3", 2)).toBe("full");
    expect(await b.connected("fay", "f2", 2)).toBe("none"); // a socket already recorded is no new one
    await a.disconnected("fay", "f1", 1_000);
    expect(await b.connected("fay", "f3", 2)).toBe("none");
  });

  it("announces nothing for a reconnect within the grace, on any node", async () => {
    const [a, b] = nodes();
    expect(await a.connected("carol", "s1")).toBe("online");
    await a.disconnected("carol", "s1", 1_000);
    expect(await b.connected("carol", "s2")).toBe("none");
    expect(await a.claimDue(100_000)).toEqual([]);
    expect(await b.isOnline(["carol"])).toEqual([true]);
  });

  it("sweeps a node that stopped beating: its users go offline (once) unless connected elsewhere", async () => {
    const [a, b] = nodes(5_000);
    await a.heartbeat(10_000);
    await b.heartbeat(10_000);
    expect(await b.connected("dave", "d1")).toBe("online");
    await b.connected("erin", "e1");
    await a.connected("erin", "e2");
    // Node b dies; node a keeps beating.
    await a.heartbeat(20_000);
    expect(await a.claimDue(24_999)).toEqual([]); // b's last beat is not yet 15 s old
    await a.heartbeat(30_000);
    const claimed = await a.claimDue(30_000);
    // Swept at b's last beat: due 5 s later, which has passed.
    expect(claimed).toEqual([{ userId: "dave", lastSeenAt: 10_000 }]);
    expect(await a.isOnline(["dave", "erin"])).toEqual([false, true]);
    expect(await b.claimDue(40_000)).toEqual([]);
  });
});
