import { afterEach, describe, expect, it } from "vitest";
import {
  barrier,
  cleanup,
  connect,
  ok,
  request,
  startServer,
  storedOnly,
  waitForMessage,
  type Connected,
} from "./support/harness.js";

afterEach(cleanup);

const text = (to: string, content: string, messageType: "single" | "group" = "single") =>
  ({ messageType, mediaType: "text", to, content }) as const;

const idsOf = (client: Connected) => storedOnly(client.received).map((m) => m.id);

describe("message:send routing", () => {
  it("delivers a single message to every socket of the recipient and the sender's other sockets, not the sending one", async () => {
    const server = await startServer();
    const a1 = await connect(server, "alice");
    const a2 = await connect(server, "alice");
    const b1 = await connect(server, "bob");
    const b2 = await connect(server, "bob");
    const carol = await connect(server, "carol");
    const sent = await ok(a1.socket, "message:send", text("bob", "hello bob"));
    expect(sent).toMatchObject({
      messageType: "single",
      mediaType: "text",
      from: "alice",
      to: "bob",
      content: "hello bob",
    });
    await barrier(
      b1,
      [a1, a2, b1, b2, carol].filter((c) => c !== b1),
    );
    for (const client of [a2, b1, b2]) expect(idsOf(client).filter((id) => id === sent.id)).toHaveLength(1);
    expect(idsOf(a1)).not.toContain(sent.id);
    expect(idsOf(carol)).not.toContain(sent.id);
  });

  it("delivers a group message to every socket of every member once, except the sending socket", async () => {
    const server = await startServer();
    const a1 = await connect(server, "alice");
    const a2 = await connect(server, "alice");
    const bob = await connect(server, "bob");
    const outsider = await connect(server, "outsider");
    const room = await ok(a1.socket, "room:create", { name: "team" });
    await ok(bob.socket, "room:join", { roomId: room.id });
    const sent = await ok(a1.socket, "message:send", text(room.id, "hi team", "group"));
    expect(sent).toMatchObject({ messageType: "group", from: "alice", to: room.id });
    await barrier(bob, [a1, a2, outsider]);
    expect(idsOf(a2).filter((id) => id === sent.id)).toHaveLength(1);
    expect(idsOf(bob).filter((id) => id === sent.id)).toHaveLength(1);
    expect(idsOf(a1)).not.toContain(sent.id);
    expect(idsOf(outsider)).not.toContain(sent.id);
  });

  it("lets a user write a note to self that reaches only its other sockets", async () => {
    const server = await startServer();
    const a1 = await connect(server, "alice");
    const a2 = await connect(server, "alice");
    const bob = await connect(server, "bob");
    const sent = await ok(a1.socket, "message:send", text("alice", "note"));
    expect(sent.to).toBe("alice");
    await barrier(bob, [a1, a2]);
    expect(idsOf(a2).filter((id) => id === sent.id)).toHaveLength(1);
    expect(idsOf(a1)).not.toContain(sent.id);
    expect(idsOf(bob)).not.toContain(sent.id);
  });

  it("delivers messages of one conversation in increasing id order", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const bob = await connect(server, "bob");
    const sent = await Promise.all(
      Array.from({ length: 30 }, (_, i) => ok(alice.socket, "message:send", text("bob", `m${i}`))),
    );
    const last = Math.max(...sent.map((m) => m.id));
    await waitForMessage(bob, (m) => "id" in m && m.id === last);
    const got = idsOf(bob);
    expect(got).toEqual([...got].sort((x, y) => x - y));
    expect(new Set(got).size).toBe(30);
  });

  it("sets from, id and timestamps on the server and drops keys the contract does not name", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const before = Date.now();
    const forged = { ...text("lobby", "x", "group"), from: "mallory", id: 999, createAt: 1, extra: true };
    const sent = await ok(alice.socket, "message:send", forged);
    expect(sent.from).toBe("alice");
    expect(sent.id).not.toBe(999);
    expect(sent.createAt).toBeGreaterThanOrEqual(before);
    expect(sent.updateAt).toBe(sent.createAt);
    expect(sent).not.toHaveProperty("extra");
  });

  it("acks only once the message is stored: history already holds it", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const sent = await ok(alice.socket, "message:send", text("lobby", "stored?", "group"));
    const page = await ok(alice.socket, "history:list", { room: "lobby" });
    expect(page.messages.map((m) => m.id)).toContain(sent.id);
  });
});

