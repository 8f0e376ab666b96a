import { describe, expect, it } from "vitest";
import {
  BROADCAST_CONVERSATION,
  directConversation,
  roomConversation,
  systemConversation,
} from "../../server/messages/conversation.js";
import type { Store } from "../../server/store/types.js";
import {
  addUsers,
  appendAll,
  changed,
  describeStores,
  group,
  ids,
  single,
  system,
  tick,
  twoRooms,
  upload,
} from "../support/stores.js";

const LOBBY = roomConversation("lobby");

/**
 * A message in every kind of place of `twoRooms` (see there); returns each one's id by a name, and in
 * `alice` what alice may see, in id order.
 */
async function world(store: Store) {
  await twoRooms(store);
  const [lobbyMsg, r2Msg, bobToAlice, aliceToCarol, bobToCarol, sysAlice, sysBob, sysAll, sysR1, sysR2, r1Msg] =
    await appendAll(store, [
      group("bob", "lobby"),
      group("bob", "r2"),
      single("bob", "alice"),
      single("alice", "carol"),
      single("bob", "carol"),
      system({ user: "alice" }),
      system({ user: "bob" }),
      system("*"),
      system({ room: "r1" }),
      system({ room: "r2" }),
      group("alice", "r1"),
    ]);
  const m = { lobbyMsg, r2Msg, bobToAlice, aliceToCarol, bobToCarol, sysAlice, sysBob, sysAll, sysR1, sysR2, r1Msg };
  const alice = [lobbyMsg, bobToAlice, aliceToCarol, sysAlice, sysAll, sysR1, r1Msg] as number[];
  return { m: m as Record<keyof typeof m, number>, alice };
}

