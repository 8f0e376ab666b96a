import { createClient, type RedisClientType } from "redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createChatServer, type ChatServer } from "../server/app.js";
import { redisLimiters } from "../server/cluster/limiters.js";
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

  it("still limits, on each node alone, while Redis cannot be reached", async () => {
    const down = createClient({ url: "redis://127.0.0.1:1", socket: { reconnectStrategy: false } });
    down.on("error", () => {});
    const limiter = redisLimiters(down as RedisClientType, space.prefix)({ name: "x", points: 2, durationSeconds: 60 });
    await limiter.consume("k");
    await limiter.consume("k");
    await expect(limiter.consume("k")).rejects.toMatchObject({ remainingPoints: 0 });
  });
});
