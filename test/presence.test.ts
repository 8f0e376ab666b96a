import { performance } from "node:perf_hooks";
import { afterEach, describe, expect, it } from "vitest";
import type { Message, PresenceMessage } from "../shared/schemas.js";
import { barrier, cleanup, connect, ok, startServer, waitForMessage, type Connected } from "./support/harness.js";
import { disconnect } from "./state-support.js";

afterEach(cleanup);

type Status = PresenceMessage["messageType"];

const isNotice =
  (status: Status, from: string) =>
  (message: Message): message is PresenceMessage =>
    message.messageType === status && message.from === from;

/** The `status` notices about `from` that a client received, from index `since` on. */
const notices = (connected: Connected, status: Status, from: string, since = 0): Message[] =>
  connected.received.slice(since).filter(isNotice(status, from));

/** Every online/offline notice a client received, from index `since` on. */
const anyNotices = (connected: Connected, since = 0): Message[] =>
  connected.received.slice(since).filter((m) => m.messageType === "online" || m.messageType === "offline");

/** Waits for the `status` notice about `from`. */
const waitForNotice = (connected: Connected, status: Status, from: string, ms = 5000) =>
  waitForMessage(connected, isNotice(status, from), ms);

/** The `online` flag `room:members` gives for `userId`, as seen by `asker`. */
async function onlineFlag(asker: Connected, roomId: string, userId: string): Promise<boolean | undefined> {
  const page = await ok(asker.socket, "room:members", { roomId });
  return page.members.find((member) => member.userId === userId)?.online;
}

describe("online notices", () => {
  it("tells a user sharing the lobby when another user's first socket connects, and not the user itself", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const before = Date.now();
    const bob = await connect(server, "bob");
    const notice = await waitForNotice(alice, "online", "bob");
    expect(notice).toEqual({
      messageType: "online",
      mediaType: "text",
      from: "bob",
      to: "*",
      createAt: expect.any(Number),
      updateAt: expect.any(Number),
    });
    expect(notice.createAt).toBeGreaterThanOrEqual(before - 1000);
    expect(notice.createAt).toBeLessThanOrEqual(Date.now() + 1000);
    expect(notice.updateAt).toBe(notice.createAt);

    await barrier(alice, [bob]);
    expect(notices(bob, "online", "bob")).toEqual([]);
    expect(anyNotices(bob)).toEqual([]);
  });

  it("sends no second online notice when the same user opens a second tab", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const bob1 = await connect(server, "bob");
    await waitForNotice(alice, "online", "bob");
    const bob2 = await connect(server, "bob");
    await barrier(bob2, [alice, bob1]);
    expect(notices(alice, "online", "bob")).toHaveLength(1);
    expect(anyNotices(bob1)).toEqual([]);
    expect(anyNotices(bob2)).toEqual([]);
  });

  it("sends one notice to each socket of a user with two tabs", async () => {
    const server = await startServer();
    const alice1 = await connect(server, "alice");
    const alice2 = await connect(server, "alice");
    const bob = await connect(server, "bob");
    await Promise.all([waitForNotice(alice1, "online", "bob"), waitForNotice(alice2, "online", "bob")]);
    await barrier(bob, [alice1, alice2]);
    expect(notices(alice1, "online", "bob")).toHaveLength(1);
    expect(notices(alice2, "online", "bob")).toHaveLength(1);
    // Alice's own second tab is not news to her first.
    expect(anyNotices(alice1).filter((m) => m.from === "alice")).toEqual([]);
  });

  it("sends a notice once to a socket that shares several rooms with the user", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const bob = await connect(server, "bob");
    const first = await ok(alice.socket, "room:create", { name: "One" });
    const second = await ok(alice.socket, "room:create", { name: "Two", visibility: "private" });
    await ok(bob.socket, "room:join", { roomId: first.id });
    await ok(alice.socket, "room:invite", { roomId: second.id, userId: "bob" });
    await ok(bob.socket, "room:join", { roomId: second.id });

    await disconnect(server, bob);
    await waitForNotice(alice, "offline", "bob");
    const since = alice.received.length;
    const bobAgain = await connect(server, "bob");
    await waitForNotice(alice, "online", "bob");
    await barrier(bobAgain, [alice]);
    expect(notices(alice, "offline", "bob")).toHaveLength(1);
    expect(notices(alice, "online", "bob", since)).toHaveLength(1);
  });

  it("announces nothing when a user joins or creates a room", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const bob = await connect(server, "bob");
    await waitForNotice(alice, "online", "bob");
    const aliceSince = alice.received.length;
    const room = await ok(alice.socket, "room:create", { name: "Open" });
    await ok(bob.socket, "room:join", { roomId: room.id });
    const secret = await ok(bob.socket, "room:create", { name: "Secret", visibility: "private" });
    await ok(bob.socket, "room:invite", { roomId: secret.id, userId: "alice" });
    await ok(alice.socket, "room:join", { roomId: secret.id });
    await barrier(bob, [alice]);
    await barrier(alice, [bob]);
    expect(anyNotices(alice, aliceSince)).toEqual([]);
    expect(anyNotices(bob)).toEqual([]);
  });
});