describeStores("Store contract: messages", (open) => {
  describe("appendMessage", () => {
    it("assigns strictly increasing ids and returns the stored message with its url and clientMsgId", async () => {
      const store = await open();
      await addUsers(store, "alice", "bob");
      await store.createFile(upload("F1", "alice"));
      const firstDraft = group("alice", "lobby");
      const first = await store.appendMessage(firstDraft);
      const draft = single("alice", "bob", { mediaType: "image", content: undefined, fileId: "F1", clientMsgId: "c1" });
      const second = await store.appendMessage(draft);
      expect(first.created).toBe(true);
      expect(second.created).toBe(true);
      expect(second.message.id).toBeGreaterThan(first.message.id);
      expect(second.message).toEqual({
        id: second.message.id,
        messageType: "single",
        mediaType: "image",
        from: "alice",
        to: "bob",
        fileId: "F1",
        url: "/files/F1",
        clientMsgId: "c1",
        createAt: draft.createAt,
        updateAt: draft.createAt,
        rev: second.message.id,
      });
      expect(first.message).toEqual({
        id: first.message.id,
        messageType: "group",
        mediaType: "text",
        from: "alice",
        to: "lobby",
        content: "alice in lobby",
        createAt: firstDraft.createAt,
        updateAt: firstDraft.createAt,
        rev: first.message.id,
      });
    });

    it("reads a message back with its conversation, and keeps what it replies to", async () => {
      const store = await open();
      await addUsers(store, "alice", "bob");
      const { message } = await store.appendMessage(group("alice", "lobby"));
      const reply = await store.appendMessage(single("bob", "alice", { replyTo: message.id }));
      expect(reply.message.replyTo).toBe(message.id);
      expect(await store.getMessage(message.id)).toEqual({ message, conversation: LOBBY });
      expect(await store.getMessage(reply.message.id)).toEqual({
        message: reply.message,
        conversation: directConversation("alice", "bob"),
      });
      expect(await store.getMessage(reply.message.id + 1000)).toBeUndefined();
    });

    it("answers a resent clientMsgId with created false and the first message, unchanged", async () => {
      const store = await open();
      await addUsers(store, "alice");
      const first = await store.appendMessage(group("alice", "lobby", { content: "first", clientMsgId: "k" }));
      const again = await store.appendMessage(group("alice", "lobby", { content: "second", clientMsgId: "k" }));
      expect(again).toEqual({ message: first.message, created: false });
      expect(ids(await store.conversationPage(LOBBY, { limit: 10 }))).toEqual([first.message.id]);
      expect(await store.messageByClientId("alice", "k")).toEqual(first.message);
    });

    it("lets different senders use the same clientMsgId", async () => {
      const store = await open();
      await addUsers(store, "alice", "bob");
      const a = await store.appendMessage(group("alice", "lobby", { clientMsgId: "same" }));
      const b = await store.appendMessage(group("bob", "lobby", { clientMsgId: "same" }));
      expect(a.created).toBe(true);
      expect(b.created).toBe(true);
      expect(b.message.id).not.toBe(a.message.id);
      expect(b.message.from).toBe("bob");
      expect(await store.messageByClientId("bob", "same")).toEqual(b.message);
      expect(await store.messageByClientId("carol", "same")).toBeUndefined();
      expect(await store.messageByClientId("alice", "other")).toBeUndefined();
    });

    it("refuses a group message from a sender who is not a member at the commit with FORBIDDEN", async () => {
      const store = await open();
      await addUsers(store, "alice", "bob");
      await store.createRoom({ id: "den", name: "Den", visibility: "private", createdBy: "alice", createAt: 2 });
      await expect(store.appendMessage(group("bob", "den"))).rejects.toMatchObject({ code: "FORBIDDEN" });
      await expect(store.appendMessage(group("bob", "nowhere"))).rejects.toMatchObject({ code: "FORBIDDEN" });
      await store.addMember("den", "bob", 3);
      await store.appendMessage(group("bob", "den"));
      await store.removeMember("den", "bob");
      await expect(store.appendMessage(group("bob", "den"))).rejects.toMatchObject({ code: "FORBIDDEN" });
      expect((await store.conversationPage(roomConversation("den"), { limit: 10 })).messages).toHaveLength(1);
    });

    it("refuses a file that is not the sender's live file at the commit with NOT_FOUND", async () => {
      const store = await open();
      await addUsers(store, "alice", "bob");
      await store.createFile(upload("BOBS", "bob"));
      await store.createFile(upload("GONE", "alice"));
      await store.releaseFile("GONE", tick());
      for (const fileId of ["BOBS", "GONE", "nothing"]) {
        const draft = single("alice", "bob", { mediaType: "image", content: undefined, fileId });
        await expect(store.appendMessage(draft), fileId).rejects.toMatchObject({ code: "NOT_FOUND" });
      }
      expect(await store.lastVisibleId("alice")).toBe(0);
    });

    it("commits an append still in flight when the store is closed", async () => {
      const store = await open();
      await addUsers(store, "alice");
      const pending = store.appendMessage(group("alice", "lobby", { content: "last words" }));
      await store.close();
      expect(await pending).toMatchObject({ created: true, message: { content: "last words" } });
    });

    it("refuses an append once closed", async () => {
      const store = await open();
      expect(store.isOpen()).toBe(true);
      await store.close();
      expect(store.isOpen()).toBe(false);
      await expect(store.appendMessage(group("alice", "lobby"))).rejects.toThrow();
    });
  });

  describe("conversationPage", () => {
    /** `count` lobby messages interleaved with messages of another conversation; returns the lobby ids. */
    async function lobbyWith(store: Store, count: number): Promise<number[]> {
      await addUsers(store, "alice", "bob");
      const lobby: number[] = [];
      for (let i = 0; i < count; i++) {
        lobby.push(...(await appendAll(store, [group("alice", "lobby")])));
        await appendAll(store, [single("alice", "bob")]);
      }
      return lobby;
    }

    it("pages a conversation of exactly `limit` messages in one page with hasMore false, in every direction", async () => {
      const store = await open();
      const lobby = await lobbyWith(store, 5);
      expect(await store.conversationPage(LOBBY, { limit: 5 }).then(ids)).toEqual(lobby);
      expect((await store.conversationPage(LOBBY, { limit: 5 })).hasMore).toBe(false);
      expect(await store.conversationPage(LOBBY, { limit: 5, after: 0 })).toMatchObject({ hasMore: false });
      expect(ids(await store.conversationPage(LOBBY, { limit: 5, after: 0 }))).toEqual(lobby);
      const before = await store.conversationPage(LOBBY, { limit: 5, before: lobby[4]! + 1 });
      expect(before).toMatchObject({ hasMore: false });
      expect(ids(before)).toEqual(lobby);
    });

    it("pages `limit + 1` messages: newest page with hasMore, then the one before it without", async () => {
      const store = await open();
      const lobby = await lobbyWith(store, 6);
      const newest = await store.conversationPage(LOBBY, { limit: 5 });
      expect(ids(newest)).toEqual(lobby.slice(1));
      expect(newest.hasMore).toBe(true);
      const older = await store.conversationPage(LOBBY, { limit: 5, before: newest.messages[0]!.id });
      expect(ids(older)).toEqual(lobby.slice(0, 1));
      expect(older.hasMore).toBe(false);
    });

    it("pages forward with after: hasMore while newer messages remain, ascending", async () => {
      const store = await open();
      const lobby = await lobbyWith(store, 6);
      const first = await store.conversationPage(LOBBY, { limit: 5, after: 0 });
      expect(ids(first)).toEqual(lobby.slice(0, 5));
      expect(first.hasMore).toBe(true);
      const rest = await store.conversationPage(LOBBY, { limit: 5, after: first.messages[4]!.id });
      expect(ids(rest)).toEqual(lobby.slice(5));
      expect(rest.hasMore).toBe(false);
      const exact = await store.conversationPage(LOBBY, { limit: 5, after: lobby[0]! });
      expect(ids(exact)).toEqual(lobby.slice(1));
      expect(exact.hasMore).toBe(false);
      expect(await store.conversationPage(LOBBY, { limit: 5, after: lobby[5]! })).toEqual({
        messages: [],
        hasMore: false,
      });
    });

    it("pages back with before: only older messages, ascending, hasMore when older ones remain", async () => {
      const store = await open();
      const lobby = await lobbyWith(store, 6);
      const page = await store.conversationPage(LOBBY, { limit: 2, before: lobby[3]! });
      expect(ids(page)).toEqual([lobby[1], lobby[2]]);
      expect(page.hasMore).toBe(true);
      const edge = await store.conversationPage(LOBBY, { limit: 2, before: lobby[2]! });
      expect(ids(edge)).toEqual([lobby[0], lobby[1]]);
      expect(edge.hasMore).toBe(false);
      expect(await store.conversationPage(LOBBY, { limit: 2, before: lobby[0]! })).toEqual({
        messages: [],
        hasMore: false,
      });
    });

    it("answers an empty page for a conversation without messages", async () => {
      const store = await open();
      expect(await store.conversationPage(roomConversation("nowhere"), { limit: 50 })).toEqual({
        messages: [],
        hasMore: false,
      });
    });

    it("reads the system conversation's two keys as one: the user's own system messages and the broadcasts", async () => {
      const store = await open();
      await addUsers(store, "alice", "bob");
      const [own1, all1, , own2, , all2] = await appendAll(store, [
        system({ user: "alice" }),
        system("*"),
        system({ user: "bob" }),
        system({ user: "alice" }),
        group("alice", "lobby"),
        system("*"),
      ]);
      const keys = [systemConversation("alice"), BROADCAST_CONVERSATION] as const;
      expect(await store.conversationPage(keys, { limit: 10 }).then(ids)).toEqual([own1, all1, own2, all2]);
      const newest = await store.conversationPage(keys, { limit: 3 });
      expect([ids(newest), newest.hasMore]).toEqual([[all1, own2, all2], true]);
      const older = await store.conversationPage(keys, { limit: 3, before: all1! });
      expect([ids(older), older.hasMore]).toEqual([[own1], false]);
      const forward = await store.conversationPage(keys, { limit: 2, after: own1! });
      expect([ids(forward), forward.hasMore]).toEqual([[all1, own2], true]);
      expect(ids(await store.conversationPage(systemConversation("alice"), { limit: 10 }))).toEqual([own1, own2]);
    });
  });

  describe("visibleAfter and lastVisibleId", () => {
    it("gives a user its rooms, its direct messages both ways, system messages to it and to everyone, nothing else", async () => {
      const store = await open();
      const { m, alice } = await world(store);
      expect(await store.visibleAfter("alice", 0, 100)).toMatchObject({ hasMore: false });
      expect(ids(await store.visibleAfter("alice", 0, 100))).toEqual(alice);
      expect(ids(await store.visibleAfter("carol", 0, 100))).toEqual([
        m.lobbyMsg,
        m.r2Msg,
        m.aliceToCarol,
        m.bobToCarol,
        m.sysAll,
        m.sysR2,
      ]);
    });

    it("pages visibleAfter ascending from the cursor, with hasMore exactly when more remain", async () => {
      const store = await open();
      const { alice } = await world(store);
      const first = await store.visibleAfter("alice", 0, 3);
      expect(ids(first)).toEqual(alice.slice(0, 3));
      expect(first.hasMore).toBe(true);
      const second = await store.visibleAfter("alice", alice[2]!, 3);
      expect(ids(second)).toEqual(alice.slice(3, 6));
      expect(second.hasMore).toBe(true);
      const last = await store.visibleAfter("alice", alice[5]!, 3);
      expect(ids(last)).toEqual(alice.slice(6));
      expect(last.hasMore).toBe(false);
      // Exactly `limit` left: all of them, and no more.
      const exact = await store.visibleAfter("alice", alice[4]!, 2);
      expect(ids(exact)).toEqual(alice.slice(5));
      expect(exact.hasMore).toBe(false);
      expect(await store.visibleAfter("alice", alice[6]!, 3)).toEqual({ messages: [], hasMore: false });
    });

    it("takes the limit over all sources together, not per source", async () => {
      const store = await open();
      await addUsers(store, "alice", "bob");
      // Interleave the room, direct and broadcast branches.
      const all = await appendAll(store, [
        group("bob", "lobby"),
        single("bob", "alice"),
        system("*"),
        single("alice", "bob"),
        group("bob", "lobby"),
        system({ user: "alice" }),
      ]);
      for (let limit = 1; limit <= all.length; limit++) {
        const page = await store.visibleAfter("alice", 0, limit);
        expect(ids(page)).toEqual(all.slice(0, limit));
        expect(page.hasMore).toBe(limit < all.length);
      }
    });

    it("gives a changed message again after the cursor, by its new rev, tombstones included", async () => {
      const store = await open();
      await addUsers(store, "alice", "bob");
      const [a, b, c] = await appendAll(store, [group("bob", "lobby"), single("bob", "alice"), group("bob", "lobby")]);
      const edited = changed(await store.editMessage(a!, { author: "bob", content: "e", at: tick(), createdFrom: 0 }));
      const deleted = changed(await store.deleteMessage(b!, { author: "bob", at: tick() }));
      const page = await store.visibleAfter("alice", c!, 10);
      expect(page).toEqual({ messages: [edited, deleted], hasMore: false });
      expect(page.messages.map((message) => message.rev)).toEqual([edited.rev, deleted.rev]);
      expect(ids(await store.visibleAfter("alice", 0, 10))).toEqual([c, a, b]);
      expect(await store.lastVisibleId("alice")).toBe(deleted.rev);
    });

    it("stops showing a room's messages once the user left it", async () => {
      const store = await open();
      const { m } = await world(store);
      await store.removeMember("r1", "alice");
      const seen = ids(await store.visibleAfter("alice", 0, 100));
      expect(seen).not.toContain(m.r1Msg);
      expect(seen).not.toContain(m.sysR1);
      expect(await store.lastVisibleId("alice")).toBe(m.sysAll);
    });

    it("knows the newest id each user may see, and 0 when there is none", async () => {
      const store = await open();
      const { m } = await world(store);
      expect(await store.lastVisibleId("alice")).toBe(m.r1Msg);
      expect(await store.lastVisibleId("carol")).toBe(m.sysR2);
      expect(await store.lastVisibleId("bob")).toBe(m.r1Msg);
      await addUsers(store, "dave");
      expect(await store.lastVisibleId("dave")).toBe(m.sysAll);

      const empty = await open();
      await addUsers(empty, "alice", "bob");
      expect(await empty.lastVisibleId("alice")).toBe(0);
      await empty.appendMessage(single("bob", "carol"));
      await expect(empty.appendMessage(group("bob", "elsewhere"))).rejects.toMatchObject({ code: "FORBIDDEN" });
      expect(await empty.lastVisibleId("alice")).toBe(0);
      expect(await empty.visibleAfter("alice", 0, 10)).toEqual({ messages: [], hasMore: false });
    });
  });

  describe("with many calls in flight at once", () => {
    it("stores simultaneous appends with one clientMsgId once, and answers each with that message", async () => {
      const store = await open();
      await addUsers(store, "alice");
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          store.appendMessage(group("alice", "lobby", { content: `try ${i}`, clientMsgId: "k" })),
        ),
      );
      expect(results.filter((result) => result.created)).toHaveLength(1);
      const first = results.find((result) => result.created)!.message;
      for (const result of results) expect(result.message).toEqual(first);
      expect((await store.conversationPage(LOBBY, { limit: 20 })).messages).toEqual([first]);
    });

    it("never stores a group message after the sender's leave: each append is stored while a member, or refused", async () => {
      const store = await open();
      await addUsers(store, "alice", "bob");
      await store.createRoom({ id: "r", name: "R", visibility: "public", createdBy: "alice", createAt: 2 });
      await store.addMember("r", "bob", 3);
      const send = () => Promise.allSettled([store.appendMessage(group("bob", "r"))]);
      const early = Array.from({ length: 5 }, send);
      const left = store.removeMember("r", "bob");
      const late = Array.from({ length: 5 }, send);
      const settled = (await Promise.all([...early, ...late])).map(([result]) => result!);
      expect(await left).toBe(true);
      const stored = settled.flatMap((result) => (result.status === "fulfilled" ? [result.value.message.id] : []));
      for (const result of settled) {
        if (result.status === "rejected") expect(result.reason).toMatchObject({ code: "FORBIDDEN" });
      }
      expect(ids(await store.conversationPage(roomConversation("r"), { limit: 20 }))).toEqual(
        stored.sort((x, y) => x - y),
      );
      expect(await store.membership("r", "bob")).toBe("outsider");
      await expect(store.appendMessage(group("bob", "r"))).rejects.toMatchObject({ code: "FORBIDDEN" });
      expect(await store.getRoom("r")).toMatchObject({ members: 1 });
    });

    it("pages visibleAfter from 0 to the end while appends land: every message exactly once, revs ascending", async () => {
      const store = await open();
      await addUsers(store, "alice", "bob", "carol");
      const four = () => [group("bob", "lobby"), single("bob", "alice"), system("*"), single("carol", "alice")];
      const drafts = () => [...four(), ...four()];
      const appended: number[] = [];
      let writing = true;
      // Rounds of 8 appends in flight at once, read in pages of 5: the reader falls behind and catches up.
      const writer = (async () => {
        for (let round = 0; round < 12; round++) {
          const results = await Promise.all(drafts().map((draft) => store.appendMessage(draft)));
          appended.push(...results.map((result) => result.message.id));
        }
        writing = false;
      })();
      const seen: number[] = [];
      const revs: number[] = [];
      let cursor = 0;
      for (;;) {
        const stillWriting = writing;
        const page = await store.visibleAfter("alice", cursor, 5);
        for (const message of page.messages) {
          seen.push(message.id);
          revs.push(message.rev);
          cursor = message.rev;
        }
        if (!stillWriting && !page.hasMore) break;
        // Let the writer's next commit in between any two pages.
        await new Promise((resolve) => setImmediate(resolve));
      }
      await writer;
      expect(revs).toEqual([...revs].sort((x, y) => x - y));
      expect(new Set(seen).size).toBe(seen.length);
      expect([...seen].sort((x, y) => x - y)).toEqual([...appended].sort((x, y) => x - y));
    });
  });
});
