import type { Socket as NetSocket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { Message, TypingNotice } from "../shared/index.js";
import { userChannel } from "../server/socket/channels.js";
import {
  cleanup,
  connect,
  ok,
  openSocket,
  signToken,
  startServer,
  storedOnly,
  until,
  type TestServer,
} from "./support/harness.js";
import { RawClient } from "./support/raw-client.js";

afterEach(cleanup);

const scrape = async (server: TestServer) => (await server.server.app.inject({ url: "/metrics" })).body;

/** Bob sends a direct message to Alice; resolves with its ack. */
const say = (bob: Awaited<ReturnType<typeof connect>>, content: string) =>
  ok(bob.socket, "message:send", { messageType: "single", mediaType: "text", to: "alice", content });

/** Group commits and the messages they held so far, from /metrics. */
function commitsOf(metrics: string): { groups: number; messages: number } {
  const value = (name: string) =>
    Number(
      metrics
        .split("\n")
        .find((line) => line.startsWith(`${name} `))!
        .split(" ")[1],
    );
  return { groups: value("chat_store_commit_messages_count"), messages: value("chat_store_commit_messages_sum") };
}

/** Counts the write calls (`_write` or `_writev`, each one system call) on the server's TCP socket of a user. */
function countWrites(server: TestServer, userId: string): { writes: number } {
  const socket = [...server.server.io.of("/").sockets.values()].find((s) => s.data.user.id === userId)!;
  const transport = socket.conn.transport as unknown as { socket: { _socket: NetSocket } };
  const tcp = transport.socket._socket as NetSocket & {
    _write: (...args: unknown[]) => void;
    _writev: (...args: unknown[]) => void;
  };
  const counter = { writes: 0 };
  const write = tcp._write.bind(tcp);
  const writev = tcp._writev.bind(tcp);
  tcp._write = (...args) => {
    counter.writes += 1;
    write(...args);
  };
  tcp._writev = (...args) => {
    counter.writes += 1;
    writev(...args);
  };
  return counter;
}

describe("write coalescing", () => {
  it("sends every frame queued for a connection in one turn in one write, in order", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const seen: TypingNotice[] = [];
    alice.socket.on("typing", (notice) => seen.push(notice));
    const counter = countWrites(server, "alice");
    for (let index = 0; index < 5; index++) {
      server.server.io
        .to(userChannel("alice"))
        .emit("typing", { conversation: { user: `u${index}` }, userId: `u${index}`, state: "start" });
    }
    await until(() => seen.length === 5);
    expect(seen.map((notice) => notice.userId)).toEqual(["u0", "u1", "u2", "u3", "u4"]);
    expect(counter.writes).toBe(1);
  });

  it("does not hold a frame past the turn that queued it", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const counter = countWrites(server, "alice");
    const first = new Promise<TypingNotice>((resolve) => alice.socket.once("typing", resolve));
    server.server.io
      .to(userChannel("alice"))
      .emit("typing", { conversation: { user: "bob" }, userId: "bob", state: "start" });
    // Written before the next turn of the event loop, not when more traffic comes.
    await new Promise((resolve) => setImmediate(resolve));
    expect(counter.writes).toBe(1);
    expect((await first).userId).toBe("bob");
  });

  it("delivers a burst of sends and their acks complete and in order", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const bob = await connect(server, "bob");
    const sends = Array.from({ length: 50 }, (_, index) =>
      ok(bob.socket, "message:send", { messageType: "single", mediaType: "text", to: "alice", content: `m${index}` }),
    );
    const acked = await Promise.all(sends);
    expect(acked.map((message) => message.content)).toEqual(Array.from({ length: 50 }, (_, index) => `m${index}`));
    await until(() => storedOnly(alice.received).length === 50);
    expect(storedOnly(alice.received).map((message) => message.id)).toEqual(acked.map((message) => message.id));
  });

  it("commits a burst of sends read from one TCP write as one group and delivers it in one write per receiver", async () => {
    const server = await startServer();
    const bob = await connect(server, "bob");
    const { client: alice, answer } = await RawClient.connect(server.url, { token: signToken("alice") });
    expect(answer.startsWith("40")).toBe(true);
    await alice.next((frame) => frame.startsWith('42["session"'));
    const counter = countWrites(server, "bob");
    const before = commitsOf(await scrape(server));
    const tcp = (alice.ws as unknown as { _socket: NetSocket })._socket;
    tcp.cork();
    for (let index = 1; index <= 8; index++) {
      const send = {
        messageType: "group",
        mediaType: "text",
        to: "lobby",
        content: `m${index}`,
        clientMsgId: `b${index}`,
      };
      alice.send(`42${index}${JSON.stringify(["message:send", send])}`);
    }
    tcp.uncork();
    const acks: number[] = [];
    while (acks.length < 8) acks.push(Number(/^43(\d+)\[/.exec(await alice.next((f) => /^43\d+\[/.test(f)))![1]));
    expect(acks).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    await until(() => storedOnly(bob.received).length === 8);
    expect(storedOnly(bob.received).map((message) => message.content)).toEqual(
      Array.from({ length: 8 }, (_, index) => `m${index + 1}`),
    );
    // One request at a time would commit 8 groups of one and write to bob 8 times.
    const after = commitsOf(await scrape(server));
    expect(after.groups - before.groups).toBe(1);
    expect(after.messages - before.messages).toBe(8);
    expect(counter.writes).toBe(1);
    alice.close();
  });

  it("has at most 16 of a socket's sends unanswered at once: a burst of 40 commits in several groups, in order", async () => {
    const server = await startServer();
    const { client: alice, answer } = await RawClient.connect(server.url, { token: signToken("alice") });
    expect(answer.startsWith("40")).toBe(true);
    await alice.next((frame) => frame.startsWith('42["session"'));
    const before = commitsOf(await scrape(server));
    const tcp = (alice.ws as unknown as { _socket: NetSocket })._socket;
    tcp.cork();
    for (let index = 1; index <= 40; index++) {
      const send = { messageType: "single", mediaType: "text", to: "alice", content: `n${index}` };
      alice.send(`42${index}${JSON.stringify(["message:send", send])}`);
    }
    tcp.uncork();
    const ids: number[] = [];
    const acks: number[] = [];
    while (acks.length < 40) {
      const frame = await alice.next((f) => /^43\d+\[/.test(f));
      acks.push(Number(/^43(\d+)\[/.exec(frame)![1]));
      ids.push((JSON.parse(frame.slice(2 + String(acks.at(-1)).length)) as [{ data: { id: number } }])[0].data.id);
    }
    expect(acks).toEqual(Array.from({ length: 40 }, (_, index) => index + 1));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    const after = commitsOf(await scrape(server));
    expect(after.messages - before.messages).toBe(40);
    // Without the bound the 40 would commit as one group.
    expect(after.groups - before.groups).toBeGreaterThanOrEqual(3);
    alice.close();
  });

  it("frames payloads of every WebSocket length class intact (under 126 bytes, under 64 KiB, over it)", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const bob = await connect(server, "bob");
    const contents = ["x", "é".repeat(60), "ü".repeat(4000), "y".repeat(4000)];
    for (const content of contents) await say(bob, content);
    await until(() => storedOnly(alice.received).length === contents.length);
    expect(storedOnly(alice.received).map((message) => message.content)).toEqual(contents);
    // 20 messages of 4,000 characters: one ack of well over 64 KiB.
    for (let index = 0; index < 20; index++) await say(bob, `${index}`.padEnd(4000, "z"));
    const page = await ok(alice.socket, "sync", { after: 0, limit: 500 });
    expect(JSON.stringify(page).length).toBeGreaterThan(80_000);
    expect(page.messages.map((message) => message.content)).toEqual([
      ...contents,
      ...Array.from({ length: 20 }, (_, index) => `${index}`.padEnd(4000, "z")),
    ]);
  });

  it("closes a connection whose write throws and still flushes the others", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const bob = await connect(server, "bob");
    const aliceServerSide = [...server.server.io.of("/").sockets.values()].find((s) => s.data.user.id === "alice")!;
    // Its TCP socket's next write throws (both the one-buffer path and engine.io's own end in it); the close
    // frame after it is written.
    const tcp = (aliceServerSide.conn.transport as unknown as { socket: { _socket: { write: () => void } } }).socket
      ._socket;
    const write = tcp.write;
    tcp.write = () => {
      tcp.write = write;
      throw new Error("write failed");
    };
    const aliceGone = new Promise((resolve) => alice.socket.once("disconnect", resolve));
    const bobGot = new Promise<TypingNotice>((resolve) => bob.socket.once("typing", resolve));
    server.server.io
      .to([userChannel("alice"), userChannel("bob")])
      .emit("typing", { conversation: { user: "carol" }, userId: "carol", state: "start" });
    expect((await bobGot).userId).toBe("carol");
    await aliceGone;
    // The server is still serving.
    await ok(bob.socket, "message:send", { messageType: "group", mediaType: "text", to: "lobby", content: "still up" });
  });

  it("still delivers over HTTP long-polling", async () => {
    const server = await startServer();
    const polling = { transports: ["polling"] };
    const alice = openSocket(server.url, signToken("alice"), polling);
    const bob = openSocket(server.url, signToken("bob"), polling);
    const received: Message[] = [];
    alice.on("message", (message) => received.push(message));
    await Promise.all([alice, bob].map((socket) => new Promise((resolve) => socket.once("session", resolve))));
    const sent = await ok(bob, "message:send", {
      messageType: "single",
      mediaType: "text",
      to: "alice",
      content: "hi",
    });
    await until(() => received.some((message) => "id" in message && message.id === sent.id));
  });
});
