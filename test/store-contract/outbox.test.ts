import { expect, it } from "vitest";
import type { ModerationActor } from "../../server/store/moderation.js";
import type { Store, WebhookEndpointRecord } from "../../server/store/types.js";
import type { WebhookEventType } from "../../shared/webhooks.js";
import { addUsers, changed, describeStores, group, tick } from "../support/stores.js";
import { until } from "../support/harness.js";

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

  it("names the users a killed node left online: newest presence event user.online, after their last seen", async () => {
    const store = await open();
    expect(await store.usersLeftOnline()).toEqual([]);
    await addUsers(store, "alice", "bob", "carol", "dave", "erin");
    await store.createWebhook(endpoint("presence", ["user.online", "user.offline"]), 10);
    const presence = (type: "user.online" | "user.offline", userId: string) => {
      const at = tick();
      return store.recordEvent({ type, at, data: { userId, at } }).then(() => at);
    };
    await presence("user.online", "carol");
    await presence("user.online", "alice");
    await presence("user.online", "bob");
    await store.setLastSeen("bob", await presence("user.offline", "bob"));
    await presence("user.offline", "dave");
    await presence("user.offline", "carol");
    await presence("user.online", "carol");
    await presence("user.online", "ghost");
    expect(await store.usersLeftOnline()).toEqual(["alice", "carol"]);
    // An endpoint that wants user.online alone: no offline events, the last seen time tells a clean offline.
    await store.deleteWebhook("presence");
    await store.createWebhook(endpoint("online-only", ["user.online"]), 10);
    await presence("user.online", "erin");
    await presence("user.offline", "erin");
    expect(await store.usersLeftOnline()).toEqual(["alice", "carol", "erin"]);
    await store.setLastSeen("erin", tick());
    await store.setLastSeen("alice", tick());
    expect(await store.usersLeftOnline()).toEqual(["carol"]);
  });

  it("tells the delivery listener once a transaction that wrote deliveries has committed, and only then", async () => {
    const store = await open();
    const heard: number[] = [];
    const claimed: number[] = [];
    // What the listener sees when it is called: the new deliveries must be committed (claimable) by then.
    store.observeDeliveries(() => {
      heard.push(Date.now());
      claimAll(store, "messages").then(
        (found) => claimed.push(found.length),
        () => claimed.push(-1),
      );
    });
    await store.createWebhook(endpoint("messages", ["message.created"]), 10);
    await addUsers(store, "alice");
    await store.appendMessage(group("alice", "lobby"));
    await until(() => claimed.length > 0, 2000);
    expect(claimed).toEqual([1]);
    // Changes no endpoint subscribed to (a user, a join, an edit of nothing) write no delivery: no call.
    await addUsers(store, "bob");
    expect(await store.joinRoom("lobby", "bob", tick())).toBeDefined();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(heard).toHaveLength(1);
    // A presence event written on its own is heard of too.
    await store.createWebhook(endpoint("presence", ["user.online"]), 10);
    await store.recordEvent({ type: "user.online", at: tick(), data: { userId: "bob", at: 1 } });
    await until(() => heard.length === 2, 2000);
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

  it("follows every change of the endpoints at once: created, put with other events, deleted", async () => {
    const store = await open();
    await addUsers(store, "alice");
    const send = () => store.appendMessage(group("alice", "lobby"));
    const pending = async () => (await store.outboxStats()).pending;
    await send();
    expect(await pending()).toBe(0);
    expect(await store.createWebhook(endpoint("a", ["message.created"]), 10)).toBe(true);
    await send();
    expect(await pending()).toBe(1);
    await store.putWebhook(endpoint("a", ["room.created"]));
    await send();
    expect(await pending()).toBe(1);
    await store.putWebhook(endpoint("a"));
    await send();
    expect(await pending()).toBe(2);
    expect(await store.deleteWebhook("a")).toBe(true);
    await send();
    expect(await pending()).toBe(0);
    // A refused creation (over `max`) subscribes nothing.
    expect(await store.createWebhook(endpoint("b", ["user.online"]), 10)).toBe(true);
    expect(await store.createWebhook(endpoint("c"), 1)).toBe(false);
    await send();
    expect(await pending()).toBe(0);
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

  it("writes each moderation change with its event: room.member with `by`, room.deleted, a moderator's message.deleted", async () => {
    const store = await open();
    await addUsers(store, "alice", "bob", "carol", "dave", "eve");
    await store.createRoom({ id: "r", name: "R", visibility: "public", createdBy: "alice", createAt: 2 });
    for (const id of ["bob", "carol", "dave"]) await store.addMember("r", id, 3);
    const { message } = await store.appendMessage(group("carol", "r"));
    await store.createWebhook(endpoint("all"), 10);
    const before = (await store.getRoom("r"))!;
    expect(await store.setRole("r", "bob", "moderator", actor("alice", 10))).toMatchObject({ ok: true });
    expect(await store.mute("r", "carol", { until: 5000 }, actor("bob", 11))).toMatchObject({ ok: true });
    expect(await store.unmute("r", "carol", actor("bob", 12))).toMatchObject({ ok: true });
    const moderated = await store.moderateDeleteMessage(message.id, actor("bob", 13));
    expect(moderated).toMatchObject({ ok: true, value: { changed: true } });
    const tombstone = moderated.ok ? moderated.value.message : undefined;
    expect(await store.kick("r", "carol", "spam", actor("bob", 14))).toMatchObject({ ok: true });
    expect(await store.ban("r", "dave", { until: 9000 }, actor("bob", 15))).toMatchObject({ ok: true });
    // An admin (ADMIN_USERS) giving itself a role acts on itself: no `by`.
    await store.addMember("r", "eve", 16);
    const admins = new Set(["eve"]);
    expect(await store.setRole("r", "eve", "moderator", actor("eve", 17, admins))).toMatchObject({ ok: true });
    expect(await store.deleteRoom("r", actor("alice", 18))).toMatchObject({ ok: true });

    const all = await claimAll(store, "all");
    expect(all.map((delivery) => [delivery.type, delivery.createAt, JSON.parse(delivery.data) as unknown])).toEqual([
      ["room.member", 10, { roomId: "r", userId: "bob", change: "role", role: "moderator", by: "alice" }],
      ["room.member", 11, { roomId: "r", userId: "carol", change: "muted", until: 5000, by: "bob" }],
      ["room.member", 12, { roomId: "r", userId: "carol", change: "unmuted", by: "bob" }],
      // Dated no earlier than the message's last change: its creation, later than the actor's clock here.
      ["message.deleted", message.createAt, { message: tombstone }],
      ["room.member", 14, { roomId: "r", userId: "carol", change: "kicked", by: "bob" }],
      ["room.member", 15, { roomId: "r", userId: "dave", change: "banned", by: "bob" }],
      ["room.member", 16, { roomId: "r", userId: "eve", change: "joined" }],
      ["room.member", 17, { roomId: "r", userId: "eve", change: "role", role: "moderator" }],
      // The room as it was when deleted: alice, bob and eve.
      ["room.deleted", 18, { room: { ...before, members: 3 } }],
    ]);
    expect(tombstone).toMatchObject({ id: message.id, deletedBy: "bob", deletedAt: message.createAt });
    expect(tombstone).not.toHaveProperty("content");
  });

  it("writes no event for a refused moderation action, a ban of a non-member, or a moderator's delete of a tombstone", async () => {
    const store = await open();
    await addUsers(store, "alice", "bob", "carol", "eve");
    await store.createRoom({ id: "r", name: "R", visibility: "public", createdBy: "alice", createAt: 2 });
    for (const id of ["bob", "carol"]) await store.addMember("r", id, 3);
    const { message } = await store.appendMessage(group("carol", "r"));
    expect(await store.moderateDeleteMessage(message.id, actor("alice", 4))).toMatchObject({ ok: true });
    await store.createWebhook(endpoint("all"), 10);
    const refusals = [
      await store.kick("r", "carol", undefined, actor("bob")),
      await store.ban("r", "carol", {}, actor("bob")),
      await store.mute("r", "carol", { until: 5000 }, actor("bob")),
      await store.unmute("r", "carol", actor("alice")),
      await store.setRole("r", "carol", "moderator", actor("bob")),
      await store.kick("r", "alice", undefined, actor("alice")),
      await store.kick("r", "eve", undefined, actor("alice")),
      await store.deleteRoom("r", actor("bob")),
      await store.deleteRoom("lobby", actor("alice", 1000, new Set(["alice"]))),
      await store.moderateDeleteMessage(message.id, actor("bob")),
    ];
    expect(refusals.map((outcome) => (outcome.ok ? "ok" : outcome.refusal))).toEqual([
      "not-allowed",
      "not-allowed",
      "not-allowed",
      "no-mute",
      "not-allowed",
      "self",
      "no-target",
      "not-allowed",
      "lobby",
      "not-allowed",
    ]);
    // Went through, but changed no membership (eve was never in the room) or nothing (already a tombstone).
    expect(await store.ban("r", "eve", {}, actor("alice"))).toEqual({ ok: true, value: { wasMember: false } });
    expect(await store.moderateDeleteMessage(message.id, actor("alice"))).toMatchObject({
      ok: true,
      value: { changed: false },
    });
    expect(await store.outboxStats()).toEqual({ pending: 0, oldestCreateAt: null });
    expect(await store.isMember("r", "carol")).toBe(true);
    // The same kick by the owner goes through, with its event and nothing else.
    expect(await store.kick("r", "carol", undefined, actor("alice", 20))).toMatchObject({ ok: true });
    const written = await claimAll(store, "all");
    expect(written.map((delivery) => JSON.parse(delivery.data) as unknown)).toEqual([
      { roomId: "r", userId: "carol", change: "kicked", by: "alice" },
    ]);
  });
});

/** `userId` acting at `at`, with `admins` as ADMIN_USERS. */
function actor(userId: string, at = 1000, admins: ReadonlySet<string> = new Set()): ModerationActor {
  return { userId, admins, at };
}
