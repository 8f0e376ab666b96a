import { expect, it } from "vitest";
import {
  BROADCAST_CONVERSATION,
  directConversation,
  roomConversation,
  systemConversation,
} from "../../server/messages/conversation.js";
import type { ConversationKeys, Store } from "../../server/store/types.js";
import { addUsers, appendAll, describeStores, group, single, system, tick, twoRooms } from "../support/stores.js";

/** The ids `userId` finds for `words`, sorted (the order is checked where it is the point). */
async function found(store: Store, userId: string, words: string[], conversation?: ConversationKeys, limit = 50) {
  return (await store.search(userId, words, conversation, limit)).map((m) => m.id).sort((a, b) => a - b);
}

/**
 * The word `otter` in every kind of place of `twoRooms` (see there): the lobby, both rooms, direct
 * messages, system messages to a user, a room and everyone.
 */
async function otters(store: Store) {
  await twoRooms(store);
  const otter = { content: "an otter swims" };
  const [lobby, r1, r2, bobToAlice, bobToCarol, sysAlice, sysBob, sysAll, sysR2] = await appendAll(store, [
    group("bob", "lobby", otter),
    group("alice", "r1", otter),
    group("carol", "r2", otter),
    single("bob", "alice", otter),
    single("bob", "carol", otter),
    system({ user: "alice" }, otter.content),
    system({ user: "bob" }, otter.content),
    system("*", otter.content),
    system({ room: "r2" }, otter.content),
  ]);
  return { lobby, r1, r2, bobToAlice, bobToCarol, sysAlice, sysBob, sysAll, sysR2 } as Record<string, number>;
}

describeStores("Store contract: search", (open) => {
  it("finds a message by a word, and not by a word it does not hold", async () => {
    const store = await open();
    await addUsers(store, "alice");
    const [id] = await appendAll(store, [group("alice", "lobby", { content: "a pelican flew by" })]);
    expect(await store.search("alice", ["pelican"], undefined, 10)).toEqual([(await store.getMessage(id!))!.message]);
    expect(await found(store, "alice", ["heron"])).toEqual([]);
  });

  it("finds only messages holding every word asked for", async () => {
    const store = await open();
    await addUsers(store, "alice");
    const [both, , , reversed] = await appendAll(store, [
      group("alice", "lobby", { content: "the quick red fox" }),
      group("alice", "lobby", { content: "a red hen" }),
      group("alice", "lobby", { content: "the fox den" }),
      group("alice", "lobby", { content: "fox, tired and red" }),
    ]);
    expect(await found(store, "alice", ["red", "fox"])).toEqual([both, reversed]);
    expect(await found(store, "alice", ["red", "fox", "quick"])).toEqual([both]);
    expect(await found(store, "alice", ["red", "fox", "blue"])).toEqual([]);
  });

  it("compares words without case, both ways", async () => {
    const store = await open();
    await addUsers(store, "alice");
    const [upper, lower] = await appendAll(store, [
      group("alice", "lobby", { content: "Pelican Bay" }),
      group("alice", "lobby", { content: "a pelican" }),
    ]);
    expect(await found(store, "alice", ["pelican"])).toEqual([upper, lower]);
    expect(await found(store, "alice", ["PELICAN", "bay"])).toEqual([upper]);
  });

  it("compares words without case beyond ASCII too", async () => {
    const store = await open();
    await addUsers(store, "alice");
    const [id] = await appendAll(store, [group("alice", "lobby", { content: "ÄRGER im Büro" })]);
    expect(await found(store, "alice", ["ärger"])).toEqual([id]);
    expect(await found(store, "alice", ["BÜRO", "Im"])).toEqual([id]);
  });

  it("finds what the user may see: its rooms, its direct messages, system messages to it and to everyone", async () => {
    const store = await open();
    const m = await otters(store);
    expect(await found(store, "alice", ["otter"])).toEqual([m.lobby, m.r1, m.bobToAlice, m.sysAlice, m.sysAll]);
    expect(await found(store, "carol", ["otter"])).toEqual([m.lobby, m.r2, m.bobToCarol, m.sysAll, m.sysR2]);
    expect(await found(store, "bob", ["otter"])).toEqual(
      [m.lobby, m.r1, m.r2, m.bobToAlice, m.bobToCarol, m.sysBob, m.sysAll, m.sysR2].sort((a, b) => a! - b!),
    );
  });

  it("stops finding a room's messages once the user left it", async () => {
    const store = await open();
    const m = await otters(store);
    await store.removeMember("r1", "alice");
    expect(await found(store, "alice", ["otter"])).not.toContain(m.r1);
    expect(await found(store, "alice", ["otter"], roomConversation("r1"))).toEqual([]);
  });

  it("restricts a search to one conversation, or to the system conversation's two keys", async () => {
    const store = await open();
    const m = await otters(store);
    expect(await found(store, "alice", ["otter"], roomConversation("r1"))).toEqual([m.r1]);
    expect(await found(store, "alice", ["otter"], directConversation("alice", "bob"))).toEqual([m.bobToAlice]);
    const systemKeys = [systemConversation("alice"), BROADCAST_CONVERSATION] as const;
    expect(await found(store, "alice", ["otter"], systemKeys)).toEqual([m.sysAlice, m.sysAll]);
    // A conversation the user cannot see gives nothing, restricted or not.
    expect(await found(store, "carol", ["otter"], roomConversation("r1"))).toEqual([]);
    expect(await found(store, "carol", ["otter"], directConversation("alice", "bob"))).toEqual([]);
  });

  it("finds a message by its text as it is now: not a tombstone, not the text an edit replaced", async () => {
    const store = await open();
    await addUsers(store, "alice");
    const [edited, deleted] = await appendAll(store, [
      group("alice", "lobby", { content: "heron early" }),
      group("alice", "lobby", { content: "heron doomed" }),
    ]);
    // Searched once before the changes, so an index that catches up before a search has these already.
    expect(await found(store, "alice", ["heron"])).toEqual([edited, deleted]);
    await store.editMessage(edited!, { author: "alice", content: "egret early", at: tick(), createdFrom: 0 });
    await store.deleteMessage(deleted!, { author: "alice", at: tick() });
    expect(await found(store, "alice", ["heron"])).toEqual([]);
    expect(await found(store, "alice", ["doomed"])).toEqual([]);
    expect(await found(store, "alice", ["egret"])).toEqual([edited]);
  });

  it("answers at most `limit` matches, the newest first among equal matches", async () => {
    const store = await open();
    await addUsers(store, "alice");
    const all = await appendAll(
      store,
      Array.from({ length: 5 }, () => group("alice", "lobby", { content: "same plover words" })),
    );
    const answer = await store.search("alice", ["plover"], undefined, 3);
    expect(answer.map((m) => m.id)).toEqual(all.slice(2).reverse());
  });
});
