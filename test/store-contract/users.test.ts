import { expect, it } from "vitest";
import type { UserRecord } from "../../server/store/types.js";
import { addUsers, describeStores, tick, upload } from "../support/stores.js";

/** A user as createUser/ensureUser store it, before any change. */
const fresh = (id: string, name: string, createAt: number, passwordHash: string | null = null): UserRecord => ({
  id,
  name,
  passwordHash,
  createAt,
  readReceipts: true,
  lastSeenAt: null,
  avatarFileId: null,
  admin: false,
  disabledAt: null,
  tokensValidAfter: 0,
});

describeStores("Store contract: users", (open) => {
  it("creates a user once: a second createUser with the same id answers false and changes nothing", async () => {
    const store = await open();
    expect(await store.createUser({ id: "alice", name: "Alice", passwordHash: "h1", createAt: 5 })).toBe(true);
    expect(await store.createUser({ id: "alice", name: "Other", passwordHash: "h2", createAt: 6 })).toBe(false);
    expect(await store.getUser("alice")).toEqual(fresh("alice", "Alice", 5, "h1"));
    expect(await store.getRoom("lobby")).toMatchObject({ members: 1 });
  });

  it("makes a created user a member of the lobby, joined when it was created", async () => {
    const store = await open();
    await store.createUser({ id: "alice", name: "Alice", passwordHash: null, createAt: 5 });
    expect(await store.isMember("lobby", "alice")).toBe(true);
    expect(await store.joinedAt("lobby", "alice")).toBe(5);
    expect((await store.roomsOf("alice")).map((room) => room.id)).toEqual(["lobby"]);
  });

  it("creates the public lobby, owned by system, at the store's clock, with no members yet", async () => {
    const store = await open({ now: () => 1000 });
    expect(await store.getRoom("lobby")).toEqual({
      id: "lobby",
      name: "Lobby",
      visibility: "public",
      createdBy: "system",
      createAt: 1000,
      members: 0,
    });
  });

  it("tells an existing user from an unknown one, and sees a user created after a miss", async () => {
    const store = await open();
    expect(await store.userExists("alice")).toBe(false);
    expect(await store.getUser("alice")).toBeUndefined();
    await store.createUser({ id: "alice", name: "Alice", passwordHash: null, createAt: 5 });
    expect(await store.userExists("alice")).toBe(true);
    expect(await store.userExists("alice")).toBe(true);
    await store.ensureUser("bob", "Bob", 6);
    expect(await store.userExists("bob")).toBe(true);
    expect(await store.userExists("carol")).toBe(false);
  });

  it("ensureUser creates a missing user with lobby membership, and returns an existing one unchanged", async () => {
    const store = await open();
    expect(await store.getUser("bob")).toBeUndefined();
    expect(await store.ensureUser("bob", "Bob", 7)).toEqual(fresh("bob", "Bob", 7));
    expect(await store.isMember("lobby", "bob")).toBe(true);
    expect(await store.ensureUser("bob", "Renamed", 8)).toEqual(fresh("bob", "Bob", 7));
    expect(await store.getRoom("lobby")).toMatchObject({ members: 1 });
  });

  it("changes a user's name and read receipts and answers the user as it is now", async () => {
    const store = await open();
    await addUsers(store, "alice");
    const renamed = await store.updateUser("alice", { name: "Alicia" });
    expect(renamed).toEqual(fresh("alice", "Alicia", 1));
    const quiet = await store.updateUser("alice", { readReceipts: false });
    expect(quiet).toEqual({ ...fresh("alice", "Alicia", 1), readReceipts: false });
    expect(await store.getUser("alice")).toEqual(quiet);
    expect(await store.updateUser("alice", { readReceipts: true })).toMatchObject({ readReceipts: true });
  });

  it("records when a user was last seen", async () => {
    const store = await open();
    await addUsers(store, "alice", "bob");
    await store.setLastSeen("alice", 1234);
    expect(await store.getUser("alice")).toMatchObject({ lastSeenAt: 1234 });
    await store.setLastSeen("alice", 5678);
    expect(await store.getUser("alice")).toMatchObject({ lastSeenAt: 5678 });
    expect(await store.getUser("bob")).toMatchObject({ lastSeenAt: null });
  });

  it("sets the avatar to the user's own live image, and removes it with null", async () => {
    const store = await open();
    await addUsers(store, "alice");
    await store.createFile(upload("A1", "alice"));
    expect(await store.updateUser("alice", { avatarFileId: "A1" })).toMatchObject({ avatarFileId: "A1" });
    expect(await store.getUser("alice")).toMatchObject({ avatarFileId: "A1" });
    expect(await store.updateUser("alice", { avatarFileId: null, name: "Al" })).toMatchObject({
      avatarFileId: null,
      name: "Al",
    });
    expect(await store.getUser("alice")).toMatchObject({ avatarFileId: null, name: "Al" });
  });

  it("refuses an avatar that is not the user's live image, and changes nothing else asked with it", async () => {
    const store = await open();
    await addUsers(store, "alice", "bob");
    await store.createFile(upload("A1", "alice"));
    await store.updateUser("alice", { avatarFileId: "A1" });
    await store.createFile(upload("B1", "bob"));
    await store.createFile(upload("DOC", "alice", { name: "doc.pdf", mime: "application/pdf", mediaType: "file" }));
    await store.createFile(upload("GONE", "alice"));
    expect(await store.releaseFile("GONE", tick())).toBe(true);
    const before = await store.getUser("alice");
    for (const avatarFileId of ["B1", "DOC", "GONE", "nothing"]) {
      const change = { avatarFileId, name: "Changed", readReceipts: false };
      expect(await store.updateUser("alice", change), avatarFileId).toBeUndefined();
      expect(await store.getUser("alice"), avatarFileId).toEqual(before);
    }
  });
});
