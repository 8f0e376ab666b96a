import type Database from "better-sqlite3";
import {
  DELIVERY_COLUMNS,
  LEFT_ONLINE_SQL,
  newEventId,
  settleValues,
  toDelivery,
  toEndpoint,
  type DeliveryRow,
  type EndpointRow,
} from "../outbox.js";
import type {
  ClaimedDelivery,
  DeliveryOutcome,
  OutboxEvent,
  WebhookEndpointRecord,
  WebhookRepository,
} from "../types.js";
import type { WebhookDelivery, WebhookEventType } from "../../../shared/webhooks.js";

/**
 * Writes webhook events into the outbox from inside a transaction of the change that causes them (section 13).
 * @example
 * db.transaction(() => {
 *   kick.run(roomId, userId);
 *   outbox.add({ type: "room.member", at, data: { roomId, userId, change: "kicked", by } });
 * })();
 */
export interface SqliteOutbox {
  /**
   * Writes `event` and one pending delivery per endpoint subscribed to its type, due at once; writes nothing
   * when no endpoint is. Call it inside the `db.transaction` of the change, so that the event exists exactly
   * when the change does.
   */
  add(event: OutboxEvent): void;
  /** Whether any endpoint is subscribed to events of `type` (from memory once asked). */
  wanted(type: OutboxEvent["type"]): boolean;
  /**
   * Forgets which endpoints are subscribed to what: call it after any write to `webhook_endpoints` (this
   * process is the only writer of its database, so nothing else can change them).
   */
  endpointsChanged(): void;
  /**
   * Calls `listener` once after the transactions of this turn that wrote deliveries have ended (a transaction
   * here is synchronous, so it has committed or rolled back by then; a rolled-back one costs a spurious call).
   */
  observe(listener: () => void): void;
}

/** The endpoints subscribed to type `?` (every endpoint without a filter, and those whose filter names it). */
const SUBSCRIBED = `SELECT id FROM webhook_endpoints
  WHERE events IS NULL OR EXISTS (SELECT 1 FROM json_each(webhook_endpoints.events) WHERE value = @type)`;

/** Prepares the outbox writer on `db` (one per store, shared by its repositories through the context). */
export function prepareOutbox(db: Database.Database): SqliteOutbox {
  const subscribedRows = db.prepare<{ type: string }, string>(SUBSCRIBED).pluck();
  // Every stored message and every connect asks this; endpoints change a few times in a server's life. Kept
  // per type until an endpoint is written (`endpointsChanged`), so a handshake or a message asks no SQL for it.
  let byType = new Map<string, readonly string[]>();
  const subscribed = (type: string): readonly string[] => {
    let endpoints = byType.get(type);
    if (endpoints === undefined) {
      endpoints = subscribedRows.all({ type });
      byType.set(type, endpoints);
    }
    return endpoints;
  };
  const insertEvent = db
    .prepare<[string, string, number, string], number>(
      "INSERT INTO webhook_events (id, type, create_at, data) VALUES (?, ?, ?, ?) RETURNING seq",
    )
    .pluck();
  const insertDelivery = db.prepare<[string, number, number, number]>(
    `INSERT INTO webhook_deliveries (endpoint_id, event_seq, status, next_attempt_at, update_at)
     VALUES (?, ?, 'pending', ?, ?)`,
  );
  let listener: (() => void) | undefined;
  let told = false;
  const tell = () => {
    told = false;
    listener?.();
  };
  return {
    wanted: (type) => subscribed(type).length > 0,
    endpointsChanged() {
      byType = new Map();
    },
    add(event) {
      // Nothing when nobody subscribed: no event row, no JSON.
      const endpoints = subscribed(event.type);
      if (endpoints.length === 0) return;
      const seq = insertEvent.get(newEventId(), event.type, event.at, JSON.stringify(event.data))!;
      for (const endpoint of endpoints) insertDelivery.run(endpoint, seq, event.at, event.at);
      if (!told && listener) {
        told = true;
        setImmediate(tell);
      }
    },
    observe(next) {
      listener = next;
    },
  };
}

