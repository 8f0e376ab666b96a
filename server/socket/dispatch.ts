import { setImmediate, setTimeout } from "node:timers/promises";
import type { Socket } from "socket.io";
import type { ErrorCode, Result } from "../../shared/errors.js";
import type { ClientEventName } from "../../shared/events.js";
import { toErrorInfo } from "../errors.js";
import type { Handler, HandlerContext, HandlerTable } from "./define-handler.js";

type Ack = (result: Result<unknown>) => void;

/** One request waiting in a socket's queue. */
interface Queued {
  event: string;
  /** Undefined for a request refused at arrival (its payload is not kept). */
  payload: unknown;
  ack: Ack | undefined;
  /** The budget's verdict, taken when the request arrived; `false` answers RATE_LIMITED. */
  admitted: Promise<boolean> | boolean;
}

/** What the dispatcher asks of its owner, per socket. */
export interface DispatchHooks {
  /**
   * Charges one request to the user's budget, at arrival and in arrival order. Resolves `false` when the
   * request is over budget.
   */
  admit(): Promise<boolean> | boolean;
  /** Told of a request answered RATE_LIMITED (over budget, or the socket's queue was full). */
  refused(event: string): void;
  /** Bytes the socket's connection holds that have not reached the kernel (its unread output). */
  backlog(): number;
}

/** What the owner of a socket's queue can do with it. */
export interface DispatchHandle {
  /** The socket is gone: requests still waiting are dropped unanswered (nothing was acked, clients resend). */
  close(): void;
}

/** Limits of the dispatcher. */
export interface DispatchOptions {
  /** Requests one socket may have waiting, payloads included; more are answered RATE_LIMITED. */
  maxQueued: number;
  /** Expensive requests (search, sync, lists) one user may have running at once, over all its sockets. */
  maxExpensivePerUser: number;
  /** The events that count as expensive. */
  expensive: ReadonlySet<ClientEventName>;
  /**
   * Output a socket may have waiting before its next request is served: the queue pauses until the client
   * has read it down (a client that never does is dropped as a slow consumer, or by its heartbeat).
   */
  maxBacklogBytes: number;
  /**
   * Events whose handlers may overlap with the socket's next request of these events (see `createDispatcher`).
   * @default none
   */
  pipelined?: ReadonlySet<ClientEventName>;
}

/** How often a paused queue looks at its socket's backlog again. */
const BACKLOG_POLL_MS = 20;

/** Pipelined requests one socket may have unanswered at once; the next waits for the oldest's answer. */
const PIPELINE_DEPTH = 16;

/** Per-user counting semaphore for expensive requests: the rest wait their turn, in order. */
class UserGates {
  private readonly gates = new Map<string, { running: number; waiting: (() => void)[] }>();

  constructor(private readonly limit: number) {}

  async enter(userId: string): Promise<void> {
    let gate = this.gates.get(userId);
    if (!gate) this.gates.set(userId, (gate = { running: 0, waiting: [] }));
    if (gate.running < this.limit) {
      gate.running += 1;
      return;
    }
    // Each socket runs one request at a time, so a user has at most one waiter per socket.
    await new Promise<void>((resolve) => gate.waiting.push(resolve));
  }

  leave(userId: string): void {
    const gate = this.gates.get(userId)!;
    const next = gate.waiting.shift();
    if (next) return next(); // the slot passes straight to the next waiter
    gate.running -= 1;
    if (gate.running === 0) this.gates.delete(userId);
  }
}

const rateLimited: Result<never> = {
  ok: false,
  error: { code: "RATE_LIMITED", message: "too many requests, slow down" },
};

/**
 * Per-socket ordered dispatch: each socket's requests are handled in the order the socket sent them, so what
 * one socket sends is stored, acked and delivered in send order whatever each request awaits (a file check,
 * a reply target, a slow store). Every request is charged to the user's budget the moment it arrives; a
 * refused one keeps its place in the queue (so acks stay in order) but not its payload.
 *
 * One request runs at a time, with one exception that keeps a burst of sends cheap: a `pipelined` event's
 * handler may call `ctx.sequenced()` once its effect has taken its place in the store's order (a message
 * queued in the group commit, which keeps queue order). If the socket's next request is pipelined too, it
 * starts right then, in the same turn, so a burst of sends read from one TCP chunk commits as one group and
 * its deliveries leave in one write per receiver, not one per message. Answers still go out in send order
 * (each waits for the one before it), any other request waits for every earlier one to finish, and at most
 * PIPELINE_DEPTH pipelined requests of a socket are unanswered at once.
 *
 * The table's events are served here, not through Socket.IO listeners: `socket.use` sees every incoming
 * event synchronously, in arrival order, and queues it. Events outside the table are charged and ignored.
 * @example const attach = createDispatcher(table, options); io.on("connection", (s) => attach(s, ctx, hooks));
 */
