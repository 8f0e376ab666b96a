import { randomBytes } from "node:crypto";
import type { WebhookDelivery, WebhookEventType, WebhookRoomMember } from "../../shared/webhooks.js";
import type { ModerationActor } from "./moderation.js";
import type { DeliveryOutcome, OutboxEvent, WebhookEndpointRecord } from "./types.js";

/*
 * What both stores' outboxes share: event ids, and the mapping of endpoint and delivery rows.
 */

/**
 * A new event id (`evt_` and 22 random base64url characters): the `webhook-id` receivers deduplicate with, so
 * random rather than the seq, which a restored backup or a new database would hand out again.
 */
export const newEventId = (): string => `evt_${randomBytes(16).toString("base64url")}`;

/**
 * The `room.member` event of a moderation action on a member, at the action's time: the change and the fields
 * its `room:member` carries (`role`, `until`), and `by`, the actor, unless it acted on itself (an admin may
 * give itself a role).
 */
export function moderatedMember(
  roomId: string,
  userId: string,
  change: Pick<WebhookRoomMember, "change" | "role" | "until">,
  by: ModerationActor,
): OutboxEvent {
  const data: WebhookRoomMember = { roomId, userId, ...change };
  if (by.userId !== userId) data.by = by.userId;
  return { type: "room.member", at: by.at, data };
}

/** An endpoint row; `events` is a JSON array (SQLite) or an array (PostgreSQL), null for every type. */
export interface EndpointRow {
  id: string;
  url: string;
  secret: string;
  events: string | string[] | null;
  create_at: number;
}

/** An endpoint row as the repository answers it. */
export function toEndpoint(row: EndpointRow): WebhookEndpointRecord {
  const events = typeof row.events === "string" ? (JSON.parse(row.events) as string[]) : row.events;
  return {
    id: row.id,
    url: row.url,
    secret: row.secret,
    events: events as WebhookEventType[] | null,
    createAt: row.create_at,
  };
}

/** A delivery row joined with its event's id and type. */
export interface DeliveryRow {
  event_id: string;
  type: string;
  attempts: number;
  status: "pending" | "delivered" | "failed";
  last_status_code: number | null;
  last_error: string | null;
  next_attempt_at: number | null;
}

/** The columns of a DeliveryRow, deliveries aliased `d` and events `e`. */
export const DELIVERY_COLUMNS =
  "e.id AS event_id, e.type, d.attempts, d.status, d.last_status_code, d.last_error, d.next_attempt_at";

/** A delivery row as the admin API shows it. */
export function toDelivery(row: DeliveryRow): WebhookDelivery {
  const delivery: WebhookDelivery = {
    eventId: row.event_id,
    type: row.type as WebhookEventType,
    attempts: row.attempts,
    status: row.status,
  };
  if (row.last_status_code !== null) delivery.lastStatusCode = row.last_status_code;
  if (row.last_error !== null) delivery.lastError = row.last_error;
  if (row.status === "pending" && row.next_attempt_at !== null) delivery.nextAttemptAt = row.next_attempt_at;
  return delivery;
}

/**
 * The columns a settled attempt writes, in the order both stores' SETTLE statements take them: status,
 * next_attempt_at, last_status_code, last_error, update_at. (A released attempt has a statement of its own.)
 */
export function settleValues(
  outcome: Exclude<DeliveryOutcome, { kind: "released" }>,
): [status: string, nextAttemptAt: number | null, code: number | null, error: string | null, at: number] {
  switch (outcome.kind) {
    case "delivered":
      return ["delivered", null, outcome.statusCode, null, outcome.at];
    case "retry":
      return ["pending", outcome.nextAttemptAt, outcome.statusCode ?? null, outcome.error ?? null, outcome.at];
    case "failed":
      return ["failed", null, outcome.statusCode ?? null, outcome.error ?? null, outcome.at];
  }
}

/**
 * The users a single node left online when it was killed, by id: those whose newest presence event in the
 * outbox is `user.online` and later than their stored last-seen time (a clean offline, and a clean shutdown,
 * always write last seen; an endpoint subscribed to `user.online` alone leaves no offline events). `$DATA` is
 * the event's data as JSON in the store's SQL (each store substitutes it; `->>` reads it in both).
 */
export const LEFT_ONLINE_SQL = `
  SELECT u.id FROM (
    SELECT $DATA->>'userId' AS user_id, MAX(seq) AS seq FROM webhook_events
    WHERE type IN ('user.online', 'user.offline') GROUP BY $DATA->>'userId'
  ) newest
  JOIN webhook_events e ON e.seq = newest.seq
  JOIN users u ON u.id = newest.user_id
  WHERE e.type = 'user.online' AND (u.last_seen_at IS NULL OR u.last_seen_at < e.create_at)
  ORDER BY u.id`;
