import { afterEach, describe, expect, it } from "vitest";
import type { StoredMessage } from "../shared/schemas.js";
import { barrier, ok, request, startServer, waitForMessage, type TestServer } from "./support/harness.js";
import {
  client,
  disconnect,
  expectRefused,
  finish,
  PNG,
  say,
  startClockedServer,
  untilLength,
  upload,
  type Client,
} from "./state-support.js";

afterEach(finish);

const edit = (who: Client, id: number, content: string) => ok(who.socket, "message:edit", { id, content });
const react = (who: Client, id: number, emoji: string, on = true) => ok(who.socket, "message:react", { id, emoji, on });
const historyOf = async (who: Client, conversation: { room: string } | { user: string }) =>
  (await ok(who.socket, "history:list", conversation)).messages;
const byId = (messages: StoredMessage[], id: number) => messages.find((m) => m.id === id);

/** Sends an image message (with a caption) from `from` to `to`. */
async function sendImage(server: TestServer, from: Client, to: string): Promise<StoredMessage> {
  const file = await upload(server, from.session.user.id, PNG, "dot.png");
  return ok(from.socket, "message:send", {
    messageType: "single",
    mediaType: "image",
    to,
    fileId: file.fileId,
    content: "a caption",
  });
}

describe("rev", () => {
  it("gives a new single, group and system message a rev equal to its id", async () => {
    const server = await startServer();
    const alice = await client(server, "alice");
    await client(server, "bob");
    const single = await say(alice, "bob", "hi");
    const group = await say(alice, "lobby", "hi all", "group");
    const { message: system } = await server.server.hub.sendToUser("alice", "welcome");
    for (const message of [single, group, system]) expect(message.rev).toBe(message.id);
    expect((await historyOf(alice, { user: "bob" })).map((m) => [m.id, m.rev])).toEqual([[single.id, single.id]]);
  });

  it("gives each edit, reaction and delete a new, higher rev from the id counter, below the next message's id", async () => {
    const server = await startServer();
    const alice = await client(server, "alice");
    const bob = await client(server, "bob");
    const sent = await say(alice, "bob", "first");
    const edited = await edit(alice, sent.id, "first, edited");
    const reacted = await react(bob, sent.id, "👍");
    const deleted = await ok(alice.socket, "message:delete", { id: sent.id });
    const next = await say(alice, "bob", "second");
    for (const changed of [edited, reacted, deleted]) expect(changed.id).toBe(sent.id);
    const sequence = [sent.rev, edited.rev, reacted.rev, deleted.rev, next.id];
    expect(sequence).toEqual([...sequence].sort((x, y) => x - y));
    expect(new Set(sequence).size).toBe(sequence.length);
    expect(next.rev).toBe(next.id);
  });
});

