import type { RedisClientType } from "redis";

/**
 * What a connect means for the node that saw it: it made the user online, changed nothing, or was refused
 * because the user already has its most sockets in the cluster (nothing recorded).
 */
export type PresenceTransition = "online" | "none" | "full";

/** A user whose offline became due: its last socket went away at `lastSeenAt`. */
export interface OfflineDue {
  userId: string;
  lastSeenAt: number;
}

/**
 * Who has sockets where, for the whole cluster. A user is online from its first socket on any node until its
 * last socket everywhere has been gone for the grace. Each transition is reported to exactly one node: the
 * one whose connect made the user online, and the one whose sweep claimed the due offline. A node that stops
 * heartbeating is swept: its sockets are removed as if they had closed.
 */
export interface ClusterPresence {
  /**
   * Records a socket on this node unless the user has `maxSockets` already (then "full", nothing recorded);
   * "online" when this made the user online (nobody else is told).
   */
  connected(userId: string, socketId: string, maxSockets?: number): Promise<PresenceTransition>;
  /** Records a closed socket; the user's offline falls due after the grace if no socket is left anywhere. */
  disconnected(userId: string, socketId: string, at: number): Promise<void>;
  /** Claims the offlines due by `now` (each claimed by one node only), and sweeps nodes that stopped beating. */
  claimDue(now: number): Promise<OfflineDue[]>;
  /** Online, including the grace. */
  isOnline(userIds: readonly string[]): Promise<boolean[]>;
  /** Tells the cluster this node is alive (call well within `nodeTtlMs`). */
  heartbeat(now: number): Promise<void>;
}

/** Options of the Redis presence. */
export interface RedisPresenceOptions {
  redis: RedisClientType;
  /** Key prefix shared by the cluster's nodes. */
  prefix: string;
  nodeId: string;
  graceMs: number;
  /** A node whose last heartbeat is older than this is dead and swept. @default 15000 */
  nodeTtlMs?: number;
}

/**
 * Keys (under the prefix): `ps:<user>` hash socketId → nodeId (the user's sockets everywhere); `on:<user>`
 * exists while the user is online; `due` sorted set user → when its offline falls due; `last:<user>` when
 * its last socket went away; `nodes` sorted set nodeId → last heartbeat; `ns:<node>` set of the node's
 * `user\nsocket` entries, for the sweep.
 */
const CONNECT = `
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[4]) and redis.call('HEXISTS', KEYS[1], ARGV[2]) == 0 then
  return -1
end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
redis.call('SADD', KEYS[4], ARGV[1] .. '\\n' .. ARGV[2])
redis.call('ZREM', KEYS[3], ARGV[1])
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('SET', KEYS[2], '1')
return 1`;

const DISCONNECT = `
redis.call('HDEL', KEYS[1], ARGV[2])
redis.call('SREM', KEYS[4], ARGV[1] .. '\\n' .. ARGV[2])
if redis.call('HLEN', KEYS[1]) == 0 and redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('SET', KEYS[5], ARGV[3])
  redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
end
return 0`;

/** Claims one due offline: only the node whose ZREM succeeds reports it, and only if no socket came back. */
const CLAIM = `
if redis.call('ZREM', KEYS[3], ARGV[1]) == 0 then return false end
if redis.call('HLEN', KEYS[1]) > 0 then return false end
redis.call('DEL', KEYS[2])
return redis.call('GET', KEYS[5]) or '0'`;

/** Presence in Redis: every check and its write is one script. */
export class RedisPresence implements ClusterPresence {
  private readonly redis: RedisClientType;
  private readonly p: string;
  private readonly nodeTtlMs: number;

  constructor(private readonly options: RedisPresenceOptions) {
    this.redis = options.redis;
    this.p = options.prefix;
    this.nodeTtlMs = options.nodeTtlMs ?? 15_000;
  }

  private keys(userId: string, nodeId = this.options.nodeId): string[] {
    const p = this.p;
    return [`${p}ps:${userId}`, `${p}on:${userId}`, `${p}due`, `${p}ns:${nodeId}`, `${p}last:${userId}`];
  }

  async connected(userId: string, socketId: string, maxSockets = Number.MAX_SAFE_INTEGER): Promise<PresenceTransition> {
    const made = Number(
      await this.redis.eval(CONNECT, {
        keys: this.keys(userId),
        arguments: [userId, socketId, this.options.nodeId, String(maxSockets)],
      }),
    );
    return made === 1 ? "online" : made === -1 ? "full" : "none";
  }

  disconnected(userId: string, socketId: string, at: number, nodeId = this.options.nodeId): Promise<void> {
    return this.redis
      .eval(DISCONNECT, {
        keys: this.keys(userId, nodeId),
        arguments: [userId, socketId, String(at), String(at + this.options.graceMs)],
      })
      .then(() => undefined);
  }

  async claimDue(now: number): Promise<OfflineDue[]> {
    await this.sweepDeadNodes(now);
    const due = await this.redis.zRangeByScore(`${this.p}due`, 0, now, { LIMIT: { offset: 0, count: 500 } });
    const claimed: OfflineDue[] = [];
    for (const userId of due) {
      const lastSeen = await this.redis.eval(CLAIM, { keys: this.keys(userId), arguments: [userId] });
      if (lastSeen !== null) claimed.push({ userId, lastSeenAt: Number(lastSeen) });
    }
    return claimed;
  }

  async isOnline(userIds: readonly string[]): Promise<boolean[]> {
    if (userIds.length === 0) return [];
    const multi = this.redis.multi();
    for (const userId of userIds) multi.exists(`${this.p}on:${userId}`);
    const answers = await multi.exec();
    return answers.map((answer) => Number(answer) === 1);
  }

  async heartbeat(now: number): Promise<void> {
    await this.redis.zAdd(`${this.p}nodes`, { score: now, value: this.options.nodeId });
  }

  /** Closes, as if they had disconnected at the node's last heartbeat, the sockets of nodes that stopped. */
  private async sweepDeadNodes(now: number): Promise<void> {
    const nodesKey = `${this.p}nodes`;
    const dead = await this.redis.zRangeByScoreWithScores(nodesKey, 0, now - this.nodeTtlMs);
    for (const { value: nodeId, score: lastBeat } of dead) {
      // One sweeper per dead node: whoever removes it from the set sweeps it.
      if ((await this.redis.zRem(nodesKey, nodeId)) === 0) continue;
      const entries = await this.redis.sMembers(`${this.p}ns:${nodeId}`);
      for (const entry of entries) {
        const [userId, socketId] = entry.split("\n") as [string, string];
        await this.disconnected(userId, socketId, lastBeat, nodeId);
      }
      await this.redis.del(`${this.p}ns:${nodeId}`);
    }
  }
}