describe("message:send refusals", () => {
  it("answers NOT_FOUND for a single message to an unknown user", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const result = await request(alice.socket, "message:send", text("nobody", "hi"));
    expect(result).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
  });

  it("answers NOT_FOUND for a group message to an unknown room and FORBIDDEN to a room the sender is not in", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const bob = await connect(server, "bob");
    const room = await ok(bob.socket, "room:create", { name: "bob's" });
    expect(await request(alice.socket, "message:send", text("no-such-room", "x", "group"))).toMatchObject({
      ok: false,
      error: { code: "NOT_FOUND" },
    });
    expect(await request(alice.socket, "message:send", text(room.id, "x", "group"))).toMatchObject({
      ok: false,
      error: { code: "FORBIDDEN" },
    });
  });

  it.each([
    ["no content on a text message", { messageType: "single", mediaType: "text", to: "bob" }],
    ["empty content", { messageType: "single", mediaType: "text", to: "bob", content: "" }],
    [
      "content over 4000 characters",
      { messageType: "single", mediaType: "text", to: "bob", content: "x".repeat(4001) },
    ],
    [
      "content over 4000 UTF-16 code units made of emoji",
      { messageType: "single", mediaType: "text", to: "bob", content: "😀".repeat(2001) },
    ],
    ["a system message type", { messageType: "system", mediaType: "text", to: "bob", content: "x" }],
    ["an online message type", { messageType: "online", mediaType: "text", to: "bob", content: "x" }],
    ["an unknown media type", { messageType: "single", mediaType: "video", to: "bob", content: "x" }],
    ["a numeric recipient", { messageType: "single", mediaType: "text", to: 5, content: "x" }],
    [
      "a clientMsgId over 64 characters",
      { messageType: "single", mediaType: "text", to: "bob", content: "x", clientMsgId: "k".repeat(65) },
    ],
    ["a string payload", "hello"],
    ["a null payload", null],
    ["an array payload", [1, 2]],
  ])("answers INVALID_PAYLOAD for %s and stores nothing", async (_name, payload) => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    await connect(server, "bob");
    const result = await request(alice.socket, "message:send", payload as never);
    expect(result).toMatchObject({ ok: false, error: { code: "INVALID_PAYLOAD" } });
    expect(await ok(alice.socket, "sync", { after: 0 })).toEqual({ messages: [], hasMore: false });
  });

  it("accepts content of exactly 4000 characters", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const sent = await ok(alice.socket, "message:send", text("lobby", "y".repeat(4000), "group"));
    expect(sent.content).toHaveLength(4000);
  });
});

describe("idempotent resend", () => {
  it("returns the first message for a repeated clientMsgId, whatever its content, and delivers nothing again", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const bob = await connect(server, "bob");
    const first = await ok(alice.socket, "message:send", { ...text("bob", "one"), clientMsgId: "k1" });
    expect(first.clientMsgId).toBe("k1");
    const again = await ok(alice.socket, "message:send", { ...text("bob", "changed"), clientMsgId: "k1" });
    expect(again).toEqual(first);
    await barrier(alice, [bob]);
    expect(idsOf(bob).filter((id) => id === first.id)).toHaveLength(1);
    const page = await ok(bob.socket, "history:list", { user: "alice" });
    expect(page.messages).toHaveLength(1);
  });

  it("keeps one message when the same clientMsgId is sent twice at once", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const [x, y] = await Promise.all([
      ok(alice.socket, "message:send", { ...text("lobby", "a", "group"), clientMsgId: "same" }),
      ok(alice.socket, "message:send", { ...text("lobby", "b", "group"), clientMsgId: "same" }),
    ]);
    expect(x).toEqual(y);
    expect((await ok(alice.socket, "history:list", { room: "lobby" })).messages).toHaveLength(1);
  });

  it("treats the same clientMsgId from two users as two messages", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const bob = await connect(server, "bob");
    const a = await ok(alice.socket, "message:send", { ...text("lobby", "a", "group"), clientMsgId: "k" });
    const b = await ok(bob.socket, "message:send", { ...text("lobby", "b", "group"), clientMsgId: "k" });
    expect(a.id).not.toBe(b.id);
  });

  it("remembers a clientMsgId across a server restart", async () => {
    const first = await startServer();
    const dataDir = first.config.dataDir;
    const alice = await connect(first, "alice");
    const sent = await ok(alice.socket, "message:send", {
      ...text("lobby", "before", "group"),
      clientMsgId: "persist",
    });
    alice.socket.disconnect();
    await first.stop();
    const second = await startServer({}, dataDir);
    const again = await connect(second, "alice");
    expect(
      await ok(again.socket, "message:send", { ...text("lobby", "after", "group"), clientMsgId: "persist" }),
    ).toEqual(sent);
  });
});

describe("order within a conversation, with senders on every node", () => {
  it("delivers each conversation's messages to every socket in increasing id order while several senders race", async () => {
    const server = await startServer();
    // Clients alternate nodes on two nodes: two senders and two sockets of the reader on each.
    const senders = [];
    for (const name of ["s1", "s2", "s3", "s4"]) senders.push(await connect(server, name));
    const readers = [await connect(server, "reader"), await connect(server, "reader")];
    const tabs = [await connect(server, "dana"), await connect(server, "dana")];
    // Group: every sender to the lobby at once; direct: dana's two tabs and two senders write to the reader.
    const rounds = 40;
    await Promise.all([
      ...senders.map(async (sender, index) => {
        for (let i = 0; i < rounds; i++)
          await ok(sender.socket, "message:send", text("lobby", `g${index}-${i}`, "group"));
      }),
      ...[...tabs, senders[0]!, senders[1]!].map(async (from, index) => {
        for (let i = 0; i < rounds; i++) await ok(from.socket, "message:send", text("reader", `d${index}-${i}`));
      }),
    ]);
    const marker = await barrier(senders[0]!, [...readers, ...tabs, ...senders.slice(1)]);
    for (const socket of [...readers, ...tabs, ...senders]) {
      const stored = storedOnly(socket.received).filter((message) => message.id < marker.id);
      // Per conversation as the socket sees it: the lobby, and each direct peer.
      const byConversation = new Map<string, number[]>();
      for (const message of stored) {
        const key = message.messageType === "group" ? message.to : [message.from, message.to].sort().join("|");
        byConversation.set(key, [...(byConversation.get(key) ?? []), message.id]);
      }
      for (const ids of byConversation.values()) expect(ids).toEqual([...ids].sort((a, b) => a - b));
    }
    // Nothing was held back for good: each reader socket got all the direct messages and the group ones.
    for (const reader of readers)
      expect(storedOnly(reader.received).filter((m) => m.id < marker.id)).toHaveLength(8 * rounds);
  });
});