describe("sync after changes", () => {
  it("returns every visible change made while a client was away, ascending by rev, and lastId is the newest visible rev", async () => {
    const server = await startServer();
    const away = await client(server, "alice");
    const bob = await client(server, "bob");
    const carol = await client(server, "carol");
    const m1 = await say(bob, "alice", "one");
    const m2 = await say(bob, "alice", "two");
    const m3 = await say(bob, "alice", "three");
    const m4 = await say(bob, "lobby", "four", "group");
    const hidden = await say(bob, "carol", "not for alice");
    const seen = await ok(away.socket, "sync", { after: 0 });
    const lastRev = Math.max(...seen.messages.map((m) => m.rev));
    expect(lastRev).toBe(m4.rev);
    await disconnect(server, away);

    // Changes in an order unlike the ids', the newest one in a room.
    await react(bob, m3.id, "🎉");
    await edit(bob, m1.id, "one, edited");
    const m5 = await say(bob, "alice", "five");
    await ok(bob.socket, "message:delete", { id: m2.id });
    const lastChange = await react(carol, m4.id, "👀");
    // Changes alice may not see, newer than all of hers: they must not count in her lastId.
    await edit(bob, hidden.id, "still not for alice");
    await react(carol, hidden.id, "🙈");

    const back = await client(server, "alice");
    const caughtUp = await ok(back.socket, "sync", { after: lastRev });
    expect(caughtUp.hasMore).toBe(false);
    expect(caughtUp.messages.map((m) => m.id)).toEqual([m3.id, m1.id, m5.id, m2.id, m4.id]);
    const revs = caughtUp.messages.map((m) => m.rev);
    expect(revs).toEqual([...revs].sort((x, y) => x - y));
    expect(revs.every((rev) => rev > lastRev)).toBe(true);
    const [three, one, , two, four] = caughtUp.messages;
    expect(one).toMatchObject({ content: "one, edited", editedAt: expect.any(Number) });
    expect(two).toMatchObject({ deletedAt: expect.any(Number) });
    expect(two).not.toHaveProperty("content");
    expect(three!.reactions).toEqual({ "🎉": ["bob"] });
    expect(four).toEqual(lastChange);
    expect(back.session.lastId).toBe(lastChange.rev);
    expect(back.session.lastId).toBeLessThan(
      (await ok(carol.socket, "sync", { after: 0 })).messages.find((m) => m.id === hidden.id)!.rev,
    );
  });

  it("still gives a client that only tracked ids every message newer than its last id", async () => {
    const server = await startServer();
    const alice = await client(server, "alice");
    const bob = await client(server, "bob");
    const m1 = await say(bob, "alice", "one");
    const m2 = await say(bob, "lobby", "two", "group");
    const lastId = m2.id;
    await disconnect(server, alice);
    await edit(bob, m1.id, "one, edited");
    const m3 = await say(bob, "alice", "three");
    const m4 = await say(bob, "lobby", "four", "group");
    const back = await client(server, "alice");
    const page = await ok(back.socket, "sync", { after: lastId });
    const ids = page.messages.map((m) => m.id);
    expect(ids).toEqual(expect.arrayContaining([m1.id, m3.id, m4.id]));
    expect(ids).not.toContain(m2.id);
    expect(page.messages.filter((m) => m.id > lastId).map((m) => m.id)).toEqual([m3.id, m4.id]);
  });
});

describe("message:updated", () => {
  it("tells every socket that may see a direct message about its change, except the socket that made it", async () => {
    const server = await startServer();
    const a1 = await client(server, "alice");
    const a2 = await client(server, "alice");
    const b1 = await client(server, "bob");
    const b2 = await client(server, "bob");
    const carol = await client(server, "carol");
    const witness = await client(server, "zed");
    const sent = await say(a1, "bob", "hello");
    const edited = await edit(a1, sent.id, "hello again");
    await barrier(witness, [a1, a2, b1, b2, carol]);
    for (const socket of [a2, b1, b2]) expect(socket.updated).toEqual([edited]);
    expect(a1.updated).toEqual([]);
    expect(carol.updated).toEqual([]);

    const reacted = await react(b1, sent.id, "❤️");
    await barrier(witness, [a1, a2, b1, b2, carol]);
    for (const socket of [a1, a2, b2]) expect(socket.updated.at(-1)).toEqual(reacted);
    expect(b1.updated).toEqual([edited]);
    expect(carol.updated).toEqual([]);
  });

  it("tells the current members of a room about a group message's change, not former members or outsiders", async () => {
    const server = await startServer();
    const a1 = await client(server, "alice");
    const a2 = await client(server, "alice");
    const bob = await client(server, "bob");
    const carol = await client(server, "carol");
    const outsider = await client(server, "dave");
    const room = await ok(a1.socket, "room:create", { name: "team" });
    await ok(bob.socket, "room:join", { roomId: room.id });
    await ok(carol.socket, "room:join", { roomId: room.id });
    const sent = await say(a1, room.id, "plan", "group");
    await ok(carol.socket, "room:leave", { roomId: room.id });
    const edited = await edit(a1, sent.id, "new plan");
    await barrier(outsider, [a1, a2, bob, carol]);
    await barrier(bob, [outsider]);
    expect(a2.updated).toEqual([edited]);
    expect(bob.updated).toEqual([edited]);
    expect(a1.updated).toEqual([]);
    expect(carol.updated).toEqual([]);
    expect(outsider.updated).toEqual([]);
  });

  it("tells everyone about a change of a system message to everyone", async () => {
    const server = await startServer();
    const alice = await client(server, "alice");
    const bob = await client(server, "bob");
    const { message } = await server.server.hub.sendToAll("maintenance at noon");
    const tombstone = await server.server.hub.deleteMessage(message.id);
    await untilLength(alice.updated, 1);
    await untilLength(bob.updated, 1);
    expect(alice.updated).toEqual([tombstone]);
    expect(bob.updated).toEqual([tombstone]);
  });
});

