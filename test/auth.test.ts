import pg from "pg";
import { createHmac, generateKeyPairSync, sign as signBytes, type KeyObject } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import jwt from "jsonwebtoken";
import { afterEach, describe, expect, it } from "vitest";
import type { HttpErrorBody } from "../shared/errors.js";
import type { AuthResponse, SessionInfo, User } from "../shared/schemas.js";
import type { SqliteStore } from "../server/store/sqlite/store.js";
import {
  cleanup,
  connect,
  nodeUrl,
  ok,
  openSocket,
  request,
  signToken,
  startServer,
  TEST_SECRET,
  waitForMessage,
  type TestServer,
} from "./support/harness.js";

afterEach(cleanup);

const nowSeconds = () => Math.floor(Date.now() / 1000);

/** What a handshake ended with: a session, or the `data` of its `connect_error`. */
type Handshake = { connected: true; session: SessionInfo } | { connected: false; data: unknown };

/** Opens a socket with `token` and reports whether it got a session or a refusal (bounded by a timeout). */
function handshake(server: TestServer, token: unknown, options: Record<string, unknown> = {}): Promise<Handshake> {
  const socket = openSocket(nodeUrl(server), token, options);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("neither session nor connect_error within 5000 ms")), 5000);
    socket.once("session", (session) => {
      clearTimeout(timer);
      resolve({ connected: true, session });
    });
    socket.once("connect_error", (error: Error) => {
      clearTimeout(timer);
      resolve({ connected: false, data: (error as Error & { data?: unknown }).data });
    });
  });
}

const REFUSED: Handshake = { connected: false, data: { code: "UNAUTHORIZED" } };

/** A compact JWS built by hand, for algorithms and headers jsonwebtoken will not produce. */
function rawToken(header: object, payload: object, signer: (data: Buffer) => Buffer): string {
  const encode = (part: object) => Buffer.from(JSON.stringify(part)).toString("base64url");
  const signingInput = `${encode(header)}.${encode(payload)}`;
  return `${signingInput}.${signer(Buffer.from(signingInput)).toString("base64url")}`;
}

/** An HS256 token whose HMAC key is `secret` as raw text (what a key-confusion attacker does with a PEM). */
const hs256WithText = (secret: string, payload: object) =>
  rawToken({ alg: "HS256", typ: "JWT" }, payload, (data) => createHmac("sha256", secret).update(data).digest());

const signEdDsa = (privateKey: KeyObject, payload: object) =>
  rawToken({ alg: "EdDSA", typ: "JWT" }, payload, (data) => signBytes(null, data, privateKey));

const pem = (key: KeyObject) => key.export({ type: "spki", format: "pem" }).toString();

async function post(server: TestServer, url: string, payload: unknown) {
  return server.server.app.inject({ method: "POST", url, payload: payload as Record<string, unknown> });
}

async function postRaw(server: TestServer, url: string, body: string) {
  return server.server.app.inject({
    method: "POST",
    url,
    payload: body,
    headers: { "content-type": "application/json" },
  });
}

async function register(
  server: TestServer,
  username: string,
  password = "long enough password",
): Promise<AuthResponse> {
  const response = await post(server, "/api/auth/register", { username, password });
  expect(response.statusCode, response.body).toBe(201);
  return response.json<AuthResponse>();
}

const me = (server: TestServer, authorization?: string) =>
  server.server.app.inject({
    method: "GET",
    url: "/api/me",
    headers: authorization === undefined ? {} : { authorization },
  });

/** Expects a contract error: the status of its code and a JSON `{ error: { code, message } }` body. */
function expectError(
  response: { statusCode: number; headers: Record<string, unknown>; body: string },
  status: number,
  code: string,
) {
  expect(response.statusCode, response.body).toBe(status);
  expect(String(response.headers["content-type"])).toMatch(/^application\/json/);
  const body = JSON.parse(response.body) as HttpErrorBody;
  expect(body).toEqual({ error: { code, message: expect.any(String) } });
}

