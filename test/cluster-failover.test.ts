import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Message, StoredMessage } from "../shared/schemas.js";
import { cleanup, nextEvent, ok, openSocket, signToken, tempDir, until, type ClientSocket } from "./support/harness.js";
import { killAll, spawnServer, type ServerProcess } from "./support/process.js";
import {
  createTestDatabase,
  missingServices,
  privateRedis,
  REDIS_URL,
  redisPrefix,
  type TestDatabase,
} from "./support/services.js";

const missing = await missingServices(
  ["postgres", "redis"],
  "the cluster failover tests (test/cluster-failover.test.ts)",
);

afterEach(killAll);
afterEach(cleanup);

/** Private Redis servers of the tests, stopped after each. */
const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()!();
});

interface Sent {
  clientMsgId: string;
  acked?: StoredMessage;
}

async function connected(url: string, userId: string): Promise<{ socket: ClientSocket; received: Message[] }> {
  const socket = openSocket(url, signToken(userId));
  const received: Message[] = [];
  socket.on("message", (message) => received.push(message));
  await nextEvent(socket, "session");
  return { socket, received };
}

/** Every message the user may see, following sync pages to the end. */
async function everything(socket: ClientSocket): Promise<StoredMessage[]> {
  const all: StoredMessage[] = [];
  for (;;) {
    const page = (await socket.timeout(5000).emitWithAck("sync", { after: all.at(-1)?.rev ?? 0 })) as {
      ok: true;
      data: { messages: StoredMessage[]; hasMore: boolean };
    };
    all.push(...page.data.messages);
    if (!page.data.hasMore) return all;
  }
}

