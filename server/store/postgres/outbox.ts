import type pg from "pg";
import type { WebhookDelivery, WebhookEventType } from "../../../shared/webhooks.js";
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
import type { PgDatabase } from "./db.js";
import { markDeliveriesWritten, onDeliveriesCommitted, query, rollback, transaction } from "./db.js";

/**
 * Writes events in order (`n`) and, for each, one pending delivery per endpoint subscribed to its type, due at
 * once; an event no endpoint subscribed to is not written. One statement, whatever the number of events.
 */
const EMIT = `
  WITH input AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[]) WITH ORDINALITY AS i (id, type, create_at, data, n)),
  subscribed AS (
    SELECT input.n, w.id AS endpoint_id FROM input
    JOIN webhook_endpoints w ON w.events IS NULL OR input.type = ANY (w.events)),
  written AS (
    INSERT INTO webhook_events (id, type, create_at, data)
    SELECT id, type, create_at, data FROM input WHERE n IN (SELECT n FROM subscribed) ORDER BY n
    RETURNING seq, id, create_at)
  INSERT INTO webhook_deliveries (endpoint_id, event_seq, status, next_attempt_at, update_at)
  SELECT subscribed.endpoint_id, written.seq, 'pending', written.create_at, written.create_at
  FROM written JOIN input ON input.id = written.id JOIN subscribed ON subscribed.n = input.n`;

/**
 * Writes webhook events into the outbox inside the caller's open transaction (section 13), so that each event
 * exists exactly when the change that causes it does: one row per event (its `seq` from a sequence, taken
 * in `events`' order) and one pending delivery per endpoint subscribed to its type; nothing for a type no
 * endpoint subscribed to. Call it after the change's own writes (and, for a message change, after taking its
 * rev, so that seqs follow revs).
 * @example
 * await transaction(pool, async (client) => {
 *   await query(client, "DELETE FROM room_members WHERE room_id = $1 AND user_id = $2", [roomId, userId]);
 *   await emitEvents(client, [{ type: "room.member", at, data: { roomId, userId, change: "kicked", by } }]);
 * });
 */
export async function emitEvents(client: pg.PoolClient, events: readonly OutboxEvent[]): Promise<void> {
  if (events.length === 0) return;
  const written = await query(client, EMIT, [
    events.map(() => newEventId()),
    events.map((event) => event.type),
    events.map((event) => event.at),
    events.map((event) => JSON.stringify(event.data)),
  ]);
  if ((written.rowCount ?? 0) > 0) markDeliveriesWritten(client);
}

/**
 * Claims, per endpoint, the first `n` due pending deliveries that no other node is claiming (SKIP LOCKED),
 * and leases them: attempts + 1, not due again before `$4`. The row locks last only for this statement; the
 * lease is what keeps other nodes off afterwards (one whose statement started earlier re-checks the due time
 * of a row updated meanwhile, and skips it).
 */
const CLAIM = `
  WITH wanted AS (SELECT * FROM unnest($1::text[], $2::int[]) AS w (endpoint_id, n)),
  picked AS (
    SELECT due.endpoint_id, due.event_seq FROM wanted CROSS JOIN LATERAL (
      SELECT endpoint_id, event_seq FROM webhook_deliveries
      WHERE endpoint_id = wanted.endpoint_id AND status = 'pending' AND next_attempt_at <= $3
      ORDER BY next_attempt_at, event_seq LIMIT wanted.n FOR UPDATE SKIP LOCKED) due)
  UPDATE webhook_deliveries d SET attempts = d.attempts + 1, next_attempt_at = $4, update_at = $3
  FROM picked, webhook_events e
  WHERE d.endpoint_id = picked.endpoint_id AND d.event_seq = picked.event_seq AND e.seq = d.event_seq
  RETURNING d.endpoint_id, d.event_seq, d.attempts, e.id, e.type, e.create_at, e.data`;

/** A claimed row. */
interface ClaimRow {
  endpoint_id: string;
  event_seq: number;
  attempts: number;
  id: string;
  type: string;
  create_at: number;
  data: string;
}

/** Webhook endpoints and deliveries on PostgreSQL, claimed by any number of nodes at once. */
export class PgWebhooks implements WebhookRepository {
  constructor(private readonly db: PgDatabase) {}

  async createWebhook(endpoint: WebhookEndpointRecord, max: number): Promise<boolean> {
    return transaction(this.db.pool, async (client) => {
      // Creations take turns on the table's lock, so parallel ones on any nodes cannot pass the bound.
      await query(client, "LOCK TABLE webhook_endpoints IN SHARE ROW EXCLUSIVE MODE");
      const count = await query<{ n: number }>(client, "SELECT COUNT(*) AS n FROM webhook_endpoints");
      if (count.rows[0]!.n >= max) return rollback(false);
      await query(
        client,
        "INSERT INTO webhook_endpoints (id, url, secret, events, create_at) VALUES ($1, $2, $3, $4, $5)",
        endpointValues(endpoint),
      );
      return true;
    });
  }

  async putWebhook(endpoint: WebhookEndpointRecord): Promise<void> {
    await query(
      this.db.pool,
      `INSERT INTO webhook_endpoints (id, url, secret, events, create_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (id) DO UPDATE SET url = excluded.url, secret = excluded.secret, events = excluded.events`,
      endpointValues(endpoint),
    );
  }