describe("POST /api/auth/register", () => {
  it("creates an account and answers 201 with a token and the lower-cased user", async () => {
    const server = await startServer();
    const response = await post(server, "/api/auth/register", { username: "Bob", password: "hunter2hunter2" });
    expect(response.statusCode).toBe(201);
    const body = response.json<AuthResponse>();
    expect(body).toEqual({ token: expect.any(String), user: { id: "bob", name: "bob" } });
    const claims = jwt.verify(body.token, TEST_SECRET, { algorithms: ["HS256"] }) as jwt.JwtPayload;
    expect(claims.sub).toBe("bob");
    // TOKEN_TTL defaults to 12h.
    expect(claims.exp! - claims.iat!).toBe(12 * 3600);
  });

  it("issues tokens that live for TOKEN_TTL", async () => {
    const server = await startServer({ TOKEN_TTL: "30m" });
    const { token } = await register(server, "ttl.user");
    const claims = jwt.decode(token) as jwt.JwtPayload;
    expect(claims.exp! - claims.iat!).toBe(1800);
  });

  it("treats usernames case-insensitively: a name taken in another case is a CONFLICT", async () => {
    const server = await startServer();
    await register(server, "Bob");
    expectError(
      await post(server, "/api/auth/register", { username: "bob", password: "another password" }),
      409,
      "CONFLICT",
    );
    expectError(
      await post(server, "/api/auth/register", { username: "BOB", password: "another password" }),
      409,
      "CONFLICT",
    );
  });

  it("lets only one of two concurrent registrations of the same name in different case succeed", async () => {
    const server = await startServer();
    const responses = await Promise.all([
      post(server, "/api/auth/register", { username: "Race", password: "first password" }),
      post(server, "/api/auth/register", { username: "race", password: "second password" }),
    ]);
    expect(responses.map((response) => response.statusCode).sort()).toEqual([201, 409]);
    const winner = responses.find((response) => response.statusCode === 201)!;
    const password = winner === responses[0] ? "first password" : "second password";
    expect((await post(server, "/api/auth/login", { username: "race", password })).statusCode).toBe(200);
  });

  it("refuses the reserved username system in any case", async () => {
    const server = await startServer();
    expectError(
      await post(server, "/api/auth/register", { username: "system", password: "long enough password" }),
      409,
      "CONFLICT",
    );
    expectError(
      await post(server, "/api/auth/register", { username: "System", password: "long enough password" }),
      409,
      "CONFLICT",
    );
  });

  it("accepts usernames and passwords at the edges of their allowed lengths", async () => {
    const server = await startServer();
    await register(server, "abc", "12345678");
    await register(server, "A_b.c-" + "d".repeat(26), "p".repeat(256));
  });

  const badBodies: [string, unknown][] = [
    ["a username shorter than 3 characters", { username: "ab", password: "long enough password" }],
    ["a username longer than 32 characters", { username: "a".repeat(33), password: "long enough password" }],
    ["a username with a space", { username: "bad name", password: "long enough password" }],
    ["a username with an @", { username: "bad@name", password: "long enough password" }],
    ["a username that is not a string", { username: 12345, password: "long enough password" }],
    ["a missing username", { password: "long enough password" }],
    ["a password shorter than 8 characters", { username: "shortpw", password: "1234567" }],
    ["a password longer than 256 characters", { username: "longpw", password: "p".repeat(257) }],
    ["a password that is not a string", { username: "numpw", password: 123456789 }],
    ["a missing password", { username: "nopw" }],
    ["a body that is an array", [{ username: "arr", password: "long enough password" }]],
  ];
  for (const [what, body] of badBodies) {
    it(`answers 400 INVALID_PAYLOAD to ${what}`, async () => {
      const server = await startServer();
      expectError(await post(server, "/api/auth/register", body), 400, "INVALID_PAYLOAD");
    });
  }

  it("answers 400 INVALID_PAYLOAD with a JSON error body to malformed JSON", async () => {
    const server = await startServer();
    expectError(await postRaw(server, "/api/auth/register", '{"username": "x", "password":'), 400, "INVALID_PAYLOAD");
  });

  it("answers 400 INVALID_PAYLOAD to a request with no body", async () => {
    const server = await startServer();
    const response = await server.server.app.inject({ method: "POST", url: "/api/auth/register" });
    expectError(response, 400, "INVALID_PAYLOAD");
  });

  it("stores the password only as a salted slow hash", async () => {
    const server = await startServer();
    const password = "correct horse battery staple";
    await register(server, "erin", password);
    await register(server, "frank", password);
    // Every row of every table, from whichever store the server runs on.
    const tables = new Map<string, Record<string, unknown>[]>();
    if (server.databaseUrl !== undefined) {
      const client = new pg.Client({ connectionString: server.databaseUrl });
      await client.connect();
      try {
        const names = await client.query<{ name: string }>(
          "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public'",
        );
        for (const { name } of names.rows) tables.set(name, (await client.query(`SELECT * FROM "${name}"`)).rows);
      } finally {
        await client.end();
      }
    } else {
      const database = (server.server.store as SqliteStore).database;
      const names = database.prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'").all();
      for (const { name } of names)
        tables.set(name, database.prepare<[], Record<string, unknown>>(`SELECT * FROM "${name}"`).all());
    }
    expect(tables.has("users")).toBe(true);
    for (const [table, rows] of tables) expect(JSON.stringify(rows), `table ${table}`).not.toContain(password);
    const users = tables.get("users")!.filter((user) => user["id"] === "erin" || user["id"] === "frank");
    expect(users).toHaveLength(2);
    const hashes = users.map((user) =>
      Object.values(user).find((value) => typeof value === "string" && /^(scrypt\$|\$argon2id\$)/.test(value)),
    );
    expect(hashes[0], "a scrypt or argon2id hash").toEqual(expect.any(String));
    expect(hashes[1], "a scrypt or argon2id hash").toEqual(expect.any(String));
    // Same password, different salt.
    expect(hashes[0]).not.toBe(hashes[1]);
    // Nothing on disk (database, WAL, journal) holds the password either.
    for (const file of readdirSync(server.config.dataDir, { recursive: true, withFileTypes: true })) {
      if (!file.isFile()) continue;
      const bytes = readFileSync(join(file.parentPath, file.name));
      expect(bytes.includes(Buffer.from(password)), file.name).toBe(false);
    }
  });
});

