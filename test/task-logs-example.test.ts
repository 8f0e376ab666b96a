import { afterEach, describe, expect, it } from "vitest";
import { serveTaskLogs } from "../examples/task-logs.js";
import { cleanup, connect, ok, startServer, until, waitForMessage } from "./support/harness.js";

afterEach(cleanup);

const TICKER = [process.execPath, "-e", "let i=0;setInterval(()=>console.log('tick '+(++i)),20)"];

describe("task logs example", () => {
  it("streams the task's output into its room while someone watches and stops when nobody does", async () => {
    const server = await startServer({ PRESENCE_GRACE_MS: "50" });
    const roomId = await serveTaskLogs(server.server, "t1", TICKER);
    const alice = await connect(server, "alice");
    expect(server.server.workers.size).toBe(0);
    await ok(alice.socket, "room:join", { roomId });
    const line = await waitForMessage(alice, (m) => "id" in m && m.content === "tick 3");
    expect(line).toMatchObject({ messageType: "system", to: roomId });
    expect(server.server.workers.list().map((w) => w.room)).toEqual([roomId]);
    await ok(alice.socket, "room:leave", { roomId });
    await until(() => server.server.workers.size === 0);
    // The task process was killed: no more lines land in the room.
    const count = (await server.server.store.conversationPage(`r:${roomId}`, { limit: 100 })).messages.length;
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect((await server.server.store.conversationPage(`r:${roomId}`, { limit: 100 })).messages.length).toBe(count);
  });
});
