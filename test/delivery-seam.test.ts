import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

const SERVER = join(import.meta.dirname, "..", "server");

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sources(join(dir, entry.name)) : entry.name.endsWith(".ts") ? [join(dir, entry.name)] : [],
  );
}

/** Sends to channels, or moves sockets between them: what only `server/delivery/` may do. */
const CHANNEL_CALLS = /\.(to|in|except)\(|\.emit\(|socketsJoin|socketsLeave|serverSideEmit/g;
/**
 * Sends that are not to a channel: the handshake's `session` to the one socket that connected, the monitor's
 * read of a room's sockets, the nodes' request for each other's stats, and engine.io's own `flush` and
 * `drain` events on a connection, which the one-buffer write (server/socket/coalesce-writes.ts) emits in
 * engine.io's place.
 */
const ALLOWED = new Set([
  'server/socket/coalesce-writes.ts:connection.emit("',
  'server/socket/coalesce-writes.ts:connection.server.emit("',
  'server/socket/gateway.ts:socket.emit("session"',
  "server/hub.ts:this.io.in(roomChannel(roomId)).fetchSockets",
  'server/cluster/nodes.ts:io.serverSideEmitWithAck("node")',
]);

describe("the delivery seam", () => {
  it("is the only module that sends to channels or moves sockets between them", () => {
    const offenders: string[] = [];
    for (const file of sources(SERVER)) {
      const name = relative(join(SERVER, ".."), file);
      if (name.startsWith("server/delivery/")) continue;
      for (const line of readFileSync(file, "utf8").split("\n")) {
        if (line.trim().startsWith("*") || line.trim().startsWith("//")) continue;
        if (!CHANNEL_CALLS.test(line)) continue;
        CHANNEL_CALLS.lastIndex = 0;
        if (
          [...ALLOWED].some(
            (allowed) => allowed.startsWith(`${name}:`) && line.includes(allowed.slice(name.length + 1)),
          )
        )
          continue;
        offenders.push(`${name}: ${line.trim()}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});
