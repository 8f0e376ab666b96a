import { afterEach, describe, expect, it } from "vitest";
import type { WorkerContext } from "../server/workers/manager.js";
import { ADMIN_KEY, cleanup, connect, ok, startServer, storedOnly, until, waitForMessage } from "./support/harness.js";

afterEach(cleanup);

/** A worker that records its runs and waits for its abort; `stopped` resolves with the abort reason. */
function recordingWorker() {
  const runs: WorkerContext[] = [];
  let resolveStop: (reason: unknown) => void = () => {};
  const stopped = new Promise<unknown>((resolve) => (resolveStop = resolve));
  const worker = async (context: WorkerContext) => {
    runs.push(context);
    await new Promise<void>((resolve) => context.signal.addEventListener("abort", () => resolve(), { once: true }));
    resolveStop(context.signal.reason);
  };
  return { runs, stopped, worker };
}

async function roomWithMember(grace = "200") {
  const server = await startServer({ PRESENCE_GRACE_MS: grace });
  const alice = await connect(server, "alice");
  const room = await ok(alice.socket, "room:create", { name: "task:1" });
  return { server, alice, room };
}

describe("group workers", () => {
  it("runs one worker per room however many ensure calls race", async () => {
    const { server, room } = await roomWithMember();
    const { runs, worker } = recordingWorker();
    const started = await Promise.all(
      Array.from({ length: 10 }, async () => server.server.workers.ensure(room.id, worker)),
    );
    expect(started.filter(Boolean)).toHaveLength(1);
    await until(() => runs.length > 0);
    expect(runs).toHaveLength(1);
    expect(server.server.workers.list()).toEqual([{ room: room.id, startedAt: expect.any(Number) }]);
  });

  it("publishes into its room: members online get a stored system message", async () => {
    const { server, alice, room } = await roomWithMember();
    const second = await connect(server, "alice");
    server.server.workers.ensure(room.id, async ({ publish }) => {
      await publish("line 1");
    });
    const got = await waitForMessage(second, (m) => "id" in m && m.content === "line 1");
    expect(got).toMatchObject({ messageType: "system", from: "system", to: room.id });
    expect((await ok(alice.socket, "history:list", { room: room.id })).messages.map((m) => m.content)).toContain(
      "line 1",
    );
  });

  it("stops the worker after the grace once the last member leaves the room, not before", async () => {
    const { server, alice, room } = await roomWithMember("300");
    const { stopped, worker } = recordingWorker();
    server.server.workers.ensure(room.id, worker);
    const leftAt = Date.now();
    await ok(alice.socket, "room:leave", { roomId: room.id });
    expect(await stopped).toBe("idle");
    expect(Date.now() - leftAt).toBeGreaterThanOrEqual(250);
    await until(() => server.server.workers.list().length === 0);
  });

  it("stops the worker when the last member's socket disconnects", async () => {
    const { server, alice, room } = await roomWithMember("50");
    const { stopped, worker } = recordingWorker();
    server.server.workers.ensure(room.id, worker);
    alice.socket.disconnect();
    expect(await stopped).toBe("idle");
  });

  it("keeps the worker when a member comes back within the grace", async () => {
    const { server, alice, room } = await roomWithMember("400");
    const { runs, worker } = recordingWorker();
    server.server.workers.ensure(room.id, worker);
    alice.socket.disconnect();
    await connect(server, "alice");
    await until(() => runs.length === 1);
    // Longer than the grace: a pending idle stop would have fired by now.
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(runs[0]!.signal.aborted).toBe(false);
  });

  it("stops an idle worker started for a room nobody is in", async () => {
    const { server, alice, room } = await roomWithMember("50");
    await ok(alice.socket, "room:leave", { roomId: room.id });
    const { stopped, worker } = recordingWorker();
    server.server.workers.ensure(room.id, worker);
    expect(await stopped).toBe("idle");
  });

  it("stops the worker at its timeout and tells the room", async () => {
    const { server, alice, room } = await roomWithMember();
    const { stopped, worker } = recordingWorker();
    server.server.workers.ensure(room.id, worker, { timeoutMs: 100 });
    expect(await stopped).toBe("timeout");
    await waitForMessage(alice, (m) => "id" in m && m.messageType === "system" && /time limit/.test(m.content ?? ""));
  });

  it("stops every worker on shutdown", async () => {
    const { server, room } = await roomWithMember();
    const { stopped, worker } = recordingWorker();
    server.server.workers.ensure(room.id, worker);
    await server.stop();
    expect(await stopped).toBe("shutdown");
  });

  it("removes a throwing worker, tells the room, and starts a fresh one on the next ensure", async () => {
    const { server, alice, room } = await roomWithMember();
    server.server.workers.ensure(room.id, async () => {
      throw new Error("boom");
    });
    const notice = await waitForMessage(alice, (m) => "id" in m && /failed/.test(m.content ?? ""));
    expect(notice).toMatchObject({ messageType: "system", to: room.id });
    expect(JSON.stringify(storedOnly(alice.received))).not.toContain("boom");
    await until(() => server.server.workers.size === 0);
    const { runs, worker } = recordingWorker();
    expect(server.server.workers.ensure(room.id, worker)).toBe(true);
    await until(() => runs.length === 1);
  });

  it("starts a new worker after the previous one stopped", async () => {
    const { server, room } = await roomWithMember();
    const first = recordingWorker();
    server.server.workers.ensure(room.id, first.worker);
    await until(() => first.runs.length === 1);
    await server.server.workers.stop(room.id);
    expect(await first.stopped).toBe("stopped");
    const second = recordingWorker();
    expect(server.server.workers.ensure(room.id, second.worker)).toBe(true);
    await until(() => second.runs.length === 1);
  });

  it("shows running workers in the monitor and the metrics", async () => {
    const { server, room } = await roomWithMember();
    const { worker } = recordingWorker();
    server.server.workers.ensure(room.id, worker);
    const stats = await server.server.app.inject({
      method: "GET",
      url: "/api/admin/stats",
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
    });
    expect(stats.json().workers).toEqual([{ room: room.id, startedAt: expect.any(Number) }]);
    const metrics = await server.server.app.inject({ method: "GET", url: "/metrics" });
    expect(metrics.body).toMatch(/^chat_workers_running 1$/m);
  });
});
