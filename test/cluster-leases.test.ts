import { createClient, type RedisClientType } from "redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryLeases, RedisLeases, type LeaseStore } from "../server/cluster/leases.js";
import { missingServices, REDIS_URL, redisPrefix } from "./support/services.js";

const missing = await missingServices(["redis"], "the Redis lease tests (test/cluster-leases.test.ts)");

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The contract every lease store keeps; `wait` lets the store's time pass. */
function leaseContract(name: string, make: () => LeaseStore, wait: (ms: number) => Promise<void>) {
  describe(name, () => {
    it("lets one holder at a time take a lease, and another once it is released", async () => {
      const leases = make();
      const first = await leases.acquire("room:a", "node-1", 10_000);
      expect(first).toMatchObject({ name: "room:a", holder: "node-1" });
      expect(await leases.acquire("room:a", "node-2", 10_000)).toBeUndefined();
      expect(await leases.acquire("room:b", "node-2", 10_000)).toMatchObject({ holder: "node-2" });
      await leases.release(first!);
      const second = await leases.acquire("room:a", "node-2", 10_000);
      expect(second!.token).toBeGreaterThan(first!.token);
    });

    it("frees a lease nobody renews, gives the next holder a greater token, and tells the old one it lost", async () => {
      const leases = make();
      const old = (await leases.acquire("room:c", "dead-node", 100))!;
      expect(await leases.renew(old, 100)).toBe(true);
      await wait(150);
      const taken = (await leases.acquire("room:c", "node-2", 10_000))!;
      expect(taken.token).toBeGreaterThan(old.token);
      expect(await leases.renew(old, 10_000)).toBe(false);
      // A late release by the old holder does not free the new holder's lease.
      await leases.release(old);
      expect(await leases.acquire("room:c", "node-3", 10_000)).toBeUndefined();
      expect(await leases.renew(taken, 10_000)).toBe(true);
    });

    it("gives exactly one of many simultaneous takers the lease", async () => {
      const leases = make();
      const takers = await Promise.all(
        Array.from({ length: 20 }, (_, i) => leases.acquire("room:d", `node-${i}`, 10_000)),
      );
      expect(takers.filter(Boolean)).toHaveLength(1);
    });
  });
}

let clock = 1_000_000;
leaseContract(
  "MemoryLeases",
  () => new MemoryLeases(() => clock),
  async (ms) => {
    clock += ms;
  },
);

describe.skipIf(missing !== undefined)("on Redis", () => {
  let redis: RedisClientType;
  const space = redisPrefix();
  beforeAll(async () => {
    redis = createClient({ url: REDIS_URL });
    await redis.connect();
  });
  afterAll(async () => {
    await space.clear();
    await redis.quit();
  });
  leaseContract("RedisLeases", () => new RedisLeases(redis, `${space.prefix}${Math.random()}:`), sleep);
});
