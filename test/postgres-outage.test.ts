import { createServer, connect as tcpConnect, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { createChatServer } from "../server/app.js";
import { fileUrl } from "../server/files/urls.js";
import { PgStore } from "../server/store/postgres/store.js";
import { cleanup, connect, ok, request, testConfig, type TestServer } from "./support/harness.js";
import { createTestDatabase, missingServices, type TestDatabase } from "./support/services.js";

const missing = await missingServices(["postgres"], "the PostgreSQL outage test (test/postgres-outage.test.ts)");

/**
 * A TCP relay to PostgreSQL on a port of its own: `cut()` refuses new connections and resets the open ones,
 * as a database host going away would; `restore()` lets them through again.
 */
async function relayTo(target: URL): Promise<{ url: string; cut(): void; restore(): void; close(): Promise<void> }> {
  const open = new Set<Socket>();
  let up = true;
  const server: Server = createServer((inbound) => {
    if (!up) {
      inbound.destroy();
      return;
    }
    const outbound = tcpConnect(Number(target.port), target.hostname);
    for (const socket of [inbound, outbound]) {
      open.add(socket);
      socket.on("close", () => open.delete(socket));
      socket.on("error", () => undefined);
    }
    inbound.pipe(outbound).pipe(inbound);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = new URL(target);
  url.port = String((server.address() as { port: number }).port);
  return {
    url: url.toString(),
    cut() {
      up = false;
      for (const socket of open) socket.resetAndDestroy();
    },
    restore() {
      up = true;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const disposers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await cleanup();
  while (disposers.length > 0) await disposers.pop()!();
});

describe.skipIf(missing !== undefined)("while PostgreSQL is unreachable", () => {
  it("answers UNAVAILABLE (nothing acked that is not stored), /readyz 503, and works again once it is back", async () => {
    const database: TestDatabase = await createTestDatabase();
    disposers.push(() => database.drop());
    const relay = await relayTo(new URL(database.url));
    disposers.push(() => relay.close());
    const store = await PgStore.open({ url: relay.url, fileUrl, poolSize: 2 });
    const config = testConfig();
    const chat = await createChatServer({
      config,
      store,
      blobs: store.blobs,
      storeReady: () => store.ping().then(() => true),
    });
    const { port } = await chat.listen();
    const url = `http://127.0.0.1:${port}`;
    const server: TestServer = { server: chat, config, url, urls: [url], stop: () => chat.close() };
    disposers.push(() => chat.close());
    const alice = await connect(server, "alice");
    const send = (content: string) =>
      request(alice.socket, "message:send", {
        messageType: "group",
        mediaType: "text",
        to: "lobby",
        content,
        clientMsgId: content,
      });

    expect((await send("before")).ok).toBe(true);
    relay.cut();
    expect(await send("during")).toMatchObject({ ok: false, error: { code: "UNAVAILABLE" } });
    expect((await fetch(`${url}/readyz`)).status).toBe(503);
    relay.restore();
    expect((await send("during")).ok).toBe(true); // the resend, once it is back
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    const page = await ok(alice.socket, "history:list", { room: "lobby" });
    expect(page.messages.map((m) => m.content)).toEqual(["before", "during"]);
  });
});