describe("POST /api/auth/login", () => {
  it("answers 200 with a token and the user for the right password, in any case of the username", async () => {
    const server = await startServer();
    await register(server, "dana", "dana's password");
    for (const username of ["dana", "Dana", "DANA"]) {
      const response = await post(server, "/api/auth/login", { username, password: "dana's password" });
      expect(response.statusCode, response.body).toBe(200);
      const body = response.json<AuthResponse>();
      expect(body).toEqual({ token: expect.any(String), user: { id: "dana", name: "dana" } });
      expect((jwt.verify(body.token, TEST_SECRET, { algorithms: ["HS256"] }) as jwt.JwtPayload).sub).toBe("dana");
    }
  });

  it("gives the same 401 to a wrong password and to an unknown user", async () => {
    const server = await startServer();
    await register(server, "dana", "dana's password");
    const wrongPassword = await post(server, "/api/auth/login", { username: "dana", password: "not the password" });
    const unknownUser = await post(server, "/api/auth/login", { username: "nobody", password: "dana's password" });
    expectError(wrongPassword, 401, "UNAUTHORIZED");
    expectError(unknownUser, 401, "UNAUTHORIZED");
    expect(unknownUser.json()).toEqual(wrongPassword.json());
  });

  it("refuses to log in as an external user that has no password", async () => {
    const server = await startServer();
    await connect(server, { token: signToken("ext.only") });
    expectError(
      await post(server, "/api/auth/login", { username: "ext.only", password: "anything at all" }),
      401,
      "UNAUTHORIZED",
    );
  });

  it("answers 400 INVALID_PAYLOAD with a JSON error body to malformed JSON", async () => {
    const server = await startServer();
    expectError(await postRaw(server, "/api/auth/login", "{not json"), 400, "INVALID_PAYLOAD");
  });

  it("answers 429 RATE_LIMITED once a client exceeds RATE_LIMIT_AUTH_PER_MIN", async () => {
    const server = await startServer({ RATE_LIMIT_AUTH_PER_MIN: "2" });
    const attempt = () => post(server, "/api/auth/login", { username: "nobody", password: "whatever123" });
    expect((await attempt()).statusCode).toBe(401);
    expect((await attempt()).statusCode).toBe(401);
    expectError(await attempt(), 429, "RATE_LIMITED");
  });
});

