import { afterEach, describe, expect, it } from "vitest";
import { cleanup, connect, ok, request, signToken, startServer, waitForMessage } from "./support/harness.js";
import { RawClient } from "./support/raw-client.js";

afterEach(cleanup);

/** Opens an authenticated raw client and registers it for cleanup. */
async function rawConnected(url: string, userId: string): Promise<RawClient> {
  const { client, answer } = await RawClient.connect(url, { token: signToken(userId) });
  expect(answer.startsWith("40")).toBe(true);
  afterEach(() => client.close());
  return client;
}

describe("bad input over Socket.IO", () => {
  it("ignores an event the contract does not name: no answer, no crash, the connection stays usable", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    (alice.socket.emit as (event: string, ...args: unknown[]) => void)("no:such:event", { x: 1 });
    const room = await ok(alice.socket, "room:create", { name: "still works" });
    expect(room.name).toBe("still works");
    expect(alice.socket.connected).toBe(true);
  });

  it("serves a request sent without an ack callback and stays up", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const bob = await connect(server, "bob");
    (alice.socket.emit as (event: string, ...args: unknown[]) => void)("message:send", {
      messageType: "group",
      mediaType: "text",
      to: "lobby",
      content: "fire and forget",
    });
    // Without an ack the sender cannot know when it is stored; delivery to others happens after the commit.
    await waitForMessage(bob, (m) => "id" in m);
    const page = await ok(alice.socket, "history:list", { room: "lobby" });
    expect(page.messages.map((m) => m.content)).toEqual(["fire and forget"]);
  });

  it("answers INVALID_PAYLOAD to a request with no payload at all", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const emit = alice.socket.timeout(5000).emitWithAck as (event: string) => Promise<unknown>;
    expect(await emit.call(alice.socket.timeout(5000), "message:send")).toMatchObject({
      ok: false,
      error: { code: "INVALID_PAYLOAD" },
    });
    // A request with nothing to say may omit its payload.
    expect(await emit.call(alice.socket.timeout(5000), "room:list")).toMatchObject({ ok: true });
  });

  it("never lets a __proto__ key in a payload reach the stored message", async () => {
    const server = await startServer();
    const raw = await rawConnected(server.url, "alice");
    raw.send(
      '4210["message:send",{"messageType":"group","mediaType":"text","to":"lobby","content":"p","__proto__":{"from":"mallory","admin":true}}]',
    );
    const ack = await raw.next((frame) => frame.startsWith("4310"));
    const [result] = JSON.parse(ack.slice(4)) as [{ ok: boolean; data: Record<string, unknown> }];
    expect(result.ok).toBe(true);
    expect(result.data.from).toBe("alice");
    expect(result.data).not.toHaveProperty("admin");
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
  });

  it.each([
    ["a non-string event name", '42[42,{"a":1}]'],
    ["an object event name", '42[{"x":1},{"a":1}]'],
    ["an empty event array", "42[]"],
    ["a truncated packet", '42["message:send",{"messageType":'],
    ["an unknown Socket.IO packet type", "49[]"],
    ["an unknown Engine.IO packet type", "9hello"],
    ["an empty frame", ""],
    ["a reserved event name", '42["connect",{}]'],
    ["a prototype method as event name", '42["hasOwnProperty",{}]'],
    ["the reserved event name error", '42["error",{}]'],
    ["the reserved event name disconnecting", '42["disconnecting","x"]'],
    ["the reserved event name disconnect", '42["disconnect","x"]'],
    ["the reserved event name newListener", '42["newListener","message:send"]'],
    ["the reserved event name removeListener", '42["removeListener","message:send"]'],
    ["__proto__ as event name", '42["__proto__",{}]'],
    ["constructor as event name", '42["constructor",{}]'],
    ["toString as event name", '42["toString",{}]'],
    ["a binary event lying about its attachments", '451-["message:send",{"_placeholder":true,"num":0}]'],
    [
      "a binary event with a huge attachment count",
      '4599999999999999999-["message:send",{"_placeholder":true,"num":0}]',
    ],
    ["a binary event with a negative attachment count", '45-1-["message:send",{}]'],
    ["a placeholder pointing past the attachments", '450-["message:send",{"_placeholder":true,"num":7}]'],
    ["a placeholder with a non-numeric index", '450-["message:send",{"_placeholder":true,"num":"__proto__"}]'],
    ["a binary ack for an ack never asked", '461-99[{"_placeholder":true,"num":0}]'],
    ["a namespace that does not exist", "40/admin,{}"],
    ["a CONNECT to the main namespace again", "40{}"],
  ])("survives %s: other clients are unaffected and nothing is stored", async (_name, frame) => {
    const server = await startServer();
    const bob = await connect(server, "bob");
    const raw = await rawConnected(server.url, "mallory");
    raw.send(frame);
    // Whether the server drops that connection or ignores the frame, it stays up for everyone else.
    const fresh = await connect(server, "carol");
    expect(await ok(fresh.socket, "room:list", {})).toHaveProperty("joined");
    expect(bob.socket.connected).toBe(true);
    expect((await ok(bob.socket, "sync", { after: 0 })).messages).toEqual([]);
  });

  it("survives binary attachments that do not match their placeholders, storing nothing", async () => {
    const server = await startServer();
    const bob = await connect(server, "bob");
    const raw = await rawConnected(server.url, "mallory");
    raw.send('452-["message:send",{"_placeholder":true,"num":0},{"_placeholder":true,"num":5}]');
    raw.send(Buffer.from([1, 2, 3]));
    raw.send(Buffer.from([4, 5, 6]));
    raw.send(Buffer.alloc(10_000));
    const fresh = await connect(server, "carol");
    expect(await ok(fresh.socket, "room:list", {})).toHaveProperty("joined");
    expect((await ok(bob.socket, "sync", { after: 0 })).messages).toEqual([]);
  });

  it("answers INVALID_PAYLOAD, not a crash, to a payload of the wrong type for every event", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const events = [
      "message:send",
      "history:list",
      "sync",
      "room:create",
      "room:join",
      "room:leave",
      "room:invite",
      "room:members",
    ] as const;
    for (const event of events) {
      expect(await request(alice.socket, event, 12 as never)).toMatchObject({
        ok: false,
        error: { code: "INVALID_PAYLOAD" },
      });
    }
  });
});
