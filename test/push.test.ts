import { afterEach, describe, expect, it } from "vitest";
import type { PushResponse } from "../shared/schemas.js";
import {
  ADMIN_KEY,
  barrier,
  cleanup,
  connect,
  ok,
  PUSH_KEY,
  startServer,
  storedOnly,
  waitForMessage,
} from "./support/harness.js";

afterEach(cleanup);

const auth = (key = PUSH_KEY) => ({ authorization: `Bearer ${key}` });

describe("POST /api/push", () => {
  it("pushes to one user: every socket of that user gets it, nobody else, and it answers 202 with the count", async () => {
    const server = await startServer();
    const a1 = await connect(server, "alice");
    const a2 = await connect(server, "alice");
    const bob = await connect(server, "bob");
    const response = await server.server.app.inject({
      method: "POST",
      url: "/api/push",
      headers: auth(),
      payload: { to: { user: "alice" }, content: "invoice paid" },
    });
    expect(response.statusCode).toBe(202);
    const body = response.json<PushResponse>();
    expect(body.delivered).toBe(2);
    expect(body.message).toMatchObject({
      messageType: "system",
      mediaType: "text",
      from: "system",
      to: "alice",
      content: "invoice paid",
    });
    await waitForMessage(a1, (m) => "id" in m && m.id === body.message.id);
    await waitForMessage(a2, (m) => "id" in m && m.id === body.message.id);
    await barrier(a1, [bob]);
    expect(storedOnly(bob.received).map((m) => m.id)).not.toContain(body.message.id);
  });

  it("pushes to a room's members only, and to everyone", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const bob = await connect(server, "bob");
    const room = await ok(alice.socket, "room:create", { name: "ops" });
    const toRoom = await server.server.app.inject({
      method: "POST",
      url: "/api/push",
      headers: auth(),
      payload: { to: { room: room.id }, content: "deploy started" },
    });
    expect(toRoom.statusCode).toBe(202);
    expect(toRoom.json<PushResponse>().delivered).toBe(1);
    const toAll = await server.server.app.inject({
      method: "POST",
      url: "/api/push",
      headers: auth(),
      payload: { to: { all: true }, content: "maintenance at noon" },
    });
    expect(toAll.json<PushResponse>()).toMatchObject({ delivered: 2, message: { to: "*" } });
    await waitForMessage(bob, (m) => "id" in m && m.id === toAll.json<PushResponse>().message.id);
    expect(storedOnly(bob.received).map((m) => m.id)).not.toContain(toRoom.json<PushResponse>().message.id);
    await waitForMessage(alice, (m) => "id" in m && m.id === toRoom.json<PushResponse>().message.id);
  });

  it("keeps a push for an offline user, who gets it through sync", async () => {
    const server = await startServer();
    const first = await connect(server, "alice");
    first.socket.disconnect();
    const response = await server.server.app.inject({
      method: "POST",
      url: "/api/push",
      headers: auth(),
      payload: { to: { user: "alice" }, content: "while you were away" },
    });
    expect(response.json<PushResponse>().delivered).toBe(0);
    const back = await connect(server, "alice");
    const page = await ok(back.socket, "sync", { after: 0 });
    expect(page.messages).toEqual([response.json<PushResponse>().message]);
  });

  it("answers 404 for an unknown user or room and 400 for a malformed body, storing nothing", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const cases = [
      [{ to: { user: "ghost" }, content: "x" }, 404, "NOT_FOUND"],
      [{ to: { room: "nowhere" }, content: "x" }, 404, "NOT_FOUND"],
      [{ to: { user: "system" }, content: "x" }, 404, "NOT_FOUND"],
      [{ to: { user: "alice" } }, 400, "INVALID_PAYLOAD"],
      [{ to: { user: "alice" }, content: "" }, 400, "INVALID_PAYLOAD"],
      [{ to: { everyone: true }, content: "x" }, 400, "INVALID_PAYLOAD"],
      [{ to: { all: false }, content: "x" }, 400, "INVALID_PAYLOAD"],
      [{ to: { user: "alice", room: "lobby" }, content: "x" }, 400, "INVALID_PAYLOAD"],
      [{ to: { user: "alice" }, content: "x", mediaType: "image" }, 400, "INVALID_PAYLOAD"],
    ] as const;
    for (const [payload, status, code] of cases) {
      const response = await server.server.app.inject({ method: "POST", url: "/api/push", headers: auth(), payload });
      expect(response.statusCode, JSON.stringify(payload)).toBe(status);
      expect(response.json()).toMatchObject({ error: { code } });
    }
    const malformed = await server.server.app.inject({
      method: "POST",
      url: "/api/push",
      headers: { ...auth(), "content-type": "application/json" },
      payload: "{nope",
    });
    expect(malformed.statusCode).toBe(400);
    expect((await ok(alice.socket, "sync", { after: 0 })).messages).toEqual([]);
  });

  it("answers 401 without the push key, with a wrong one, and with the admin key", async () => {
    const server = await startServer();
    await connect(server, "alice");
    for (const headers of [{}, auth("wrong"), auth(ADMIN_KEY), { authorization: PUSH_KEY }]) {
      const response = await server.server.app.inject({
        method: "POST",
        url: "/api/push",
        headers,
        payload: { to: { user: "alice" }, content: "x" },
      });
      expect(response.statusCode).toBe(401);
      expect(response.json()).toMatchObject({ error: { code: "UNAUTHORIZED" } });
    }
  });
});

