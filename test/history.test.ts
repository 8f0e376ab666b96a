import { afterEach, describe, expect, it } from "vitest";
import { cleanup, connect, ok, request, startServer, waitForMessage, type TestServer } from "./support/harness.js";

afterEach(cleanup);

async function sendMany(server: TestServer, from: string, to: string, count: number, messageType: "single" | "group") {
  const client = await connect(server, from);
  const ids: number[] = [];
  for (let i = 0; i < count; i++) {
    ids.push((await ok(client.socket, "message:send", { messageType, mediaType: "text", to, content: `m${i}` })).id);
  }
  return { client, ids };
}

describe("history:list", () => {
  it("pages a room back from the newest page with hasMore, ascending within a page", async () => {
    const server = await startServer();
    const { client, ids } = await sendMany(server, "alice", "lobby", 7, "group");
    const newest = await ok(client.socket, "history:list", { room: "lobby", limit: 3 });
    expect(newest.messages.map((m) => m.id)).toEqual(ids.slice(4));
    expect(newest.hasMore).toBe(true);
    const middle = await ok(client.socket, "history:list", { room: "lobby", limit: 3, before: ids[4]! });
    expect(middle.messages.map((m) => m.id)).toEqual(ids.slice(1, 4));
    expect(middle.hasMore).toBe(true);
    const oldest = await ok(client.socket, "history:list", { room: "lobby", limit: 3, before: ids[1]! });
    expect(oldest.messages.map((m) => m.id)).toEqual(ids.slice(0, 1));
    expect(oldest.hasMore).toBe(false);
  });

  it("pages forward with after, hasMore meaning newer messages exist", async () => {
    const server = await startServer();
    const { client, ids } = await sendMany(server, "alice", "lobby", 5, "group");
    const first = await ok(client.socket, "history:list", { room: "lobby", after: 0, limit: 2 });
    expect(first.messages.map((m) => m.id)).toEqual(ids.slice(0, 2));
    expect(first.hasMore).toBe(true);
    const last = await ok(client.socket, "history:list", { room: "lobby", after: ids[2]!, limit: 2 });
    expect(last.messages.map((m) => m.id)).toEqual(ids.slice(3));
    expect(last.hasMore).toBe(false);
  });

  it("says hasMore false when the page holds exactly the remaining messages", async () => {
    const server = await startServer();
    const { client } = await sendMany(server, "alice", "lobby", 3, "group");
    const page = await ok(client.socket, "history:list", { room: "lobby", limit: 3 });
    expect(page.messages).toHaveLength(3);
    expect(page.hasMore).toBe(false);
  });

  it("gives the direct conversation between the caller and a user, from either side", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const bob = await connect(server, "bob");
    const carol = await connect(server, "carol");
    const a = await ok(alice.socket, "message:send", {
      messageType: "single",
      mediaType: "text",
      to: "bob",
      content: "1",
    });
    const b = await ok(bob.socket, "message:send", {
      messageType: "single",
      mediaType: "text",
      to: "alice",
      content: "2",
    });
    await ok(carol.socket, "message:send", { messageType: "single", mediaType: "text", to: "bob", content: "3" });
    expect((await ok(alice.socket, "history:list", { user: "bob" })).messages.map((m) => m.id)).toEqual([a.id, b.id]);
    expect((await ok(bob.socket, "history:list", { user: "alice" })).messages.map((m) => m.id)).toEqual([a.id, b.id]);
    expect((await ok(carol.socket, "history:list", { user: "alice" })).messages).toEqual([]);
  });

  it("refuses a room the caller is not in, an unknown room and an unknown user", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const bob = await connect(server, "bob");
    const room = await ok(bob.socket, "room:create", { name: "private", visibility: "private" });
    expect(await request(alice.socket, "history:list", { room: room.id })).toMatchObject({
      ok: false,
      error: { code: "FORBIDDEN" },
    });
    expect(await request(alice.socket, "history:list", { room: "nope" })).toMatchObject({
      ok: false,
      error: { code: "NOT_FOUND" },
    });
    expect(await request(alice.socket, "history:list", { user: "nobody" })).toMatchObject({
      ok: false,
      error: { code: "NOT_FOUND" },
    });
  });

  it.each([
    ["both room and user", { room: "lobby", user: "bob" }],
    ["neither room nor user", {}],
    ["both before and after", { room: "lobby", before: 5, after: 1 }],
    ["limit 0", { room: "lobby", limit: 0 }],
    ["limit 101", { room: "lobby", limit: 101 }],
    ["a negative cursor", { room: "lobby", before: -1 }],
    ["a fractional cursor", { room: "lobby", after: 1.5 }],
  ])("answers INVALID_PAYLOAD for %s", async (_name, payload) => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    expect(await request(alice.socket, "history:list", payload as never)).toMatchObject({
      ok: false,
      error: { code: "INVALID_PAYLOAD" },
    });
  });

  it("hides a room's history from a user who left it", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const room = await ok(alice.socket, "room:create", { name: "r" });
    await ok(alice.socket, "message:send", { messageType: "group", mediaType: "text", to: room.id, content: "x" });
    const bob = await connect(server, "bob");
    await ok(bob.socket, "room:join", { roomId: room.id });
    expect((await ok(bob.socket, "sync", { after: 0 })).messages).toHaveLength(1);
    await ok(bob.socket, "room:leave", { roomId: room.id });
    expect((await ok(bob.socket, "sync", { after: 0 })).messages).toHaveLength(0);
  });
});

