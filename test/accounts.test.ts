import jwt from "jsonwebtoken";
import { afterEach, describe, expect, it } from "vitest";
import type { ServerNotice } from "../shared/events.js";
import type { AdminSession, AdminUser } from "../shared/http.js";
import type { AuditPage, AuthResponse, Room, StoredMessage } from "../shared/schemas.js";
import {
  ADMIN_KEY,
  cleanup,
  connect,
  nextEvent,
  nodeUrl,
  ok,
  openSocket,
  request,
  signToken,
  startServer,
  TEST_SECRET,
  type ClientSocket,
  type Connected,
  type TestServer,
} from "./support/harness.js";

afterEach(cleanup);

/** An HTTP call to the server (node 0 in a cluster), with a JSON body when given. */
async function call(
  server: TestServer,
  method: string,
  path: string,
  bearer?: string,
  body?: unknown,
): Promise<{ status: number; body: unknown }> {
  const headers: Record<string, string> = {};
  if (bearer !== undefined) headers["authorization"] = `Bearer ${bearer}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text === "" ? undefined : (JSON.parse(text) as unknown) };
}

const PASSWORD = "correct horse";

async function register(server: TestServer, username: string): Promise<AuthResponse> {
  const answer = await call(server, "POST", "/api/auth/register", undefined, { username, password: PASSWORD });
  expect(answer.status).toBe(201);
  return answer.body as AuthResponse;
}

async function login(server: TestServer, username: string, password = PASSWORD) {
  return call(server, "POST", "/api/auth/login", undefined, { username, password });
}

/** Resolves with the notice a socket got before the server disconnected it. */
function endedWith(socket: ClientSocket, ms = 5000): Promise<ServerNotice> {
  return new Promise((resolve, reject) => {
    let notice: ServerNotice | undefined;
    const timer = setTimeout(() => reject(new Error(`not disconnected within ${ms} ms`)), ms);
    socket.on("server:notice", (value) => (notice = value));
    socket.once("disconnect", (reason) => {
      clearTimeout(timer);
      if (reason !== "io server disconnect") return reject(new Error(`disconnected: ${reason}`));
      if (!notice) return reject(new Error("disconnected without a notice"));
      resolve(notice);
    });
  });
}

/** Whether a socket stays connected for `ms`. */
async function staysConnected(socket: ClientSocket, ms: number): Promise<boolean> {
  await new Promise((resolve) => setTimeout(resolve, ms));
  return socket.connected;
}

/** The `connect_error` code of a handshake with `token`, or "connected". */
function handshake(server: TestServer, token: string): Promise<string> {
  const socket = openSocket(nodeUrl(server), token);
  return new Promise((resolve) => {
    socket.once("session", () => resolve("connected"));
    socket.once("connect_error", (error: Error & { data?: { code?: string } }) => resolve(error.data?.code ?? "none"));
  });
}

describe("password change", () => {
  it("revokes every earlier token: HTTP 401, sockets signed out, the new token and password work", async () => {
    const server = await startServer();
    const first = await register(server, "alice");
    const second = (await login(server, "alice")).body as AuthResponse;
    const [a, b] = [await connect(server, first), await connect(server, second)];
    const ends = [endedWith(a.socket), endedWith(b.socket)];
    const changed = await call(server, "POST", "/api/auth/password", first.token, {
      currentPassword: PASSWORD,
      newPassword: "battery staple",
    });
    expect(changed.status).toBe(200);
    const answer = changed.body as AuthResponse;
    expect(answer.user).toEqual({ id: "alice", name: "alice" });
    for (const notice of await Promise.all(ends)) expect(notice.reason).toBe("signed-out");
    expect((await call(server, "GET", "/api/me", first.token)).status).toBe(401);
    expect((await call(server, "GET", "/api/me", second.token)).status).toBe(401);
    expect(await handshake(server, first.token)).toBe("UNAUTHORIZED");
    expect((await call(server, "GET", "/api/me", answer.token)).status).toBe(200);
    expect(await handshake(server, answer.token)).toBe("connected");
    expect((await login(server, "alice")).status).toBe(401);
    expect((await login(server, "alice", "battery staple")).status).toBe(200);
  });

  it("refuses a wrong current password with 401 and changes nothing", async () => {
    const server = await startServer();
    const alice = await register(server, "alice");
    const socket = await connect(server, alice);
    const answer = await call(server, "POST", "/api/auth/password", alice.token, {
      currentPassword: "not the password",
      newPassword: "battery staple",
    });
    expect(answer.status).toBe(401);
    expect((await call(server, "GET", "/api/me", alice.token)).status).toBe(200);
    expect((await login(server, "alice")).status).toBe(200);
    expect(await staysConnected(socket.socket, 200)).toBe(true);
  });

  it("refuses a bad body (400), no token (401), and an external account without a password (403)", async () => {
    const server = await startServer();
    const alice = await register(server, "alice");
    const short = { currentPassword: PASSWORD, newPassword: "short" };
    expect((await call(server, "POST", "/api/auth/password", alice.token, short)).status).toBe(400);
    const body = { currentPassword: PASSWORD, newPassword: "battery staple" };
    expect((await call(server, "POST", "/api/auth/password", undefined, body)).status).toBe(401);
    expect((await call(server, "POST", "/api/auth/password", signToken("carol"), body)).status).toBe(403);
    expect((await login(server, "alice")).status).toBe(200);
  });
});

describe("logout", () => {
  it("signs out this token only: its sockets end, another token of the user keeps working", async () => {
    const server = await startServer();
    const first = await register(server, "alice");
    const second = (await login(server, "alice")).body as AuthResponse;
    const [a, b] = [await connect(server, first), await connect(server, second)];
    const ended = endedWith(a.socket);
    expect((await call(server, "POST", "/api/auth/logout", first.token)).status).toBe(204);
    expect((await ended).reason).toBe("signed-out");
    expect((await call(server, "GET", "/api/me", first.token)).status).toBe(401);
    expect(await handshake(server, first.token)).toBe("UNAUTHORIZED");
    expect((await call(server, "GET", "/api/me", second.token)).status).toBe(200);
    expect(await staysConnected(b.socket, 200)).toBe(true);
  });

  it("signs out every token issued until now with everywhere; a later login works", async () => {
    const server = await startServer();
    const first = await register(server, "alice");
    const second = (await login(server, "alice")).body as AuthResponse;
    const external = signToken("alice");
    const sockets = [
      await connect(server, first),
      await connect(server, second),
      await connect(server, { token: external }),
    ];
    const ends = sockets.map((client) => endedWith(client.socket));
    expect((await call(server, "POST", "/api/auth/logout", second.token, { everywhere: true })).status).toBe(204);
    for (const notice of await Promise.all(ends)) expect(notice.reason).toBe("signed-out");
    for (const token of [first.token, second.token, external]) {
      expect((await call(server, "GET", "/api/me", token)).status).toBe(401);
    }
    const again = (await login(server, "alice")).body as AuthResponse;
    expect((await call(server, "GET", "/api/me", again.token)).status).toBe(200);
    expect(await handshake(server, again.token)).toBe("connected");
  });

  it("works for an external issuer's token, and refuses a bad body", async () => {
    const server = await startServer();
    const token = signToken("carol");
    expect((await call(server, "POST", "/api/auth/logout", token, { everywhere: "yes" })).status).toBe(400);
    expect((await call(server, "GET", "/api/me", token)).status).toBe(200);
    expect((await call(server, "POST", "/api/auth/logout", token, {})).status).toBe(204);
    expect((await call(server, "GET", "/api/me", token)).status).toBe(401);
    expect((await call(server, "POST", "/api/auth/logout", token)).status).toBe(401);
  });

  it("keeps at most 100 signed-out tokens per user: the 101st sign-out signs the user out everywhere", async () => {
    const server = await startServer();
    const tokens = Array.from({ length: 101 }, (_, i) => signToken("dave", { jwtid: `t${i}` }));
    const spare = signToken("dave", { jwtid: "spare" });
    for (const token of tokens.slice(0, 100)) {
      expect((await call(server, "POST", "/api/auth/logout", token)).status).toBe(204);
    }
    // 100 on record: the spare still works.
    expect((await call(server, "GET", "/api/me", spare)).status).toBe(200);
    expect((await call(server, "POST", "/api/auth/logout", tokens[100])).status).toBe(204);
    expect((await call(server, "GET", "/api/me", spare)).status).toBe(401);
    expect((await call(server, "GET", "/api/me", tokens[0])).status).toBe(401);
  });
});

describe("revocation without a broadcast", () => {
  it("ends sockets whose token the store revoked or whose account it disabled, within the periodic check", async () => {
    const server = await startServer();
    // As if a node had missed the other nodes' broadcast: the store changes, nobody is told.
    const [alice, bob, carol] = [
      await connect(server, "alice"),
      await connect(server, "bob"),
      await connect(server, "carol"),
    ];
    const ends = [endedWith(alice.socket, 6500), endedWith(bob.socket, 6500)] as const;
    await server.server.store.revokeTokens("alice", Date.now());
    await server.server.store.setDisabled("bob", Date.now());
    const [signedOut, disabled] = await Promise.all(ends);
    expect(signedOut.reason).toBe("signed-out");
    expect(disabled.reason).toBe("disabled");
    expect(carol.socket.connected).toBe(true);
  });
});

describe("token expiry on live sockets", () => {
  it("disconnects a socket when its token expires, with token-expired first", async () => {
    const server = await startServer();
    const client = await connect(server, { token: signToken("alice", { expiresIn: 2 }) });
    expect((await endedWith(client.socket, 4500)).reason).toBe("token-expired");
  });

  it("keeps a socket that sent auth:refresh with a later token; answers its exp", async () => {
    const server = await startServer();
    const client = await connect(server, { token: signToken("alice", { expiresIn: 2 }) });
    const later = signToken("alice", { expiresIn: 600 });
    const refreshed = await request(client.socket, "auth:refresh", { token: later });
    expect(refreshed).toEqual({ ok: true, data: { exp: (jwt.decode(later) as { exp: number }).exp } });
    expect(await staysConnected(client.socket, 3000)).toBe(true);
  });

  it("refuses another user's token, an earlier one, a bad one or a signed-out one, and changes nothing", async () => {
    const server = await startServer();
    const current = signToken("alice", { expiresIn: 3 });
    const client = await connect(server, { token: current });
    const other = await request(client.socket, "auth:refresh", { token: signToken("bob", { expiresIn: 600 }) });
    expect(other).toMatchObject({ ok: false, error: { code: "UNAUTHORIZED" } });
    const exp = (jwt.decode(current) as { exp: number }).exp;
    const sooner = jwt.sign({ exp: exp - 1 }, TEST_SECRET, { algorithm: "HS256", subject: "alice" });
    const earlier = await request(client.socket, "auth:refresh", { token: sooner });
    expect(earlier).toMatchObject({ ok: false, error: { code: "INVALID_PAYLOAD" } });
    const bad = await request(client.socket, "auth:refresh", { token: "not-a-token" });
    expect(bad).toMatchObject({ ok: false, error: { code: "UNAUTHORIZED" } });
    const revoked = signToken("alice", { expiresIn: 600, jwtid: "gone" });
    expect((await call(server, "POST", "/api/auth/logout", revoked)).status).toBe(204);
    const signedOut = await request(client.socket, "auth:refresh", { token: revoked });
    expect(signedOut).toMatchObject({ ok: false, error: { code: "UNAUTHORIZED" } });
    const missing = await request(client.socket, "auth:refresh", {} as never);
    expect(missing).toMatchObject({ ok: false, error: { code: "INVALID_PAYLOAD" } });
    // Nothing changed: the socket still expires with its first token.
    expect((await endedWith(client.socket, 5500)).reason).toBe("token-expired");
  });

  it("a refreshed socket follows its new token: a sign-out of the old one leaves it, of the new one ends it", async () => {
    const server = await startServer();
    const old = signToken("alice", { expiresIn: 600, jwtid: "old" });
    const client = await connect(server, { token: old });
    const fresh = signToken("alice", { expiresIn: 900, jwtid: "new" });
    expect(await request(client.socket, "auth:refresh", { token: fresh })).toMatchObject({ ok: true });
    expect((await call(server, "POST", "/api/auth/logout", old)).status).toBe(204);
    expect(await staysConnected(client.socket, 300)).toBe(true);
    const ended = endedWith(client.socket);
    expect((await call(server, "POST", "/api/auth/logout", fresh)).status).toBe(204);
    expect((await ended).reason).toBe("signed-out");
  });
});

describe("admin access", () => {
  it("takes the admin key or an admin's token: 401 without or with bad credentials, 403 for a non-admin", async () => {
    const server = await startServer({ ADMIN_USERS: "root, ops" });
    expect((await call(server, "GET", "/api/admin/users")).status).toBe(401);
    expect((await call(server, "GET", "/api/admin/users", "wrong-key")).status).toBe(401);
    expect((await call(server, "GET", "/api/admin/users", signToken("alice"))).status).toBe(403);
    expect((await call(server, "GET", "/api/admin/stats", signToken("alice"))).status).toBe(403);
    expect((await call(server, "GET", "/api/admin/users", ADMIN_KEY)).status).toBe(200);
    expect((await call(server, "GET", "/api/admin/users", signToken("root"))).status).toBe(200);
    expect((await call(server, "GET", "/api/admin/stats", signToken("ops"))).status).toBe(200);
    // An admin's token that was signed out is no admin credential.
    const root = signToken("root", { jwtid: "r1" });
    expect((await call(server, "POST", "/api/auth/logout", root)).status).toBe(204);
    expect((await call(server, "GET", "/api/admin/users", root)).status).toBe(401);
  });

  it("makes a user admin through the flag, and not an admin's own flag away", async () => {
    const server = await startServer({ ADMIN_USERS: "root" });
    await call(server, "GET", "/api/me", signToken("alice"));
    const made = await call(server, "POST", "/api/admin/users/alice/admin", ADMIN_KEY, { admin: true });
    expect(made).toMatchObject({ status: 200, body: { id: "alice", admin: true } });
    expect((await call(server, "GET", "/api/admin/users", signToken("alice"))).status).toBe(200);
    const self = await call(server, "POST", "/api/admin/users/alice/admin", signToken("alice"), { admin: false });
    expect(self.status).toBe(403);
    const unmade = await call(server, "POST", "/api/admin/users/alice/admin", signToken("root"), { admin: false });
    expect(unmade).toMatchObject({ status: 200, body: { admin: false } });
    expect((await call(server, "GET", "/api/admin/users", signToken("alice"))).status).toBe(403);
    // ADMIN_USERS stay admins whatever the flag says.
    await call(server, "POST", "/api/admin/users/root/admin", ADMIN_KEY, { admin: false });
    expect((await call(server, "GET", "/api/admin/users", signToken("root"))).status).toBe(200);
    expect((await call(server, "POST", "/api/admin/users/nobody/admin", ADMIN_KEY, { admin: true })).status).toBe(404);
    expect((await call(server, "POST", "/api/admin/users/alice/admin", ADMIN_KEY, { admin: "yes" })).status).toBe(400);
  });

  it("tells a user whether it is an admin with GET /api/me/admin (200 for everyone with a token)", async () => {
    const server = await startServer({ ADMIN_USERS: "root" });
    expect(await call(server, "GET", "/api/me/admin", signToken("root"))).toMatchObject({
      status: 200,
      body: { admin: true },
    });
    expect(await call(server, "GET", "/api/me/admin", signToken("alice"))).toMatchObject({
      status: 200,
      body: { admin: false },
    });
    await call(server, "POST", "/api/admin/users/alice/admin", ADMIN_KEY, { admin: true });
    expect((await call(server, "GET", "/api/me/admin", signToken("alice"))).body).toEqual({ admin: true });
    expect((await call(server, "GET", "/api/me/admin")).status).toBe(401);
    expect((await call(server, "GET", "/api/me/admin", ADMIN_KEY)).status).toBe(401);
    await call(server, "POST", "/api/admin/users/alice/disable", ADMIN_KEY);
    expect((await call(server, "GET", "/api/me/admin", signToken("alice"))).status).toBe(403);
  });
});

describe("admin users", () => {
  it("lists users by id in pages, with q, online, admin and disabled", async () => {
    const server = await startServer({ ADMIN_USERS: "root" });
    for (const id of ["carol", "alice", "bob", "root"]) await call(server, "GET", "/api/me", signToken(id));
    await connect(server, "bob");
    const first = await call(server, "GET", "/api/admin/users?limit=2", ADMIN_KEY);
    const page = first.body as { users: AdminUser[]; hasMore: boolean };
    expect(page.users.map((user) => user.id)).toEqual(["alice", "bob"]);
    expect(page.hasMore).toBe(true);
    expect(page.users[1]).toMatchObject({ id: "bob", name: "bob", admin: false, disabled: false, online: true });
    expect(page.users[0]).toMatchObject({ online: false });
    expect(typeof page.users[0]!.createdAt).toBe("number");
    const rest = (await call(server, "GET", "/api/admin/users?after=bob&limit=2", ADMIN_KEY)).body;
    expect(rest).toMatchObject({ users: [{ id: "carol" }, { id: "root", admin: true }], hasMore: false });
    const found = (await call(server, "GET", "/api/admin/users?q=AR", ADMIN_KEY)).body;
    expect(found).toMatchObject({ users: [{ id: "carol" }], hasMore: false });
    expect((await call(server, "GET", "/api/admin/users?limit=0", ADMIN_KEY)).status).toBe(400);
    expect((await call(server, "GET", "/api/admin/users?limit=201", ADMIN_KEY)).status).toBe(400);
  });

  it("disables a user everywhere (login 403, connect FORBIDDEN, HTTP 403, sockets closed); enable lets its tokens in again", async () => {
    const server = await startServer({ ADMIN_USERS: "root" });
    const bob = await register(server, "bob");
    const clients = [await connect(server, bob), await connect(server, bob)];
    const ends = clients.map((client) => endedWith(client.socket));
    const disabled = await call(server, "POST", "/api/admin/users/bob/disable", signToken("root"));
    expect(disabled).toMatchObject({ status: 200, body: { id: "bob", disabled: true } });
    for (const notice of await Promise.all(ends)) expect(notice.reason).toBe("disabled");
    expect((await login(server, "bob")).status).toBe(403);
    expect(await handshake(server, bob.token)).toBe("FORBIDDEN");
    expect(await handshake(server, signToken("bob"))).toBe("FORBIDDEN");
    expect((await call(server, "GET", "/api/me", bob.token)).status).toBe(403);
    const external = signToken("bob");
    const enabled = await call(server, "POST", "/api/admin/users/bob/enable", ADMIN_KEY);
    expect(enabled).toMatchObject({ status: 200, body: { disabled: false } });
    const again = await login(server, "bob");
    expect(again.status).toBe(200);
    expect(await handshake(server, (again.body as AuthResponse).token)).toBe("connected");
    // A disable is not a sign-out: the tokens from before it, and one signed in the same second, work again.
    expect(await handshake(server, bob.token)).toBe("connected");
    expect(await handshake(server, external)).toBe("connected");
    expect(await handshake(server, signToken("bob"))).toBe("connected");
    expect((await call(server, "GET", "/api/me", bob.token)).status).toBe(200);
    expect((await call(server, "POST", "/api/admin/users/root/disable", signToken("root"))).status).toBe(403);
    expect((await call(server, "POST", "/api/admin/users/nobody/disable", ADMIN_KEY)).status).toBe(404);
  });

  it("signs a user out everywhere, and resets a password (old tokens and password stop working)", async () => {
    const server = await startServer();
    const alice = await register(server, "alice");
    const client = await connect(server, alice);
    const ended = endedWith(client.socket);
    expect((await call(server, "POST", "/api/admin/users/alice/sign-out", ADMIN_KEY)).status).toBe(200);
    expect((await ended).reason).toBe("signed-out");
    expect((await call(server, "GET", "/api/me", alice.token)).status).toBe(401);
    const fresh = (await login(server, "alice")).body as AuthResponse;
    const second = await connect(server, fresh);
    const ended2 = endedWith(second.socket);
    const reset = await call(server, "POST", "/api/admin/users/alice/password", ADMIN_KEY, {
      password: "new secret 1",
    });
    expect(reset.status).toBe(204);
    expect((await ended2).reason).toBe("signed-out");
    expect((await login(server, "alice")).status).toBe(401);
    expect((await login(server, "alice", "new secret 1")).status).toBe(200);
    expect((await call(server, "POST", "/api/admin/users/alice/password", ADMIN_KEY, { password: "x" })).status).toBe(
      400,
    );
    const unknown = await call(server, "POST", "/api/admin/users/nobody/password", ADMIN_KEY, { password: "12345678" });
    expect(unknown.status).toBe(404);
  });
});

describe("admin sessions", () => {
  it("lists sockets on every node with their details, in pages, and ends one with kicked", async () => {
    const server = await startServer();
    const a1: Connected = await connect(server, "alice");
    const a2: Connected = await connect(server, "alice");
    await connect(server, "bob");
    const all = (await call(server, "GET", "/api/admin/sessions", ADMIN_KEY)).body as {
      sessions: AdminSession[];
      hasMore: boolean;
    };
    expect(all.sessions).toHaveLength(3);
    const ids = all.sessions.map((session) => session.socketId);
    expect(ids).toEqual([...ids].sort());
    const mine = (await call(server, "GET", "/api/admin/sessions?user=alice", ADMIN_KEY)).body as {
      sessions: AdminSession[];
    };
    expect(mine.sessions.map((session) => session.socketId).sort()).toEqual([a1.socket.id, a2.socket.id].sort());
    for (const session of mine.sessions) {
      expect(session).toMatchObject({ userId: "alice", transport: "websocket", address: expect.any(String) });
      expect(session.node).toMatch(/./);
      expect(session.connectedAt).toBeGreaterThan(Date.now() - 60_000);
    }
    const page = (await call(server, "GET", "/api/admin/sessions?limit=2", ADMIN_KEY)).body as {
      sessions: AdminSession[];
      hasMore: boolean;
    };
    expect(page.sessions.map((session) => session.socketId)).toEqual(ids.slice(0, 2));
    expect(page.hasMore).toBe(true);
    const next = (await call(server, "GET", `/api/admin/sessions?after=${ids[1]}`, ADMIN_KEY)).body;
    expect(next).toMatchObject({ sessions: [{ socketId: ids[2] }], hasMore: false });

    const ended = endedWith(a1.socket);
    expect((await call(server, "DELETE", `/api/admin/sessions/${a1.socket.id}`, ADMIN_KEY)).status).toBe(204);
    expect((await ended).reason).toBe("kicked");
    expect(await staysConnected(a2.socket, 200)).toBe(true);
    expect((await call(server, "DELETE", `/api/admin/sessions/${a1.socket.id}`, ADMIN_KEY)).status).toBe(404);
    expect((await call(server, "DELETE", "/api/admin/sessions/x", signToken("alice"))).status).toBe(403);
  });

  it("ends a session on whichever node holds it", async () => {
    const server = await startServer();
    // Several sockets, so that in a cluster some are on a node other than the one the request reaches.
    const clients = await Promise.all(["u1", "u2", "u3", "u4"].map((id) => connect(server, id)));
    for (const client of clients) {
      const ended = endedWith(client.socket);
      expect((await call(server, "DELETE", `/api/admin/sessions/${client.socket.id}`, ADMIN_KEY)).status).toBe(204);
      expect((await ended).reason).toBe("kicked");
    }
  });
});

describe("admin rooms, messages and notices", () => {
  it("pages rooms by id with member counts, and a room's recent messages", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    for (const name of ["b-room", "a-room"]) await ok(alice.socket, "room:create", { name, visibility: "public" });
    const first = (await call(server, "GET", "/api/admin/rooms?limit=2", ADMIN_KEY)).body as {
      rooms: Room[];
      hasMore: boolean;
    };
    expect(first.hasMore).toBe(true);
    const ids = first.rooms.map((room) => room.id);
    expect(ids).toEqual([...ids].sort());
    const rest = (await call(server, "GET", `/api/admin/rooms?after=${ids[1]}`, ADMIN_KEY)).body as {
      rooms: Room[];
      hasMore: boolean;
    };
    expect(rest.hasMore).toBe(false);
    const all = [...first.rooms, ...rest.rooms];
    expect(all.map((room) => room.name).sort()).toEqual(["Lobby", "a-room", "b-room"]);
    expect(all.find((room) => room.id === "lobby")?.members).toBe(1);

    for (let i = 1; i <= 3; i++) {
      await ok(alice.socket, "message:send", {
        messageType: "group",
        to: "lobby",
        mediaType: "text",
        content: `m${i}`,
      });
    }
    const page = (await call(server, "GET", "/api/admin/rooms/lobby/messages?limit=2", ADMIN_KEY)).body as {
      messages: StoredMessage[];
      hasMore: boolean;
    };
    expect(page.messages.map((message) => message.content)).toEqual(["m2", "m3"]);
    expect(page.hasMore).toBe(true);
    const before = page.messages[0]!.id;
    const older = (await call(server, "GET", `/api/admin/rooms/lobby/messages?before=${before}`, ADMIN_KEY)).body;
    expect(older).toMatchObject({ messages: [{ content: "m1" }], hasMore: false });
    expect((await call(server, "GET", "/api/admin/rooms/nowhere/messages", ADMIN_KEY)).status).toBe(404);
    expect((await call(server, "GET", "/api/admin/rooms", signToken("alice"))).status).toBe(403);
  });

  it("deletes any message: the tombstone goes to who may see it", async () => {
    const server = await startServer();
    const [alice, bob] = [await connect(server, "alice"), await connect(server, "bob")];
    const sent = await ok(alice.socket, "message:send", {
      messageType: "single",
      to: "bob",
      mediaType: "text",
      content: "hi",
    });
    const updated = nextEvent(bob.socket, "message:updated");
    const deleted = await call(server, "DELETE", `/api/admin/messages/${sent.id}`, ADMIN_KEY);
    expect(deleted.status).toBe(200);
    expect(deleted.body).toMatchObject({ id: sent.id, deletedAt: expect.any(Number) });
    expect(deleted.body).not.toHaveProperty("content");
    expect(await updated).toMatchObject({ id: sent.id, deletedAt: expect.any(Number) });
    expect((await call(server, "DELETE", "/api/admin/messages/999999", ADMIN_KEY)).status).toBe(404);
    expect((await call(server, "DELETE", "/api/admin/messages/abc", ADMIN_KEY)).status).toBe(400);
    expect((await call(server, "DELETE", `/api/admin/messages/${sent.id}`, signToken("bob"))).status).toBe(403);
  });

  it("sends a system notice to a user, a room or everyone", async () => {
    const server = await startServer();
    const [alice, bob] = [await connect(server, "alice"), await connect(server, "bob")];
    const toBob = nextEvent(bob.socket, "message");
    const sent = await call(server, "POST", "/api/admin/notices", ADMIN_KEY, {
      to: { user: "bob" },
      content: "hello bob",
    });
    expect(sent).toMatchObject({ status: 202, body: { message: { messageType: "system", to: "bob" }, delivered: 1 } });
    expect(await toBob).toMatchObject({ messageType: "system", content: "hello bob" });
    const toAll = nextEvent(alice.socket, "message");
    const all = await call(server, "POST", "/api/admin/notices", signToken("root"), {
      to: { all: true },
      content: "x",
    });
    expect(all.status).toBe(403);
    const byKey = await call(server, "POST", "/api/admin/notices", ADMIN_KEY, { to: { all: true }, content: "to all" });
    expect(byKey.status).toBe(202);
    expect(await toAll).toMatchObject({ messageType: "system", to: "*", content: "to all" });
    expect(
      (await call(server, "POST", "/api/admin/notices", ADMIN_KEY, { to: { user: "nobody" }, content: "x" })).status,
    ).toBe(404);
    expect((await call(server, "POST", "/api/admin/notices", ADMIN_KEY, { to: {}, content: "x" })).status).toBe(400);
  });
});

describe("admin audit log", () => {
  it("records every admin action with its actor (system for the key), newest first, with filters and paging", async () => {
    const server = await startServer({ ADMIN_USERS: "root" });
    const alice = await register(server, "alice");
    const bobBefore = signToken("bob");
    await call(server, "GET", "/api/me", bobBefore);
    const root = signToken("root");
    await call(server, "POST", "/api/admin/users/bob/disable", root);
    await call(server, "POST", "/api/admin/users/bob/enable", ADMIN_KEY);
    await call(server, "POST", "/api/admin/users/bob/sign-out", ADMIN_KEY);
    await call(server, "POST", "/api/admin/users/bob/admin", root, { admin: true });
    await call(server, "POST", "/api/admin/users/bob/password", ADMIN_KEY, { password: "new secret 1" });
    await call(server, "POST", "/api/auth/password", alice.token, {
      currentPassword: PASSWORD,
      newPassword: "another 12",
    });
    const client = await connect(server, "carol");
    await call(server, "DELETE", `/api/admin/sessions/${client.socket.id}`, root);
    // A refused action writes nothing.
    await call(server, "POST", "/api/admin/users/nobody/disable", ADMIN_KEY);
    const log = (await call(server, "GET", "/api/admin/audit", ADMIN_KEY)).body as AuditPage;
    expect(log.entries.map((entry) => [entry.actor, entry.action, entry.targetUserId])).toEqual([
      ["root", "session.end", "carol"],
      ["alice", "user.password-change", "alice"],
      ["system", "user.password-reset", "bob"],
      ["root", "user.admin.grant", "bob"],
      ["system", "user.sign-out", "bob"],
      ["system", "user.enable", "bob"],
      ["root", "user.disable", "bob"],
    ]);
    expect(log.hasMore).toBe(false);
    const ids = log.entries.map((entry) => entry.id);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    const byRoot = (await call(server, "GET", "/api/admin/audit?actor=root", ADMIN_KEY)).body as AuditPage;
    expect(byRoot.entries.map((entry) => entry.action)).toEqual(["session.end", "user.admin.grant", "user.disable"]);
    const page = (await call(server, "GET", "/api/admin/audit?limit=2", ADMIN_KEY)).body as AuditPage;
    expect(page).toMatchObject({ hasMore: true });
    const next = (await call(server, "GET", `/api/admin/audit?limit=2&before=${page.entries[1]!.id}`, ADMIN_KEY))
      .body as AuditPage;
    expect(next.entries.map((entry) => entry.id)).toEqual(ids.slice(2, 4));
    const filtered = (await call(server, "GET", "/api/admin/audit?action=user.enable&targetUserId=bob", ADMIN_KEY))
      .body as AuditPage;
    expect(filtered.entries).toHaveLength(1);
    expect((await call(server, "GET", "/api/admin/audit?limit=500", ADMIN_KEY)).status).toBe(400);
    // bob is an admin now, but this token of his was revoked by the sign-out.
    expect((await call(server, "GET", "/api/admin/audit", bobBefore)).status).toBe(401);
  });

  it("deletes a room as an admin: members are told, the entry says who, the lobby cannot go", async () => {
    const server = await startServer({ ADMIN_USERS: "root" });
    const [alice, bob] = [await connect(server, "alice"), await connect(server, "bob")];
    const room = await ok(alice.socket, "room:create", { name: "Ops", visibility: "public" });
    await ok(bob.socket, "room:join", { roomId: room.id });
    const removed = nextEvent(bob.socket, "room:removed");
    expect((await call(server, "DELETE", `/api/admin/rooms/${room.id}`, ADMIN_KEY)).status).toBe(204);
    expect(await removed).toMatchObject({ roomId: room.id, kind: "deleted", by: "system" });
    expect((await call(server, "GET", `/api/admin/rooms/${room.id}/messages`, ADMIN_KEY)).status).toBe(404);
    expect((await call(server, "DELETE", `/api/admin/rooms/${room.id}`, ADMIN_KEY)).status).toBe(404);
    expect((await call(server, "DELETE", "/api/admin/rooms/lobby", signToken("root"))).status).toBe(403);
    expect((await call(server, "DELETE", "/api/admin/rooms/lobby", signToken("alice"))).status).toBe(403);
    const log = (await call(server, "GET", `/api/admin/audit?roomId=${room.id}`, ADMIN_KEY)).body as AuditPage;
    expect(log.entries).toMatchObject([{ actor: "system", action: "room.delete", roomId: room.id }]);
  });

  it("an admin's delete of a room message carries deletedBy; of a direct message, an audit entry", async () => {
    const server = await startServer({ ADMIN_USERS: "root" });
    const [alice, bob] = [await connect(server, "alice"), await connect(server, "bob")];
    const inLobby = await ok(alice.socket, "message:send", {
      messageType: "group",
      to: "lobby",
      mediaType: "text",
      content: "x",
    });
    const updated = nextEvent(bob.socket, "message:updated");
    const tombstone = await call(server, "DELETE", `/api/admin/messages/${inLobby.id}`, signToken("root"));
    expect(tombstone).toMatchObject({ status: 200, body: { id: inLobby.id, deletedBy: "root" } });
    expect(await updated).toMatchObject({ id: inLobby.id, deletedBy: "root" });
    const direct = await ok(alice.socket, "message:send", {
      messageType: "single",
      to: "bob",
      mediaType: "text",
      content: "y",
    });
    expect((await call(server, "DELETE", `/api/admin/messages/${direct.id}`, ADMIN_KEY)).status).toBe(200);
    const log = (await call(server, "GET", "/api/admin/audit?action=message.delete", ADMIN_KEY)).body as AuditPage;
    expect(log.entries.map((entry) => [entry.actor, entry.messageId])).toEqual([
      ["system", direct.id],
      ["root", inLobby.id],
    ]);
  });
});
