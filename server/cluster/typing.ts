import type { RedisClientType } from "redis";

/*
 * Typing across nodes (contract section 8, as section 14 asks of every section). A user's tabs may sit on
 * several nodes: whether a start was relayed and not yet stopped, and when it expires, must be one state for
 * the cluster, or a stop sent from another node's tab is lost and a start renewed from another node expires
 * on the first. Redis holds it per user and conversation:
 * - the throttle: `typing:<key>`, set for a second by the start that is relayed;
 * - the pending start: `typing-on:<key>`, whose value is the token of the newest start. The node that made
 *   that start keeps the expiry timer; when it fires, it relays the stop only if its token is still the value
 *   (a newer start on any node replaced it, a stop deleted it).
 */

/** What a typing start does: relay it; renew the pending start without relaying; nothing (throttled, none pending). */
export type TypingStartOutcome = "relay" | "renew" | "none";

/** The typing state the nodes share (see above). */
export interface ClusterTyping {
  /**
   * A start under `token`: relayed when no start of this key was relayed in the last `relayMs`; relayed or
   * renewed, `token` owns the pending start's expiry from now on (kept `keepMs` in Redis, past any expiry).
   */
  start(key: string, token: string, relayMs: number, keepMs: number): Promise<TypingStartOutcome>;
  /** A stop: true when a start was pending (the caller relays the stop; nobody else will). */
  stop(key: string): Promise<boolean>;
  /** The expiry of the start `token` made: true when it is still the pending one (the caller relays the stop). */
  expire(key: string, token: string): Promise<boolean>;
}

const START = `
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[2]) then
  redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[3])
  return 1
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[3])
  return 2
end
return 0`;

const EXPIRE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0`;

/** The shared typing state in Redis, each operation one atomic command. */
export class RedisTyping implements ClusterTyping {
  constructor(
    private readonly redis: RedisClientType,
    private readonly prefix: string,
  ) {}

  async start(key: string, token: string, relayMs: number, keepMs: number): Promise<TypingStartOutcome> {
    const outcome = await this.redis.eval(START, {
      keys: [`${this.prefix}typing:${key}`, this.pending(key)],
      arguments: [token, String(relayMs), String(keepMs)],
    });
    return outcome === 1 ? "relay" : outcome === 2 ? "renew" : "none";
  }

  async stop(key: string): Promise<boolean> {
    return (await this.redis.del(this.pending(key))) === 1;
  }

  async expire(key: string, token: string): Promise<boolean> {
    return (await this.redis.eval(EXPIRE, { keys: [this.pending(key)], arguments: [token] })) === 1;
  }

  private pending(key: string): string {
    return `${this.prefix}typing-on:${key}`;
  }
}