describe("offline notices", () => {
  it("tells the others when a user's last socket has been gone for the grace, not before", async () => {
    const grace = 500;
    const server = await startServer({ PRESENCE_GRACE_MS: String(grace) });
    const alice = await connect(server, "alice");
    const bob = await connect(server, "bob");
    const carol = await connect(server, "carol");
    await waitForNotice(alice, "online", "bob");

    const closedAt = performance.now();
    await disconnect(server, bob);
    await barrier(carol, [alice]);
    expect(performance.now() - closedAt).toBeLessThan(grace);
    expect(notices(alice, "offline", "bob")).toEqual([]);

    const notice = await waitForNotice(alice, "offline", "bob", grace + 3000);
    const elapsed = performance.now() - closedAt;
    // Timers may fire a millisecond early against another clock; the notice must not come before the grace.
    expect(elapsed).toBeGreaterThanOrEqual(grace - 5);
    expect(elapsed).toBeLessThanOrEqual(grace + 2000);
    expect(notice).toEqual({
      messageType: "offline",
      mediaType: "text",
      from: "bob",
      to: "*",
      createAt: expect.any(Number),
      updateAt: expect.any(Number),
    });
    expect(notice.updateAt).toBe(notice.createAt);
    await waitForNotice(carol, "offline", "bob");
    await barrier(carol, [alice]);
    expect(notices(alice, "offline", "bob")).toHaveLength(1);
  });

  it("sends neither an offline nor a second online notice when the user reconnects within the grace", async () => {
    const server = await startServer({ PRESENCE_GRACE_MS: "1000" });
    const alice = await connect(server, "alice");
    const bob = await connect(server, "bob");
    const dave = await connect(server, "dave");
    await Promise.all([waitForNotice(alice, "online", "bob"), waitForNotice(alice, "online", "dave")]);

    await disconnect(server, bob);
    // Dave's grace starts after bob's, so dave's offline notice comes after bob's would have.
    await disconnect(server, dave);
    const bobAgain = await connect(server, "bob");
    await waitForNotice(alice, "offline", "dave", 4000);
    await barrier(bobAgain, [alice]);
    expect(notices(alice, "offline", "bob")).toEqual([]);
    expect(notices(alice, "online", "bob")).toHaveLength(1);
  });

  it("sends no offline notice when one of a user's two tabs closes", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const bob1 = await connect(server, "bob");
    const bob2 = await connect(server, "bob");
    const dave = await connect(server, "dave");
    await waitForNotice(alice, "online", "dave");

    await disconnect(server, bob1);
    // Dave's grace starts after bob's would have, so dave's offline notice comes after bob's would have.
    await disconnect(server, dave);
    await waitForNotice(alice, "offline", "dave");
    await barrier(bob2, [alice]);
    expect(notices(alice, "offline", "bob")).toEqual([]);
    expect(await onlineFlag(alice, "lobby", "bob")).toBe(true);
  });

  it("counts a user as online in room:members through the grace, and offline from its offline notice", async () => {
    const server = await startServer({ PRESENCE_GRACE_MS: "1000" });
    const alice = await connect(server, "alice");
    const bob = await connect(server, "bob");
    expect(await onlineFlag(alice, "lobby", "bob")).toBe(true);

    await disconnect(server, bob);
    expect(await onlineFlag(alice, "lobby", "bob")).toBe(true);
    expect(notices(alice, "offline", "bob")).toEqual([]);

    await waitForNotice(alice, "offline", "bob", 4000);
    expect(await onlineFlag(alice, "lobby", "bob")).toBe(false);
    expect(await onlineFlag(alice, "lobby", "alice")).toBe(true);

    await connect(server, "bob");
    expect(await onlineFlag(alice, "lobby", "bob")).toBe(true);
  });

  it("announces a user online again after its offline notice went out", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const bob = await connect(server, "bob");
    await waitForNotice(alice, "online", "bob");
    await disconnect(server, bob);
    await waitForNotice(alice, "offline", "bob");
    const since = alice.received.length;
    await connect(server, "bob");
    await waitForMessage(alice, () => notices(alice, "online", "bob", since).length > 0);
    expect(notices(alice, "online", "bob")).toHaveLength(2);
  });
});