describe.skipIf(missing !== undefined)("a cluster of two node processes", () => {
  let database: TestDatabase;
  const space = redisPrefix();
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    killAll();
    await database?.drop();
    await space.clear();
  });

  const clusterEnv = (name: string) => ({
    DATABASE_URL: database.url,
    REDIS_URL,
    REDIS_PREFIX: space.prefix,
    NODE_ID: name,
    PRESENCE_GRACE_MS: "300",
  });
  const node = (name: string, env: Record<string, string> = {}): Promise<ServerProcess> =>
    spawnServer(tempDir(), { ...clusterEnv(name), ...env });

  it("boots two nodes at once on an empty database, then loses no acked message when one is SIGKILLed mid-burst", async () => {
    const [a, b] = await Promise.all([node("node-a"), node("node-b")]);
    const watcher = await connected(b.url, "watcher");
    const senders = await Promise.all([
      connected(a.url, "s1"),
      connected(b.url, "s2"),
      connected(a.url, "s3"),
      connected(b.url, "s4"),
    ]);
    await new Promise((resolve) => setTimeout(resolve, 500)); // the online notices go out first
    const sent: Sent[][] = senders.map(() => []);
    const bursts = senders.map(async ({ socket }, index) => {
      for (let n = 0; n < 400 && socket.connected; n += 1) {
        const entry: Sent = { clientMsgId: `s${index}-${n}` };
        sent[index]!.push(entry);
        const result = (await socket
          .timeout(3000)
          .emitWithAck("message:send", {
            messageType: "group",
            mediaType: "text",
            to: "lobby",
            content: entry.clientMsgId,
            clientMsgId: entry.clientMsgId,
          })
          .catch(() => undefined)) as { ok: boolean; data: StoredMessage } | undefined;
        if (result?.ok) entry.acked = result.data;
        if (!result) break;
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 400));
    a.child.kill("SIGKILL");
    await Promise.all(bursts);
    expect(await a.exited).toBe("SIGKILL");

    // Every acked message is in sync once, read from the surviving node.
    const all = await everything(watcher.socket);
    const ids = all.map((m) => m.id);
    expect(new Set(ids).size).toBe(ids.length);
    const acked = sent.flat().filter((entry) => entry.acked !== undefined);
    expect(acked.length).toBeGreaterThan(10);
    const stored = new Set(all.map((m) => m.clientMsgId));
    expect(acked.filter((entry) => !stored.has(entry.clientMsgId))).toEqual([]);
    // The revs sync pages by rise with the ids a single sender got.
    for (const list of sent) {
      const revs = list.flatMap((entry) => (entry.acked ? [entry.acked.rev] : []));
      expect(revs).toEqual([...revs].sort((x, y) => x - y));
    }

    // The killed node's users go offline once, after the grace plus the dead node's sweep (15 s).
    const offline = (user: string) =>
      watcher.received.filter((m) => m.messageType === "offline" && m.from === user).length;
    const deadline = Date.now() + 25_000;
    while ((offline("s1") === 0 || offline("s3") === 0) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect([offline("s1"), offline("s3"), offline("s2")]).toEqual([1, 1, 0]);
  }, 60_000);

  it("restarts a SIGKILLed node's group worker on the other node within 15 s while its room has sockets", async () => {
    // The task-logs example on two nodes: the task prints the id of the node that runs it.
    const env = { TASK_ID: "failover", TASK_COMMAND: 'while true; do echo "from $NODE_ID"; sleep 0.2; done' };
    const [a, b] = await Promise.all([
      spawnServer(tempDir(), { ...clusterEnv("node-e"), ...env }, "examples/task-logs.ts"),
      spawnServer(tempDir(), { ...clusterEnv("node-f"), ...env }, "examples/task-logs.ts"),
    ]);
    const onA = await connected(a.url, "watcher-a");
    const onB = await connected(b.url, "watcher-b");
    for (const client of [onA, onB]) await ok(client.socket, "room:join", { roomId: "task:failover" });
    const lines = (client: { received: Message[] }) =>
      client.received.flatMap((m) => ("content" in m && m.content?.startsWith("from ") ? [m.content] : []));
    await until(() => lines(onA).length > 2 && lines(onB).length > 2, 10_000);
    const runners = new Set(lines(onB));
    expect(runners.size).toBe(1); // one worker in the cluster
    const [holder, survivor, watcher] = runners.has("from node-e") ? [a, "from node-f", onB] : [b, "from node-e", onA];
    const killedAt = Date.now();
    holder.child.kill("SIGKILL");
    await until(() => lines(watcher).includes(survivor), 20_000);
    expect(Date.now() - killedAt).toBeLessThan(15_000);
  }, 60_000);

  it("keeps storing and acking sends while Redis is down, and delivers live again once it is back", async () => {
    // A Redis of its own, on a free port, so that stopping it disturbs no other test.
    const redis = await privateRedis();
    stops.push(redis.stop);
    const env = { REDIS_URL: redis.url };
    const [a, b] = await Promise.all([node("node-c", env), node("node-d", env)]);
    const alice = await connected(a.url, "alice");
    const bob = await connected(b.url, "bob");
    const send = async (content: string) => {
      const result = (await alice.socket.timeout(5000).emitWithAck("message:send", {
        messageType: "group",
        mediaType: "text",
        to: "lobby",
        content,
        clientMsgId: content,
      })) as { ok: boolean; data: StoredMessage };
      expect(result.ok).toBe(true);
      return result.data;
    };
    const carol = await connected(a.url, "carol");
    await redis.stop();
    const acked: StoredMessage[] = [];
    for (let n = 0; n < 20; n += 1) acked.push(await send(`while down ${n}`));
    expect((await fetch(`${a.url}/readyz`)).status).toBe(503);
    // Carol, on the sender's node, gets them live at once: they do not wait for Redis (node-redis's queue would
    // hold each broadcast until Redis is back, and the adapter publishes before it delivers locally).
    const liveOnA = () => acked.filter((m) => carol.received.some((r) => "id" in r && r.id === m.id)).length;
    const lateBy = Date.now() + 2000;
    while (liveOnA() < acked.length && Date.now() < lateBy) await new Promise((r) => setTimeout(r, 50));
    expect(liveOnA()).toBe(acked.length);
    // Bob's node has them in the database: sync brings them.
    const synced = await everything(bob.socket);
    expect(acked.filter((m) => !synced.some((s) => s.id === m.id))).toEqual([]);
    await redis.start();
    const deadline = Date.now() + 15_000;
    while ((await fetch(`${a.url}/readyz`)).status !== 200 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const after = await send("after");
    const got = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 10_000);
      const check = () => {
        if (bob.received.some((m) => "id" in m && m.id === after.id)) {
          clearTimeout(timer);
          resolve(true);
        } else setTimeout(check, 50);
      };
      check();
    });
    expect(got).toBe(true);
    await redis.stop();
  }, 60_000);
});