/** A claimed row: the delivery's key and attempts with its event. */
interface ClaimRow {
  event_seq: number;
  attempts: number;
  id: string;
  type: string;
  create_at: number;
  data: string;
}

/** Webhook endpoints and deliveries in SQLite; this store's process is the only sender, so a claim needs no lock. */
export class SqliteWebhooks implements WebhookRepository {
  private readonly statements;

  constructor(
    private readonly db: Database.Database,
    private readonly outbox: SqliteOutbox,
  ) {
    this.statements = {
      count: db.prepare<[], number>("SELECT COUNT(*) FROM webhook_endpoints").pluck(),
      insert: db.prepare<[string, string, string, string | null, number]>(
        "INSERT INTO webhook_endpoints (id, url, secret, events, create_at) VALUES (?, ?, ?, ?, ?)",
      ),
      upsert: db.prepare<[string, string, string, string | null, number]>(
        `INSERT INTO webhook_endpoints (id, url, secret, events, create_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET url = excluded.url, secret = excluded.secret, events = excluded.events`,
      ),
      all: db.prepare<[], EndpointRow>("SELECT * FROM webhook_endpoints ORDER BY create_at, id"),
      leftOnline: db.prepare<[], string>(LEFT_ONLINE_SQL.replaceAll("$DATA", "data")).pluck(),
      delete: db.prepare<[string]>("DELETE FROM webhook_endpoints WHERE id = ?"),
      due: db.prepare<[string, number, number], ClaimRow>(
        `SELECT d.event_seq, d.attempts, e.id, e.type, e.create_at, e.data
         FROM webhook_deliveries d JOIN webhook_events e ON e.seq = d.event_seq
         WHERE d.endpoint_id = ? AND d.status = 'pending' AND d.next_attempt_at <= ?
         ORDER BY d.next_attempt_at, d.event_seq LIMIT ?`,
      ),
      claim: db.prepare<[number, number, string, number]>(
        `UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = ?, update_at = ?
         WHERE endpoint_id = ? AND event_seq = ?`,
      ),
      settle: db.prepare<[string, number | null, number | null, string | null, number, string, number]>(
        `UPDATE webhook_deliveries SET status = ?, next_attempt_at = ?, last_status_code = ?, last_error = ?,
           update_at = ?
         WHERE endpoint_id = ? AND event_seq = ? AND status = 'pending'`,
      ),
      release: db.prepare<[number, number, string, number]>(
        `UPDATE webhook_deliveries SET attempts = MAX(attempts - 1, 0), next_attempt_at = ?, update_at = ?
         WHERE endpoint_id = ? AND event_seq = ? AND status = 'pending'`,
      ),
      list: db.prepare<[string, number], DeliveryRow>(
        `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN webhook_events e ON e.seq = d.event_seq
         WHERE d.endpoint_id = ? ORDER BY d.event_seq DESC LIMIT ?`,
      ),
      retry: db.prepare<[number, number, string, string]>(
        `UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = ?, update_at = ?
         WHERE endpoint_id = ? AND event_seq = (SELECT seq FROM webhook_events WHERE id = ?)`,
      ),
      one: db.prepare<[string, string], DeliveryRow>(
        `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN webhook_events e ON e.seq = d.event_seq
         WHERE d.endpoint_id = ? AND e.id = ?`,
      ),
      pruneDeliveries: db.prepare<[number, number]>(
        `DELETE FROM webhook_deliveries WHERE (endpoint_id, event_seq) IN (SELECT endpoint_id, event_seq
           FROM webhook_deliveries WHERE status <> 'pending' AND update_at < ? LIMIT ?)`,
      ),
      pruneEvents: db.prepare<[number, number]>(
        `DELETE FROM webhook_events WHERE seq IN (SELECT seq FROM webhook_events e WHERE e.create_at < ?
           AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_seq = e.seq) LIMIT ?)`,
      ),
      stats: db.prepare<[], { pending: number; oldest: number | null }>(
        `SELECT COUNT(*) AS pending, MIN(e.create_at) AS oldest FROM webhook_deliveries d
         JOIN webhook_events e ON e.seq = d.event_seq WHERE d.status = 'pending'`,
      ),
    };
  }

