import { RateLimiterMemory, RateLimiterRedis, type RateLimiterAbstract } from "rate-limiter-flexible";
import type { RedisClientType } from "redis";

/** One rate limit: `points` per `durationSeconds` per key, named so that nodes share the same counters. */
export interface LimitSpec {
  /** Distinguishes the limit's keys from the others' (e.g. `events`, `auth`). */
  name: string;
  points: number;
  durationSeconds: number;
}

/** Makes the rate limiters of a server: in memory for one node, in Redis for a cluster. */
export type LimiterFactory = (spec: LimitSpec) => RateLimiterAbstract;

/** Limits counted by this process alone (the embedded default). */
export const memoryLimiters: LimiterFactory = ({ points, durationSeconds }) =>
  new RateLimiterMemory({ points, duration: durationSeconds });

/**
 * Limits counted in Redis, across every node. While Redis cannot be reached each node falls back to counting
 * on its own (the insurance limiter), so requests are still limited and never fail for it.
 */
export function redisLimiters(redis: RedisClientType, prefix: string): LimiterFactory {
  return ({ name, points, durationSeconds }) =>
    new RateLimiterRedis({
      storeClient: redis,
      useRedisPackage: true,
      rejectIfRedisNotReady: true,
      keyPrefix: `${prefix}rl:${name}`,
      points,
      duration: durationSeconds,
      insuranceLimiter: new RateLimiterMemory({ points, duration: durationSeconds }),
    });
}
