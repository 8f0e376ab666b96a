import type { Server } from "socket.io";

/** The parts of an engine.io socket (`io.engine` connection) that write coalescing touches. */
interface EngineConnection {
  flush(): void;
  close(discard?: boolean): void;
  readonly transport: { socket?: { _socket?: { cork?: () => void; uncork?: () => void } } };
}

/**
 * Write coalescing: every frame the server sends to a connection in one turn of the event loop (all the
 * deliveries and acks a group commit settles, a burst of events read from one TCP chunk) leaves in one
 * write system call per connection, not one per frame.
 *
 * engine.io writes each packet as soon as it is queued (`flush` after every `sendPacket`), and `ws` writes
 * each frame with its own `cork`/`uncork`, so a socket that gets 8 messages from one commit costs 8 `writev`
 * calls — about 60% of the server's CPU in a fan-out. Here a connection's `flush` only notes the
 * connection; once the microtasks of the turn have run, each noted connection is flushed with its TCP
 * socket corked, so its queued frames go out in one `writev`. Order is unchanged (the packets wait in
 * engine.io's own write buffer), nothing is held past the turn that queued it, and engine.io's flow
 * control is untouched: the real `flush` still sends nothing while the transport is not writable.
 * `onError` hears of a connection whose write threw (it is then closed).
 *
 * It relies on two internals: engine.io 6 calls `this.flush()` on its socket (so an own property takes
 * over), and `ws` keeps the TCP socket as `WebSocket#_socket`. test/write-coalescing.test.ts counts the
 * writes, so an upgrade that changes either fails there.
 */
export function coalesceWrites(io: Server, onError: (error: unknown) => void): void {
  let pending = new Set<EngineConnection>();
  let flushOf: ((this: EngineConnection) => void) | undefined;

  const release = () => {
    const connections = pending;
    pending = new Set();
    for (const connection of connections) {
      const tcp = connection.transport.socket?._socket;
      const corked = typeof tcp?.cork === "function" && typeof tcp.uncork === "function";
      if (corked) tcp.cork!();
      try {
        flushOf!.call(connection);
      } catch (error) {
        // This used to throw into the code that emitted; now it surfaces here, after it. Drop the broken
        // connection (its client reconnects and catches up with `sync`) and flush the others.
        onError(error);
        connection.close(true);
      } finally {
        if (corked) tcp.uncork!();
      }
    }
  };

  // One function shared by every connection (no closure per connection): it only notes the connection.
  function deferredFlush(this: EngineConnection): void {
    if (pending.has(this)) return;
    pending.add(this);
    // After every microtask of this turn (a tick queued from a microtask runs once they are all done), so
    // the deliveries and acks that promise continuations send after a commit join the same write.
    if (pending.size === 1) queueMicrotask(() => process.nextTick(release));
  }

  io.engine.on("connection", (connection: EngineConnection) => {
    flushOf ??= Object.getPrototypeOf(connection).flush as (this: EngineConnection) => void;
    connection.flush = deferredFlush;
  });
}