export function createDispatcher(
  table: HandlerTable,
  options: DispatchOptions,
): (socket: Socket, ctx: HandlerContext, hooks: DispatchHooks) => DispatchHandle {
  const gates = new UserGates(options.maxExpensivePerUser);
  const pipelined = options.pipelined ?? new Set<ClientEventName>();

  /**
   * Serves one request: `sequenced` is called once its order is fixed (by the handler, or when it settles),
   * and its answer waits for `before`, the previous request's answer. Never rejects.
   */
  const serve = async (
    ctx: HandlerContext,
    item: Queued,
    closed: () => boolean,
    before: Promise<void>,
    sequenced: () => void,
  ): Promise<void> => {
    const event = item.event as ClientEventName;
    let answer: Result<unknown> | undefined;
    let code: ErrorCode | undefined;
    const started = performance.now();
    const gated = options.expensive.has(event);
    try {
      if (!(await item.admitted)) answer = rateLimited;
      // A refusal's continuation may have dropped the socket (a flood) since the loop looked.
      else if (closed()) return;
      else if (!Object.hasOwn(table, event))
        return; // not an event of the contract: ignored, no answer
      else {
        const handler = table[event] as Handler<unknown>;
        if (gated) await gates.enter(ctx.user.id);
        try {
          // Not a spread: the socket's context has a lazy `log` getter, which a copy would call (making the
          // socket's child logger for every send); this context only adds `sequenced` on top of it.
          const context = pipelined.has(event)
            ? (Object.create(ctx, { sequenced: { value: sequenced } }) as HandlerContext)
            : ctx;
          const data = await handler(context, item.payload);
          answer = { ok: true, data };
        } catch (error) {
          const info = toErrorInfo(error);
          if (info.code === "INTERNAL") ctx.log.error({ err: error, event }, "handler failed");
          answer = { ok: false, error: info };
          code = info.code;
        } finally {
          if (gated) gates.leave(ctx.user.id);
        }
        ctx.observe?.(event, (performance.now() - started) / 1000, code);
      }
    } catch (error) {
      ctx.log.error({ err: error, event }, "request dispatch failed");
    } finally {
      sequenced();
      await before;
      if (answer !== undefined && !closed()) item.ack?.(answer);
    }
  };

  return (socket, ctx, hooks) => {
    const queue: Queued[] = [];
    let head = 0;
    let draining = false;
    let full = 0;
    let closed = false;
    const isClosed = () => closed;

    const drain = async () => {
      draining = true;
      /** Answers of the requests started and not yet answered, oldest first (all pipelined but the last). */
      const unanswered: Promise<void>[] = [];
      let last: Promise<void> = Promise.resolve();
      let chained = false;
      let started = 0;
      while (!closed) {
        if (head >= queue.length) {
          // Settle before leaving: requests that arrive meanwhile are served by this loop.
          await last;
          if (head >= queue.length) break;
          continue;
        }
        const item = queue[head]!;
        const event = item.event as ClientEventName;
        if (!(chained && pipelined.has(event))) {
          // A request that does not overlap waits for every earlier one, then for a turn of the event loop:
          // with a store that answers at once, a queue of 100 would otherwise run as one chain of
          // continuations, holding every other socket's I/O (and the writes it produced) until the end.
          await last;
          unanswered.length = 0;
          if (started > 0) await setImmediate();
        } else if (unanswered.length >= PIPELINE_DEPTH) {
          await unanswered.shift();
        }
        // Backpressure: no new answers while the last ones have not been read.
        while (!closed && hooks.backlog() > options.maxBacklogBytes) await setTimeout(BACKLOG_POLL_MS);
        if (closed) break;
        queue[head++] = undefined as never;
        if (head > 64 && head * 2 > queue.length) {
          queue.splice(0, head);
          head = 0;
        }
        if (item.payload !== undefined) full -= 1;
        started += 1;
        let release!: () => void;
        const ordered = new Promise<void>((resolve) => (release = resolve));
        last = serve(ctx, item, isClosed, last, release);
        unanswered.push(last);
        chained = pipelined.has(event);
        await (chained ? ordered : last);
      }
      await last;
      queue.length = 0;
      head = 0;
      full = 0;
      draining = false;
    };

    socket.use((packet) => {
      if (closed) return;
      const args = packet.slice(1);
      const ack = typeof args[args.length - 1] === "function" ? (args.pop() as Ack) : undefined;
      const event = String(packet[0]);
      let admitted = hooks.admit();
      if (admitted !== false && full >= options.maxQueued) admitted = false;
      if (admitted === false) hooks.refused(event);
      else if (admitted !== true) {
        admitted = admitted.then((ok) => {
          if (!ok) hooks.refused(event);
          return ok;
        });
      }
      // A refused request keeps its place (its answer follows the answers before it) but not its payload.
      const item: Queued = { event, payload: admitted === false ? undefined : (args[0] ?? null), ack, admitted };
      if (item.payload !== undefined) full += 1;
      queue.push(item);
      if (!draining) drain().catch((error: unknown) => ctx.log.error({ err: error }, "request queue failed"));
    });

    return {
      close() {
        closed = true;
      },
    };
  };
}
