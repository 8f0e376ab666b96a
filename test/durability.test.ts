import { afterEach, describe, expect, it } from "vitest";
import type { StoredMessage } from "../shared/schemas.js";
import { cleanup, nextEvent, openSocket, signToken, tempDir, type ClientSocket } from "./support/harness.js";
import { killAll, spawnServer } from "./support/process.js";

afterEach(killAll);
afterEach(cleanup);

interface Sent {
  clientMsgId: string;
  content: string;
  acked?: StoredMessage;
}

async function connected(url: string, userId: string): Promise<ClientSocket> {
  const socket = openSocket(url, signToken(userId));
  await nextEvent(socket, "session");
  return socket;
}

function send(socket: ClientSocket, sent: Sent) {
  return socket
    .timeout(5000)
    .emitWithAck("message:send", {
      messageType: "group",
      mediaType: "text",
      to: "lobby",
      content: sent.content,
      clientMsgId: sent.clientMsgId,
    })
    .then((result: { ok: boolean; data: StoredMessage }) => {
      if (result.ok) sent.acked = result.data;
    });
}

/** Everything the user may see, following sync pages to the end. */
async function everything(socket: ClientSocket): Promise<StoredMessage[]> {
  const all: StoredMessage[] = [];
  for (;;) {
    const page = (await socket.timeout(5000).emitWithAck("sync", { after: all.at(-1)?.id ?? 0 })) as {
      ok: true;
      data: { messages: StoredMessage[]; hasMore: boolean };
    };
    all.push(...page.data.messages);
    if (!page.data.hasMore) return all;
  }
}

describe("durability", () => {
  it("keeps every acked message, in order, through repeated SIGKILLs mid-burst, with no duplicate after resends", async () => {
    const dataDir = tempDir();
    const senders = ["s1", "s2", "s3", "s4"];
    const sent = new Map<string, Sent[]>(senders.map((s) => [s, []]));
    for (let round = 0; round < 5; round++) {
      const server = await spawnServer(dataDir);
      const sockets = await Promise.all(senders.map((s) => connected(server.url, s)));
      // Each sender keeps 4 sends in flight until the process dies under it.
      let killed = false;
      const bursts = senders.map(async (sender, index) => {
        const socket = sockets[index]!;
        const inflight = new Set<Promise<unknown>>();
        for (let n = 0; !killed; n++) {
          const item: Sent = { clientMsgId: `${sender}-${round}-${n}`, content: `${sender} ${round} ${n}` };
          sent.get(sender)!.push(item);
          const p = send(socket, item).catch(() => {});
          inflight.add(p);
          p.then(
            () => inflight.delete(p),
            () => inflight.delete(p),
          );
          if (inflight.size >= 4) await Promise.race(inflight);
        }
      });
      // Kill once a few dozen sends were acked in this round: the burst is in full flow.
      const ackedThisRound = () =>
        [...sent.values()].flat().filter((s) => s.acked && s.clientMsgId.includes(`-${round}-`)).length;
      while (ackedThisRound() < 40) await new Promise((resolve) => setTimeout(resolve, 2));
      server.child.kill("SIGKILL");
      killed = true;
      expect(await server.exited).toBe("SIGKILL");
      for (const socket of sockets) socket.disconnect();
      await Promise.all(bursts);
    }

    const server = await spawnServer(dataDir);
    const sockets = await Promise.all(senders.map((s) => connected(server.url, s)));
    const stored = await everything(sockets[0]!);
    const byClientId = new Map(stored.map((m) => [m.clientMsgId, m]));
    // Every acked message is there, unchanged.
    const acked = [...sent.values()].flat().filter((s) => s.acked);
    expect(acked.length).toBeGreaterThanOrEqual(200);
    for (const item of acked) expect(byClientId.get(item.clientMsgId)).toEqual(item.acked);
    // Each sender's messages are stored in the order it sent them.
    for (const sender of senders) {
      const ids = sent
        .get(sender)!
        .flatMap((s) => (byClientId.has(s.clientMsgId) ? [byClientId.get(s.clientMsgId)!.id] : []));
      expect(ids).toEqual([...ids].sort((a, b) => a - b));
    }
    // Clients resend everything whose ack they never saw; nothing is stored twice.
    await Promise.all(
      senders.map(async (sender, index) => {
        for (const item of sent.get(sender)!.filter((s) => !s.acked)) await send(sockets[index]!, item);
      }),
    );
    const after = await everything(sockets[0]!);
    expect(after.length).toBe(new Set(after.map((m) => m.clientMsgId)).size);
    expect(after.length).toBe([...sent.values()].flat().length);
    server.child.kill("SIGTERM");
    expect(await server.exited).toBe(0);
    // Six server processes start and stop in this test; on a shared 2-core machine under a full run that
    // alone took over 20 s. A budget, not a measurement: nothing here is timed.
  }, 60_000);
});

describe("shutdown", () => {
  it("on SIGTERM tells connected clients why, closes the database cleanly and exits 0; nothing acked is lost", async () => {
    const dataDir = tempDir();
    const server = await spawnServer(dataDir);
    const socket = await connected(server.url, "alice");
    const acked = (await socket.timeout(5000).emitWithAck("message:send", {
      messageType: "group",
      mediaType: "text",
      to: "lobby",
      content: "before shutdown",
    })) as { ok: true; data: StoredMessage };
    const notice = nextEvent(socket, "server:notice");
    const disconnected = new Promise<string>((resolve) => socket.once("disconnect", resolve));
    server.child.kill("SIGTERM");
    expect(await notice).toMatchObject({ reason: "shutdown" });
    expect(await disconnected).toBe("io server disconnect");
    expect(await server.exited).toBe(0);
    expect(server.output()).toContain('"msg":"shutting down"');

    const again = await spawnServer(dataDir);
    const back = await connected(again.url, "alice");
    expect(await everything(back)).toEqual([acked.data]);
  });
});
