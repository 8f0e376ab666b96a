import { afterEach, describe, expect, it } from "vitest";
import { cleanup, connect, ok, startServer, waitForMessage } from "./support/harness.js";

afterEach(cleanup);

describe("smoke", () => {
  it("delivers a lobby message from one user to another", async () => {
    const server = await startServer();
    const alice = await connect(server, "alice");
    const bob = await connect(server, "bob");
    expect(alice.session.user).toEqual({ id: "alice", name: "alice" });
    expect(alice.session.rooms.map((room) => room.id)).toEqual(["lobby"]);
    const sent = await ok(alice.socket, "message:send", {
      messageType: "group",
      mediaType: "text",
      to: "lobby",
      content: "hi",
    });
    expect(sent).toMatchObject({ id: 1, from: "alice", to: "lobby", content: "hi", messageType: "group" });
    const got = await waitForMessage(bob, (m) => "id" in m && m.id === sent.id);
    expect(got).toEqual(sent);
  });
});
