import type { Socket } from "socket.io";
import type { z } from "zod";
import type { ErrorCode, Result } from "../../shared/errors.js";
import type { AckData, ClientEventName } from "../../shared/events.js";
import type { User } from "../../shared/schemas.js";
import { toErrorInfo } from "../errors.js";
import { parseInput } from "../validate.js";
import type { Logger } from "../logger.js";

/** What a handler knows about the request it serves. */
export interface HandlerContext {
  user: User;
  socketId: string;
  log: Logger;
  /** Told how each request ended, for metrics. */
  observe?: (event: ClientEventName, seconds: number, code: ErrorCode | undefined) => void;
}

/** A parsed, typed client request handler. */
export type Handler<T> = (ctx: HandlerContext, payload: unknown) => Promise<T>;

/** One handler per client event, each answering that event's ack type. */
export type HandlerTable = { [E in ClientEventName]: Handler<AckData<E>> };

/**
 * Wraps a handler so its payload is parsed by `schema` first: a payload of another shape is refused with
 * INVALID_PAYLOAD before `run` sees it, and keys the schema does not name are dropped.
 * @example defineHandler(roomRefSchema, (ctx, { roomId }) => rooms.join(ctx.user.id, roomId))
 */
export function defineHandler<S extends z.ZodType, T>(
  schema: S,
  run: (ctx: HandlerContext, input: z.output<S>) => Promise<T>,
): Handler<T> {
  // A request with nothing to say (`room:list`) may be emitted with the ack alone: parseInput reads it as {}.
  return async (ctx, payload) => run(ctx, parseInput(schema, payload));
}

/**
 * Listens for every event of the table on a socket: answers each ack with a `Result`, turns `AppError`s into
 * their code, and anything else into INTERNAL (logged, never shown to the client).
 *
 * The listeners are made once per table and shared by every socket (Socket.IO calls a listener with the
 * socket as `this`, and each finds its context in a WeakMap): a socket costs one map entry, not a closure
 * per event.
 * @example const bind = handlerBinder(table); io.on("connection", (socket) => bind(socket, ctx));
 */
export function handlerBinder(table: HandlerTable): (socket: Socket, ctx: HandlerContext) => void {
  const contexts = new WeakMap<Socket, HandlerContext>();
  const listeners = (Object.keys(table) as ClientEventName[]).map((event) => {
    const handler = table[event] as Handler<unknown>;
    const listener = function (this: Socket, ...args: unknown[]): void {
      const ctx = contexts.get(this);
      if (!ctx) return;
      const started = performance.now();
      const ack =
        typeof args[args.length - 1] === "function" ? (args.pop() as (result: Result<unknown>) => void) : undefined;
      handler(ctx, args[0]).then(
        (data) => {
          ack?.({ ok: true, data });
          ctx.observe?.(event, (performance.now() - started) / 1000, undefined);
        },
        (error: unknown) => {
          const info = toErrorInfo(error);
          if (info.code === "INTERNAL") ctx.log.error({ err: error, event }, "handler failed");
          ack?.({ ok: false, error: info });
          ctx.observe?.(event, (performance.now() - started) / 1000, info.code);
        },
      );
    };
    return [event, listener] as const;
  });
  return (socket, ctx) => {
    contexts.set(socket, ctx);
    for (const [event, listener] of listeners) socket.on(event, listener as never);
  };
}
