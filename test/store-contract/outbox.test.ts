import { expect, it } from "vitest";
import type { Store, WebhookEndpointRecord } from "../../server/store/types.js";
import type { WebhookEventType } from "../../shared/webhooks.js";
import { addUsers, changed, describeStores, group, tick } from "../support/stores.js";

/** An endpoint record (the secret's value does not matter to the store). */
const endpoint = (id: string, events: WebhookEventType[] | null = null): WebhookEndpointRecord => ({
  id,
  url: `http://127.0.0.1:9/${id}`,
  secret: "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
  events,
  createAt: tick(),
});

/** Every due delivery of an endpoint, claimed now (attempts + 1), in seq order. */
async function claimAll(store: Store, endpointId: string, now = Date.now() + 1000) {
  return store.claimDeliveries([{ endpointId, limit: 1000 }], now, now + 60_000);
}

describeStores("Store contract: webhook outbox", (open) => {
  it("writes no event while no endpoint subscribes to its type", async () => {
    const store = await open();
    await store.createWebhook(endpoint("only-online", ["user.online"]), 10);
    await addUsers(store, "alice");
    await store.appendMessage(group("alice", "lobby"));
    expect(await store.outboxStats()).toEqual({ pending: 0, oldestCreateAt: null });
    expect(await claimAll(store, "only-online")).toEqual([]);
  });

  it("writes every change of section 13 with its event, in order, one pending delivery per subscribed endpoint", async () => {
    const store = await open();
    await store.createWebhook(endpoint("all"), 10);
    await store.createWebhook(endpoint("messages", ["message.created", "message.deleted"]), 10);
    await addUsers(store, "alice", "bob");
    const room = (await store.createRoom({
      id: "r",
      name: "R",
      visibility: "public",
      createdBy: "alice",
      createAt: 3,
    }))!;
    expect(await store.joinRoom("r", "bob", 4)).toBe("joined");
    const { message } = await store.appendMessage(group("alice", "r"));
    const edited = changed(
      await store.editMessage(message.id, { author: "alice", content: "new", at: 5, createdFrom: 0 }),
    );
    const reacted = changed(
      await store.setReaction(message.id, { emoji: "👍", userId: "bob", on: true, at: 6, maxKeys: 20 }),
    );
    const tombstone = changed(await store.deleteMessage(message.id, { author: "alice", at: 7 }));
    expect(await store.removeMember("r", "bob")).toBe(true);
    expect(await store.addMember("r", "bob", 8)).toBe(true);
    await store.recordEvent({ type: "user.offline", at: 9, data: { userId: "bob", at: 9 } });

    const all = await claimAll(store, "all");
    const seqs = all.map((delivery) => delivery.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(all.map((delivery) => [delivery.type, JSON.parse(delivery.data) as unknown])).toEqual([
      ["user.created", { user: { id: "alice", name: "alice" } }],
      ["user.created", { user: { id: "bob", name: "bob" } }],
      ["room.created", { room }],
      ["room.member", { roomId: "r", userId: "alice", change: "joined" }],
      ["room.member", { roomId: "r", userId: "bob", change: "joined" }],
      ["message.created", { message }],
      ["message.updated", { message: edited }],
      ["message.updated", { message: reacted }],
      ["message.deleted", { message: tombstone }],
      ["room.member", { roomId: "r", userId: "bob", change: "left" }],
      ["room.member", { roomId: "r", userId: "bob", change: "joined" }],
      ["user.offline", { userId: "bob", at: 9 }],
    ]);
    expect(all.every((delivery) => delivery.attempts === 1 && delivery.eventId.startsWith("evt_"))).toBe(true);
    expect(all[5]!.createAt).toBe(message.createAt);
    // The filtered endpoint got its two types only, the same events (same ids) as the other.
    const filtered = await claimAll(store, "messages");
    expect(filtered.map((delivery) => delivery.type)).toEqual(["message.created", "message.deleted"]);
    expect(filtered.map((delivery) => delivery.eventId)).toEqual([all[5]!.eventId, all[8]!.eventId]);
  });

  it("writes no event for a change refused or that changed nothing", async () => {
    const store = await open();
    await addUsers(store, "alice", "bob");
    await store.createRoom({ id: "p", name: "P", visibility: "private", createdBy: "alice", createAt: 2 });
    const { message } = await store.appendMessage(group("alice", "lobby", { clientMsgId: "k1" }));
    await store.createWebhook(endpoint("all"), 10);
    expect(await store.joinRoom("p", "bob", 3)).toBe("not-invited");
    expect(await store.joinRoom("p", "alice", 3)).toBe("already");
    expect(await store.createUser({ id: "bob", name: "again", passwordHash: null, createAt: 3 })).toBe(false);
    expect((await store.appendMessage(group("alice", "lobby", { clientMsgId: "k1" }))).created).toBe(false);
    expect((await store.editMessage(message.id, { author: "bob", content: "x", at: 4, createdFrom: 0 })).ok).toBe(
      false,
    );
    expect((await store.setReaction(message.id, { emoji: "x", userId: "bob", on: false, at: 4, maxKeys: 20 })).ok).toBe(
      true,
    );
    expect(await store.removeMember("p", "bob")).toBe(false);
    expect(await store.addMember("p", "alice", 4)).toBe(false);
    await expect(store.appendMessage(group("bob", "p"))).rejects.toThrow();
    expect(await store.outboxStats()).toEqual({ pending: 0, oldestCreateAt: null });
  });

  it("claims each due delivery once, keeps it leased, and retries it when it is due again", async () => {
    const store = await open();
    await store.createWebhook(endpoint("a"), 10);
    await store.createWebhook(endpoint("b"), 10);
    await addUsers(store, "u1", "u2", "u3");
    const now = Date.now() + 1000;
    // Two claims at once (two nodes): each delivery goes to one of them.
    const [first, second] = await Promise.all([
      store.claimDeliveries([{ endpointId: "a", limit: 2 }], now, now + 10_000),
      store.claimDeliveries(
        [
          { endpointId: "a", limit: 2 },
          { endpointId: "b", limit: 1 },
        ],
        now,
        now + 10_000,
      ),
    ]);
    const claimedA = [...first, ...second].filter((delivery) => delivery.endpointId === "a");
    expect(claimedA).toHaveLength(3);
    expect(new Set(claimedA.map((delivery) => delivery.seq)).size).toBe(3);
    expect(second.filter((delivery) => delivery.endpointId === "b")).toHaveLength(1);
    // Leased: not due again before the lease ends.
    expect(await store.claimDeliveries([{ endpointId: "a", limit: 10 }], now + 5000, now + 20_000)).toEqual([]);
    const [one, two, three] = claimedA.sort((x, y) => x.seq - y.seq);
    await store.settleDelivery("a", one!.seq, { kind: "delivered", statusCode: 204, at: now });
    await store.settleDelivery("a", two!.seq, { kind: "retry", statusCode: 500, at: now, nextAttemptAt: now + 2000 });
    await store.settleDelivery("a", three!.seq, { kind: "failed", error: "no answer within 10 ms", at: now });
    // Settling again changes nothing: a delivered one stays delivered.
    await store.settleDelivery("a", one!.seq, { kind: "failed", at: now });
    expect(await store.deliveries("a", 10)).toEqual([
      {
        eventId: three!.eventId,
        type: "user.created",
        attempts: 1,
        status: "failed",
        lastError: "no answer within 10 ms",
      },
      {
        eventId: two!.eventId,
        type: "user.created",
        attempts: 1,
        status: "pending",
        lastStatusCode: 500,
        nextAttemptAt: now + 2000,
      },
      { eventId: one!.eventId, type: "user.created", attempts: 1, status: "delivered", lastStatusCode: 204 },
    ]);
    expect(await store.claimDeliveries([{ endpointId: "a", limit: 10 }], now + 1999, now + 30_000)).toEqual([]);
    const again = await store.claimDeliveries([{ endpointId: "a", limit: 10 }], now + 2000, now + 30_000);
    expect(again.map((delivery) => [delivery.seq, delivery.attempts])).toEqual([[two!.seq, 2]]);
    // Released (a node shutting down): due at once, the attempt given back.
    await store.settleDelivery("a", two!.seq, { kind: "released", at: now + 2001 });
    const back = await store.claimDeliveries([{ endpointId: "a", limit: 10 }], now + 2001, now + 30_000);
    expect(back.map((delivery) => [delivery.seq, delivery.attempts])).toEqual([[two!.seq, 2]]);
    expect(await store.deliveries("a", 1)).toHaveLength(1);
  });

  it("retries a delivery by hand, whatever its state; an unknown one is undefined", async () => {
    const store = await open();
    await store.createWebhook(endpoint("a"), 10);
    await addUsers(store, "u1");
    const now = Date.now();
    const [claimed] = await store.claimDeliveries([{ endpointId: "a", limit: 1 }], now, now + 10_000);
    await store.settleDelivery("a", claimed!.seq, { kind: "failed", statusCode: 410, at: now });
    expect(await store.retryDelivery("a", claimed!.eventId, now + 5)).toEqual({
      eventId: claimed!.eventId,
      type: "user.created",
      attempts: 1,
      status: "pending",
      lastStatusCode: 410,
      nextAttemptAt: now + 5,
    });
    expect(await store.retryDelivery("a", "evt_nope", now)).toBeUndefined();
    expect(await store.retryDelivery("b", claimed!.eventId, now)).toBeUndefined();
    expect(await store.outboxStats()).toEqual({ pending: 1, oldestCreateAt: 1 });
  });

  it("keeps at most `max` endpoints, replaces the one put again, and drops an endpoint's deliveries with it", async () => {
    const store = await open();
    expect(await store.createWebhook(endpoint("a"), 2)).toBe(true);
    expect(await store.createWebhook(endpoint("b", ["user.created"]), 2)).toBe(true);
    expect(await store.createWebhook(endpoint("c"), 2)).toBe(false);
    await store.putWebhook({ ...endpoint("a", ["room.created"]), url: "http://example.test/new" });
    expect((await store.webhooks()).map((e) => [e.id, e.url, e.events])).toEqual([
      ["a", "http://example.test/new", ["room.created"]],
      ["b", expect.any(String), ["user.created"]],
    ]);
    await addUsers(store, "u1");
    expect((await store.outboxStats()).pending).toBe(1);
    expect(await store.deleteWebhook("b")).toBe(true);
    expect(await store.deleteWebhook("b")).toBe(false);
    expect(await store.outboxStats()).toEqual({ pending: 0, oldestCreateAt: null });
  });

  it("prunes settled deliveries older than the cut, and then their events; pending ones stay", async () => {
    const store = await open();
    await store.createWebhook(endpoint("a"), 10);
    await addUsers(store, "u1", "u2", "u3");
    const now = Date.now();
    const claimed = await store.claimDeliveries([{ endpointId: "a", limit: 3 }], now, now + 10_000);
    await store.settleDelivery("a", claimed[0]!.seq, { kind: "delivered", statusCode: 200, at: now });
    await store.settleDelivery("a", claimed[1]!.seq, { kind: "failed", statusCode: 500, at: now + 100 });
    await store.settleDelivery("a", claimed[2]!.seq, { kind: "retry", at: now, nextAttemptAt: now + 1 });
    expect(await store.pruneDeliveries(now + 50, 10)).toBe(1);
    expect((await store.deliveries("a", 10)).map((d) => d.status)).toEqual(["pending", "failed"]);
    expect(await store.pruneDeliveries(now + 1000, 10)).toBe(1);
    expect(await store.pruneDeliveries(now + 1000, 10)).toBe(0);
    expect((await store.deliveries("a", 10)).map((d) => d.status)).toEqual(["pending"]);
    expect(await store.retryDelivery("a", claimed[0]!.eventId, now)).toBeUndefined();
  });
});
