import type { Server } from "socket.io";

/** An engine.io packet as it waits in a connection's write buffer. */
interface EnginePacket {
  readonly data?: string | Buffer | ArrayBuffer | ArrayBufferView;
}

/** The parts of an engine.io socket (`io.engine` connection) that write coalescing touches. */
interface EngineConnection {
  flush(): void;
  close(discard?: boolean): void;
  readonly writeBuffer: readonly EnginePacket[];
  readonly transport: {
    readonly name: string;
    socket?: {
      _socket?: { cork?: () => void; uncork?: () => void };
      readonly bufferedAmount?: number;
      terminate?: () => void;
    };
  };
}

/** What a connection holds that has not reached the kernel, as far as `flush` has seen it. */
interface Backlog {
  /** The `writeBuffer` array counted (engine.io swaps in a new one whenever it sends). */
  buffer: readonly EnginePacket[];
  /** How many of its packets are counted in `bytes`. */
  counted: number;
  bytes: number;
}

/** Options of `coalesceWrites`. */
export interface CoalesceOptions {
  /** Unsent bytes a connection may hold (engine.io's write buffer plus the WebSocket's) before it is dropped. */
  maxPendingBytes: number;
  /** Hears of a connection whose write threw (it is then closed). */
  onError: (error: unknown) => void;
  /** Hears of a connection dropped for holding more than `maxPendingBytes` (a client that stopped reading). */
  onOverflow: (pendingBytes: number, transport: string) => void;
}

/** Bytes a packet adds to a write buffer, near enough: its payload's length plus the framing. */
function packetBytes(packet: EnginePacket): number {
  const data = packet.data;
  if (data === undefined) return 8;
  return 8 + (typeof data === "string" ? data.length : data.byteLength);
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
 * Slow consumers: each connection that was flushed has its backlog measured at the end of the turn: the
 * bytes waiting in engine.io's write buffer (packets a stalled WebSocket's transport is not writable for, or
 * that a polling client never GETs), each packet counted once however many turns it waits, plus the
 * WebSocket's `bufferedAmount` (what `ws` and the TCP socket hold). Past `maxPendingBytes` the connection is
 * closed and its buffers dropped, so a client that stops reading costs at most about that much memory. Its
 * client reconnects and catches up with `sync`; the other connections never wait.
 *
 * It relies on three internals: engine.io 6 calls `this.flush()` on its socket (so an own property takes
 * over) and queues packets in `Socket#writeBuffer`, swapping in a new array when it sends; `ws` keeps the TCP
 * socket as `WebSocket#_socket`. test/write-coalescing.test.ts counts the writes and
 * test/connection-limits.test.ts drops stalled readers on both transports, so an upgrade that changes any
 * of them fails there.
 */
export function coalesceWrites(io: Server, options: CoalesceOptions): WriteBacklog {
  const { maxPendingBytes, onError, onOverflow } = options;
  let pending = new Set<EngineConnection>();
  let flushOf: ((this: EngineConnection) => void) | undefined;
  const backlogs = new WeakMap<EngineConnection, Backlog>();

  /** Counts the packets queued since the last look; a swapped buffer (engine.io sent the old one) restarts. */
  const queuedBytes = (connection: EngineConnection): number => {
    const buffer = connection.writeBuffer;
    let backlog = backlogs.get(connection);
    if (!backlog) {
      backlog = { buffer, counted: 0, bytes: 0 };
      backlogs.set(connection, backlog);
    } else if (backlog.buffer !== buffer || backlog.counted > buffer.length) {
      backlog.buffer = buffer;
      backlog.counted = 0;
      backlog.bytes = 0;
    }
    while (backlog.counted < buffer.length) backlog.bytes += packetBytes(buffer[backlog.counted++]!);
    return backlog.bytes;
  };

  const drop = (connection: EngineConnection, bytes: number) => {
    onOverflow(bytes, connection.transport.name);
    const ws = connection.transport.socket;
    // Discard what is queued and close now: a close frame would wait behind the data the peer is not reading.
    connection.close(true);
    ws?.terminate?.();
  };

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
        continue;
      } finally {
        if (corked) tcp.uncork!();
      }
      // Counted at the end of the turn, not per packet, so a broadcast never sees a room change under it.
      const bytes = queuedBytes(connection) + (connection.transport.socket?.bufferedAmount ?? 0);
      if (bytes > maxPendingBytes) drop(connection, bytes);
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

  return {
    of: (connection) => {
      const engine = connection as EngineConnection;
      return queuedBytes(engine) + (engine.transport.socket?.bufferedAmount ?? 0);
    },
  };
}

/** Reads a connection's unsent output, as the slow-consumer check counts it. */
export interface WriteBacklog {
  /** Bytes the Engine.IO connection (`socket.conn`) holds that have not reached the kernel. */
  of(connection: object): number;
}