describe("message:edit", () => {
  it("lets the author edit its text message: new content, editedAt set, same id and createAt", async () => {
    const server = await startServer();
    const alice = await client(server, "alice");
    const bob = await client(server, "bob");
    const sent = await say(alice, "bob", "helo");
    const before = Date.now();
    const edited = await edit(alice, sent.id, "hello");
    expect(edited).toMatchObject({ id: sent.id, createAt: sent.createAt, content: "hello", from: "alice" });
    expect(edited.editedAt).toBeGreaterThanOrEqual(before);
    expect(sent).not.toHaveProperty("editedAt");
    expect(byId(await historyOf(bob, { user: "alice" }), sent.id)).toEqual(edited);
  });

  it("refuses with FORBIDDEN a message the caller may see but did not write", async () => {
    const server = await startServer();
    const alice = await client(server, "alice");
    const bob = await client(server, "bob");
    const direct = await say(alice, "bob", "mine");
    const group = await say(alice, "lobby", "mine too", "group");
    const { message: system } = await server.server.hub.sendToUser("bob", "from the system");
    for (const id of [direct.id, group.id, system.id]) {
      expectRefused(await request(bob.socket, "message:edit", { id, content: "hijacked" }), "FORBIDDEN");
    }
    expect(byId(await historyOf(alice, { user: "bob" }), direct.id)!.content).toBe("mine");
  });

  it("answers NOT_FOUND for a message the caller may not see, or no message at all", async () => {
    const server = await startServer();
    const alice = await client(server, "alice");
    await client(server, "bob");
    const carol = await client(server, "carol");
    const direct = await say(alice, "bob", "between us");
    const room = await ok(alice.socket, "room:create", { name: "hidden", visibility: "private" });
    const group = await say(alice, room.id, "members only", "group");
    for (const id of [direct.id, group.id, 999_999]) {
      expectRefused(await request(carol.socket, "message:edit", { id, content: "x" }), "NOT_FOUND");
    }
  });

  it("answers NOT_FOUND to the author of a group message once it left the room, for every change", async () => {
    const server = await startServer();
    const alice = await client(server, "alice");
    const bob = await client(server, "bob");
    const team = await ok(alice.socket, "room:create", { name: "team" });
    await ok(bob.socket, "room:join", { roomId: team.id });
    const sent = await say(alice, team.id, "before leaving", "group");
    await ok(alice.socket, "room:leave", { roomId: team.id });
    const { id } = sent;
    for (const result of [
      await request(alice.socket, "message:edit", { id, content: "x" }),
      await request(alice.socket, "message:revisions", { id }),
      await request(alice.socket, "message:react", { id, emoji: "👋", on: true }),
      await request(alice.socket, "message:delete", { id }),
    ]) {
      expectRefused(result, "NOT_FOUND");
    }
    expect(byId(await historyOf(bob, { room: team.id }), id)).toEqual(sent);
  });

  it("refuses with FORBIDDEN to edit an image or a file message, even its caption", async () => {
    const server = await startServer();
    const alice = await client(server, "alice");
    await client(server, "bob");
    const image = await sendImage(server, alice, "bob");
    const file = await upload(server, "alice", Buffer.from("plain notes\n"), "notes.txt");
    const attachment = await ok(alice.socket, "message:send", {
      messageType: "single",
      mediaType: "file",
      to: "bob",
      fileId: file.fileId,
    });
    for (const id of [image.id, attachment.id]) {
      expectRefused(await request(alice.socket, "message:edit", { id, content: "new caption" }), "FORBIDDEN");
    }
  });

  it("refuses with FORBIDDEN to edit a deleted message", async () => {
    const server = await startServer();
    const alice = await client(server, "alice");
    await client(server, "bob");
    const sent = await say(alice, "bob", "soon gone");
    await ok(alice.socket, "message:delete", { id: sent.id });
    expectRefused(await request(alice.socket, "message:edit", { id: sent.id, content: "back" }), "FORBIDDEN");
  });

  it("allows an edit at the window's last millisecond and refuses one a millisecond later", async () => {
    const server = await startClockedServer({ EDIT_WINDOW_MS: "1000" });
    const alice = await client(server, "alice");
    await client(server, "bob");
    const sent = await say(alice, "bob", "v1");
    server.setNow(sent.createAt + 1000);
    const edited = await edit(alice, sent.id, "v2");
    expect(edited.editedAt).toBe(sent.createAt + 1000);
    server.setNow(sent.createAt + 1001);
    expectRefused(await request(alice.socket, "message:edit", { id: sent.id, content: "v3" }), "FORBIDDEN");
    expect(byId(await historyOf(alice, { user: "bob" }), sent.id)!.content).toBe("v2");
  });

  it("takes content of 1 to 4000 characters: empty or longer is INVALID_PAYLOAD and changes nothing", async () => {
    const server = await startServer();
    const alice = await client(server, "alice");
    await client(server, "bob");
    const sent = await say(alice, "bob", "short");
    for (const content of ["", "x".repeat(4001)]) {
      expectRefused(await request(alice.socket, "message:edit", { id: sent.id, content }), "INVALID_PAYLOAD");
    }
    expect(byId(await historyOf(alice, { user: "bob" }), sent.id)).toEqual(sent);
    expect((await edit(alice, sent.id, "y".repeat(4000))).content).toHaveLength(4000);
  });
});

