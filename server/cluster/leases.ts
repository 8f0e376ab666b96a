import type { RedisClientType } from "redis";

/** A held lease: who holds it, and the fencing token that grows with every new holder. */
export interface Lease {
  readonly name: string;
  readonly holder: string;
  /** Strictly greater than every earlier holder's: work stamped with an older token is stale. */
  readonly token: number;
}

/**
 * Exclusive, expiring leases (one group worker per room in the whole cluster). A lease not renewed within its
 * time to live is free again; a node that lost it learns so on its next `renew` and must stop.
 */
export interface LeaseStore {
  /** Takes the lease if it is free or expired; undefined when someone else holds it. */
  acquire(name: string, holder: string, ttlMs: number): Promise<Lease | undefined>;
  /** Extends a lease still held by this holder with this token; false when it was lost. */
  renew(lease: Lease, ttlMs: number): Promise<boolean>;
  /** Gives a held lease up (nothing happens when it was lost already). */
  release(lease: Lease): Promise<void>;
}

/** Leases of one process (the embedded default: one node). */
export class MemoryLeases implements LeaseStore {
  private readonly held = new Map<string, { holder: string; token: number; expiresAt: number }>();
  private readonly tokens = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  async acquire(name: string, holder: string, ttlMs: number): Promise<Lease | undefined> {
    const current = this.held.get(name);
    if (current && current.expiresAt > this.now()) return undefined;
    const token = (this.tokens.get(name) ?? 0) + 1;
    this.tokens.set(name, token);
    this.held.set(name, { holder, token, expiresAt: this.now() + ttlMs });
    return { name, holder, token };
  }

  async renew(lease: Lease, ttlMs: number): Promise<boolean> {
    const current = this.held.get(lease.name);
    if (!current || current.token !== lease.token || current.expiresAt <= this.now()) return false;
    current.expiresAt = this.now() + ttlMs;
    return true;
  }

  async release(lease: Lease): Promise<void> {
    if (this.held.get(lease.name)?.token === lease.token) this.held.delete(lease.name);
  }
}

/** Takes the lease when free: the token comes from a counter that only grows (it survives the lease's key). */
const ACQUIRE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. '\\n' .. token, 'PX', ARGV[2])
return token`;
/** Extends the lease only if it still holds this holder's value. */
const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;
/** Deletes the lease only if it still holds this holder's value. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/** Leases in Redis, shared by every node: each check and its write is one script, so they are atomic. */
export class RedisLeases implements LeaseStore {
  constructor(
    private readonly redis: RedisClientType,
    private readonly prefix: string,
  ) {}

  private keys(name: string): [string, string] {
    return [`${this.prefix}lease:${name}`, `${this.prefix}lease-token:${name}`];
  }

  async acquire(name: string, holder: string, ttlMs: number): Promise<Lease | undefined> {
    const token = await this.redis.eval(ACQUIRE, { keys: this.keys(name), arguments: [holder, String(ttlMs)] });
    return token === null ? undefined : { name, holder, token: Number(token) };
  }

  async renew(lease: Lease, ttlMs: number): Promise<boolean> {
    const [key] = this.keys(lease.name);
    const renewed = await this.redis.eval(RENEW, {
      keys: [key],
      arguments: [`${lease.holder}\n${lease.token}`, String(ttlMs)],
    });
    return Number(renewed) === 1;
  }

  async release(lease: Lease): Promise<void> {
    const [key] = this.keys(lease.name);
    await this.redis.eval(RELEASE, { keys: [key], arguments: [`${lease.holder}\n${lease.token}`] });
  }
}
