import { createAdapter } from "@socket.io/redis-streams-adapter";
import { createClient, type RedisClientType } from "redis";
import { batchStreamWrites } from "./stream-writes.js";
import type { Logger } from "../logger.js";
import { RedisLeases, type LeaseStore } from "./leases.js";
import { redisLimiters, type LimiterFactory } from "./limiters.js";
import { RedisPresence, type ClusterPresence } from "./presence.js";
import { RedisTyping, type ClusterTyping } from "./typing.js";

/** What the nodes of a cluster share through Redis, made once per node in `main.ts`. */
export interface ClusterEngines {
  /** This node's name (`NODE_ID`). */
  readonly nodeId: string;
  /** Socket.IO's Redis Streams adapter: every broadcast reaches every node, in order. */
  readonly adapter: ReturnType<typeof createAdapter>;
  /** Who has sockets where, with node heartbeats and the sweep of dead nodes. */
  readonly presence: ClusterPresence;
  /** One group worker per room in the cluster. */
  readonly leases: LeaseStore;
  /** Rate limits counted across nodes. */
  readonly limiters: LimiterFactory;
  /** Typing state shared by the nodes: throttle, pending start, expiry. */
  readonly typing: ClusterTyping;
  /** True while Redis answers (for `/readyz`). */
  ready(): boolean;
  /** True while the adapter's connection is up: broadcasts reach the other nodes. */
  linked(): boolean;
  /**
   * Resolves once the adapter of the namespace whose adapter id is `uid` has subscribed to its channels:
   * before that, answers other nodes send it (`serverSideEmitWithAck`) would be lost, and closing it would
   * leave its SUBSCRIBE to reject unhandled (the adapter does not catch it).
   */
  subscribed(uid: string): Promise<void>;
  /** Closes this node's Redis connections. */
  close(): Promise<void>;
}

/** How long a command of presence, limits, leases or typing may take before it fails. */
const COMMAND_TIMEOUT_MS = 1000;

/** Commands a Redis client holds while Redis is unreachable; later ones fail at once ("The queue is full"). */
export const COMMANDS_QUEUE_MAX = 10_000;

/** How long a node waits at boot for its adapter's subscription. */
const SUBSCRIBE_WAIT_MS = 10_000;

/** Options of `connectCluster`. */
export interface ClusterOptions {
  url: string;
  /** Prefix of every key and stream (`REDIS_PREFIX`). */
  prefix: string;
  nodeId: string;
  /** `PRESENCE_GRACE_MS`. */
  graceMs: number;
  logger: Logger;
}

/**
 * Connects this node to the cluster's Redis: one client for commands, one for the adapter (which duplicates
 * it for its blocking stream reads and its pub/sub). While Redis is unreachable the clients reconnect with
 * backoff; errors are logged once per outage, not per retry.
 */
export async function connectCluster(options: ClusterOptions): Promise<ClusterEngines> {
  const { prefix, nodeId, logger } = options;
  const connect = async (name: string, commandTimeoutMs?: number): Promise<RedisClientType> => {
    const client: RedisClientType = createClient({
      url: options.url,
      socket: { reconnectStrategy: (retries) => Math.min(100 * 2 ** retries, 2000) },
      // While Redis is down, commands wait in this queue until it is back; bounded, so an outage costs at most
      // this many commands of memory, and later ones fail at once instead. (Broadcasts stay out of it once
      // the outage is noticed: the delivery module then sends to this node's sockets only.)
      commandsQueueMaxLength: COMMANDS_QUEUE_MAX,
      // node-redis gives every command a 5 s timeout unless told otherwise, at the price of an
      // `AbortSignal.timeout` per command: 17-30 µs of CPU each, measured (a timer, and work for the garbage
      // collector), against 8-11 µs for the whole XADD without it. The adapter's client, which writes one
      // command per broadcast, has none: commands awaiting an answer fail when the connection closes, and
      // while it is down broadcasts do not reach it (see `linked`).
      commandOptions: { timeout: commandTimeoutMs ?? 0 },
    });
    let down = false;
    client.on("error", (error: unknown) => {
      if (down) return;
      down = true;
      logger.error({ err: error, client: name }, "redis unreachable; retrying");
    });
    client.on("ready", () => {
      if (down) logger.info({ client: name }, "redis reachable again");
      down = false;
    });
    await client.connect();
    return client;
  };
  // Presence, limits, leases and typing answer within a second or fail (a limiter then counts on this node
  // alone): a command written as Redis died gets no answer, and a request must not wait for it. The
  // adapter has a client of its own, without that timeout: its stream reads block for seconds on purpose.
  const redis = await connect("commands", COMMAND_TIMEOUT_MS);
  const adapterClient = await connect("adapter").catch(async (error: unknown) => {
    await redis.close();
    throw error;
  });
  const streams = createAdapter(batchStreamWrites(adapterClient), {
    streamName: `${prefix}socket.io`,
    channelPrefix: `${prefix}socket.io`,
    // Every packet is JSON (the contract has no binary payloads): skip the binary scan of each one.
    onlyPlaintext: true,
  });
  // Socket.IO calls this with `new` (a plain function that returns the adapter; an arrow function cannot be).
  const adapter = function (nsp: unknown) {
    const made = streams(nsp);
    // Every node reads every stream entry, its own included, and the adapter JSON-parses each one before
    // ClusterAdapter drops this node's own by uid: drop them before the parse (3% of a node's CPU on sends).
    const own = (made as unknown as { uid: string }).uid;
    const decode = made.onRawMessage.bind(made);
    made.onRawMessage = (raw, offset) => (raw.uid === own ? undefined : decode(raw, offset));
    return made;
  } as typeof streams;
  return {
    nodeId,
    adapter,
    presence: new RedisPresence({ redis, prefix, nodeId, graceMs: options.graceMs }),
    leases: new RedisLeases(redis, prefix),
    limiters: redisLimiters(redis, prefix),
    typing: new RedisTyping(redis, prefix),
    ready: () => redis.isReady && adapterClient.isReady,
    linked: () => adapterClient.isReady,
    async subscribed(uid) {
      const channel = `${prefix}socket.io#/#${uid}#`;
      for (let waited = 0; waited < SUBSCRIBE_WAIT_MS; waited += 20) {
        const counts = await redis.pubSubNumSub(channel);
        if ((counts[channel] ?? 0) > 0) return;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      throw new Error(`the Socket.IO adapter did not subscribe to ${channel} within ${SUBSCRIBE_WAIT_MS} ms`);
    },
    async close() {
      await Promise.all([redis, adapterClient].map(async (client) => (client.isOpen ? client.close() : undefined)));
    },
  };
}