describe("message:revisions", () => {
  it("lists the earlier texts oldest first to the author and to the recipient", async () => {
    const server = await startServer();
    const alice = await client(server, "alice");
    const bob = await client(server, "bob");
    const sent = await say(alice, "bob", "v1");
    const untouched = await say(alice, "bob", "never edited");
    await edit(alice, sent.id, "v2");
    const last = await edit(alice, sent.id, "v3");
    for (const reader of [alice, bob]) {
      const revisions = await ok(reader.socket, "message:revisions", { id: sent.id });
      expect(revisions.map((r) => r.content)).toEqual(["v1", "v2"]);
      for (const revision of revisions) expect(revision.editedAt).toEqual(expect.any(Number));
      expect(revisions[0]!.editedAt).toBeLessThanOrEqual(revisions[1]!.editedAt);
      expect(revisions[1]!.editedAt).toBeLessThanOrEqual(last.editedAt!);
      expect(await ok(reader.socket, "message:revisions", { id: untouched.id })).toEqual([]);
    }
  });

  it("answers NOT_FOUND to a user who may not see the message, and for no message at all", async () => {
    const server = await startServer();
    const alice = await client(server, "alice");
    await client(server, "bob");
    const carol = await client(server, "carol");
    const sent = await say(alice, "bob", "v1");
    await edit(alice, sent.id, "v2");
    expectRefused(await request(carol.socket, "message:revisions", { id: sent.id }), "NOT_FOUND");
    expectRefused(await request(alice.socket, "message:revisions", { id: 999_999 }), "NOT_FOUND");
  });
});

