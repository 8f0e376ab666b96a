import { io as ioClient, type Socket } from "socket.io-client";
import { closeAll, connect, markedContent, now, parseEvent, readMarker, specFor, tokenFor } from "../lib/client.js";
import { startServers, stopServers, type BenchContext, type CaseResult, type TargetResult } from "../lib/harness.js";
import type { ServerKind } from "../lib/proc.js";
import { seedChatDb, tempDataDir } from "../lib/seed.js";

const KINDS: ServerKind[] = ["chat", "socketio", "ws"];
const ROOM = "check";

/** The next `event` whose payload passes `test` (presence notices, say, are skipped). */
function waitFor<T>(socket: Socket, event: string, test: (value: T) => boolean = () => true, ms = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const listener = (value: T) => {
      if (!test(value)) return;
      clearTimeout(timer);
      socket.off(event, listener);
      resolve(value);
    };
    const timer = setTimeout(() => {
      socket.off(event, listener);
      reject(new Error(`no ${event} within ${ms} ms`));
    }, ms);
    socket.on(event, listener);
  });
}

const stored = (message: Record<string, unknown>) => typeof message["id"] === "number";

/**
 * The correctness pass with the real socket.io-client: on every server, two real clients and one raw
 * client join the same room; a real client sends a marked group message and a direct message; the other
 * real client and the raw client must receive exactly what the ack returned, and the raw client's marker
 * parse must read back the sequence number and time. The numbers of every other case rest on this.
 */
export async function correctnessCase(ctx: BenchContext): Promise<CaseResult> {
  const started = Date.now();
  const users = ["ca", "cb", "cc"];
  const dataDir = tempDataDir();
  seedChatDb(dataDir, users, [{ id: ROOM, members: users }]);
  const servers = await startServers(KINDS, dataDir);
  const targets: TargetResult[] = [];
  const sockets: Socket[] = [];
  try {
    for (const kind of KINDS) {
      const url = servers[kind]!.url;
      const real = (user: string) => {
        const socket = ioClient(url, {
          auth: { token: tokenFor(user), user, rooms: [ROOM] },
          transports: ["websocket"],
          reconnection: false,
          forceNew: true,
        });
        sockets.push(socket);
        return socket;
      };
      const a = real("ca");
      const b = real("cb");
      const sessions = kind === "chat" ? [waitFor(a, "session"), waitFor(b, "session")] : [];
      await Promise.all([waitFor(a, "connect"), waitFor(b, "connect"), ...sessions]);
      const raw = await connect(specFor(url, "cc", [ROOM], kind === "chat"));
      if (!raw.conn) throw new Error(`${kind}: raw client could not connect: ${raw.error}`);
      const rawFrames: Buffer[] = [];
      raw.conn.onEvent = (frame) => rawFrames.push(frame);
      const checks: string[] = [];
      const sentAt = now();
      const content = markedContent(424242, sentAt);
      const atB = waitFor<Record<string, unknown>>(b, "message", stored);
      const ack = (await a.timeout(5000).emitWithAck("message:send", {
        messageType: "group",
        mediaType: "text",
        to: ROOM,
        content,
      })) as { ok: boolean; data: Record<string, unknown> };
      const gotB = await atB;
      await new Promise((resolve) => setTimeout(resolve, 200));
      if (!ack.ok) checks.push(`group send answered ${JSON.stringify(ack)}`);
      if (JSON.stringify(gotB) !== JSON.stringify(ack.data)) checks.push("the member's copy differs from the ack");
      const rawMessage = rawFrames
        .map(parseEvent)
        .find((event) => event[0] === "message" && stored(event[1] as Record<string, unknown>));
      if (JSON.stringify(rawMessage?.[1]) !== JSON.stringify(ack.data)) checks.push("the raw client's copy differs");
      const marker = rawFrames.map(readMarker).find((m) => m !== undefined);
      if (!marker || marker[0] !== 424242 || Math.abs(marker[1] - sentAt) > 0.01) checks.push("marker not read back");
      if (gotB["content"] !== content || gotB["from"] !== "ca") checks.push("content or sender changed on the way");
      // A direct message reaches its recipient and not the third party.
      rawFrames.length = 0;
      const directAtB = waitFor<Record<string, unknown>>(b, "message", stored);
      const direct = (await a.timeout(5000).emitWithAck("message:send", {
        messageType: "single",
        mediaType: "text",
        to: "cb",
        content: "direct",
      })) as { ok: boolean; data: Record<string, unknown> };
      const gotDirect = await directAtB;
      await new Promise((resolve) => setTimeout(resolve, 200));
      if (!direct.ok || gotDirect["content"] !== "direct") checks.push("direct message not delivered");
      if (rawFrames.some((frame) => frame.includes("direct"))) checks.push("direct message leaked to a third socket");
      await closeAll([raw.conn]);
      targets.push({
        target: `real socket.io-client and the raw load client agree with ${kind === "chat" ? "our server" : `the ${kind} baseline`}`,
        measured: checks.length === 0 ? "ok" : checks.join("; "),
        met: checks.length === 0,
      });
      ctx.log(`correctness ${kind}: ${checks.length === 0 ? "ok" : checks.join("; ")}`);
    }
  } finally {
    for (const socket of sockets) socket.disconnect();
    await stopServers(servers);
  }
  const failed = targets.filter((t) => !t.met);
  if (failed.length > 0) throw new Error(`correctness pass failed: ${failed.map((t) => t.measured).join(" | ")}`);
  return {
    name: "correctness",
    title: "Correctness pass (real client)",
    method: [
      "On each server: two socket.io-client 4.8 sockets and one raw load-client connection in one room; a marked group message and a direct message are sent with the real client; the recipients' copies must equal the ack's message, the raw client must read back the marker, and the direct message must reach only its recipient.",
    ],
    params: {},
    variants: [],
    targets,
    notes: [],
    profiles: [],
    seconds: Math.round((Date.now() - started) / 1000),
  };
}