describe("GET /api/me", () => {
  it("answers the user of a registered account's bearer token", async () => {
    const server = await startServer();
    const { token } = await register(server, "Gina");
    const response = await me(server, `Bearer ${token}`);
    expect(response.statusCode).toBe(200);
    expect(response.json<User>()).toEqual({ id: "gina", name: "gina" });
  });

  it("answers an external token's user with its sub verbatim and its name claim", async () => {
    const server = await startServer();
    const response = await me(server, `Bearer ${signToken("Ext.User@x", { name: "Ext Name" })}`);
    expect(response.statusCode).toBe(200);
    expect(response.json<User>()).toEqual({ id: "Ext.User@x", name: "Ext Name" });
  });

  it("answers 401 without a token", async () => {
    const server = await startServer();
    expectError(await me(server), 401, "UNAUTHORIZED");
  });

  it("says the bearer token is missing when there is none, and invalid or expired when it is bad", async () => {
    const server = await startServer();
    expect((await me(server)).json<HttpErrorBody>().error.message).toMatch(/^missing bearer token/);
    const bad = await me(server, `Bearer ${signToken("alice", { secret: "x".repeat(40) })}`);
    expect(bad.json<HttpErrorBody>().error).toEqual({ code: "UNAUTHORIZED", message: "invalid or expired token" });
  });

  const badHeaders: [string, () => string][] = [
    ["a garbage bearer token", () => "Bearer not.a.jwt"],
    ["a token signed with another secret", () => `Bearer ${signToken("alice", { secret: "x".repeat(40) })}`],
    ["an expired token", () => `Bearer ${jwt.sign({ sub: "alice", exp: nowSeconds() - 60 }, TEST_SECRET)}`],
    ["a scheme other than Bearer", () => `Basic ${Buffer.from("alice:password").toString("base64")}`],
    ["an empty bearer", () => "Bearer "],
  ];
  for (const [what, header] of badHeaders) {
    it(`answers 401 to ${what}`, async () => {
      const server = await startServer();
      expectError(await me(server, header()), 401, "UNAUTHORIZED");
    });
  }
});

