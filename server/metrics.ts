import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { ErrorCode } from "../shared/errors.js";
import type { StoredMessage } from "../shared/schemas.js";

/** Live numbers the gauges read at scrape time. */
export interface MetricsSources {
  sockets: () => number;
  users: () => number;
  workers: () => number;
  /** Pending webhook deliveries and when the oldest one's event was created (read at scrape time). */
  webhookOutbox?: () => Promise<{ pending: number; oldestCreateAt: number | null }>;
  /** The clock the oldest pending delivery's age is measured with. @default Date.now */
  now?: () => number;
}

/**
 * The server's Prometheus metrics, in a registry of its own (several servers may share a process in tests).
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly accepted: Counter<"message_type" | "media_type">;
  private readonly deliveries: Counter;
  private readonly rejections: Counter<"code">;
  private readonly ackLatency: Histogram<"event">;
  private readonly commitLatency: Histogram;
  private readonly commitBatch: Histogram;
  private readonly pushes: Counter<"route">;
  private readonly backgroundErrors: Counter<"task">;
  private readonly webhookAttempts: Counter<"status">;

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    new Gauge({
      name: "chat_connected_sockets",
      help: "Sockets connected to this server now",
      registers,
      collect() {
        this.set(sources.sockets());
      },
    });
    new Gauge({
      name: "chat_connected_users",
      help: "Users with at least one socket on this server now",
      registers,
      collect() {
        this.set(sources.users());
      },
    });
    new Gauge({
      name: "chat_workers_running",
      help: "Group workers running now",
      registers,
      collect() {
        this.set(sources.workers());
      },
    });
    this.accepted = new Counter({
      name: "chat_messages_accepted_total",
      help: "Messages stored, by message and media type",
      labelNames: ["message_type", "media_type"],
      registers,
    });
    this.deliveries = new Counter({ name: "chat_deliveries_total", help: "Messages handed to sockets", registers });
    this.rejections = new Counter({
      name: "chat_rejections_total",
      help: "Requests refused, by error code",
      labelNames: ["code"],
      registers,
    });
    this.ackLatency = new Histogram({
      name: "chat_ack_latency_seconds",
      help: "From receiving a client request to answering its ack (for message:send: stored and committed)",
      labelNames: ["event"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    });
    this.commitLatency = new Histogram({
      name: "chat_store_commit_seconds",
      help: "Duration of one group commit of messages",
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1],
      registers,
    });
    this.commitBatch = new Histogram({
      name: "chat_store_commit_messages",
      help: "Messages per group commit",
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
      registers,
    });
    this.pushes = new Counter({
      name: "chat_http_push_total",
      help: "Messages pushed over HTTP, by route",
      labelNames: ["route"],
      registers,
    });
    this.backgroundErrors = new Counter({
      name: "chat_background_errors_total",
      help: "Failures of background work (search indexing, presence notices, workers, unhandled rejections), by task",
      labelNames: ["task"],
      registers,
    });
    this.webhookAttempts = new Counter({
      name: "chat_webhook_deliveries_total",
      help: "Webhook attempts made by this node, by outcome: delivered (2xx), retry (will be retried), failed (gave up)",
      labelNames: ["status"],
      registers,
    });
    // Registered even without an outbox to read (a Metrics made for a test), so the registry always has them.
    const outbox = sources.webhookOutbox ?? (async () => ({ pending: 0, oldestCreateAt: null }));
    {
      const now = sources.now ?? Date.now;
      // One read of the outbox per scrape serves both gauges (the second one's collect reads what the first got);
      // a failed read keeps the last values rather than failing the scrape.
      type Stats = { pending: number; oldestCreateAt: number | null } | undefined;
      let last: Promise<Stats> | undefined;
      const read = (): Promise<Stats> => outbox().catch(() => undefined);
      new Gauge({
        name: "chat_webhook_outbox_pending",
        help: "Webhook deliveries pending in the outbox (every node's)",
        registers,
        async collect() {
          last = read();
          const stats = await last;
          if (stats) this.set(stats.pending);
        },
      });
      new Gauge({
        name: "chat_webhook_outbox_oldest_pending_seconds",
        help: "Age of the event of the oldest pending webhook delivery (0 when none)",
        registers,
        async collect() {
          const stats = await (last ?? read());
          last = undefined;
          if (stats) this.set(stats.oldestCreateAt === null ? 0 : Math.max(0, (now() - stats.oldestCreateAt) / 1000));
        },
      });
    }
  }

  /** Messages this node accepted since it started (the admin console's messages-per-minute chart). */
  acceptedCount = 0;

  messageAccepted(message: StoredMessage): void {
    this.acceptedCount += 1;
    this.accepted.inc({ message_type: message.messageType, media_type: message.mediaType });
  }

  delivered(sockets: number): void {
    if (sockets > 0) this.deliveries.inc(sockets);
  }

  rejected(code: ErrorCode): void {
    this.rejections.inc({ code });
  }

  acked(event: string, seconds: number): void {
    this.ackLatency.observe({ event }, seconds);
  }

  /** One group commit; one without messages (new users only, say) counts in the latency alone. */
  committed(milliseconds: number, messages: number): void {
    this.commitLatency.observe(milliseconds / 1000);
    if (messages > 0) this.commitBatch.observe(messages);
  }

  pushed(route: "/api/push" | "/send"): void {
    this.pushes.inc({ route });
  }

  /** Counts one failure of background work; `task` is a small fixed set (e.g. `search-index`, `worker`). */
  backgroundError(task: string): void {
    this.backgroundErrors.inc({ task });
  }

  /** Counts one webhook attempt's outcome. */
  webhookAttempt(status: "delivered" | "retry" | "failed"): void {
    this.webhookAttempts.inc({ status });
  }
}