describe("PRESENCE_ROOM_LIMIT", () => {
  it("carries no notices through a room over the limit, but still through a small room", async () => {
    const server = await startServer({ PRESENCE_ROOM_LIMIT: "2" });
    const alice = await connect(server, "alice");
    const carol = await connect(server, "carol");
    // Bob's first connect makes the lobby three members: over the limit, so nobody hears of bob.
    const bob = await connect(server, "bob");
    await barrier(bob, [alice, carol]);
    expect(notices(alice, "online", "bob")).toEqual([]);
    expect(notices(carol, "online", "bob")).toEqual([]);

    const pair = await ok(alice.socket, "room:create", { name: "Pair" });
    await ok(bob.socket, "room:join", { roomId: pair.id });

    await disconnect(server, bob);
    const offline = await waitForNotice(alice, "offline", "bob");
    expect(offline).toMatchObject({ messageType: "offline", from: "bob", to: "*" });
    await barrier(alice, [carol]);
    expect(notices(carol, "offline", "bob")).toEqual([]);

    const bobAgain = await connect(server, "bob");
    await waitForNotice(alice, "online", "bob");
    await barrier(bobAgain, [alice, carol]);
    expect(notices(alice, "online", "bob")).toHaveLength(1);
    expect(notices(alice, "offline", "bob")).toHaveLength(1);
    expect(anyNotices(carol).filter((m) => m.from === "bob")).toEqual([]);
  });

  it("carries notices through a room of exactly the limit", async () => {
    const server = await startServer({ PRESENCE_ROOM_LIMIT: "2" });
    const alice = await connect(server, "alice");
    const bob = await connect(server, "bob");
    await waitForNotice(alice, "online", "bob");
    await disconnect(server, bob);
    await waitForNotice(alice, "offline", "bob");
  });
});

describe("last seen across a shutdown", () => {
  it("records users still online at shutdown as last seen then", async () => {
    const first = await startServer();
    const dataDir = first.config.dataDir;
    await connect(first, "alice");
    const before = Date.now();
    await first.stop();
    const second = await startServer({}, dataDir);
    const bob = await connect(second, "bob");
    const [alice] = await ok(bob.socket, "presence:query", { userIds: ["alice"] });
    expect(alice).toMatchObject({ userId: "alice", online: false });
    expect(alice!.lastSeenAt).toBeGreaterThanOrEqual(before);
  });
});
