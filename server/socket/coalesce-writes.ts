import type { Server } from "socket.io";

/** An engine.io packet as it waits in a connection's write buffer. */
interface EnginePacket {
  readonly type?: string;
  readonly data?: string | Buffer | ArrayBuffer | ArrayBufferView;
  /** A broadcast's WebSocket frame, encoded once for every receiver (socket.io-adapter): header and payload. */
  readonly options?: { readonly wsPreEncodedFrame?: readonly Buffer[] };
}

/** The TCP socket under a WebSocket. */
interface TcpSocket {
  cork?: () => void;
  uncork?: () => void;
  write?: (data: Buffer, callback: (error?: Error | null) => void) => boolean;
}

/** The parts of an engine.io socket (`io.engine` connection) that write coalescing touches. */
interface EngineConnection {
  flush(): void;
  close(discard?: boolean): void;
  emit(event: string, ...args: unknown[]): boolean;
  readonly readyState: string;
  readonly server: { emit(event: string, ...args: unknown[]): boolean };
  writeBuffer: EnginePacket[];
  packetsFn: unknown[];
  readonly sentCallbackFn: unknown[];
  readonly transport: {
    readonly name: string;
    writable: boolean;
    readonly perMessageDeflate?: unknown;
    readonly _onSentLast?: (error?: Error | null) => void;
    socket?: {
      _socket?: TcpSocket;
      readonly _sender?: { readonly _state?: number; readonly _queue?: readonly unknown[] };
      readonly readyState?: number;
      readonly bufferedAmount?: number;
      terminate?: () => void;
    };
  };
}

/** A final, unmasked WebSocket text frame (RFC 6455 §5.2) of `payload`: its header, then the payload. */
function textFrame(payload: Buffer): [Buffer, Buffer] {
  const length = payload.length;
  const header = Buffer.allocUnsafe(length < 126 ? 2 : length < 65_536 ? 4 : 10);
  header[0] = 0x81; // FIN + text
  if (length < 126) header[1] = length;
  else if (length < 65_536) {
    header[1] = 126;
    header.writeUInt16BE(length, 2);
  } else {
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(length), 2);
  }
  return [header, payload];
}

/**
 * Writes a WebSocket connection's queued packets as one buffer in one `write` call, doing what engine.io's
 * `flush` and its WebSocket transport's `send` do around it (the events, the send callbacks, `writable`
 * until the write completed): a broadcast's pre-encoded frame is copied as is, a message packet (an ack, a
 * socket's own event) is framed here. Returns false, having done nothing, where that is not plainly the
 * same as engine.io's path: another transport, compression, a sender that is busy or queueing, a packet
 * that is not a text message (a ping, binary data).
 */
function writeFrames(connection: EngineConnection): boolean {
  const { transport } = connection;
  const ws = transport.socket;
  const tcp = ws?._socket;
  if (transport.name !== "websocket" || transport.perMessageDeflate || !transport._onSentLast) return false;
  if (!ws || ws.readyState !== 1 || typeof tcp?.write !== "function") return false;
  if (ws._sender?._state !== 0 || (ws._sender._queue?.length ?? 1) > 0) return false;
  if (connection.readyState === "closed" || !transport.writable) return true; // engine.io would not send now
  const packets = connection.writeBuffer;
  if (packets.length === 0) return true;
  const chunks: Buffer[] = [];
  for (const packet of packets) {
    const frame = packet.options?.wsPreEncodedFrame;
    if (frame) chunks.push(...frame);
    else if (packet.type === "message" && typeof packet.data === "string") {
      chunks.push(...textFrame(Buffer.from(`4${packet.data}`)));
    } else return false;
  }
  connection.emit("flush", packets);
  connection.server.emit("flush", connection, packets);
  connection.writeBuffer = [];
  connection.sentCallbackFn.push(connection.packetsFn.length > 0 ? connection.packetsFn : null);
  if (connection.packetsFn.length > 0) connection.packetsFn = [];
  transport.writable = false;
  // The transport's own completion: "drain" (the send callbacks run), writable again, "ready" (next flush).
  tcp.write(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks), transport._onSentLast);
  connection.emit("drain");
  connection.server.emit("drain", connection);
  return true;
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
      let corked = false;
      try {
        if (!writeFrames(connection)) {
          corked = typeof tcp?.cork === "function" && typeof tcp.uncork === "function";
          if (corked) tcp!.cork!();
          flushOf!.call(connection);
        }
      } catch (error) {
        // This used to throw into the code that emitted; now it surfaces here, after it. Drop the broken
        // connection (its client reconnects and catches up with `sync`) and flush the others.
        onError(error);
        connection.close(true);
        continue;
      } finally {
        if (corked) tcp!.uncork!();
      }
      // Counted at the end of the turn, not per packet, so a broadcast never sees a room change under it.
      const bytes = queuedBytes(connection) + (connection.transport.socket?.bufferedAmount ?? 0);
      if (bytes > maxPendingBytes) drop(connection, bytes);
    }
  };

  // One function shared by every connection (no closure per connection): it only notes the connection.
  function deferredFlush(this: EngineConnection): void {
    // Nothing queued (the transport's "ready" after each completed write asks too): engine.io would send
    // nothing, and nothing new needs measuring.
    if (this.writeBuffer.length === 0 || pending.has(this)) return;
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