describe("message:delete", () => {
  it("leaves a tombstone with deletedAt and no content, fileId or url, and tells the recipient", async () => {
    const server = await startServer();
    const alice = await client(server, "alice");
    const bob = await client(server, "bob");
    const image = await sendImage(server, alice, "bob");
    expect(image).toMatchObject({ fileId: expect.any(String), url: expect.any(String), content: "a caption" });
    const before = Date.now();
    const tombstone = await ok(alice.socket, "message:delete", { id: image.id });
    expect(tombstone).toMatchObject({ id: image.id, from: "alice", to: "bob", createAt: image.createAt });
    expect(tombstone.deletedAt).toBeGreaterThanOrEqual(before);
    for (const key of ["content", "fileId", "url"]) expect(tombstone).not.toHaveProperty(key);
    await untilLength(bob.updated, 1);
    expect(bob.updated).toEqual([tombstone]);
    expect(byId(await historyOf(bob, { user: "alice" }), image.id)).toEqual(tombstone);
  });

  it("lets only the author delete: FORBIDDEN for a message the caller may see, NOT_FOUND for one it may not", async () => {
    const server = await startServer();
    const alice = await client(server, "alice");
    const bob = await client(server, "bob");
    const carol = await client(server, "carol");
    const direct = await say(alice, "bob", "keep me");
    const group = await say(alice, "lobby", "keep me too", "group");
    expectRefused(await request(bob.socket, "message:delete", { id: direct.id }), "FORBIDDEN");
    expectRefused(await request(carol.socket, "message:delete", { id: group.id }), "FORBIDDEN");
    expectRefused(await request(carol.socket, "message:delete", { id: direct.id }), "NOT_FOUND");
    expectRefused(await request(carol.socket, "message:delete", { id: 999_999 }), "NOT_FOUND");
    expect(byId(await historyOf(alice, { user: "bob" }), direct.id)).toEqual(direct);
    expect(byId(await historyOf(alice, { room: "lobby" }), group.id)).toEqual(group);
  });

  it("drops the revisions of a deleted message", async () => {
    const server = await startServer();
    const alice = await client(server, "alice");
    const bob = await client(server, "bob");
    const sent = await say(alice, "bob", "v1");
    await edit(alice, sent.id, "v2");
    expect(await ok(bob.socket, "message:revisions", { id: sent.id })).toHaveLength(1);
    await ok(alice.socket, "message:delete", { id: sent.id });
    expect(await ok(bob.socket, "message:revisions", { id: sent.id })).toEqual([]);
    expect(await ok(alice.socket, "message:revisions", { id: sent.id })).toEqual([]);
  });

  it("returns a tombstone unchanged when it is deleted again, and tells nobody", async () => {
    const server = await startServer();
    const a1 = await client(server, "alice");
    const a2 = await client(server, "alice");
    const bob = await client(server, "bob");
    const witness = await client(server, "zed");
    const sent = await say(a1, "bob", "twice");
    const tombstone = await ok(a1.socket, "message:delete", { id: sent.id });
    await barrier(witness, [a2, bob]);
    expect(a2.updated).toEqual([tombstone]);
    expect(bob.updated).toEqual([tombstone]);
    expect(await ok(a1.socket, "message:delete", { id: sent.id })).toEqual(tombstone);
    expect(await ok(a2.socket, "message:delete", { id: sent.id })).toEqual(tombstone);
    await barrier(witness, [a1, a2, bob]);
    expect(a1.updated).toEqual([]);
    expect(a2.updated).toEqual([tombstone]);
    expect(bob.updated).toEqual([tombstone]);
    expect(byId(await historyOf(bob, { user: "alice" }), sent.id)).toEqual(tombstone);
  });

  it("lets an admin delete any message through the library API, telling every socket that may see it", async () => {
    const server = await startServer();
    const alice = await client(server, "alice");
    const bob = await client(server, "bob");
    const carol = await client(server, "carol");
    const direct = await say(bob, "carol", "spam");
    const group = await say(bob, "lobby", "more spam", "group");
    const tombstone = await server.server.hub.deleteMessage(direct.id);
    expect(tombstone).toMatchObject({ id: direct.id, deletedAt: expect.any(Number) });
    expect(tombstone).not.toHaveProperty("content");
    const groupTombstone = await server.server.hub.deleteMessage(group.id);
    expect(groupTombstone.deletedAt).toEqual(expect.any(Number));
    await untilLength(bob.updated, 2);
    await untilLength(carol.updated, 2);
    await untilLength(alice.updated, 1);
    expect(bob.updated).toEqual([tombstone, groupTombstone]);
    expect(carol.updated).toEqual([tombstone, groupTombstone]);
    expect(alice.updated).toEqual([groupTombstone]);
    expect(byId(await historyOf(carol, { user: "bob" }), direct.id)).toEqual(tombstone);
  });

  it("keeps a reply to a message that is later deleted, pointing at the tombstone", async () => {
    const server = await startServer();
    const alice = await client(server, "alice");
    const bob = await client(server, "bob");
    const original = await say(alice, "lobby", "question?", "group");
    const reply = await say(bob, "lobby", "answer", "group", original.id);
    await ok(alice.socket, "message:delete", { id: original.id });
    const history = await historyOf(bob, { room: "lobby" });
    expect(byId(history, reply.id)).toMatchObject({ content: "answer", replyTo: original.id });
    expect(byId(history, original.id)).toMatchObject({ deletedAt: expect.any(Number) });
  });
});