describe("socket handshake, shared secret", () => {
  it("connects with a token issued by register, and the session names that user", async () => {
    const server = await startServer();
    const { token, user } = await register(server, "Carol");
    const carol = await connect(server, { token });
    expect(carol.session.user).toEqual(user);
    expect(carol.session.user).toEqual({ id: "carol", name: "carol" });
    expect(carol.session.rooms.map((room) => room.id)).toContain("lobby");
  });

  it("connects with a token issued by login", async () => {
    const server = await startServer();
    await register(server, "lena", "lena's password");
    const response = await post(server, "/api/auth/login", { username: "LENA", password: "lena's password" });
    const { token } = response.json<AuthResponse>();
    const lena = await connect(server, { token });
    expect(lena.session.user).toEqual({ id: "lena", name: "lena" });
  });

  it("accepts an external token for a never-registered sub, keeping its case and name claim", async () => {
    const server = await startServer();
    const ext = await connect(server, { token: signToken("Ext.User@x", { name: "Ext Name" }) });
    expect(ext.session.user).toEqual({ id: "Ext.User@x", name: "Ext Name" });
    expect(ext.session.rooms.map((room) => room.id)).toEqual(["lobby"]);
    const members = await ok(ext.socket, "room:members", { roomId: "lobby" });
    expect(members.members.map((member) => member.userId)).toContain("Ext.User@x");
  });

  it("lets another user send a single message to an external user created on connect", async () => {
    const server = await startServer();
    const ext = await connect(server, { token: signToken("Ext.User@x", { name: "Ext Name" }) });
    const alice = await connect(server, "alice");
    const sent = await ok(alice.socket, "message:send", {
      messageType: "single",
      mediaType: "text",
      to: "Ext.User@x",
      content: "hello external",
    });
    expect(sent).toMatchObject({ from: "alice", to: "Ext.User@x", messageType: "single" });
    expect(await waitForMessage(ext, (m) => "id" in m && m.id === sent.id)).toEqual(sent);
  });

  it("keeps an external sub case-sensitive: its lower-cased form is another, unknown user", async () => {
    const server = await startServer();
    await connect(server, { token: signToken("Ext.User@x", { name: "Ext Name" }) });
    const alice = await connect(server, "alice");
    const result = await request(alice.socket, "message:send", {
      messageType: "single",
      mediaType: "text",
      to: "ext.user@x",
      content: "wrong case",
    });
    expect(result).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
  });

  it("names an external user after its id when the token has no name claim", async () => {
    const server = await startServer();
    const ext = await connect(server, { token: signToken("Nameless-1") });
    expect(ext.session.user).toEqual({ id: "Nameless-1", name: "Nameless-1" });
  });

  it("creates no socket for a refused handshake", async () => {
    const server = await startServer();
    expect(await handshake(server, "garbage")).toEqual(REFUSED);
    expect(server.server.io.of("/").sockets.size).toBe(0);
  });

  it("says a handshake without auth.token is missing its token, with the same code as a bad token", async () => {
    const server = await startServer();
    const refusal = (token: unknown, options: Record<string, unknown> = {}) =>
      new Promise<{ message: string; data: unknown }>((resolve) =>
        openSocket(nodeUrl(server), token, options).once("connect_error", (error: Error & { data?: unknown }) =>
          resolve({ message: error.message, data: error.data }),
        ),
      );
    const missing = { message: "missing token", data: { code: "UNAUTHORIZED" } };
    expect(await refusal(undefined, { auth: {} })).toEqual(missing);
    expect(await refusal("")).toEqual(missing);
    expect(await refusal("garbage")).toEqual({ message: "unauthorized", data: { code: "UNAUTHORIZED" } });
  });

  it("refuses a handshake with no auth at all", async () => {
    const server = await startServer();
    expect(await handshake(server, undefined, { auth: {} })).toEqual(REFUSED);
  });

  const refusals: [string, () => unknown][] = [
    ["no token", () => undefined],
    ["a token that is a number", () => 12345],
    ["a token that is an object", () => ({ sub: "alice" })],
    ["an empty token", () => ""],
    ["a garbage token", () => "garbage"],
    [
      "a token signed with another secret",
      () => signToken("alice", { secret: "another-secret-of-at-least-32-bytes!!" }),
    ],
    [
      "an unsigned token (alg none)",
      () => rawToken({ alg: "none", typ: "JWT" }, { sub: "alice", exp: nowSeconds() + 600 }, () => Buffer.alloc(0)),
    ],
    [
      "an unsigned token (alg none) carrying a valid HS256 signature",
      () => {
        const valid = signToken("alice");
        const [, payload, signature] = valid.split(".");
        const header = Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url");
        return `${header}.${payload}.${signature}`;
      },
    ],
    [
      "a token signed with another algorithm (HS512) and the right secret",
      () => signToken("alice", { algorithm: "HS512" }),
    ],
    [
      "a token signed with another algorithm (HS384) and the right secret",
      () => signToken("alice", { algorithm: "HS384" }),
    ],
    ["a token without exp", () => jwt.sign({ sub: "alice" }, TEST_SECRET, { algorithm: "HS256" })],
    ["a token whose exp is in the past", () => jwt.sign({ sub: "alice", exp: nowSeconds() - 10 }, TEST_SECRET)],
    ["a token that is not valid yet (nbf in the future)", () => signToken("alice", { notBefore: 600 })],
    ["a token whose sub has a space", () => signToken("bad user!")],
    ["a token whose sub is 65 characters", () => signToken("a".repeat(65))],
    ["a token with no sub", () => jwt.sign({ name: "anon" }, TEST_SECRET, { expiresIn: 600 })],
    ["a token whose sub is a number", () => jwt.sign({ sub: 42, exp: nowSeconds() + 600 }, TEST_SECRET)],
    ["a token for the reserved user system", () => signToken("system")],
    ["a token whose payload is a string, not claims", () => jwt.sign("alice", TEST_SECRET)],
    [
      "a token whose exp is a string",
      () => hs256WithText(TEST_SECRET, { sub: "alice", exp: String(nowSeconds() + 600) }),
    ],
    [
      "a token whose nbf is not a number",
      () => hs256WithText(TEST_SECRET, { sub: "alice", exp: nowSeconds() + 600, nbf: "0" }),
    ],
    ["a token whose payload is a JSON array", () => hs256WithText(TEST_SECRET, [{ sub: "alice" }])],
    ["a token of four parts", () => `${signToken("alice")}.x`],
    ["a token with a truncated signature", () => signToken("alice").slice(0, -4)],
    [
      "a token whose header is not JSON",
      () => `${Buffer.from("{alg:HS256").toString("base64url")}.${signToken("alice").split(".").slice(1).join(".")}`,
    ],
    [
      "a token with a tampered payload",
      () => {
        const [header, , signature] = signToken("alice").split(".");
        const payload = Buffer.from(JSON.stringify({ sub: "mallory", exp: nowSeconds() + 600 })).toString("base64url");
        return `${header}.${payload}.${signature}`;
      },
    ],
  ];
  for (const [what, token] of refusals) {
    it(`refuses ${what} with connect_error UNAUTHORIZED`, async () => {
      const server = await startServer();
      expect(await handshake(server, token())).toEqual(REFUSED);
    });
  }

  it("accepts a sub of exactly 64 characters from the full id alphabet", async () => {
    const server = await startServer();
    const id = "Az09_.@:-".padEnd(64, "x");
    const result = await handshake(server, signToken(id));
    expect(result).toMatchObject({ connected: true, session: { user: { id } } });
  });
});