  async createWebhook(endpoint: WebhookEndpointRecord, max: number): Promise<boolean> {
    // The count and the insert are one transaction: parallel creations cannot pass the bound.
    try {
      return this.db.transaction(() => {
        if (this.statements.count.get()! >= max) return false;
        this.statements.insert.run(...endpointValues(endpoint));
        return true;
      })();
    } finally {
      this.outbox.endpointsChanged();
    }
  }

  async putWebhook(endpoint: WebhookEndpointRecord): Promise<void> {
    try {
      this.statements.upsert.run(...endpointValues(endpoint));
    } finally {
      this.outbox.endpointsChanged();
    }
  }

  async webhooks(): Promise<WebhookEndpointRecord[]> {
    return this.statements.all.all().map(toEndpoint);
  }

  async deleteWebhook(id: string): Promise<boolean> {
    try {
      return this.statements.delete.run(id).changes > 0;
    } finally {
      this.outbox.endpointsChanged();
    }
  }

  async recordEvent(event: OutboxEvent): Promise<void> {
    // Most servers have no endpoint for presence events: then this is one read, with no transaction around it.
    if (this.outbox.wanted(event.type)) this.db.transaction(() => this.outbox.add(event))();
  }

  async usersLeftOnline(): Promise<string[]> {
    return this.statements.leftOnline.all();
  }

  observeDeliveries(listener: () => void): void {
    this.outbox.observe(listener);
  }

  async claimDeliveries(
    wanted: readonly { endpointId: string; limit: number }[],
    now: number,
    leaseUntil: number,
  ): Promise<ClaimedDelivery[]> {
    return this.db
      .transaction(() =>
        wanted.flatMap(({ endpointId, limit }) => {
          if (limit <= 0) return [];
          return this.statements.due.all(endpointId, now, limit).map((row): ClaimedDelivery => {
            this.statements.claim.run(leaseUntil, now, endpointId, row.event_seq);
            return {
              endpointId,
              seq: row.event_seq,
              eventId: row.id,
              type: row.type as WebhookEventType,
              createAt: row.create_at,
              data: row.data,
              attempts: row.attempts + 1,
            };
          });
        }),
      )()
      .sort((a, b) => a.seq - b.seq);
  }

  async settleDelivery(endpointId: string, seq: number, outcome: DeliveryOutcome): Promise<void> {
    if (outcome.kind === "released") this.statements.release.run(outcome.at, outcome.at, endpointId, seq);
    else this.statements.settle.run(...settleValues(outcome), endpointId, seq);
  }

  async deliveries(endpointId: string, limit: number): Promise<WebhookDelivery[]> {
    return this.statements.list.all(endpointId, limit).map(toDelivery);
  }

  async retryDelivery(endpointId: string, eventId: string, now: number): Promise<WebhookDelivery | undefined> {
    if (this.statements.retry.run(now, now, endpointId, eventId).changes === 0) return undefined;
    return toDelivery(this.statements.one.get(endpointId, eventId)!);
  }

  async pruneDeliveries(before: number, limit: number): Promise<number> {
    return this.db.transaction(() => {
      const pruned = this.statements.pruneDeliveries.run(before, limit).changes;
      this.statements.pruneEvents.run(before, limit);
      return pruned;
    })();
  }

  async outboxStats(): Promise<{ pending: number; oldestCreateAt: number | null }> {
    const row = this.statements.stats.get()!;
    return { pending: row.pending, oldestCreateAt: row.oldest };
  }
}

/** An endpoint's column values, in INSERT order. */
function endpointValues(endpoint: WebhookEndpointRecord): [string, string, string, string | null, number] {
  const events = endpoint.events === null ? null : JSON.stringify(endpoint.events);
  return [endpoint.id, endpoint.url, endpoint.secret, events, endpoint.createAt];
}
