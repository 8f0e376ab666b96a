import { expect, it } from "vitest";
import { addUsers, describeStores } from "../support/stores.js";

describeStores("Store contract: accounts", (open) => {
  it("changes a password only while the stored hash is the one checked, and moves tokens' valid-after", async () => {
    const store = await open();
    await store.createUser({ id: "alice", name: "alice", passwordHash: "old", createAt: 1 });
    expect(await store.changePassword("alice", "new", 500, "wrong")).toBe(false);
    expect(await store.getUser("alice")).toMatchObject({ passwordHash: "old", tokensValidAfter: 0 });
    expect(await store.changePassword("alice", "new", 500, "old")).toBe(true);
    expect(await store.getUser("alice")).toMatchObject({ passwordHash: "new", tokensValidAfter: 500 });
    expect(await store.changePassword("nobody", "x", 500)).toBe(false);
  });

  it("lets only one of two changes that checked the same old password win", async () => {
    const store = await open();
    await store.createUser({ id: "alice", name: "alice", passwordHash: "old", createAt: 1 });
    const results = await Promise.all([
      store.changePassword("alice", "first", 10, "old"),
      store.changePassword("alice", "second", 11, "old"),
    ]);
    expect(results.filter(Boolean)).toHaveLength(1);
    const winner = results[0] ? "first" : "second";
    expect((await store.getUser("alice"))?.passwordHash).toBe(winner);
  });

  it("an admin's reset needs no old hash", async () => {
    const store = await open();
    await store.createUser({ id: "alice", name: "alice", passwordHash: "old", createAt: 1 });
    expect(await store.changePassword("alice", "reset", 700)).toBe(true);
    expect(await store.getUser("alice")).toMatchObject({ passwordHash: "reset", tokensValidAfter: 700 });
  });

  it("never moves tokens' valid-after back", async () => {
    const store = await open();
    await addUsers(store, "alice");
    expect(await store.revokeTokens("alice", 900)).toMatchObject({ tokensValidAfter: 900 });
    expect(await store.revokeTokens("alice", 400)).toMatchObject({ tokensValidAfter: 900 });
    expect(await store.revokeTokens("nobody", 400)).toBeUndefined();
  });

  it("remembers a signed-out token until it expires, then prunes it", async () => {
    const store = await open();
    await addUsers(store, "alice");
    expect(await store.revokeToken({ hash: "h1", userId: "alice", expiresAt: 1000 }, 10, 100)).toBe("token");
    expect(await store.revokeToken({ hash: "h2", userId: "alice", expiresAt: 3000 }, 10, 100)).toBe("token");
    expect(await store.isTokenRevoked("h1")).toBe(true);
    expect(await store.isTokenRevoked("h3")).toBe(false);
    expect(await store.pruneRevokedTokens(2000, 100)).toBe(1);
    expect(await store.isTokenRevoked("h1")).toBe(false);
    expect(await store.isTokenRevoked("h2")).toBe(true);
  });

  it("turns a sign-out beyond the per-user bound into a sign-out everywhere, dropping the single entries", async () => {
    const store = await open();
    await addUsers(store, "alice", "bob");
    for (let i = 0; i < 3; i++) {
      expect(await store.revokeToken({ hash: `a${i}`, userId: "alice", expiresAt: 9999 }, 10, 3)).toBe("token");
    }
    await store.revokeToken({ hash: "b0", userId: "bob", expiresAt: 9999 }, 10, 3);
    expect(await store.revokeToken({ hash: "a3", userId: "alice", expiresAt: 9999 }, 50, 3)).toBe("all");
    expect(await store.getUser("alice")).toMatchObject({ tokensValidAfter: 50 });
    expect(await store.isTokenRevoked("a0")).toBe(false);
    expect(await store.isTokenRevoked("b0")).toBe(true);
  });

  it("keeps the bound when sign-outs of one user race", async () => {
    const store = await open();
    await addUsers(store, "alice");
    const outcomes = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        store.revokeToken({ hash: `t${i}`, userId: "alice", expiresAt: 9999 }, 10, 5),
      ),
    );
    // One after the other: 5 single entries, the 6th revokes all (dropping them), then 2 more single ones.
    expect(outcomes.filter((outcome) => outcome === "all")).toHaveLength(1);
    const kept = await Promise.all(Array.from({ length: 8 }, (_, i) => store.isTokenRevoked(`t${i}`)));
    expect(kept.filter(Boolean)).toHaveLength(2);
  });

  it("disables an account and enables it again, leaving its tokens' valid-after time alone", async () => {
    const store = await open();
    await addUsers(store, "alice");
    const before = (await store.getUser("alice"))!.tokensValidAfter;
    expect(await store.setDisabled("alice", 800)).toMatchObject({ disabledAt: 800, tokensValidAfter: before });
    expect(await store.setDisabled("alice", null)).toMatchObject({ disabledAt: null, tokensValidAfter: before });
    expect(await store.setDisabled("nobody", 1)).toBeUndefined();
  });

  it("sets and clears the admin flag", async () => {
    const store = await open();
    await addUsers(store, "alice");
    expect(await store.setAdmin("alice", true)).toMatchObject({ admin: true });
    expect((await store.getUser("alice"))?.admin).toBe(true);
    expect(await store.setAdmin("alice", false)).toMatchObject({ admin: false });
    expect(await store.setAdmin("nobody", true)).toBeUndefined();
  });

  it("lists users by id in pages, filtered by id or name without case, wildcards taken literally", async () => {
    const store = await open();
    await store.createUser({ id: "alice", name: "Alice Liddell", passwordHash: null, createAt: 1 });
    await store.createUser({ id: "bob", name: "Bobby", passwordHash: null, createAt: 1 });
    await store.createUser({ id: "carol", name: "100%_sure", passwordHash: null, createAt: 1 });
    await store.createUser({ id: "dave", name: "Dave", passwordHash: null, createAt: 1 });
    const ids = (users: { id: string }[]) => users.map((user) => user.id);
    expect(ids(await store.listUsers({ limit: 2 }))).toEqual(["alice", "bob"]);
    expect(ids(await store.listUsers({ after: "bob", limit: 10 }))).toEqual(["carol", "dave"]);
    expect(ids(await store.listUsers({ q: "LIDD", limit: 10 }))).toEqual(["alice"]);
    expect(ids(await store.listUsers({ q: "a", limit: 10 }))).toEqual(["alice", "carol", "dave"]);
    expect(ids(await store.listUsers({ q: "%_", limit: 10 }))).toEqual(["carol"]);
    expect(ids(await store.listUsers({ q: "_", limit: 10 }))).toEqual(["carol"]);
    expect(ids(await store.listUsers({ q: "a", after: "alice", limit: 1 }))).toEqual(["carol"]);
  });

  it("pages rooms by id for the admin's list", async () => {
    const store = await open();
    await addUsers(store, "alice");
    for (const id of ["r-b", "r-a", "r-c"]) {
      await store.createRoom({ id, name: id, visibility: "private", createdBy: "alice", createAt: 1 });
    }
    const ids = (rooms: { id: string }[]) => rooms.map((room) => room.id);
    expect(ids(await store.roomsPage(undefined, 2))).toEqual(["lobby", "r-a"]);
    expect(ids(await store.roomsPage("r-a", 5))).toEqual(["r-b", "r-c"]);
    expect(await store.roomsPage("r-c", 5)).toEqual([]);
  });

  it("answers the access state of many users and which of many tokens were signed out, in one call each", async () => {
    const store = await open();
    await addUsers(store, "alice", "bob");
    await store.setDisabled("bob", 70);
    await store.revokeTokens("bob", 60);
    await store.revokeTokens("alice", 50);
    const states = await store.accessStates(["alice", "bob", "nobody"]);
    expect(states.sort((a, b) => (a.id < b.id ? -1 : 1))).toEqual([
      { id: "alice", disabledAt: null, tokensValidAfter: 50 },
      { id: "bob", disabledAt: 70, tokensValidAfter: 60 },
    ]);
    expect(await store.accessStates([])).toEqual([]);
    await store.revokeToken({ hash: "h1", userId: "alice", expiresAt: 9999 }, 1, 100);
    await store.revokeToken({ hash: "h2", userId: "bob", expiresAt: 9999 }, 1, 100);
    expect((await store.revokedAmong(["h1", "h2", "h3"])).sort()).toEqual(["h1", "h2"]);
    expect(await store.revokedAmong([])).toEqual([]);
  });
});