describe("socket handshake with JWT_ISSUER and JWT_AUDIENCE", () => {
  const env = { JWT_ISSUER: "iss1", JWT_AUDIENCE: "aud1" };

  it("accepts a token with the right issuer and audience", async () => {
    const server = await startServer(env);
    const result = await handshake(server, signToken("alice", { issuer: "iss1", audience: "aud1" }));
    expect(result).toMatchObject({ connected: true, session: { user: { id: "alice" } } });
  });

  it("accepts a token whose audience list contains the configured audience", async () => {
    const server = await startServer(env);
    const result = await handshake(server, signToken("alice", { issuer: "iss1", audience: ["other", "aud1"] }));
    expect(result).toMatchObject({ connected: true });
  });

  const refusals: [string, jwt.SignOptions][] = [
    ["a wrong issuer", { issuer: "iss2", audience: "aud1" }],
    ["a missing issuer", { audience: "aud1" }],
    ["a wrong audience", { issuer: "iss1", audience: "aud2" }],
    ["a missing audience", { issuer: "iss1" }],
    ["neither issuer nor audience", {}],
  ];
  for (const [what, options] of refusals) {
    it(`refuses a token with ${what}`, async () => {
      const server = await startServer(env);
      expect(await handshake(server, signToken("alice", options))).toEqual(REFUSED);
    });
  }

  it("issues register tokens that carry the issuer and audience, so they connect", async () => {
    const server = await startServer(env);
    const { token } = await register(server, "Ivan");
    const claims = jwt.decode(token) as jwt.JwtPayload;
    expect(claims).toMatchObject({ iss: "iss1", aud: "aud1", sub: "ivan" });
    const ivan = await connect(server, { token });
    expect(ivan.session.user).toEqual({ id: "ivan", name: "ivan" });
  });

  it("answers 401 on /api/me to a token with the wrong issuer", async () => {
    const server = await startServer(env);
    expectError(
      await me(server, `Bearer ${signToken("alice", { issuer: "iss2", audience: "aud1" })}`),
      401,
      "UNAUTHORIZED",
    );
  });
});

describe("socket handshake with an RS256 public key", () => {
  const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const env = { JWT_PUBLIC_KEY: pem(publicKey), JWT_ALGORITHM: "RS256" };
  const rs256 = (sub: string, options: jwt.SignOptions & { name?: string } = {}) => {
    const { name, ...rest } = options;
    return jwt.sign(name === undefined ? {} : { name }, privateKey, {
      algorithm: "RS256",
      subject: sub,
      expiresIn: 600,
      ...rest,
    });
  };

  it("accepts a token signed with the matching private key", async () => {
    const server = await startServer(env);
    const result = await handshake(server, rs256("Rsa.User", { name: "Rsa Name" }));
    expect(result).toMatchObject({ connected: true, session: { user: { id: "Rsa.User", name: "Rsa Name" } } });
  });

  it("accepts the RS256 key with its newlines escaped as \\n in the environment", async () => {
    const server = await startServer({ ...env, JWT_PUBLIC_KEY: pem(publicKey).replace(/\n/g, "\\n") });
    expect(await handshake(server, rs256("alice"))).toMatchObject({ connected: true });
  });

  it("refuses an HS256 token signed with the public key's PEM text as the secret (key confusion)", async () => {
    const server = await startServer(env);
    const token = hs256WithText(pem(publicKey), { sub: "alice", exp: nowSeconds() + 600 });
    expect(await handshake(server, token)).toEqual(REFUSED);
    expectError(await me(server, `Bearer ${token}`), 401, "UNAUTHORIZED");
  });

  it("refuses an HS256 token signed with the shared secret", async () => {
    const server = await startServer(env);
    expect(await handshake(server, signToken("alice"))).toEqual(REFUSED);
  });

  it("refuses a token signed with another RSA key", async () => {
    const server = await startServer(env);
    const other = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
    const token = jwt.sign({}, other, { algorithm: "RS256", subject: "alice", expiresIn: 600 });
    expect(await handshake(server, token)).toEqual(REFUSED);
  });

  it("refuses an RS256 token without exp or for the reserved user system", async () => {
    const server = await startServer(env);
    expect(await handshake(server, jwt.sign({ sub: "alice" }, privateKey, { algorithm: "RS256" }))).toEqual(REFUSED);
    expect(await handshake(server, rs256("system"))).toEqual(REFUSED);
  });

  it("answers 403 FORBIDDEN to register and login: built-in accounts are off", async () => {
    const server = await startServer(env);
    expectError(
      await post(server, "/api/auth/register", { username: "newbie", password: "long enough password" }),
      403,
      "FORBIDDEN",
    );
    expectError(
      await post(server, "/api/auth/login", { username: "newbie", password: "long enough password" }),
      403,
      "FORBIDDEN",
    );
  });
});

