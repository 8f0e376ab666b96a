import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from "rate-limiter-flexible";
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

/** Leases are at most this many points: what one node may hold of a key's budget that others cannot use. */
const MAX_LEASE = 100;

interface Lease {
  /** Points taken from the limiter and not handed out yet. */
  left: number;
  /** When the limiter's window for the key ends (the limiter's clock: `Date.now()`). */
  resetAt: number;
  /** The limiter has no points left for the key until `resetAt`. */
  spent: boolean;
  /** A lease being taken; charges arriving meanwhile wait for it, in order. */
  pending: Promise<boolean> | undefined;
}

/**
 * Charges one event at a time to a key's budget without asking the limiter each time: the budget takes
 * points from the limiter in leases (a tenth of the budget, 1 to 100 points) and hands them out on this
 * node, answering synchronously while a lease lasts. With the Redis limiter that is one round trip per
 * lease instead of one per event. The budget is never exceeded across nodes (a lease is counted in Redis
 * when taken); a user whose sockets are on several nodes may be refused up to a lease's worth of points
 * early per other node, since points leased by one node are not handed out by another.
 */
export class LeasedBudget {
  readonly #limiter: RateLimiterAbstract;
  readonly #points: number;
  readonly #lease: number;
  readonly #sweepMs: number;
  readonly #leases = new Map<string, Lease>();
  #nextSweep = 0;

  /** `limiter` counts `spec`'s budget (see `LimiterFactory`). */
  constructor(limiter: RateLimiterAbstract, spec: Pick<LimitSpec, "points" | "durationSeconds">) {
    this.#limiter = limiter;
    this.#points = spec.points;
    this.#lease = Math.min(MAX_LEASE, Math.max(1, Math.floor(spec.points / 10)));
    // Keys whose window ended are forgotten once per window.
    this.#sweepMs = spec.durationSeconds * 1000;
  }

  /** Keys with a lease or a spent window (bounded: keys are forgotten once their window ends). */
  get size(): number {
    return this.#leases.size;
  }

  /** Charges one point to `key`: true when admitted. Synchronous while this node holds leased points. */
  take(key: string): boolean | Promise<boolean> {
    const now = Date.now();
    if (now >= this.#nextSweep) this.#sweep(now);
    const lease = this.#leases.get(key);
    if (lease === undefined || now >= lease.resetAt) return this.#renew(key);
    if (lease.pending) return lease.pending.then(() => this.take(key));
    if (lease.left > 0) {
      lease.left -= 1;
      return true;
    }
    return lease.spent ? false : this.#renew(key, lease);
  }

  #renew(key: string, previous?: Lease): Promise<boolean> {
    const lease: Lease = previous ?? { left: 0, resetAt: Number.POSITIVE_INFINITY, spent: false, pending: undefined };
    this.#leases.set(key, lease);
    const size = this.#lease;
    lease.pending = this.#limiter
      .consume(key, size)
      .catch((refusal: unknown) => {
        if (refusal instanceof RateLimiterRes) return refusal;
        throw refusal;
      })
      .then(
        (answer) => {
          // The limiter counted the whole lease; the points within the budget are this node's to hand out.
          const granted = Math.max(0, Math.min(size, this.#points - (answer.consumedPoints - size)));
          lease.resetAt = Date.now() + answer.msBeforeNext;
          lease.spent = granted < size;
          lease.left = Math.max(0, granted - 1);
          lease.pending = undefined;
          return granted > 0;
        },
        (error: unknown) => {
          this.#leases.delete(key);
          throw error;
        },
      );
    return lease.pending;
  }

  #sweep(now: number): void {
    this.#nextSweep = now + this.#sweepMs;
    for (const [key, lease] of this.#leases) if (!lease.pending && now >= lease.resetAt) this.#leases.delete(key);
  }
}