describe("sync", () => {
  it("returns every message sent while a client was away, ascending, and nothing it may not see", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const bob = await connect(server, "bob");
    const carol = await connect(server, "carol");
    const seen = await ok(alice.socket, "message:send", {
      messageType: "group",
      mediaType: "text",
      to: "lobby",
      content: "seen",
    });
    await waitForMessage(bob, (m) => "id" in m && m.id === seen.id);
    bob.socket.disconnect();
    const secret = await ok(carol.socket, "room:create", { name: "secret", visibility: "private" });
    await ok(carol.socket, "message:send", {
      messageType: "group",
      mediaType: "text",
      to: secret.id,
      content: "not for bob",
    });
    await ok(carol.socket, "message:send", {
      messageType: "single",
      mediaType: "text",
      to: "alice",
      content: "not for bob",
    });
    const missed = [
      await ok(alice.socket, "message:send", { messageType: "group", mediaType: "text", to: "lobby", content: "1" }),
      await ok(alice.socket, "message:send", { messageType: "single", mediaType: "text", to: "bob", content: "2" }),
      await ok(carol.socket, "message:send", { messageType: "single", mediaType: "text", to: "bob", content: "3" }),
    ];
    const back = await connect(server, "bob");
    expect(back.session.lastId).toBe(missed[2]!.id);
    const page = await ok(back.socket, "sync", { after: seen.id });
    expect(page).toEqual({ messages: missed, hasMore: false });
  });

  it("includes the caller's own direct messages and pages with limit and hasMore", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    await connect(server, "bob");
    const sent = [];
    for (let i = 0; i < 5; i++) {
      sent.push(
        await ok(alice.socket, "message:send", {
          messageType: "single",
          mediaType: "text",
          to: "bob",
          content: `${i}`,
        }),
      );
    }
    const first = await ok(alice.socket, "sync", { after: 0, limit: 3 });
    expect(first.messages.map((m) => m.id)).toEqual(sent.slice(0, 3).map((m) => m.id));
    expect(first.hasMore).toBe(true);
    const rest = await ok(alice.socket, "sync", { after: first.messages.at(-1)!.id, limit: 3 });
    expect(rest.messages.map((m) => m.id)).toEqual(sent.slice(3).map((m) => m.id));
    expect(rest.hasMore).toBe(false);
  });

  it("refuses a negative or missing cursor and a limit over 500", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    for (const payload of [{ after: -1 }, {}, { after: 0, limit: 501 }, { after: "0" }]) {
      expect(await request(alice.socket, "sync", payload as never)).toMatchObject({
        ok: false,
        error: { code: "INVALID_PAYLOAD" },
      });
    }
  });

  it("starts a new user's session with lastId 0", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    expect(alice.session.lastId).toBe(0);
  });
});

describe("persistence", () => {
  it("keeps messages and continues ids after a restart on the same data directory", async () => {
    const first = await startServer();
    const dataDir = first.config.dataDir;
    const alice = await connect(first, "alice");
    await connect(first, "bob");
    const before = [
      await ok(alice.socket, "message:send", { messageType: "group", mediaType: "text", to: "lobby", content: "a" }),
      await ok(alice.socket, "message:send", { messageType: "single", mediaType: "text", to: "bob", content: "b" }),
    ];
    await first.stop();
    const second = await startServer({}, dataDir);
    const bob = await connect(second, "bob");
    expect(bob.session.lastId).toBe(before[1]!.id);
    expect((await ok(bob.socket, "sync", { after: 0 })).messages).toEqual(before);
    const after = await ok(bob.socket, "message:send", {
      messageType: "group",
      mediaType: "text",
      to: "lobby",
      content: "c",
    });
    expect(after.id).toBeGreaterThan(before[1]!.id);
  });
});

describe("system messages", () => {
  it("delivers a system message to a user's sockets only and files it under the conversation with system", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const bob = await connect(server, "bob");
    const { message, delivered } = await server.server.messages.sendSystem({ user: "alice" }, "hello alice");
    expect(message).toMatchObject({ messageType: "system", from: "system", to: "alice", content: "hello alice" });
    expect(delivered).toBe(1);
    await waitForMessage(alice, (m) => "id" in m && m.id === message.id);
    expect((await ok(alice.socket, "history:list", { user: "system" })).messages).toEqual([message]);
    expect((await ok(bob.socket, "sync", { after: 0 })).messages).toEqual([]);
  });

  it("delivers a system message to a room's members and to everyone", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const bob = await connect(server, "bob");
    const room = await ok(alice.socket, "room:create", { name: "r" });
    const toRoom = await server.server.messages.sendSystem({ room: room.id }, "room notice");
    expect(toRoom.delivered).toBe(1);
    const toAll = await server.server.messages.sendSystem({ all: true }, "everyone");
    expect(toAll.delivered).toBe(2);
    expect(toAll.message.to).toBe("*");
    await waitForMessage(bob, (m) => "id" in m && m.id === toAll.message.id);
    expect(bob.received.some((m) => "id" in m && m.id === toRoom.message.id)).toBe(false);
    expect((await ok(alice.socket, "sync", { after: 0 })).messages.map((m) => m.id)).toEqual([
      toRoom.message.id,
      toAll.message.id,
    ]);
    expect((await ok(bob.socket, "sync", { after: 0 })).messages.map((m) => m.id)).toEqual([toAll.message.id]);
  });
});
