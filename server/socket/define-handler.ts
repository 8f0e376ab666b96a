import type { z } from "zod";
import type { ErrorCode } from "../../shared/errors.js";
import type { AckData, ClientEventName } from "../../shared/events.js";
import type { User } from "../../shared/schemas.js";
import { parseInput } from "../validate.js";
import type { Logger } from "../logger.js";

/** What a handler knows about the request it serves. */
export interface HandlerContext {
  user: User;
  socketId: string;
  log: Logger;
  /** Told how each request ended, for metrics. */
  observe?: (event: ClientEventName, seconds: number, code: ErrorCode | undefined) => void;
  /**
   * Set for a pipelined request (see `createDispatcher`): the handler calls it once its effect has taken its
   * place in the store's order, and the socket's next request may start. Calling it is optional.
   */
  sequenced?: () => void;
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
