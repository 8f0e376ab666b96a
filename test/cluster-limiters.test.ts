import { createClient, type RedisClientType } from "redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createChatServer, type ChatServer } from "../server/app.js";
import { LeasedBudget, redisLimiters } from "../server/cluster/limiters.js";
import { cleanup, testConfig } from "./support/harness.js";
import { missingServices, REDIS_URL, redisPrefix } from "./support/services.js";

const missing = await missingServices(["redis"], "the Redis rate-limit tests (test/cluster-limiters.test.ts)");

describe.skipIf(missing !== undefined)("rate limits counted in Redis", () => {
  let redis: RedisClientType;
  const space = redisPrefix();
  const servers: ChatServer[] = [];
  beforeAll(async () => {
    redis = createClient({ url: REDIS_URL });
    await redis.connect();
  });
  afterAll(async () => {
    for (const server of servers) await server.close();
    await cleanup();
    await space.clear();
    await redis.quit();
  });

  it("counts one client's attempts on two servers together", async () => {
    const limiters = redisLimiters(redis, `${space.prefix}two-nodes:`);
    for (let i = 0; i < 2; i += 1) {
      servers.push(await createChatServer({ config: testConfig({ RATE_LIMIT_AUTH_PER_MIN: "3" }), limiters }));
    }
    const attempt = (server: ChatServer) =>
      server.app.inject({
        method: "POST",
        url: "/api/auth/login",
        payload: { username: "nobody", password: "wrong password" },
      });
    const codes = [];
    for (const server of [servers[0]!, servers[1]!, servers[0]!, servers[1]!])
      codes.push((await attempt(server)).statusCode);
    expect(codes).toEqual([401, 401, 401, 429]);
  });

  it("leases a user's event budget to two nodes: never more than the budget, at most a lease per node less", async () => {
    const spec = { name: "events", points: 200, durationSeconds: 10 };
    let asked = 0;
    const [a, b] = [0, 1].map(() => {
      const limiter = redisLimiters(redis, `${space.prefix}leases:`)(spec);
      const consume = limiter.consume.bind(limiter);
      limiter.consume = (key, points, options) => {
        asked += 1;
        return consume(key, points, options);
      };
      return new LeasedBudget(limiter, spec);
    });
    const admitted = async (budget: LeasedBudget, count: number) => {
      let ok = 0;
      for (let i = 0; i < count; i += 1) if (await budget.take("flood")) ok += 1;
      return ok;
    };
    // Node A hands out 30 of its 40 leased points; B gets what is left in Redis, then both are refused.
    const onA = await admitted(a!, 30);
    const onB = await admitted(b!, 300);
    expect(onA).toBe(30);
    expect(onB).toBe(160);
    expect(await admitted(a!, 20)).toBe(10);
    expect(await admitted(a!, 5)).toBe(0);
    // One Redis round trip per lease of 20 (and one per node for the refusal), not one per event.
    expect(asked).toBe(12);
  });

  it("still limits, on each node alone, while Redis cannot be reached", async () => {
    const down = createClient({ url: "redis://127.0.0.1:1", socket: { reconnectStrategy: false } });
    down.on("error", () => {});
    const limiter = redisLimiters(down as RedisClientType, space.prefix)({ name: "x", points: 2, durationSeconds: 60 });
    await limiter.consume("k");
    await limiter.consume("k");
    await expect(limiter.consume("k")).rejects.toMatchObject({ remainingPoints: 0 });
  });
});
