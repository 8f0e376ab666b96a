import { MultiErrorReply, type RedisClientType } from "redis";

/*
 * The adapter writes one stream entry (XADD) per broadcast. Redis serves a blocked XREAD right after the
 * command that fed its stream, so the other nodes' readers woke on the first XADD of a turn and fetched the
 * rest with another XREAD: a group commit's messages reached the other nodes' sockets in two or more writes
 * each, against one on the sending node. Sent as one MULTI/EXEC, the turn's entries are in the stream before
 * any reader is served, and a reader gets them all in one reply.
 */

type XAddArgs = Parameters<RedisClientType["xAdd"]>;
type XAddReply = Awaited<ReturnType<RedisClientType["xAdd"]>>;

interface Queued {
  args: XAddArgs;
  resolve: (id: XAddReply) => void;
  reject: (error: unknown) => void;
}

/**
 * `client`, except that the XADDs of one event-loop turn go to Redis as one MULTI/EXEC (a lone one as itself),
 * in the order they were made; each still answers its own entry id or error.
 * @example
 * const adapter = createAdapter(batchStreamWrites(adapterClient), { streamName: "socket.io" });
 */
export function batchStreamWrites(client: RedisClientType): RedisClientType {
  let queued: Queued[] = [];
  const flush = () => {
    const batch = queued;
    queued = [];
    if (batch.length === 1) {
      const [only] = batch as [Queued];
      client.xAdd(...only.args).then(only.resolve, only.reject);
      return;
    }
    const multi = client.multi();
    for (const entry of batch) multi.xAdd(...entry.args);
    const settle = (replies: readonly unknown[]) =>
      batch.forEach((entry, index) => {
        const reply = replies[index];
        if (reply instanceof Error) entry.reject(reply);
        else entry.resolve(reply as XAddReply);
      });
    multi.exec().then(settle, (error: unknown) => {
      // Some commands failed (a MultiErrorReply carries every reply), or the whole transaction did.
      if (error instanceof MultiErrorReply) settle(error.replies);
      else batch.forEach((entry) => entry.reject(error));
    });
  };
  const xAdd = (...args: XAddArgs): Promise<XAddReply> =>
    new Promise((resolve, reject) => {
      if (queued.push({ args, resolve, reject }) === 1) setImmediate(flush);
    });
  return new Proxy(client, {
    get(target, property) {
      if (property === "xAdd") return xAdd;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