  async webhooks(): Promise<WebhookEndpointRecord[]> {
    const rows = await query<EndpointRow>(this.db.pool, "SELECT * FROM webhook_endpoints ORDER BY create_at, id");
    return rows.rows.map(toEndpoint);
  }

  async deleteWebhook(id: string): Promise<boolean> {
    return (await query(this.db.pool, "DELETE FROM webhook_endpoints WHERE id = $1", [id])).rowCount === 1;
  }

  async recordEvent(event: OutboxEvent): Promise<void> {
    await transaction(this.db.pool, (client) => emitEvents(client, [event]));
  }

  async usersLeftOnline(): Promise<string[]> {
    const rows = await query<{ id: string }>(this.db.pool, LEFT_ONLINE_SQL.replaceAll("$DATA", "data::json"));
    return rows.rows.map((row) => row.id);
  }

  observeDeliveries(listener: () => void): void {
    onDeliveriesCommitted(this.db.pool, listener);
  }

  async claimDeliveries(
    wanted: readonly { endpointId: string; limit: number }[],
    now: number,
    leaseUntil: number,
  ): Promise<ClaimedDelivery[]> {
    const some = wanted.filter((entry) => entry.limit > 0);
    if (some.length === 0) return [];
    const rows = await query<ClaimRow>(this.db.pool, CLAIM, [
      some.map((entry) => entry.endpointId),
      some.map((entry) => entry.limit),
      now,
      leaseUntil,
    ]);
    return rows.rows
      .map((row): ClaimedDelivery => ({
        endpointId: row.endpoint_id,
        seq: row.event_seq,
        eventId: row.id,
        type: row.type as WebhookEventType,
        createAt: row.create_at,
        data: row.data,
        attempts: row.attempts,
      }))
      .sort((a, b) => a.seq - b.seq);
  }

  async settleDelivery(endpointId: string, seq: number, outcome: DeliveryOutcome): Promise<void> {
    if (outcome.kind === "released") {
      await query(
        this.db.pool,
        `UPDATE webhook_deliveries SET attempts = GREATEST(attempts - 1, 0), next_attempt_at = $1, update_at = $1
         WHERE endpoint_id = $2 AND event_seq = $3 AND status = 'pending'`,
        [outcome.at, endpointId, seq],
      );
      return;
    }
    await query(
      this.db.pool,
      `UPDATE webhook_deliveries SET status = $1, next_attempt_at = $2, last_status_code = $3, last_error = $4,
         update_at = $5
       WHERE endpoint_id = $6 AND event_seq = $7 AND status = 'pending'`,
      [...settleValues(outcome), endpointId, seq],
    );
  }

  async deliveries(endpointId: string, limit: number): Promise<WebhookDelivery[]> {
    const rows = await query<DeliveryRow>(
      this.db.pool,
      `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN webhook_events e ON e.seq = d.event_seq
       WHERE d.endpoint_id = $1 ORDER BY d.event_seq DESC LIMIT $2`,
      [endpointId, limit],
    );
    return rows.rows.map(toDelivery);
  }

  async retryDelivery(endpointId: string, eventId: string, now: number): Promise<WebhookDelivery | undefined> {
    const rows = await query<DeliveryRow>(
      this.db.pool,
      `UPDATE webhook_deliveries d SET status = 'pending', next_attempt_at = $3, update_at = $3
       FROM webhook_events e WHERE e.id = $2 AND d.event_seq = e.seq AND d.endpoint_id = $1
       RETURNING ${DELIVERY_COLUMNS}`,
      [endpointId, eventId, now],
    );
    return rows.rows[0] && toDelivery(rows.rows[0]);
  }

  async pruneDeliveries(before: number, limit: number): Promise<number> {
    return transaction(this.db.pool, async (client) => {
      const pruned = await query(
        client,
        `DELETE FROM webhook_deliveries WHERE (endpoint_id, event_seq) IN (SELECT endpoint_id, event_seq
           FROM webhook_deliveries WHERE status <> 'pending' AND update_at < $1 LIMIT $2)`,
        [before, limit],
      );
      await query(
        client,
        `DELETE FROM webhook_events WHERE seq IN (SELECT seq FROM webhook_events e WHERE e.create_at < $1
           AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_seq = e.seq) LIMIT $2)`,
        [before, limit],
      );
      return pruned.rowCount ?? 0;
    });
  }

  async outboxStats(): Promise<{ pending: number; oldestCreateAt: number | null }> {
    const rows = await query<{ pending: number; oldest: number | null }>(
      this.db.pool,
      `SELECT COUNT(*) AS pending, MIN(e.create_at) AS oldest FROM webhook_deliveries d
       JOIN webhook_events e ON e.seq = d.event_seq WHERE d.status = 'pending'`,
    );
    return { pending: rows.rows[0]!.pending, oldestCreateAt: rows.rows[0]!.oldest };
  }
}

/** An endpoint's column values, in INSERT order. */
function endpointValues(endpoint: WebhookEndpointRecord): unknown[] {
  return [endpoint.id, endpoint.url, endpoint.secret, endpoint.events, endpoint.createAt];
}