describe("POST /send (push-center compatible)", () => {
  it("takes uid and message as query fields", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const response = await server.server.app.inject({
      method: "POST",
      url: "/send?uid=alice&message=hello%20there",
      headers: auth(),
    });
    expect(response.statusCode).toBe(202);
    const { message } = response.json<PushResponse>();
    expect(message).toMatchObject({ messageType: "system", to: "alice", content: "hello there" });
    await waitForMessage(alice, (m) => "id" in m && m.id === message.id);
  });

  it("takes uid and message as form fields over real HTTP", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const response = await fetch(`${server.url}/send`, {
      method: "POST",
      headers: auth(),
      body: new URLSearchParams({ uid: "alice", message: "form & fields" }),
    });
    expect(response.status).toBe(202);
    const { message } = (await response.json()) as PushResponse;
    expect(message.content).toBe("form & fields");
    await waitForMessage(alice, (m) => "id" in m && m.id === message.id);
  });

  it("answers 401 without the key, 400 without a message and 404 for an unknown uid", async () => {
    const server = await startServer();
    await connect(server, "alice");
    expect((await server.server.app.inject({ method: "POST", url: "/send?uid=alice&message=x" })).statusCode).toBe(401);
    expect(
      (await server.server.app.inject({ method: "POST", url: "/send?uid=alice", headers: auth() })).statusCode,
    ).toBe(400);
    expect(
      (await server.server.app.inject({ method: "POST", url: "/send?uid=ghost&message=x", headers: auth() }))
        .statusCode,
    ).toBe(404);
  });
});

describe("methods other than POST on the push routes", () => {
  for (const [method, url] of [
    ["GET", "/send?uid=alice&message=hi"],
    ["PUT", "/send"],
    ["DELETE", "/send"],
    ["GET", "/api/push"],
    ["PATCH", "/api/push"],
  ] as const) {
    it(`answers ${method} ${url.split("?")[0]} with 405 METHOD_NOT_ALLOWED naming POST and Allow: POST`, async () => {
      const server = await startServer();
      const response = await server.server.app.inject({ method, url, headers: auth() });
      expect(response.statusCode).toBe(405);
      expect(response.headers["allow"]).toBe("POST");
      expect(response.json()).toEqual({
        error: { code: "METHOD_NOT_ALLOWED", message: `${url.split("?")[0]} takes POST, not ${method}` },
      });
    });
  }

  it("sends nothing for a GET /send over real HTTP, and still answers 404 for a path no route serves", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const response = await fetch(`${server.url}/send?uid=alice&message=hi`, { headers: auth() });
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("POST");
    expect((await server.server.app.inject({ method: "GET", url: "/sendx" })).json()).toEqual({
      error: { code: "NOT_FOUND", message: "no such route" },
    });
    const pushed = await server.server.app.inject({
      method: "POST",
      url: "/send?uid=alice&message=after",
      headers: auth(),
    });
    const { message } = pushed.json<PushResponse>();
    await waitForMessage(alice, (m) => "id" in m && m.id === message.id);
    expect(storedOnly(alice.received).map((m) => m.content)).toEqual(["after"]);
  });

  it("says the push API key is missing when there is no Authorization header", async () => {
    const server = await startServer();
    const response = await server.server.app.inject({ method: "POST", url: "/send?uid=alice&message=x" });
    expect(response.json()).toEqual({
      error: { code: "UNAUTHORIZED", message: "missing push API key (Authorization: Bearer <key>)" },
    });
  });
});

describe("library API", () => {
  it("sends to a set of users, counts sockets and lists a room's sessions", async () => {
    const server = await startServer();
    const { hub } = server.server;
    const a1 = await connect(server, "alice");
    await connect(server, "alice");
    const bob = await connect(server, "bob");
    const results = await hub.sendToUsers(["alice", "bob", "alice"], "to a few");
    expect(results.map((r) => [r.message.to, r.delivered])).toEqual([
      ["alice", 2],
      ["bob", 1],
    ]);
    await waitForMessage(bob, (m) => "id" in m && m.id === results[1]!.message.id);
    expect(await hub.countSockets({ user: "alice" })).toBe(2);
    expect(await hub.countSockets({ room: "lobby" })).toBe(3);
    const sessions = await hub.roomSessions("lobby");
    expect(sessions.map((s) => s.userId).sort()).toEqual(["alice", "alice", "bob"]);
    expect(sessions.find((s) => s.socketId === a1.socket.id)).toMatchObject({ userId: "alice", name: "alice" });
  });
});
