import { describe, expect, it } from "vitest";
import {
  BROADCAST_CONVERSATION,
  directConversation,
  roomConversation,
  systemConversation,
} from "../../server/messages/conversation.js";
import { UNREAD_CAP } from "../../server/store/types.js";
import { addUsers, appendAll, describeStores, group, single, system, tick, upload } from "../support/stores.js";

const LOBBY = roomConversation("lobby");

describeStores("Store contract: read state", (open) => {
  it("moves a read position forward only and answers where it is now; 0 before any read", async () => {
    const store = await open();
    await addUsers(store, "alice", "bob");
    expect(await store.readPosition("alice", LOBBY)).toBe(0);
    expect(await store.moveReadPosition("alice", LOBBY, 5)).toEqual({ position: 5, moved: true });
    expect(await store.moveReadPosition("alice", LOBBY, 3)).toEqual({ position: 5, moved: false });
    expect(await store.moveReadPosition("alice", LOBBY, 5)).toEqual({ position: 5, moved: false });
    expect(await store.readPosition("alice", LOBBY)).toBe(5);
    expect(await store.moveReadPosition("alice", LOBBY, 9)).toEqual({ position: 9, moved: true });
    // Per user and per conversation.
    expect(await store.readPosition("bob", LOBBY)).toBe(0);
    expect(await store.readPosition("alice", directConversation("alice", "bob"))).toBe(0);
  });

  it("moves the sender's read position to its last message in each conversation it sends to", async () => {
    const store = await open();
    await addUsers(store, "alice", "bob");
    const results = await Promise.all([
      store.appendMessage(group("alice", "lobby")),
      store.appendMessage(single("alice", "bob")),
      store.appendMessage(group("alice", "lobby")),
      store.appendMessage(single("alice", "bob")),
      store.appendMessage(group("bob", "lobby")),
    ]);
    const [, , lastGroup, lastDirect, bobs] = results.map((r) => r.message.id);
    expect(await store.readPosition("alice", LOBBY)).toBe(lastGroup);
    expect(await store.readPosition("alice", directConversation("alice", "bob"))).toBe(lastDirect);
    expect(await store.readPosition("bob", LOBBY)).toBe(bobs);
    expect(await store.readPosition("bob", directConversation("alice", "bob"))).toBe(0);
  });

  it("counts others' messages after a position as unread: not the reader's own, not tombstones", async () => {
    const store = await open();
    await addUsers(store, "alice", "bob", "carol");
    const [b1, , b2, c1, b3] = await appendAll(store, [
      group("bob", "lobby"),
      group("alice", "lobby"),
      group("bob", "lobby"),
      group("carol", "lobby"),
      group("bob", "lobby"),
    ]);
    expect(await store.unreadCount("alice", LOBBY, 0)).toBe(4);
    expect(await store.unreadCount("alice", LOBBY, b1!)).toBe(3);
    expect(await store.unreadCount("alice", LOBBY, b3!)).toBe(0);
    expect(await store.unreadCount("bob", LOBBY, 0)).toBe(2);
    await store.deleteMessage(b2!, { author: "bob", at: tick() });
    await store.deleteMessage(c1!, { author: undefined, at: tick() });
    expect(await store.unreadCount("alice", LOBBY, 0)).toBe(2);
    expect(await store.unreadCount("alice", roomConversation("nowhere"), 0)).toBe(0);
  });

  it("does not count a read message as unread again when it is edited, reacted to or deleted after the read", async () => {
    const store = await open();
    await addUsers(store, "alice", "bob");
    const [b1, b2, b3] = await appendAll(store, [group("bob", "lobby"), group("bob", "lobby"), group("bob", "lobby")]);
    await store.moveReadPosition("alice", LOBBY, b2!);
    // Each change gives the message a rev above alice's read position; only b3 stays unread.
    await store.editMessage(b1!, { author: "bob", content: "edited", at: tick(), createdFrom: 0 });
    await store.setReaction(b2!, { emoji: "👍", userId: "bob", on: true, at: tick(), maxKeys: 20 });
    await store.editMessage(b3!, { author: "bob", content: "edited too", at: tick(), createdFrom: 0 });
    expect(await store.unreadCount("alice", LOBBY, b2!)).toBe(1);
    expect((await store.conversationRows("alice")).rooms.find((row) => row.id === "lobby")?.unread).toBe(1);
    await store.deleteMessage(b3!, { author: "bob", at: tick() });
    expect(await store.unreadCount("alice", LOBBY, b2!)).toBe(0);
    expect((await store.conversationRows("alice")).rooms.find((row) => row.id === "lobby")?.unread).toBe(0);
  });

  it("pages read positions by user id (a room's members, or given users): 0 when never read, receipts off or unknown left out", async () => {
    const store = await open();
    await addUsers(store, "alice", "bob", "carol", "dave", "erin");
    await store.createRoom({ id: "r", name: "R", visibility: "public", createdBy: "alice", createAt: 1 });
    for (const id of ["bob", "carol", "dave", "erin"]) await store.addMember("r", id, 2);
    const room = roomConversation("r");
    await store.moveReadPosition("alice", room, 7);
    await store.moveReadPosition("carol", room, 3);
    await store.moveReadPosition("carol", directConversation("alice", "carol"), 9);
    await store.moveReadPosition("dave", room, 5);
    await store.updateUser("bob", { readReceipts: false });
    await store.updateUser("dave", { readReceipts: false });
    expect(await store.readPositions(room, { room: "r" }, undefined, 10)).toEqual({
      reads: [
        { userId: "alice", lastReadId: 7 },
        { userId: "carol", lastReadId: 3 },
        { userId: "erin", lastReadId: 0 },
      ],
      hasMore: false,
    });
    // Those left out do not count against the page.
    expect(await store.readPositions(room, { room: "r" }, undefined, 2)).toEqual({
      reads: [
        { userId: "alice", lastReadId: 7 },
        { userId: "carol", lastReadId: 3 },
      ],
      hasMore: true,
    });
    expect(await store.readPositions(room, { room: "r" }, "carol", 2)).toEqual({
      reads: [{ userId: "erin", lastReadId: 0 }],
      hasMore: false,
    });
    const direct = directConversation("alice", "carol");
    expect(await store.readPositions(direct, { users: ["carol", "nobody", "alice"] }, undefined, 1)).toEqual({
      reads: [{ userId: "alice", lastReadId: 0 }],
      hasMore: true,
    });
    expect(await store.readPositions(direct, { users: ["carol", "alice"] }, "alice", 1)).toEqual({
      reads: [{ userId: "carol", lastReadId: 9 }],
      hasMore: false,
    });
  });

  it("counts the system conversation over both of its keys", async () => {
    const store = await open();
    await addUsers(store, "alice", "bob");
    const [own] = await appendAll(store, [system({ user: "alice" }), system("*"), system({ user: "bob" })]);
    const keys = [systemConversation("alice"), BROADCAST_CONVERSATION] as const;
    expect(await store.unreadCount("alice", keys, 0)).toBe(2);
    expect(await store.unreadCount("alice", keys, own!)).toBe(1);
    expect(await store.unreadCount("alice", systemConversation("alice"), 0)).toBe(1);
  });

  it(`stops counting unread messages at ${UNREAD_CAP}`, async () => {
    const store = await open();
    await addUsers(store, "alice", "bob");
    await Promise.all(Array.from({ length: UNREAD_CAP + 1 }, () => store.appendMessage(group("bob", "lobby"))));
    expect(await store.unreadCount("alice", LOBBY, 0)).toBe(UNREAD_CAP);
    const { rooms } = await store.conversationRows("alice");
    expect(rooms.find((row) => row.id === "lobby")?.unread).toBe(UNREAD_CAP);
  });

  it("lists a user's rooms by when it joined, then id, each with its read position, unread count and newest message", async () => {
    const store = await open();
    await addUsers(store, "alice", "bob");
    await store.createRoom({ id: "b", name: "Bee", visibility: "public", createdBy: "alice", createAt: 5 });
    await store.createRoom({ id: "a", name: "Ay", visibility: "public", createdBy: "bob", createAt: 5 });
    await store.addMember("a", "alice", 5);
    await store.createRoom({ id: "quiet", name: "Quiet", visibility: "public", createdBy: "alice", createAt: 3 });
    const [, mine, newest] = await appendAll(store, [
      group("bob", "a"),
      group("alice", "a"),
      group("bob", "a"),
      group("alice", "b"),
    ]);
    const lastInB = (await store.conversationPage(roomConversation("b"), { limit: 1 })).messages[0]!;
    const { rooms } = await store.conversationRows("alice");
    expect(rooms).toEqual([
      { id: "lobby", name: "Lobby", joinedAt: 1, lastReadId: 0, unread: 0 },
      { id: "quiet", name: "Quiet", joinedAt: 3, lastReadId: 0, unread: 0 },
      {
        id: "a",
        name: "Ay",
        joinedAt: 5,
        lastReadId: mine,
        unread: 1,
        lastMessage: (await store.getMessage(newest!))!.message,
      },
      { id: "b", name: "Bee", joinedAt: 5, lastReadId: lastInB.id, unread: 0, lastMessage: lastInB },
    ]);
    await store.moveReadPosition("alice", roomConversation("a"), newest!);
    expect((await store.conversationRows("alice")).rooms[2]).toMatchObject({ lastReadId: newest, unread: 0 });
  });

  it("lists direct conversations by peer id, with the peer's name and avatar; the system row covers only the user's own key", async () => {
    const store = await open();
    await addUsers(store, "alice", "bob", "carol");
    await store.createFile(upload("BOB", "bob"));
    await store.updateUser("bob", { avatarFileId: "BOB" });
    await store.updateUser("bob", { name: "Bob" });
    const [, fromBob, toCarol, toAlice] = await appendAll(store, [
      single("bob", "alice"),
      single("bob", "alice"),
      single("alice", "carol"),
      system({ user: "alice" }),
      system("*"),
      system({ user: "bob" }),
    ]);
    const message = async (id: number | undefined) => (await store.getMessage(id!))!.message;
    const { direct, rooms } = await store.conversationRows("alice");
    expect(rooms.map((row) => row.id)).toEqual(["lobby"]);
    expect(direct).toEqual([
      {
        id: "bob",
        name: "Bob",
        avatarFileId: "BOB",
        joinedAt: 0,
        lastReadId: 0,
        unread: 2,
        lastMessage: await message(fromBob),
      },
      { id: "carol", name: "carol", joinedAt: 0, lastReadId: toCarol, unread: 0, lastMessage: await message(toCarol) },
      { id: "system", name: undefined, joinedAt: 0, lastReadId: 0, unread: 1, lastMessage: await message(toAlice) },
    ]);
    expect(await store.directPeers("alice").then((peers) => peers.sort())).toEqual(["bob", "carol", "system"]);
  });

  it("records a direct conversation for both users of a single message, and a system one for its recipient", async () => {
    const store = await open();
    await addUsers(store, "alice", "bob", "carol");
    await Promise.all([store.appendMessage(single("alice", "bob")), store.appendMessage(single("bob", "alice"))]);
    await store.appendMessage(single("alice", "bob"));
    await store.appendMessage(single("carol", "alice"));
    await store.appendMessage(system({ user: "bob" }));
    expect((await store.directPeers("alice")).sort()).toEqual(["bob", "carol"]);
    expect((await store.directPeers("bob")).sort()).toEqual(["alice", "system"]);
    expect(await store.directPeers("carol")).toEqual(["alice"]);
    expect(await store.directPeers("dave")).toEqual([]);
  });

  describe("with many calls in flight at once", () => {
    it("keeps the highest of simultaneous read positions, whatever order they land in", async () => {
      const store = await open();
      await addUsers(store, "alice");
      const values = [5, 17, 3, 12, 17, 9, 1, 16, 4];
      for (const conversation of [LOBBY, directConversation("alice", "bob")]) {
        const answers = await Promise.all(values.map((value) => store.moveReadPosition("alice", conversation, value)));
        answers.forEach((answer, i) => expect(answer.position).toBeGreaterThanOrEqual(values[i]!));
        expect(await store.readPosition("alice", conversation)).toBe(17);
        // The two moves to 17 (and any other): at most one of each value moved it.
        const moved = answers.filter((answer) => answer.moved).map((answer) => answer.position);
        expect(new Set(moved).size).toBe(moved.length);
        expect(moved).toContain(17);
      }
    });

    it("says that exactly one of many simultaneous moves to one position moved it", async () => {
      const store = await open();
      await addUsers(store, "alice");
      for (const conversation of [LOBBY, directConversation("alice", "bob")]) {
        for (const target of [4, 9]) {
          const answers = await Promise.all(
            Array.from({ length: 8 }, () => store.moveReadPosition("alice", conversation, target)),
          );
          expect(answers.filter((answer) => answer.moved)).toHaveLength(1);
          expect(answers.every((answer) => answer.position === target)).toBe(true);
        }
      }
    });
  });
});