describe("message:react", () => {
  it("maps each emoji to the users who reacted, in order, and tells the other sockets", async () => {
    const server = await startServer();
    const alice = await client(server, "alice");
    const bob = await client(server, "bob");
    const carol = await client(server, "carol");
    const sent = await say(alice, "lobby", "vote", "group");
    await react(bob, sent.id, "👍");
    await react(carol, sent.id, "👍");
    const last = await react(carol, sent.id, "🎉");
    expect(last.reactions).toEqual({ "👍": ["bob", "carol"], "🎉": ["carol"] });
    await untilLength(alice.updated, 3);
    expect(alice.updated.at(-1)).toEqual(last);
    expect(bob.updated.at(-1)).toEqual(last);
    expect(carol.updated.map((m) => m.reactions)).toEqual([{ "👍": ["bob"] }]);
    expect(byId(await historyOf(alice, { room: "lobby" }), sent.id)!.reactions).toEqual(last.reactions);
  });

  it("changes nothing, keeps the rev and tells nobody when a toggle repeats the current state", async () => {
    const server = await startServer();
    const alice = await client(server, "alice");
    const bob = await client(server, "bob");
    const witness = await client(server, "zed");
    const sent = await say(alice, "bob", "react to me");
    const reacted = await react(bob, sent.id, "👍");
    await barrier(witness, [alice]);
    expect(alice.updated).toEqual([reacted]);
    expect(await react(bob, sent.id, "👍")).toEqual(reacted);
    expect(await react(bob, sent.id, "🎉", false)).toEqual(reacted);
    expect(await react(alice, sent.id, "👍", false)).toEqual(reacted);
    await barrier(witness, [alice, bob]);
    expect(alice.updated).toEqual([reacted]);
    expect(bob.updated).toEqual([]);
    expect(byId(await historyOf(alice, { user: "bob" }), sent.id)!.rev).toBe(reacted.rev);
  });

  it("removes a user's reaction and drops the emoji once its last user is gone", async () => {
    const server = await startServer();
    const alice = await client(server, "alice");
    const bob = await client(server, "bob");
    const sent = await say(alice, "lobby", "hmm", "group");
    await react(alice, sent.id, "🤔");
    await react(bob, sent.id, "🤔");
    await react(bob, sent.id, "👀");
    const bobOff = await react(bob, sent.id, "🤔", false);
    expect(bobOff.reactions).toEqual({ "🤔": ["alice"], "👀": ["bob"] });
    const aliceOff = await react(alice, sent.id, "🤔", false);
    expect(aliceOff.reactions).toEqual({ "👀": ["bob"] });
    expect(aliceOff.rev).toBeGreaterThan(bobOff.rev);
    const none = await react(bob, sent.id, "👀", false);
    expect(Object.keys(none.reactions ?? {})).toEqual([]);
  });

  it("takes an emoji of 1 to 32 UTF-16 code units, a surrogate pair counting two", async () => {
    const server = await startServer();
    const alice = await client(server, "alice");
    const sent = await say(alice, "lobby", "limits", "group");
    for (const emoji of ["x".repeat(32), "😀".repeat(16)]) {
      expect((await react(alice, sent.id, emoji)).reactions?.[emoji]).toEqual(["alice"]);
    }
    for (const emoji of ["", "x".repeat(33), "😀".repeat(17)]) {
      expectRefused(await request(alice.socket, "message:react", { id: sent.id, emoji, on: true }), "INVALID_PAYLOAD");
    }
  });

  it("refuses a tombstone with FORBIDDEN and a message the caller may not see with NOT_FOUND", async () => {
    const server = await startServer();
    const alice = await client(server, "alice");
    const bob = await client(server, "bob");
    const carol = await client(server, "carol");
    const gone = await say(alice, "bob", "deleted soon");
    await ok(alice.socket, "message:delete", { id: gone.id });
    expectRefused(await request(bob.socket, "message:react", { id: gone.id, emoji: "👍", on: true }), "FORBIDDEN");
    const direct = await say(alice, "bob", "private");
    const room = await ok(alice.socket, "room:create", { name: "closed", visibility: "private" });
    const group = await say(alice, room.id, "members only", "group");
    for (const id of [direct.id, group.id, 999_999]) {
      expectRefused(await request(carol.socket, "message:react", { id, emoji: "👍", on: true }), "NOT_FOUND");
    }
  });
});

