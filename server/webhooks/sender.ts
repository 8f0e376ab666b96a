import type { BackgroundErrorReporter } from "../background.js";
import type { ClaimedDelivery, DeliveryOutcome, WebhookEndpointRecord, WebhookRepository } from "../store/types.js";
import { signWebhook } from "./signature.js";

/** What became of one attempt, as `chat_webhook_deliveries_total{status}` counts it. */
export type AttemptStatus = "delivered" | "retry" | "failed";

/** Options of the webhook sender; the timings have the contract's values by default (tests shorten them). */
export interface WebhookSenderOptions {
  /** The outbox (the store). */
  store: WebhookRepository;
  now: () => number;
  /** Told of a failure of the loop itself (the store unreachable, ...): task `webhook`. Never fatal. */
  onBackgroundError: BackgroundErrorReporter;
  /** Told of every attempt's outcome (metrics). */
  onAttempt?: (status: AttemptStatus) => void;
  /** Attempts in all before a delivery is `failed`. @default 12 */
  maxAttempts?: number;
  /** How long delivered and failed deliveries are kept. @default 604800000 (7 days) */
  retentionMs?: number;
  /** How long an endpoint has to answer. @default 10000 */
  timeoutMs?: number;
  /** The first retry's delay; the n-th waits base × 2^(n-1), ± 20 %. @default 1000 */
  retryBaseMs?: number;
  /** The longest delay between two attempts. @default 3600000 */
  retryCapMs?: number;
  /** How often the outbox is looked at when idle. @default 500 */
  pollMs?: number;
  /** Attempts in flight to one endpoint from this node at most: a slow endpoint holds only these. @default 4 */
  perEndpoint?: number;
  /** Attempts in flight from this node at most. @default 64 */
  maxInFlight?: number;
  /** @default globalThis.fetch (undici) */
  fetch?: typeof fetch;
  /** Uniform in [0, 1), for the jitter. @default Math.random */
  random?: () => number;
}

/** How long a claim outlives the attempt's timeout before another node may take the delivery over. */
const LEASE_MARGIN_MS = 5000;
/** How often settled deliveries past the retention are pruned, and how many per statement. */
const PRUNE_EVERY_MS = 60_000;
const PRUNE_BATCH = 1000;
/** After a failing tick (the database unreachable), the next waits this many polls. */
const BACKOFF_POLLS = 10;
/**
 * Due times of its own retries a node keeps a timer for, at most (beyond them the poll finds the rest, up to
 * a poll late). A retry is looked for 2 ms after it falls due, so that a timer that fires a little early by
 * the wall clock does not find it not yet due.
 */
const MAX_DUE_TIMES = 1024;
const DUE_MARGIN_MS = 2;

/** One attempt under way. */
interface InFlight {
  endpointId: string;
  controller: AbortController;
  done: Promise<void>;
}

/**
 * Delivers the outbox: a loop on every node claims due deliveries (each claimed by one node in the whole
 * cluster, see `claimDeliveries`), POSTs each event with the Standard Webhooks headers, and records the
 * outcome: delivered on a 2xx within `timeoutMs`, otherwise retried after 2^(n-1) × `retryBaseMs` ± 20 %
 * (capped), `failed` after `maxAttempts`. Attempts run concurrently, at most `perEndpoint` per endpoint and
 * `maxInFlight` in all, so one slow endpoint never holds the others up; nothing here blocks the event loop
 * or throws out of the loop.
 */
export class WebhookSender {
  private readonly options: Required<Omit<WebhookSenderOptions, "onAttempt">> & Pick<WebhookSenderOptions, "onAttempt">;
  private readonly inFlight = new Map<string, InFlight>();
  private timer: NodeJS.Timeout | undefined;
  /** The retries this node scheduled, by due time: a timer wakes the loop at the earliest. */
  private readonly dueTimes = new Set<number>();
  private dueTimer: NodeJS.Timeout | undefined;
  private dueTimerAt = Infinity;
  private running: Promise<void> | undefined;
  private again = false;
  private closed = false;
  private lastPrune = 0;
  /** Rotates which endpoint is offered free slots first. */
  private turn = 0;

  constructor(options: WebhookSenderOptions) {
    this.options = {
      maxAttempts: 12,
      retentionMs: 7 * 86_400_000,
      timeoutMs: 10_000,
      retryBaseMs: 1000,
      retryCapMs: 3_600_000,
      pollMs: 500,
      perEndpoint: 4,
      maxInFlight: 64,
      fetch: globalThis.fetch,
      random: Math.random,
      // An option given as undefined keeps its default.
      ...(Object.fromEntries(
        Object.entries(options).filter(([, value]) => value !== undefined),
      ) as WebhookSenderOptions),
    };
    this.lastPrune = options.now();
  }

