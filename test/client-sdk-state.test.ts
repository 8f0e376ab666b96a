import { afterEach, describe, expect, it } from "vitest";
import { createChatClient, type ChatClient, type Receipt, type TypingNotice } from "../client/index.js";
import type { StoredMessage } from "../shared/schemas.js";
import { cleanup, nodeUrl, signToken, startServer, until } from "./support/harness.js";

const clients: ChatClient[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) {
    client.close();
    client.removeAllListeners();
  }
  await cleanup();
});

const FAST = { reconnectionDelay: 20, reconnectionDelayMax: 100, transports: ["websocket"] };

function chatClient(url: string, userId: string): ChatClient {
  const client = createChatClient({ url, token: signToken(userId), socket: FAST });
  clients.push(client);
  return client;
}

/** Resolves with the first value `event` hands over that satisfies `predicate`. */
function next<T>(on: (listener: (value: T) => void) => () => void, predicate: (value: T) => boolean = () => true) {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error("event did not come"));
    }, 5000);
    const off = on((value) => {
      if (!predicate(value)) return;
      clearTimeout(timer);
      off();
      resolve(value);
    });
  });
}

const data = <T>(result: { ok: true; data: T } | { ok: false; error: { code: string } }): T => {
  if (!result.ok) throw new Error(`request failed: ${result.error.code}`);
  return result.data;
};

const lobbyText = (content: string) => ({ messageType: "group", mediaType: "text", to: "lobby", content }) as const;

describe("conversation state helpers", () => {
  it("passes on an edit and a delete made while it was away exactly once each after it reconnects", async () => {
    const server = await startServer();
    const alice = chatClient(nodeUrl(server), "alice");
    const bob = chatClient(nodeUrl(server), "bob");
    const messages: StoredMessage[] = [];
    const updates: StoredMessage[] = [];
    alice.on("message", (message) => messages.push(message));
    alice.on("updated", (message) => updates.push(message));
    await Promise.all([alice.whenOnline(), bob.whenOnline()]);

    const keep = data(await bob.send(lobbyText("to be edited")));
    const gone = data(await bob.send(lobbyText("to be deleted")));
    await until(() => messages.some((m) => m.id === gone.id));

    alice.close();
    const edited = data(await bob.edit(keep.id, "edited while away"));
    const tombstone = data(await bob.deleteMessage(gone.id));
    expect(tombstone.deletedAt).toBeTypeOf("number");
    expect(tombstone.content).toBeUndefined();

    const synced = next((l) => alice.on("synced", l));
    alice.connect();
    await synced;
    expect(updates.map((m) => [m.id, m.rev, m.content, m.deletedAt !== undefined])).toEqual([
      [keep.id, edited.rev, "edited while away", false],
      [gone.id, tombstone.rev, undefined, true],
    ]);
    expect(alice.cursor).toBe(tombstone.rev);

    // Away and back again: nothing is handed over twice.
    alice.close();
    const again = next((l) => alice.on("synced", l));
    alice.connect();
    await again;
    const marker = data(await bob.send(lobbyText("marker")));
    await until(() => messages.some((m) => m.id === marker.id));
    expect(updates).toHaveLength(2);
    expect(messages.map((m) => m.id)).toEqual([keep.id, gone.id, marker.id]);

    // A reaction comes to the others as an `updated` message, whole, as an edit does; the author's own
    // changes are answers, never events on the author's client.
    const bobUpdates: unknown[] = [];
    bob.on("updated", (message) => bobUpdates.push(message));
    const reacted = data(await bob.react(marker.id, "👍", true));
    expect(reacted.reactions).toEqual({ "👍": ["bob"] });
    await until(() => updates.length === 3);
    expect(updates[2]).toEqual(reacted);
    expect(updates[2]).toMatchObject({ content: "marker", reactions: { "👍": ["bob"] } });
    expect(alice.cursor).toBe(reacted.rev);
    expect(bobUpdates).toEqual([]);
  });

  it("lists conversations, marks them read with a receipt for the peer, relays typing, and answers the other requests", async () => {
    const server = await startServer();
    const alice = chatClient(nodeUrl(server), "alice");
    const bob = chatClient(nodeUrl(server), "bob");
    await Promise.all([alice.whenOnline(), bob.whenOnline()]);

    const arrived: StoredMessage[] = [];
    alice.on("message", (message) => arrived.push(message));
    const dm = data(
      await bob.send({
        messageType: "single",
        mediaType: "text",
        to: "alice",
        content: "hello alice, quarterly report",
      }),
    );
    await until(() => arrived.some((m) => m.id === dm.id));
    const list = data(await alice.listConversations());
    const direct = list.find((row) => "user" in row.conversation && row.conversation.user === "bob");
    expect(direct).toMatchObject({ unread: 1, lastReadId: 0, lastMessage: { id: dm.id } });
    expect(list.some((row) => "room" in row.conversation && row.conversation.room === "lobby")).toBe(true);

    const receipt = next<Receipt>((l) => bob.on("receipt", l));
    expect(data(await alice.markRead({ user: "bob" }, dm.id))).toEqual({ unread: 0 });
    expect(await receipt).toEqual({ conversation: { user: "alice" }, userId: "alice", lastReadId: dm.id });

    const typing = next<TypingNotice>((l) => bob.on("typing", l));
    data(await alice.setTyping({ user: "bob" }, "start"));
    expect(await typing).toEqual({ conversation: { user: "alice" }, userId: "alice", state: "start" });
    const stop = next<TypingNotice>((l) => bob.on("typing", l));
    data(await alice.setTyping({ user: "bob" }, "stop"));
    expect((await stop).state).toBe("stop");

    const found = data(await alice.search("quarterly"));
    expect(found.messages.map((m) => m.id)).toEqual([dm.id]);
    data(await bob.edit(dm.id, "hello alice, annual report"));
    expect(data(await alice.revisions(dm.id))).toEqual([
      { content: "hello alice, quarterly report", editedAt: expect.any(Number) as number },
    ]);
    expect((await alice.edit(dm.id, "not mine")).ok).toBe(false);

    const presence = data(await alice.queryPresence(["bob", "nobody"]));
    expect(presence).toEqual(
      expect.arrayContaining([
        { userId: "bob", online: true },
        { userId: "nobody", online: false },
      ]),
    );
    expect(data(await alice.updateUser({ name: "Alice A." }))).toEqual({
      id: "alice",
      name: "Alice A.",
      readReceipts: true,
    });
    expect(data(await alice.updateUser())).toMatchObject({ name: "Alice A." });
  });
});