describe("socket handshake with an EdDSA public key", () => {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  const env = { JWT_PUBLIC_KEY: pem(publicKey), JWT_ALGORITHM: "EdDSA" };

  it("accepts a token signed with the matching Ed25519 private key", async () => {
    const server = await startServer(env);
    const token = signEdDsa(privateKey, { sub: "Ed.User", name: "Ed Name", exp: nowSeconds() + 600 });
    expect(await handshake(server, token)).toMatchObject({
      connected: true,
      session: { user: { id: "Ed.User", name: "Ed Name" } },
    });
  });

  it("refuses an HS256 token signed with the public key's PEM text as the secret (key confusion)", async () => {
    const server = await startServer(env);
    const token = hs256WithText(pem(publicKey), { sub: "alice", exp: nowSeconds() + 600 });
    expect(await handshake(server, token)).toEqual(REFUSED);
  });

  it("refuses a token signed with another Ed25519 key", async () => {
    const server = await startServer(env);
    const other = generateKeyPairSync("ed25519").privateKey;
    expect(await handshake(server, signEdDsa(other, { sub: "alice", exp: nowSeconds() + 600 }))).toEqual(REFUSED);
  });

  it("refuses an EdDSA token without exp, with a past exp, or with alg none", async () => {
    const server = await startServer(env);
    expect(await handshake(server, signEdDsa(privateKey, { sub: "alice" }))).toEqual(REFUSED);
    expect(await handshake(server, signEdDsa(privateKey, { sub: "alice", exp: nowSeconds() - 10 }))).toEqual(REFUSED);
    const none = rawToken({ alg: "none" }, { sub: "alice", exp: nowSeconds() + 600 }, () => Buffer.alloc(0));
    expect(await handshake(server, none)).toEqual(REFUSED);
  });

  it("refuses an EdDSA token for an invalid sub or the reserved user system", async () => {
    const server = await startServer(env);
    expect(await handshake(server, signEdDsa(privateKey, { sub: "bad user!", exp: nowSeconds() + 600 }))).toEqual(
      REFUSED,
    );
    expect(await handshake(server, signEdDsa(privateKey, { sub: "system", exp: nowSeconds() + 600 }))).toEqual(REFUSED);
  });

  it("checks issuer and audience on EdDSA tokens when they are configured", async () => {
    const server = await startServer({ ...env, JWT_ISSUER: "iss1", JWT_AUDIENCE: "aud1" });
    const exp = nowSeconds() + 600;
    expect(
      await handshake(server, signEdDsa(privateKey, { sub: "alice", exp, iss: "iss1", aud: "aud1" })),
    ).toMatchObject({
      connected: true,
    });
    expect(await handshake(server, signEdDsa(privateKey, { sub: "alice", exp, iss: "iss2", aud: "aud1" }))).toEqual(
      REFUSED,
    );
    expect(await handshake(server, signEdDsa(privateKey, { sub: "alice", exp, iss: "iss1" }))).toEqual(REFUSED);
  });

  it("answers 403 FORBIDDEN to register", async () => {
    const server = await startServer(env);
    expectError(
      await post(server, "/api/auth/register", { username: "newbie", password: "long enough password" }),
      403,
      "FORBIDDEN",
    );
  });
});
