import { z } from "zod";
import type { Room, RoomMemberChange, RoomRole, StoredMessage, User } from "./schemas.js";
import { WEBHOOK_EVENT_TYPES, type WebhookEventType } from "./webhook-events.js";

/*
 * Webhooks (section 13 of the contract): the event types, what each carries, and the admin API's bodies and
 * answers. The server signs and sends; `client/webhooks.ts` verifies on the receiver's side.
 */

export { WEBHOOK_EVENT_TYPES, type WebhookEventType };

/**
 * What `room.member` carries: a change of `room:member` (`by`: who made it, when not the subject itself; a
 * moderator's or an admin's `kicked`, `banned`, `role`, `muted` and `unmuted` carry it).
 */
export interface WebhookRoomMember {
  roomId: string;
  userId: string;
  change: RoomMemberChange["change"];
  /** `role`: the subject's new role. */
  role?: RoomRole;
  /** `muted`: when the mute ends (ms since the epoch). */
  until?: number;
  by?: string;
}

/** The `data` of each event type. */
export interface WebhookEventData {
  "message.created": { message: StoredMessage };
  /** An edit or a reaction (the message's `rev` moved). */
  "message.updated": { message: StoredMessage };
  /** The tombstone. */
  "message.deleted": { message: StoredMessage };
  "user.created": { user: User };
  /** `at`: when the user's first socket connected. */
  "user.online": { userId: string; at: number };
  /** `at`: when the user's last socket went away (the event is sent once the grace has passed). */
  "user.offline": { userId: string; at: number };
  "room.created": { room: Room };
  "room.deleted": { room: Room };
  "room.member": WebhookRoomMember;
}

/**
 * The JSON body of a webhook request. `id` equals the `webhook-id` header and stays the same on every retry;
 * `timestamp` is when the event was created (ISO 8601); `seq` increases strictly in the order events were
 * created (events of one conversation are created in order), so a receiver can order what it got.
 */
export type WebhookEvent = {
  [T in WebhookEventType]: { id: string; type: T; timestamp: string; seq: number; data: WebhookEventData[T] };
}[WebhookEventType];

/** Most endpoints the admin API keeps (besides the one of `WEBHOOK_URL`). */
export const MAX_WEBHOOK_ENDPOINTS = 100;

const eventTypeSchema = z.enum(WEBHOOK_EVENT_TYPES);

/** `POST /api/admin/webhooks`: where to send, and which events (absent: every event, new types included). */
export const webhookCreateSchema = z.object({
  // A refinement, not z.url(): its JSON Schema `format: uri` is one the OpenAPI checks' Ajv does not know.
  url: z
    .string()
    .max(2000)
    .refine((url) => URL.canParse(url) && /^https?:$/.test(new URL(url).protocol), "expected an HTTP or HTTPS URL")
    .meta({ description: "an HTTP or HTTPS URL (where the events are POSTed)" }),
  events: z
    .array(eventTypeSchema)
    .min(1)
    .max(WEBHOOK_EVENT_TYPES.length * 2)
    .transform((types) => [...new Set(types)])
    .optional(),
});
/** What `POST /api/admin/webhooks` takes. */
export type WebhookCreate = z.infer<typeof webhookCreateSchema>;

/** An endpoint as the admin API lists it (never its secret). */
export const webhookSchema = z.object({
  id: z.string(),
  url: z.string(),
  /** The event types sent to it; null: every event. */
  events: z.array(eventTypeSchema).nullable(),
  /** `env`: the endpoint of `WEBHOOK_URL` (change it there); `api`: made with `POST /api/admin/webhooks`. */
  source: z.enum(["env", "api"]),
  createdAt: z.number(),
});
/** An endpoint as the admin API lists it. */
export type Webhook = z.infer<typeof webhookSchema>;

/** Answer of `POST /api/admin/webhooks`: the endpoint and its signing secret, shown this once. */
export const webhookCreatedSchema = z.object({
  id: z.string(),
  url: z.string(),
  events: z.array(eventTypeSchema).nullable(),
  /** `whsec_<base64>`: the receiver verifies with it (the HMAC key is the decoded part). */
  secret: z.string().regex(/^whsec_[A-Za-z0-9+/]+={0,2}$/),
});
/** Answer of `POST /api/admin/webhooks`. */
export type WebhookCreated = z.infer<typeof webhookCreatedSchema>;

/** Answer of `GET /api/admin/webhooks`. */
export const webhookListSchema = z.object({ webhooks: z.array(webhookSchema) });

/** The state of one event's delivery to one endpoint. */
export const webhookDeliverySchema = z.object({
  eventId: z.string(),
  type: eventTypeSchema,
  /** Attempts made so far (a manual retry adds one more). */
  attempts: z.int().min(0),
  status: z.enum(["pending", "delivered", "failed"]),
  /** The HTTP status of the last attempt, when it got an answer. */
  lastStatusCode: z.int().optional(),
  /** Why the last attempt got no answer (timeout, connection refused, ...). */
  lastError: z.string().optional(),
  /** When the next attempt is due (pending only; ms since the epoch). */
  nextAttemptAt: z.number().optional(),
});
/** One delivery as the admin API shows it. */
export type WebhookDelivery = z.infer<typeof webhookDeliverySchema>;

/** Answer of `GET /api/admin/webhooks/:id/deliveries`: newest event first. */
export const webhookDeliveriesSchema = z.object({ deliveries: z.array(webhookDeliverySchema) });

/** Query of `GET /api/admin/webhooks/:id/deliveries`. */
export const webhookDeliveriesQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(100).meta({ description: "1..500, default 100" }),
});

/** Path of the routes of one endpoint. */
export const webhookParamsSchema = z.object({ id: z.string().min(1).max(64) });

/** Path of the retry route. */
export const webhookDeliveryParamsSchema = z.object({
  id: z.string().min(1).max(64),
  eventId: z.string().min(1).max(64),
});
