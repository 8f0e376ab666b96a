import { afterEach, describe, expect, it } from "vitest";
import type { StoredMessage } from "../shared/schemas.js";
import { SqliteStore } from "../server/store/sqlite/store.js";
import { barrier, nodeUrl, ok, request, signToken, startServer, tempDir, type TestServer } from "./support/harness.js";
import { RawClient } from "./support/raw-client.js";
import { client, finish, PNG, say, startClockedServer, upload } from "./state-support.js";
import { join } from "node:path";

afterEach(finish);

/** A raw Socket.IO client that writes several requests in one TCP write and reads their acks in order. */
class Pipelined {
  private nextAck = 1;

  private constructor(readonly raw: RawClient) {}

  static async open(server: TestServer, userId: string): Promise<Pipelined> {
    const { client: raw, answer } = await RawClient.connect(nodeUrl(server), { token: signToken(userId) });
    if (!answer.startsWith("40")) throw new Error(`refused: ${answer}`);
    await raw.next((frame) => frame.startsWith('42["session"'));
    return new Pipelined(raw);
  }

  /** Sends every request in one TCP write; resolves their answers in the order the acks arrived. */
  async send(requests: [event: string, payload: unknown][]): Promise<{ ackId: number; result: unknown }[]> {
    const tcp = (this.raw.ws as unknown as { _socket: { cork(): void; uncork(): void } })._socket;
    const ids: number[] = [];
    tcp.cork();
    for (const [event, payload] of requests) {
      const ackId = this.nextAck++;
      ids.push(ackId);
      this.raw.send(`42${ackId}${JSON.stringify([event, payload])}`);
    }
    tcp.uncork();
    const answers: { ackId: number; result: unknown }[] = [];
    while (answers.length < ids.length) {
      const frame = await this.raw.next((f) => /^43\d+\[/.test(f));
      const ackId = Number(/^43(\d+)/.exec(frame)![1]);
      answers.push({ ackId, result: (JSON.parse(frame.slice(2 + String(ackId).length)) as unknown[])[0] });
    }
    expect(answers.map((a) => a.ackId).sort((a, b) => a - b)).toEqual(ids);
    return answers;
  }
}

const data = (answer: { result: unknown }) => {
  const result = answer.result as { ok: boolean; data?: StoredMessage; error?: { code: string } };
  if (!result.ok) throw new Error(`refused: ${result.error?.code}`);
  return result.data!;
};

describe("per-socket order", () => {
  it("stores, acks and delivers one socket's messages in send order, whatever each awaits (image, text, reply, file)", async () => {
    const server = await startServer();
    const bob = await client(server, "bob");
    const alice = await Pipelined.open(server, "alice");
    const first = await say(bob, "lobby", "question", "group");
    const image = await upload(server, "alice", PNG, "dot.png");
    const doc = await upload(server, "alice", Buffer.from("plain text file"), "notes.txt");
    const lobby = (fields: Record<string, unknown>) => ({ messageType: "group", to: "lobby", ...fields });
    const sends: [string, unknown][] = [
      ["message:send", lobby({ mediaType: "image", fileId: image.fileId, clientMsgId: "o-1" })],
      ["message:send", lobby({ mediaType: "text", content: "plain", clientMsgId: "o-2" })],
      ["message:send", lobby({ mediaType: "text", content: "a reply", replyTo: first.id, clientMsgId: "o-3" })],
      ["message:send", lobby({ mediaType: "file", fileId: doc.fileId, clientMsgId: "o-4" })],
      ["message:send", lobby({ mediaType: "text", content: "last", clientMsgId: "o-5" })],
    ];
    for (let round = 0; round < 3; round += 1) {
      const tagged = sends.map(([event, payload]) => [
        event,
        { ...(payload as object), clientMsgId: `${(payload as { clientMsgId: string }).clientMsgId}-${round}` },
      ]) as [string, unknown][];
      const answers = await alice.send(tagged);
      // Acks in send order, ids increasing in send order.
      expect(answers.map((a) => a.ackId)).toEqual([...answers.map((a) => a.ackId)].sort((a, b) => a - b));
      const ids = answers.map((a) => data(a).id);
      expect(ids).toEqual([...ids].sort((a, b) => a - b));
      expect(answers.map((a) => data(a).clientMsgId)).toEqual(
        tagged.map(([, p]) => (p as { clientMsgId: string }).clientMsgId),
      );
    }
    // The other members get them in the same order.
    const page = await ok(bob.socket, "history:list", { room: "lobby", limit: 100 });
    const fromAlice = page.messages.filter((m) => m.from === "alice").map((m) => m.clientMsgId);
    expect(fromAlice).toEqual(
      [0, 1, 2].flatMap((round) => ["o-1", "o-2", "o-3", "o-4", "o-5"].map((k) => `${k}-${round}`)),
    );
    alice.raw.close();
  });

  it("answers a socket's requests in the order sent: an edit right after its send in one write finds the message", async () => {
    const server = await startServer();
    const alice = await Pipelined.open(server, "alice");
    const answers = await alice.send([
      ["message:send", { messageType: "single", mediaType: "text", to: "alice", content: "draft", clientMsgId: "k1" }],
      ["message:edit", { id: 1, content: "final" }],
      ["message:delete", { id: 1 }],
      ["message:edit", { id: 1, content: "resurrected?" }],
    ]);
    expect(answers.map((a) => a.ackId)).toEqual([1, 2, 3, 4]);
    expect(data(answers[0]!)).toMatchObject({ id: 1, content: "draft" });
    expect(data(answers[1]!)).toMatchObject({ id: 1, content: "final" });
    expect(data(answers[2]!).deletedAt).toBeTypeOf("number");
    expect(answers[3]!.result).toMatchObject({ ok: false, error: { code: "FORBIDDEN" } });
    alice.raw.close();
  });
});

describe("changes decided atomically with their checks", () => {
  it("never gives a tombstone its content back: deletes and edits from two tabs in the same instant", async () => {
    const server = await startServer();
    const tab1 = await Pipelined.open(server, "alice");
    const tab2 = await Pipelined.open(server, "alice");
    const witness = await client(server, "alice");
    const messages = [];
    for (let i = 0; i < 20; i += 1) messages.push(await say(witness, "alice", `note ${i}`));
    const results = await Promise.all([
      tab1.send(messages.map((m) => ["message:delete", { id: m.id }])),
      tab2.send(
        messages.flatMap((m): [string, unknown][] => [
          ["message:edit", { id: m.id, content: `edited ${m.id}` }],
          ["message:react", { id: m.id, emoji: "👍", on: true }],
        ]),
      ),
    ]);
    expect(results.flat()).toHaveLength(60);
    const page = await ok(witness.socket, "history:list", { user: "alice", limit: 100 });
    for (const message of page.messages) {
      expect(message.deletedAt).toBeTypeOf("number");
      expect(message).not.toHaveProperty("content");
      expect(await ok(witness.socket, "message:revisions", { id: message.id })).toEqual([]);
    }
    tab1.raw.close();
    tab2.raw.close();
  });

  it("the store refuses an edit or a reaction of a tombstone, and a change by someone else, in the writing transaction", async () => {
    let clock = 1_000;
    const store = new SqliteStore({
      file: join(tempDir(), "chat.db"),
      sync: "normal",
      fileUrl: (id) => `/files/${id}`,
    });
    try {
      await store.createUser({ id: "alice", name: "alice", passwordHash: null, createAt: clock });
      const draft = {
        messageType: "single" as const,
        mediaType: "text" as const,
        from: "alice",
        to: "alice",
        conversation: "d:alice|alice",
        recipientUser: "alice",
        content: "hello",
        createAt: clock,
      };
      const { message } = await store.appendMessage(draft);
      const edit = { author: "alice", content: "changed", at: ++clock, createdFrom: 0 };
      expect(await store.editMessage(message.id, { ...edit, author: "mallory" })).toEqual({
        ok: false,
        refusal: "not-author",
      });
      expect(await store.editMessage(message.id, { ...edit, createdFrom: clock + 1 })).toEqual({
        ok: false,
        refusal: "window-passed",
      });
      // Issued together, in this order: the delete wins, the edit and the reaction are refused.
      const [deleted, edited, reacted] = await Promise.all([
        store.deleteMessage(message.id, { author: "alice", at: ++clock }),
        store.editMessage(message.id, edit),
        store.setReaction(message.id, { emoji: "👍", userId: "alice", on: true, at: ++clock, maxKeys: 20 }),
      ]);
      expect(deleted).toMatchObject({ ok: true, changed: true });
      expect(edited).toEqual({ ok: false, refusal: "deleted" });
      expect(reacted).toEqual({ ok: false, refusal: "deleted" });
      expect(await store.deleteMessage(message.id, { author: "alice", at: ++clock })).toMatchObject({
        ok: true,
        changed: false,
      });
      expect((await store.getMessage(message.id))!.message).not.toHaveProperty("content");
    } finally {
      await store.close();
    }
  });
});

describe("membership checked in the committing transaction", () => {
  it("never stores a group message after its sender's leave: observers never get it after the 'left' event", async () => {
    const server = await startServer();
    const owner = await client(server, "owner");
    const events: string[] = [];
    owner.socket.on("room:member", (change) => {
      if (change.userId === "alice") events.push(`${change.roomId}:${change.change}`);
    });
    owner.socket.on("message", (message) => {
      if ("id" in message && message.from === "alice") events.push(`${message.to}:message`);
    });
    const tab1 = await Pipelined.open(server, "alice");
    const tab2 = await Pipelined.open(server, "alice");
    const rooms: string[] = [];
    for (let round = 0; round < 15; round += 1) {
      const room = await ok(owner.socket, "room:create", { name: `race ${round}` });
      rooms.push(room.id);
      await tab1.send([["room:join", { roomId: room.id }]]);
      const send = { messageType: "group", mediaType: "text", to: room.id, content: `round ${round}` };
      const [sent] = await Promise.all([
        tab1.send([["message:send", send]]),
        tab2.send([["room:leave", { roomId: room.id }]]),
      ]);
      const result = sent[0]!.result as { ok: boolean; error?: { code: string } };
      if (!result.ok) expect(result.error!.code).toBe("FORBIDDEN");
    }
    const witness = await client(server, "witness");
    await barrier(witness, [owner]);
    for (const roomId of rooms) {
      const mine = events
        .filter((event) => event.startsWith(`${roomId}:`))
        .map((event) => event.slice(roomId.length + 1));
      const left = mine.indexOf("left");
      expect(left).toBeGreaterThan(-1);
      expect(mine.slice(left + 1)).not.toContain("message");
    }
    tab1.raw.close();
    tab2.raw.close();
  });
});

describe("files checked in the committing transaction", () => {
  it("refuses a message whose file was released after the sender's check, and stores nothing", async () => {
    const store = new SqliteStore({
      file: join(tempDir(), "chat.db"),
      sync: "normal",
      fileUrl: (id) => `/files/${id}`,
    });
    try {
      await store.createUser({ id: "alice", name: "alice", passwordHash: null, createAt: 1 });
      await store.createFile({
        id: "f".repeat(22),
        owner: "alice",
        name: "a.png",
        size: 3,
        mime: "image/png",
        mediaType: "image",
        createAt: 1,
      });
      const draft = {
        messageType: "single" as const,
        mediaType: "image" as const,
        from: "alice",
        to: "alice",
        conversation: "d:alice|alice",
        recipientUser: "alice",
        fileId: "f".repeat(22),
        createAt: 2,
      };
      // Queued behind a release that lands first in the same turn: the commit finds the file gone.
      const pending = store.appendMessage(draft);
      store.database.prepare("UPDATE files SET deleted_at = 3 WHERE id = ?").run("f".repeat(22));
      await expect(pending).rejects.toMatchObject({ code: "NOT_FOUND" });
      expect(store.database.prepare("SELECT COUNT(*) AS n FROM messages").get()).toEqual({ n: 0 });
      await expect(store.appendMessage({ ...draft, from: "mallory" })).rejects.toMatchObject({ code: "NOT_FOUND" });
    } finally {
      await store.close();
    }
  });
});

describe("clientMsgId resends", () => {
  it("answers the first message to a resend after the sender left the room, or naming another recipient", async () => {
    const server = await startServer();
    const alice = await client(server, "alice");
    await client(server, "bob");
    const room = await ok(alice.socket, "room:create", { name: "short-lived" });
    const payload = {
      messageType: "group",
      mediaType: "text",
      to: room.id,
      content: "once",
      clientMsgId: "m-1",
    } as const;
    const first = await ok(alice.socket, "message:send", payload);
    await ok(alice.socket, "room:leave", { roomId: room.id });
    expect(await request(alice.socket, "message:send", payload)).toEqual({ ok: true, data: first });
    const elsewhere = {
      messageType: "single",
      mediaType: "text",
      to: "bob",
      content: "other",
      clientMsgId: "m-1",
    } as const;
    expect(await request(alice.socket, "message:send", elsewhere)).toEqual({ ok: true, data: first });
    // Only the payload's shape is checked before the lookup.
    expect(await request(alice.socket, "message:send", { ...payload, content: "" })).toMatchObject({
      ok: false,
      error: { code: "INVALID_PAYLOAD" },
    });
    // A resend of a file message whose file the sender could no longer use still answers the first.
    const image = await upload(server, "alice", PNG, "dot.png");
    const pic = {
      messageType: "group",
      mediaType: "image",
      to: "lobby",
      fileId: image.fileId,
      clientMsgId: "m-2",
    } as const;
    const picture = await ok(alice.socket, "message:send", pic);
    expect(await request(alice.socket, "message:send", { ...pic, fileId: "x".repeat(22) })).toEqual({
      ok: true,
      data: picture,
    });
  });

  it("stores one message for a key sent by two tabs at once", async () => {
    const server = await startClockedServer();
    const tab1 = await Pipelined.open(server, "alice");
    const tab2 = await Pipelined.open(server, "alice");
    const payload = { messageType: "group", mediaType: "text", to: "lobby", content: "twice?", clientMsgId: "dup" };
    const [a, b] = await Promise.all([tab1.send([["message:send", payload]]), tab2.send([["message:send", payload]])]);
    expect(data(a[0]!)).toEqual(data(b[0]!));
    const witness = await client(server, "zed");
    const page = await ok(witness.socket, "history:list", { room: "lobby" });
    expect(page.messages.filter((m) => m.clientMsgId === "dup")).toHaveLength(1);
    tab1.raw.close();
    tab2.raw.close();
  });
});
