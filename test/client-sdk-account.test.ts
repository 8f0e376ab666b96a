import { afterEach, describe, expect, it } from "vitest";
import { createChatClient, type ChatClient, type ChatClientOptions, type ConnectionState } from "../client/index.js";
import type { ServerNotice } from "../shared/events.js";
import {
  ADMIN_KEY,
  cleanup,
  serverSocketOf,
  signToken,
  startServer,
  until,
  type TestServer,
} from "./support/harness.js";

// Issue 15: the SDK and the accounts' session endings (docs/protocol.md, `server:notice` and `auth:refresh`).

const clients: ChatClient[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) {
    client.close();
    client.removeAllListeners();
  }
  await cleanup();
});

/** Quick reconnects, so that a reconnect loop would show within the test. */
const FAST = { reconnectionDelay: 20, reconnectionDelayMax: 50, transports: ["websocket"] };

/** A client recording its states, notices and connects. */
function chatClient(server: TestServer, options: Partial<ChatClientOptions> & Pick<ChatClientOptions, "token">) {
  const client = createChatClient({ url: server.url, socket: FAST, ...options });
  clients.push(client);
  const record = { client, states: [] as ConnectionState[], notices: [] as ServerNotice[], sessions: 0 };
  client.on("state", (state) => record.states.push(state));
  client.on("notice", (notice) => record.notices.push(notice));
  client.on("session", () => (record.sessions += 1));
  return record;
}

const admin = (server: TestServer, method: string, path: string) =>
  fetch(`${server.url}${path}`, { method, headers: { authorization: `Bearer ${ADMIN_KEY}` } });

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("SDK: session endings", () => {
  it("stays offline after signed-out, exposing the notice, instead of reconnecting; connect() tries again", async () => {
    const server = await startServer();
    const alice = chatClient(server, { token: signToken("alice") });
    await alice.client.whenOnline();
    expect(alice.client.ended).toBeUndefined();
    expect((await admin(server, "POST", "/api/admin/users/alice/sign-out")).status).toBe(200);
    await until(() => alice.client.state === "offline");
    expect(alice.client.ended).toMatchObject({ reason: "signed-out" });
    expect(alice.notices.map((notice) => notice.reason)).toEqual(["signed-out"]);
    // No reconnect attempts meanwhile (they would be refused, again and again).
    await pause(300);
    expect(alice.sessions).toBe(1);
    expect(alice.states.at(-1)).toBe("offline");

    // An external token says when it was issued in whole seconds: one issued in the second of the sign-out
    // counts as signed out too (docs/protocol.md), so the new one comes from the next second.
    await pause(1000 - (Date.now() % 1000) + 20);
    const again = chatClient(server, { token: () => signToken("alice") });
    await again.client.whenOnline();
    expect(again.client.ended).toBeUndefined();
  });

  it("stays offline after disabled, and a refused connect (FORBIDDEN) is not retried", async () => {
    const server = await startServer();
    const bob = chatClient(server, { token: signToken("bob") });
    await bob.client.whenOnline();
    expect((await admin(server, "POST", "/api/admin/users/bob/disable")).status).toBe(200);
    await until(() => bob.client.state === "offline");
    expect(bob.client.ended).toMatchObject({ reason: "disabled" });

    let refusals = 0;
    const later = chatClient(server, { token: () => signToken("bob") });
    later.client.on("error", (error) => {
      if (error.code === "FORBIDDEN") refusals += 1;
    });
    await until(() => refusals === 1);
    await pause(300);
    expect(refusals).toBe(1);
    expect(later.client.state).toBe("offline");
  });

  it("reconnects after kicked (its token still counts)", async () => {
    const server = await startServer();
    const alice = chatClient(server, { token: signToken("alice") });
    await alice.client.whenOnline();
    const socketId = alice.client.socket.id!;
    expect((await admin(server, "DELETE", `/api/admin/sessions/${socketId}`)).status).toBe(204);
    await until(() => alice.sessions === 2, 5000);
    expect(alice.notices.map((notice) => notice.reason)).toEqual(["kicked"]);
    expect(alice.client.ended).toBeUndefined();
  });
});

describe("SDK: token refresh", () => {
  it("refreshToken hands the socket a newer token and answers its exp; another user's token is refused", async () => {
    const server = await startServer();
    const alice = chatClient(server, { token: signToken("alice", { expiresIn: 60 }) });
    await alice.client.whenOnline();
    const refreshed = await alice.client.refreshToken(signToken("alice", { expiresIn: 3600 }));
    expect(refreshed.ok).toBe(true);
    if (refreshed.ok) expect(refreshed.data.exp).toBeGreaterThan(Date.now() / 1000 + 3000);
    const refused = await alice.client.refreshToken(signToken("bob", { expiresIn: 3600 }));
    expect(refused).toMatchObject({ ok: false, error: { code: "UNAUTHORIZED" } });
  });

  it("with a token function, refreshes before the token expires, so the connection outlives it", async () => {
    const server = await startServer();
    let calls = 0;
    // The first token expires in 2 s; asked again (1.5 s before expiry), the function gives a longer one.
    const token = () => (calls++ === 0 ? signToken("alice", { expiresIn: 2 }) : signToken("alice", { expiresIn: 600 }));
    const alice = chatClient(server, { token, refreshAheadMs: 1500 });
    await alice.client.whenOnline();
    const socketId = alice.client.socket.id!;
    await pause(3500);
    // Still the same connection, never told its token expired.
    expect(alice.notices).toEqual([]);
    expect(alice.client.socket.id).toBe(socketId);
    expect(alice.sessions).toBe(1);
    expect(serverSocketOf(server, socketId)?.connected).toBe(true);
    expect(calls).toBe(2);
  });

  it("without a newer token, the socket is told its token expired and reconnects with the function's next token", async () => {
    const server = await startServer();
    let calls = 0;
    const first = signToken("alice", { expiresIn: 2 });
    // The function keeps answering the expiring token until the reconnect asks.
    const token = () => (calls++ < 2 ? first : signToken("alice", { expiresIn: 600 }));
    const alice = chatClient(server, { token, refreshAheadMs: 1500 });
    await alice.client.whenOnline();
    await until(() => alice.sessions === 2, 8000);
    expect(alice.notices.map((notice) => notice.reason)).toEqual(["token-expired"]);
    expect(alice.client.ended).toBeUndefined();
  });
});
