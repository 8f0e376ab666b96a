import { describe, expect, it } from "vitest";
import { roomConversation } from "../../server/messages/conversation.js";
import type { Store } from "../../server/store/types.js";
import {
  MAX_REVISIONS,
  addUsers,
  appendAll,
  changed,
  describeStores,
  group,
  single,
  tick,
  upload,
} from "../support/stores.js";

const LOBBY = roomConversation("lobby");

/** The newest rev of any message in the lobby (what a change must go beyond). */
async function newestRev(store: Store): Promise<number> {
  return Math.max(0, ...(await store.conversationPage(LOBBY, { limit: 1000 })).messages.map((m) => m.rev));
}

describeStores("Store contract: message changes", (open) => {
  it("edits a message's text, keeping the replaced text as a revision with the time it was replaced", async () => {
    const store = await open();
    await addUsers(store, "alice");
    const { message } = await store.appendMessage(group("alice", "lobby", { content: "lunch?" }));
    const at = tick();
    const result = await store.editMessage(message.id, { author: "alice", content: "dinner?", at, createdFrom: 0 });
    expect(result).toEqual({
      ok: true,
      changed: true,
      message: { ...message, content: "dinner?", editedAt: at, updateAt: at, rev: changed(result).rev },
    });
    expect(changed(result).rev).toBeGreaterThan(message.rev);
    expect(await store.getMessage(message.id)).toEqual({ message: changed(result), conversation: LOBBY });
    expect(await store.revisions(message.id)).toEqual([{ content: "lunch?", editedAt: at }]);
    const later = tick();
    await store.editMessage(message.id, { author: "alice", content: "brunch?", at: later, createdFrom: 0 });
    expect(await store.revisions(message.id)).toEqual([
      { content: "lunch?", editedAt: at },
      { content: "dinner?", editedAt: later },
    ]);
  });

  it("never dates a change before the message's last one: changes stored later look later, whatever their clock", async () => {
    const store = await open();
    await addUsers(store, "alice", "bob");
    const { message } = await store.appendMessage(group("alice", "lobby", { content: "v0" }));
    const late = message.createAt + 5000;
    // Two tabs: the edit whose clock read later reaches the store first.
    const first = changed(
      await store.editMessage(message.id, { author: "alice", content: "v1", at: late, createdFrom: 0 }),
    );
    const second = changed(
      await store.editMessage(message.id, { author: "alice", content: "v2", at: late - 2000, createdFrom: 0 }),
    );
    expect(second.rev).toBeGreaterThan(first.rev);
    expect(second.editedAt).toBe(late);
    expect(second.updateAt).toBe(late);
    // Revisions oldest first, in the order they were replaced.
    expect(await store.revisions(message.id)).toEqual([
      { content: "v0", editedAt: late },
      { content: "v1", editedAt: late },
    ]);
    const reacted = changed(
      await store.setReaction(message.id, { emoji: "👍", userId: "bob", on: true, at: late - 4000, maxKeys: 20 }),
    );
    expect(reacted.updateAt).toBe(late);
    const tombstone = changed(await store.deleteMessage(message.id, { author: "alice", at: late - 3000 }));
    expect([tombstone.updateAt, tombstone.deletedAt]).toEqual([late, late]);
  });

  it("refuses an edit of a missing message, by another user, of a tombstone, of a file, or past the window", async () => {
    const store = await open();
    await addUsers(store, "alice", "bob");
    await store.createFile(upload("F", "alice"));
    const text = await store.appendMessage(group("alice", "lobby"));
    const image = await store.appendMessage(
      group("alice", "lobby", { mediaType: "image", content: undefined, fileId: "F" }),
    );
    const gone = await store.appendMessage(group("alice", "lobby"));
    await store.deleteMessage(gone.message.id, { author: "alice", at: tick() });
    const edit = (id: number, author = "alice", createdFrom = 0) =>
      store.editMessage(id, { author, content: "new", at: tick(), createdFrom });
    const rev = await newestRev(store);
    expect(await edit(gone.message.id + 1000)).toEqual({ ok: false, refusal: "missing" });
    expect(await edit(text.message.id, "bob")).toEqual({ ok: false, refusal: "not-author" });
    expect(await edit(gone.message.id)).toEqual({ ok: false, refusal: "deleted" });
    expect(await edit(image.message.id)).toEqual({ ok: false, refusal: "not-text" });
    expect(await edit(text.message.id, "alice", text.message.createAt + 1)).toEqual({
      ok: false,
      refusal: "window-passed",
    });
    expect(await newestRev(store)).toBe(rev);
    expect(await store.revisions(text.message.id)).toEqual([]);
    // The window's first millisecond is still in it.
    expect(await edit(text.message.id, "alice", text.message.createAt)).toMatchObject({ ok: true, changed: true });
  });

  it(`keeps the newest ${MAX_REVISIONS} revisions of a message edited more often`, async () => {
    const store = await open();
    await addUsers(store, "alice");
    const { message } = await store.appendMessage(group("alice", "lobby", { content: "v0" }));
    const edits = MAX_REVISIONS + 2;
    const at = (i: number) => message.createAt + i;
    for (let i = 1; i <= edits; i++) {
      await store.editMessage(message.id, { author: "alice", content: `v${i}`, at: at(i), createdFrom: 0 });
    }
    const kept = await store.revisions(message.id);
    expect(kept).toHaveLength(MAX_REVISIONS);
    // The two oldest texts (v0, v1) were dropped; the newest kept is the one the last edit replaced.
    expect(kept[0]).toEqual({ content: "v2", editedAt: at(3) });
    expect(kept.at(-1)).toEqual({ content: `v${edits - 1}`, editedAt: at(edits) });
    expect((await store.getMessage(message.id))?.message.content).toBe(`v${edits}`);
  });

  it("turns a message into a tombstone without content, file or revisions; a second delete changes nothing", async () => {
    const store = await open();
    await addUsers(store, "alice", "bob");
    await store.createFile(upload("F", "alice"));
    const draft = single("alice", "bob", { mediaType: "image", content: undefined, fileId: "F", clientMsgId: "k" });
    const { message } = await store.appendMessage(draft);
    const text = await store.appendMessage(single("alice", "bob", { content: "oops" }));
    await store.editMessage(text.message.id, { author: "alice", content: "oops!", at: tick(), createdFrom: 0 });
    const at = tick();
    const result = await store.deleteMessage(message.id, { author: "alice", at });
    const tombstone = changed(result);
    expect(result).toMatchObject({ ok: true, changed: true });
    expect(tombstone).toEqual({
      id: message.id,
      messageType: "single",
      mediaType: "image",
      from: "alice",
      to: "bob",
      clientMsgId: "k",
      createAt: message.createAt,
      updateAt: at,
      deletedAt: at,
      rev: tombstone.rev,
    });
    expect(tombstone.rev).toBeGreaterThan(text.message.id);
    expect(await store.deleteMessage(message.id, { author: "alice", at: tick() })).toEqual({
      ok: true,
      changed: false,
      message: tombstone,
    });
    const gone = changed(await store.deleteMessage(text.message.id, { author: "alice", at: tick() }));
    expect(gone.content).toBeUndefined();
    expect(await store.revisions(text.message.id)).toEqual([]);
  });

  it("lets only the author delete, or anyone when no author is given; refuses a missing message", async () => {
    const store = await open();
    await addUsers(store, "alice", "bob");
    const { message } = await store.appendMessage(group("alice", "lobby"));
    expect(await store.deleteMessage(message.id, { author: "bob", at: tick() })).toEqual({
      ok: false,
      refusal: "not-author",
    });
    expect((await store.getMessage(message.id))?.message).toEqual(message);
    expect(await store.deleteMessage(message.id, { author: undefined, at: tick() })).toMatchObject({
      ok: true,
      changed: true,
    });
    expect(await store.deleteMessage(message.id + 1000, { author: undefined, at: tick() })).toEqual({
      ok: false,
      refusal: "missing",
    });
  });

  it("adds and removes a user's reaction, in the order users reacted; a toggle that changes nothing keeps the rev", async () => {
    const store = await open();
    await addUsers(store, "alice", "bob");
    const { message } = await store.appendMessage(group("alice", "lobby"));
    const react = (userId: string, emoji: string, on: boolean) =>
      store.setReaction(message.id, { emoji, userId, on, at: tick(), maxKeys: 20 });
    const first = changed(await react("bob", "👍", true));
    expect(first.reactions).toEqual({ "👍": ["bob"] });
    expect(first.rev).toBeGreaterThan(message.rev);
    const second = changed(await react("alice", "👍", true));
    expect(second.reactions).toEqual({ "👍": ["bob", "alice"] });
    expect(second.rev).toBeGreaterThan(first.rev);
    expect(await react("alice", "👍", true)).toEqual({ ok: true, changed: false, message: second });
    expect(await react("alice", "🎉", false)).toEqual({ ok: true, changed: false, message: second });
    const third = changed(await react("bob", "👍", false));
    expect(third.reactions).toEqual({ "👍": ["alice"] });
    const none = changed(await react("alice", "👍", false));
    expect(none.reactions).toBeUndefined();
    expect(none.rev).toBeGreaterThan(third.rev);
    expect((await store.getMessage(message.id))?.message).toEqual(none);
  });

  it("refuses a reaction that would add a key beyond maxKeys, on a tombstone, or on a missing message", async () => {
    const store = await open();
    await addUsers(store, "alice", "bob");
    const { message } = await store.appendMessage(group("alice", "lobby"));
    const react = (userId: string, emoji: string, on = true, id = message.id) =>
      store.setReaction(id, { emoji, userId, on, at: tick(), maxKeys: 2 });
    await react("alice", "👍");
    await react("alice", "❤️");
    const rev = await newestRev(store);
    expect(await react("bob", "😂")).toEqual({ ok: false, refusal: "too-many-reactions" });
    expect(await newestRev(store)).toBe(rev);
    // A user more on a key already there adds no key.
    expect(changed(await react("bob", "👍")).reactions).toEqual({ "👍": ["alice", "bob"], "❤️": ["alice"] });
    await react("alice", "❤️", false);
    expect(changed(await react("bob", "😂")).reactions).toEqual({ "👍": ["alice", "bob"], "😂": ["bob"] });
    await store.deleteMessage(message.id, { author: "alice", at: tick() });
    expect(await react("bob", "🎉")).toEqual({ ok: false, refusal: "deleted" });
    expect(await react("bob", "👍", false)).toEqual({ ok: false, refusal: "deleted" });
    expect(await react("bob", "👍", true, message.id + 1000)).toEqual({ ok: false, refusal: "missing" });
  });

  it("stores an emoji named like an object's prototype as a key like any other", async () => {
    const store = await open();
    await addUsers(store, "alice");
    const { message } = await store.appendMessage(group("alice", "lobby"));
    const reacted = await store.setReaction(message.id, {
      emoji: "__proto__",
      userId: "alice",
      on: true,
      at: tick(),
      maxKeys: 20,
    });
    expect(Object.keys(changed(reacted).reactions ?? {})).toEqual(["__proto__"]);
    const stored = (await store.getMessage(message.id))!.message.reactions!;
    expect(Object.getOwnPropertyDescriptor(stored, "__proto__")?.value).toEqual(["alice"]);
  });

  it("gives every change a rev above every rev before it, across messages", async () => {
    const store = await open();
    await addUsers(store, "alice");
    const [a, b] = await appendAll(store, [group("alice", "lobby"), group("alice", "lobby")]);
    const revs = [a!, b!];
    const steps = [
      () => store.setReaction(a!, { emoji: "👍", userId: "alice", on: true, at: tick(), maxKeys: 20 }),
      () => store.editMessage(b!, { author: "alice", content: "x", at: tick(), createdFrom: 0 }),
      () => store.editMessage(a!, { author: "alice", content: "y", at: tick(), createdFrom: 0 }),
      () => store.deleteMessage(b!, { author: "alice", at: tick() }),
      () => store.setReaction(a!, { emoji: "👍", userId: "alice", on: false, at: tick(), maxKeys: 20 }),
    ];
    for (const step of steps) revs.push(changed(await step()).rev);
    expect(revs).toEqual([...revs].sort((x, y) => x - y));
    expect(new Set(revs).size).toBe(revs.length);
    expect((await store.appendMessage(group("alice", "lobby"))).message.id).toBeGreaterThan(revs.at(-1)!);
  });

  describe("with many calls in flight at once", () => {
    it("records 20 users' simultaneous reactions to one message, each with a rev of its own", async () => {
      const store = await open();
      const users = Array.from({ length: 20 }, (_, i) => `u${String(i).padStart(2, "0")}`);
      await addUsers(store, "alice", ...users);
      const { message } = await store.appendMessage(group("alice", "lobby"));
      const results = await Promise.all(
        users.map((userId) => store.setReaction(message.id, { emoji: "👍", userId, on: true, at: tick(), maxKeys: 5 })),
      );
      const revs = results.map((result) => changed(result).rev);
      expect(new Set(revs).size).toBe(20);
      const final = (await store.getMessage(message.id))!.message;
      expect([...final.reactions!["👍"]!].sort()).toEqual(users);
      expect(final.rev).toBe(Math.max(...revs));
    });

    it("ends an edit racing a delete as a tombstone with no content and no revisions", async () => {
      const store = await open();
      await addUsers(store, "alice");
      const messages = await appendAll(
        store,
        Array.from({ length: 6 }, () => group("alice", "lobby")),
      );
      const edit = (id: number, content: string) =>
        store.editMessage(id, { author: "alice", content, at: tick(), createdFrom: 0 });
      const races = messages.map((id, i) =>
        Promise.all(
          i % 2 === 0
            ? [edit(id, "a"), store.deleteMessage(id, { author: "alice", at: tick() }), edit(id, "b")]
            : [store.deleteMessage(id, { author: "alice", at: tick() }), edit(id, "a"), edit(id, "b")],
        ),
      );
      for (const [i, results] of (await Promise.all(races)).entries()) {
        const id = messages[i]!;
        const final = (await store.getMessage(id))!.message;
        expect(final.deletedAt, `message ${id}`).toBeDefined();
        expect(final.content, `message ${id}`).toBeUndefined();
        expect(await store.revisions(id), `message ${id}`).toEqual([]);
        // Each call went through or found the tombstone; the last change is what is stored.
        for (const result of results) expect(result.ok || result.refusal === "deleted").toBe(true);
        const revs = results.flatMap((result) => (result.ok && result.changed ? [result.message.rev] : []));
        expect(final.rev).toBe(Math.max(...revs));
      }
    });
  });
});
