/*
 * The webhook event types (section 13 of the contract), apart from shared/webhooks.ts so that the web client's
 * admin console can list them without bundling zod.
 */

/** Every event type a webhook endpoint can receive, in the order the contract lists them. */
export const WEBHOOK_EVENT_TYPES = [
  "message.created",
  "message.updated",
  "message.deleted",
  "user.created",
  "user.online",
  "user.offline",
  "room.created",
  "room.deleted",
  "room.member",
] as const;

/** One event type. */
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];