describe("message:send replyTo", () => {
  it("stores and delivers a reply to a message of the same conversation", async () => {
    const server = await startServer();
    const alice = await client(server, "alice");
    const bob = await client(server, "bob");
    const question = await say(alice, "bob", "lunch?");
    const reply = await say(bob, "alice", "yes", "single", question.id);
    expect(reply.replyTo).toBe(question.id);
    expect(await waitForMessage(alice, (m) => "id" in m && m.id === reply.id)).toMatchObject({ replyTo: question.id });
    expect(byId(await historyOf(alice, { user: "bob" }), reply.id)!.replyTo).toBe(question.id);
  });

  it("answers NOT_FOUND for a replyTo in another conversation or naming no message, and stores nothing", async () => {
    const server = await startServer();
    const alice = await client(server, "alice");
    const bob = await client(server, "bob");
    await client(server, "carol");
    const lobbyMessage = await say(alice, "lobby", "in the lobby", "group");
    const otherDirect = await say(alice, "carol", "to carol");
    for (const replyTo of [lobbyMessage.id, otherDirect.id, 999_999]) {
      expectRefused(
        await request(bob.socket, "message:send", {
          messageType: "single",
          mediaType: "text",
          to: "alice",
          content: "reply",
          replyTo,
        }),
        "NOT_FOUND",
      );
    }
    const direct = await say(bob, "alice", "hello");
    expectRefused(
      await request(alice.socket, "message:send", {
        messageType: "group",
        mediaType: "text",
        to: "lobby",
        content: "reply",
        replyTo: direct.id,
      }),
      "NOT_FOUND",
    );
    expect((await historyOf(bob, { user: "alice" })).map((m) => m.id)).toEqual([direct.id]);
  });
});