  /** Starts the loop. */
  start(): void {
    this.wake();
  }

  /** Looks at the outbox now rather than at the next poll (after a slot freed up, or new events). */
  wake(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.run(), 0);
    this.timer.unref();
  }

  /** Attempts under way on this node. */
  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /**
   * Stops the loop and gives back the attempts under way unattempted (aborted; due again at once, for this
   * node after a restart or for another node), then resolves. Call before closing the store.
   */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    clearTimeout(this.dueTimer);
    this.dueTimes.clear();
    await this.running;
    for (const attempt of this.inFlight.values()) attempt.controller.abort();
    await Promise.allSettled([...this.inFlight.values()].map((attempt) => attempt.done));
  }

  private run(): void {
    this.timer = undefined;
    this.again = false;
    let delay = this.options.pollMs;
    this.running = this.tick()
      .then((more) => {
        if (more || this.again) delay = 0;
      })
      .catch((error: unknown) => {
        this.options.onBackgroundError("webhook", error);
        delay = this.options.pollMs * BACKOFF_POLLS;
      })
      .finally(() => {
        this.running = undefined;
        if (this.closed) return;
        this.timer = setTimeout(() => this.run(), delay);
        this.timer.unref();
      });
  }

  /** One look at the outbox: claims what this node has room for and starts it; true when more may be due. */
  private async tick(): Promise<boolean> {
    await this.prune();
    const endpoints = await this.options.store.webhooks();
    if (endpoints.length === 0) return false;
    const busy = new Map<string, number>();
    for (const attempt of this.inFlight.values()) busy.set(attempt.endpointId, (busy.get(attempt.endpointId) ?? 0) + 1);
    let room = this.options.maxInFlight - this.inFlight.size;
    const start = this.turn++ % endpoints.length;
    const wanted: { endpointId: string; limit: number }[] = [];
    for (const endpoint of [...endpoints.slice(start), ...endpoints.slice(0, start)]) {
      const limit = Math.min(this.options.perEndpoint - (busy.get(endpoint.id) ?? 0), room);
      if (limit <= 0) continue;
      wanted.push({ endpointId: endpoint.id, limit });
      room -= limit;
    }
    if (wanted.length === 0 || this.closed) return false;
    const now = this.options.now();
    const claimed = await this.options.store.claimDeliveries(
      wanted,
      now,
      now + this.options.timeoutMs + LEASE_MARGIN_MS,
    );
    const byId = new Map(endpoints.map((endpoint) => [endpoint.id, endpoint]));
    for (const delivery of claimed) this.begin(byId.get(delivery.endpointId)!, delivery);
    // Every slot offered was filled: more may be due.
    return claimed.length === wanted.reduce((sum, entry) => sum + entry.limit, 0);
  }

  /** Starts one attempt; when it ends, the loop looks again (a slot is free). */
  private begin(endpoint: WebhookEndpointRecord, delivery: ClaimedDelivery): void {
    const key = `${delivery.endpointId}\u0000${delivery.seq}`;
    const controller = new AbortController();
    const done = this.attempt(endpoint, delivery, controller.signal)
      .catch((error: unknown) => this.options.onBackgroundError("webhook", error, { endpoint: endpoint.id }))
      .finally(() => {
        this.inFlight.delete(key);
        this.wake();
      });
    this.inFlight.set(key, { endpointId: endpoint.id, controller, done });
  }

  /** POSTs one event to one endpoint and records what became of it. */
  private async attempt(
    endpoint: WebhookEndpointRecord,
    delivery: ClaimedDelivery,
    signal: AbortSignal,
  ): Promise<void> {
    const { store, now, timeoutMs } = this.options;
    if (this.closed) {
      await store.settleDelivery(endpoint.id, delivery.seq, { kind: "released", at: now() });
      return;
    }
    const body = eventBody(delivery);
    const timestamp = Math.floor(now() / 1000);
    let statusCode: number | undefined;
    let error: string | undefined;
    try {
      const response = await this.options.fetch(endpoint.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "webhook-id": delivery.eventId,
          "webhook-timestamp": String(timestamp),
          "webhook-signature": signWebhook(endpoint.secret, delivery.eventId, timestamp, body),
        },
        body,
        // A redirect is not a 2xx: the endpoint's URL is what was configured, nowhere else.
        redirect: "manual",
        signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
      });
      statusCode = response.status;
      // The answer's body is not read: only its status counts.
      await response.body?.cancel().catch(() => undefined);
    } catch (failure) {
      if (signal.aborted && this.closed) {
        await store.settleDelivery(endpoint.id, delivery.seq, { kind: "released", at: now() });
        return;
      }
      error = describeFailure(failure, timeoutMs);
    }
    const outcome = this.outcome(delivery, statusCode, error, now());
    await store.settleDelivery(endpoint.id, delivery.seq, outcome);
    if (outcome.kind === "retry") this.wakeAt(outcome.nextAttemptAt);
    this.options.onAttempt?.(outcome.kind === "retry" ? "retry" : (outcome.kind as AttemptStatus));
  }

  /**
   * Looks at the outbox when a retry this node scheduled falls due: waiting for the poll alone, a retry
   * came up to a poll late (outside the contract's ± 20 % for the first ones).
   */
  private wakeAt(at: number): void {
    if (this.closed || this.dueTimes.size >= MAX_DUE_TIMES) return;
    this.dueTimes.add(at + DUE_MARGIN_MS);
    this.armDueTimer();
  }

  /** Sets the due timer for the earliest due time kept, and wakes the loop for those that have come. */
  private armDueTimer(): void {
    const now = this.options.now();
    let earliest = Infinity;
    let due = false;
    for (const at of this.dueTimes) {
      if (at <= now) {
        this.dueTimes.delete(at);
        due = true;
      } else if (at < earliest) {
        earliest = at;
      }
    }
    if (due) this.wake();
    if (earliest === this.dueTimerAt || this.closed) return;
    clearTimeout(this.dueTimer);
    this.dueTimerAt = earliest;
    if (earliest === Infinity) return;
    this.dueTimer = setTimeout(() => {
      this.dueTimerAt = Infinity;
      this.armDueTimer();
    }, earliest - now);
    this.dueTimer.unref();
  }

  /** Delivered on a 2xx; otherwise retried with backoff, or failed once the attempts are spent. */
  private outcome(delivery: ClaimedDelivery, statusCode: number | undefined, error: string | undefined, at: number) {
    if (statusCode !== undefined && statusCode >= 200 && statusCode < 300) {
      return { kind: "delivered", statusCode, at } satisfies DeliveryOutcome;
    }
    if (delivery.attempts >= this.options.maxAttempts) {
      return { kind: "failed", statusCode, error, at } satisfies DeliveryOutcome;
    }
    return {
      kind: "retry",
      statusCode,
      error,
      at,
      nextAttemptAt: at + this.retryDelay(delivery.attempts),
    } satisfies DeliveryOutcome;
  }

  /** The wait before retry number `n` (after n attempts): base × 2^(n-1), ± 20 %, at most the cap. */
  retryDelay(n: number): number {
    const { retryBaseMs, retryCapMs, random } = this.options;
    const plain = retryBaseMs * 2 ** Math.min(n - 1, 40);
    return Math.round(Math.min(retryCapMs, plain * (0.8 + 0.4 * random())));
  }

  /** Prunes settled deliveries past the retention, at most once per PRUNE_EVERY_MS. */
  private async prune(): Promise<void> {
    const now = this.options.now();
    if (now - this.lastPrune < PRUNE_EVERY_MS) return;
    this.lastPrune = now;
    const before = now - this.options.retentionMs;
    // Bounded work per round: a backlog is pruned over the following rounds.
    for (let round = 0; round < 10; round++) {
      if ((await this.options.store.pruneDeliveries(before, PRUNE_BATCH)) < PRUNE_BATCH) return;
    }
  }
}

/**
 * The request body: `{ id, type, timestamp, seq, data }`, with the stored `data` text inlined as it is, so
 * every attempt sends the same bytes.
 */
export function eventBody(delivery: Pick<ClaimedDelivery, "eventId" | "type" | "createAt" | "seq" | "data">): string {
  const head = JSON.stringify({
    id: delivery.eventId,
    type: delivery.type,
    timestamp: new Date(delivery.createAt).toISOString(),
    seq: delivery.seq,
  });
  return `${head.slice(0, -1)},"data":${delivery.data}}`;
}

/** Why an attempt got no answer, in a few words (never the request's body). */
function describeFailure(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && error.name === "TimeoutError") return `no answer within ${timeoutMs} ms`;
  const cause = error instanceof Error ? (error.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
  if (typeof cause?.code === "string") return `request failed: ${cause.code}`;
  if (typeof cause?.message === "string") return `request failed: ${cause.message}`.slice(0, 200);
  return error instanceof Error ? error.message.slice(0, 200) : "request failed";
}
