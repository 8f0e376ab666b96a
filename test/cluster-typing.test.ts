import { createClient, type RedisClientType } from "redis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ConversationService } from "../server/conversations/service.js";
import { RedisTyping, type ClusterTyping } from "../server/cluster/typing.js";
import type { TypingNotice } from "../shared/schemas.js";
import { until } from "./support/harness.js";
import { missingServices, REDIS_URL, redisPrefix } from "./support/services.js";

/*
 * Typing across nodes (server/cluster/typing.ts): a user's tabs on two nodes throttle, stop and expire as one.
 * Two ConversationServices share one RedisTyping on a real Redis, as two nodes do; timings are short (a start
 * relayed at most every 300 ms, expiring after 800 ms) so the expiries run in the test.
 */

const missing = await missingServices(["redis"], "the cluster typing tests (test/cluster-typing.test.ts)");
const TIMINGS = { relayMs: 300, expiryMs: 800 };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const services: ConversationService[] = [];
afterEach(() => {
  for (const service of services.splice(0)) service.close();
});

/** Nodes sharing `typing`; every relay is recorded with the node that made it and when. */
function nodes(typing: ClusterTyping, count = 2) {
  const relayed: { node: number; state: TypingNotice["state"]; at: number }[] = [];
  const started = Date.now();
  // Bob exists: a direct conversation with him resolves without a database.
  const store = { userExists: () => Promise.resolve(true) } as never;
  const made = Array.from({ length: count }, (_, node) => {
    const delivery = {
      typing: (notice: TypingNotice) => relayed.push({ node, state: notice.state, at: Date.now() - started }),
    } as never;
    const service = new ConversationService(delivery, store, () => Date.now(), typing, TIMINGS);
    services.push(service);
    return (state: "start" | "stop") => service.setTyping("alice", { user: "bob" }, state);
  });
  const states = () => relayed.map((entry) => entry.state);
  return { tabs: made, relayed, states };
}

/** Expiry timers a service holds (bounded: one per key, gone after the expiry or a stop). */
const held = (service: ConversationService) => (service as unknown as { expiries: Map<string, unknown> }).expiries.size;

describe.skipIf(missing !== undefined)("typing across nodes", () => {
  let redis: RedisClientType;
  let space: ReturnType<typeof redisPrefix>;
  beforeAll(async () => {
    redis = createClient({ url: REDIS_URL });
    await redis.connect();
    space = redisPrefix();
  });
  afterAll(async () => {
    await space.clear();
    await redis.close();
  });
  const shared = () => new RedisTyping(redis, `${space.prefix}${Math.random().toString(36).slice(2)}:`);

  it("relays a stop sent from the user's tab on another node, once", async () => {
    const { tabs, states } = nodes(shared());
    await tabs[0]!("start");
    await tabs[1]!("stop");
    await tabs[0]!("stop");
    expect(states()).toEqual(["start", "stop"]);
    // The first node's expiry finds nothing pending: no second stop.
    await sleep(TIMINGS.expiryMs + 200);
    expect(states()).toEqual(["start", "stop"]);
    expect(services.map(held)).toEqual([0, 0]);
  });

  it("keeps a start renewed on another node pending past the first node's expiry, and stops it once", async () => {
    const { tabs, relayed } = nodes(shared());
    const began = Date.now();
    await tabs[0]!("start");
    await sleep(100);
    const renewed = Date.now() - began;
    await tabs[1]!("start"); // within the throttle: renewed, not relayed
    await until(() => relayed.length === 2, 3000);
    // Not the first node's expiry (at 800 ms): the renewing node's, an expiry after the renewal.
    expect(relayed[1]).toMatchObject({ node: 1, state: "stop" });
    expect(relayed[1]!.at).toBeGreaterThanOrEqual(renewed + TIMINGS.expiryMs - 20);
    await sleep(300);
    expect(relayed).toHaveLength(2);
    expect(services.map(held)).toEqual([0, 0]);
  });

  it("relays one start per throttle window whichever nodes the starts come from", async () => {
    const { tabs, states } = nodes(shared());
    await Promise.all([tabs[0]!("start"), tabs[1]!("start"), tabs[0]!("start")]);
    expect(states()).toEqual(["start"]);
    await sleep(TIMINGS.relayMs + 20);
    await tabs[1]!("start");
    expect(states()).toEqual(["start", "start"]);
    await tabs[0]!("stop");
    expect(states()).toEqual(["start", "start", "stop"]);
  });

  it("relays nothing for a stop with no start pending, or a start throttled after a stop", async () => {
    const { tabs, states } = nodes(shared());
    await tabs[1]!("stop");
    await tabs[0]!("start");
    await tabs[1]!("stop");
    await tabs[0]!("start"); // within the throttle, nothing pending: not relayed
    await sleep(TIMINGS.expiryMs + 200);
    expect(states()).toEqual(["start", "stop"]);
  });

  it("relays starts and stops as a node alone while Redis does not answer", async () => {
    const down: ClusterTyping = {
      start: () => Promise.reject(new Error("Redis did not answer")),
      stop: () => Promise.reject(new Error("Redis did not answer")),
      expire: () => Promise.reject(new Error("Redis did not answer")),
    };
    const { tabs, states } = nodes(down, 1);
    await tabs[0]!("start");
    await tabs[0]!("start"); // within the second: throttled, as on a node alone
    expect(states()).toEqual(["start"]);
    await until(() => states().length === 2, 2000); // this node's own expiry stops it
    await sleep(TIMINGS.relayMs);
    await tabs[0]!("start");
    await tabs[0]!("stop");
    await tabs[0]!("stop");
    expect(states()).toEqual(["start", "stop", "start", "stop"]);
  });
});
