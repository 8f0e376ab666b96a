import { afterEach, describe, expect, it } from "vitest";
import { ok, request, signToken, until } from "./support/harness.js";
import { client, finish, PNG, say, startClockedServer, upload } from "./state-support.js";
import { startServer } from "./support/harness.js";

afterEach(finish);

describe("avatars (section 9)", () => {
  it("sets an uploaded image as the caller's avatar and shows it in session, /api/me, room:members and conversation:list", async () => {
    const server = await startServer();
    const alice = await client(server, "alice");
    const bob = await client(server, "bob");
    const image = await upload(server, "alice", PNG, "me.png");
    const settings = await ok(alice.socket, "user:update", { avatarFileId: image.fileId });
    expect(settings).toEqual({ id: "alice", name: "alice", readReceipts: true, avatarUrl: image.url });
    expect(await ok(alice.socket, "user:update", {})).toMatchObject({ avatarUrl: image.url });
    const again = await client(server, "alice");
    expect(again.session.user).toEqual({ id: "alice", name: "alice", avatarUrl: image.url });
    const me = await fetch(`${server.url}/api/me`, { headers: { authorization: `Bearer ${signToken("alice")}` } });
    expect(await me.json()).toEqual({ id: "alice", name: "alice", avatarUrl: image.url });
    const members = await ok(bob.socket, "room:members", { roomId: "lobby" });
    expect(members.members.find((m) => m.userId === "alice")).toMatchObject({ avatarUrl: image.url });
    expect(members.members.find((m) => m.userId === "bob")).not.toHaveProperty("avatarUrl");
    await say(alice, "bob", "hi");
    const list = await ok(bob.socket, "conversation:list", {});
    expect(list.find((c) => "user" in c.conversation && c.conversation.user === "alice")).toMatchObject({
      avatarUrl: image.url,
    });
    // The image stays fetchable.
    expect((await fetch(`${server.url}${image.url}`)).status).toBe(200);
  });

  it("tells who follows the user's presence and the user's own sockets of a new name or avatar (user:updated)", async () => {
    const server = await startServer();
    const alice = await client(server, "alice");
    const aliceElsewhere = await client(server, "alice");
    const follower = await client(server, "bob");
    const stranger = await client(server, "carol");
    const heard = (c: typeof alice) => {
      const got: unknown[] = [];
      c.socket.on("user:updated", (user) => got.push(user));
      return got;
    };
    const byAlice = heard(alice);
    const byElsewhere = heard(aliceElsewhere);
    const byFollower = heard(follower);
    const byStranger = heard(stranger);
    await ok(follower.socket, "presence:subscribe", { userIds: ["alice"] });
    await ok(alice.socket, "user:update", { name: "Alice Liddell" });
    const image = await upload(server, "alice", PNG, "me.png");
    await ok(alice.socket, "user:update", { avatarFileId: image.fileId });
    // A change of the read-receipt setting alone is nobody else's business: no event.
    await ok(alice.socket, "user:update", { readReceipts: false });
    const expected = [
      { id: "alice", name: "Alice Liddell" },
      { id: "alice", name: "Alice Liddell", avatarUrl: image.url },
    ];
    await until(() => byFollower.length === 2 && byElsewhere.length === 2 && byAlice.length === 2);
    expect(byFollower).toEqual(expected);
    expect(byElsewhere).toEqual(expected);
    expect(byAlice).toEqual(expected);
    // Another user, who does not follow alice, hears nothing.
    await ok(stranger.socket, "room:list", {});
    expect(byStranger).toEqual([]);
  });

  it("refuses another user's file (NOT_FOUND) and a file that is not an image (INVALID_PAYLOAD), changing nothing", async () => {
    const server = await startServer();
    const alice = await client(server, "alice");
    await client(server, "bob");
    const bobs = await upload(server, "bob", PNG, "bob.png");
    const text = await upload(server, "alice", Buffer.from("just text"), "notes.txt");
    expect(await request(alice.socket, "user:update", { avatarFileId: bobs.fileId })).toMatchObject({
      ok: false,
      error: { code: "NOT_FOUND" },
    });
    expect(await request(alice.socket, "user:update", { avatarFileId: text.fileId, name: "Alice" })).toMatchObject({
      ok: false,
      error: { code: "INVALID_PAYLOAD" },
    });
    expect(await ok(alice.socket, "user:update", {})).toEqual({ id: "alice", name: "alice", readReceipts: true });
  });

  it("removes the avatar with null, and drops a replaced or removed avatar's file once nothing holds it", async () => {
    const server = await startServer();
    const alice = await client(server, "alice");
    const first = await upload(server, "alice", PNG, "one.png");
    const second = await upload(server, "alice", PNG, "two.png");
    await ok(alice.socket, "user:update", { avatarFileId: first.fileId });
    await ok(alice.socket, "user:update", { avatarFileId: second.fileId });
    expect((await fetch(`${server.url}${first.url}`)).status).toBe(404);
    // A file a message holds stays when the avatar moves away from it.
    await ok(alice.socket, "message:send", {
      messageType: "single",
      mediaType: "image",
      to: "alice",
      fileId: second.fileId,
    });
    expect(await ok(alice.socket, "user:update", { avatarFileId: null })).toEqual({
      id: "alice",
      name: "alice",
      readReceipts: true,
    });
    expect((await fetch(`${server.url}${second.url}`)).status).toBe(200);
  });

  it("never sweeps an avatar as an orphan upload", async () => {
    const server = await startClockedServer();
    const alice = await client(server, "alice");
    const image = await upload(server, "alice", PNG, "me.png");
    await ok(alice.socket, "user:update", { avatarFileId: image.fileId });
    const orphan = await upload(server, "alice", PNG, "lost.png");
    server.setNow(server.now() + 2 * 86_400_000);
    await server.server.files.sweepNow();
    expect((await fetch(`${server.url}${orphan.url}`)).status).toBe(404);
    expect((await fetch(`${server.url}${image.url}`)).status).toBe(200);
  });
});
