import { z } from "zod";
import {
  adminFlagSchema,
  adminRoomMessagesQuerySchema,
  adminRoomsQuerySchema,
  adminSessionsQuerySchema,
  adminSessionsSchema,
  adminStatsSchema,
  adminUserSchema,
  adminUsersQuerySchema,
  adminUsersSchema,
  healthSchema,
  readySchema,
  versionSchema,
} from "../../shared/http.js";
import {
  authResponseSchema,
  credentialsSchema,
  legacySendSchema,
  loginSchema,
  logoutSchema,
  passwordChangeSchema,
  passwordResetSchema,
  pushResponseSchema,
  pushSchema,
  roomSchema,
  storedMessageSchema,
  uploadedFileSchema,
  userSchema,
} from "../../shared/schemas.js";
import { fileParamsSchema } from "../files/routes.js";
import type { RouteDoc } from "./openapi.js";
import {
  webhookCreatedSchema,
  webhookCreateSchema,
  webhookDeliveriesQuerySchema,
  webhookDeliveriesSchema,
  webhookDeliveryParamsSchema,
  webhookDeliverySchema,
  webhookListSchema,
  webhookParamsSchema,
} from "../../shared/webhooks.js";

/**
 * The body of `POST /api/files`, for the document only: @fastify/multipart reads it, and the file's type comes
 * from its bytes (server/files/sniff.ts).
 */
const uploadBodySchema = z.object({
  file: z.string().meta({
    contentMediaType: "application/octet-stream",
    description: "the file (one part named `file`); its type is sniffed from its content, never its name",
  }),
});

/** Path parameters naming a user, or a socket. */
const userParamsSchema = z.object({ id: z.string().meta({ description: "the user's id" }) });
const socketParamsSchema = z.object({ socketId: z.string().meta({ description: "the socket's id" }) });

/** The admin API's routes accept the admin key or an admin user's token. */
const ADMIN: RouteDoc["auth"] = ["adminApiKey", "userToken"];
const ADMIN_ERRORS = ["UNAUTHORIZED", "FORBIDDEN"] as const;

/** `POST /api/admin/users/:id/<action>`, answering the user. */
const userAction = (action: string, operationId: string, summary: string, body?: z.ZodType): RouteDoc => ({
  method: "POST",
  url: `/api/admin/users/:id/${action}`,
  operationId,
  tag: "admin",
  summary,
  auth: ADMIN,
  params: userParamsSchema,
  ...(body ? { body: { schema: body, contentTypes: ["application/json"], required: true } } : {}),
  responses: { 200: { description: "the user now", schema: adminUserSchema } },
  errors: [...ADMIN_ERRORS, "NOT_FOUND", ...(body ? (["INVALID_PAYLOAD"] as const) : [])],
});

/**
 * Every HTTP route of the server, with the zod schemas it parses its input with and answers with: the source of
 * `GET /api/openapi.json` and `GET /api/docs`. test/openapi.test.ts checks that it lists exactly the routes
 * fastify has and that real answers match it. Details beyond the schemas are in docs/protocol.md.
 */
export const API_ROUTES: readonly RouteDoc[] = [
  {
    method: "POST",
    url: "/api/auth/register",
    operationId: "register",
    tag: "auth",
    summary: "Creates a built-in account and answers a token for it.",
    description:
      "The user's id and name are the username in lower case. Rate limited per client address " +
      "(RATE_LIMIT_AUTH_PER_MIN); 403 when built-in accounts are off (JWT_PUBLIC_KEY is set).",
    body: { schema: credentialsSchema, contentTypes: ["application/json"], required: true },
    responses: { 201: { description: "the account was created", schema: authResponseSchema } },
    errors: ["INVALID_PAYLOAD", "FORBIDDEN", "CONFLICT", "RATE_LIMITED"],
  },
  {
    method: "POST",
    url: "/api/auth/login",
    operationId: "login",
    tag: "auth",
    summary: "Answers a token for a built-in account's username and password.",
    description:
      "A wrong password and an unknown username get the same 401 after the same work. Rate limited per client " +
      "address, and 10 failed logins per username within 15 minutes.",
    body: { schema: loginSchema, contentTypes: ["application/json"], required: true },
    responses: { 200: { description: "logged in", schema: authResponseSchema } },
    errors: ["INVALID_PAYLOAD", "UNAUTHORIZED", "FORBIDDEN", "RATE_LIMITED"],
  },
  {
    method: "GET",
    url: "/api/me",
    operationId: "me",
    tag: "auth",
    summary: "The token's user (created on first sight for an external issuer's token).",
    auth: "userToken",
    responses: { 200: { description: "the user", schema: userSchema } },
    errors: ["UNAUTHORIZED"],
  },
  {
    method: "POST",
    url: "/api/files",
    operationId: "upload",
    tag: "files",
    summary: "Uploads one file; send it in a message with its `fileId`.",
    description:
      "At most MAX_UPLOAD_BYTES, within the user's UPLOAD_QUOTA_BYTES; RATE_LIMIT_UPLOADS_PER_MIN per user. " +
      "PNG, JPEG, GIF and WebP are `image`, everything else `file`.",
    auth: "userToken",
    body: { schema: uploadBodySchema, contentTypes: ["multipart/form-data"], required: true },
    responses: { 201: { description: "the file was stored", schema: uploadedFileSchema } },
    errors: ["INVALID_PAYLOAD", "UNAUTHORIZED", "PAYLOAD_TOO_LARGE", "RATE_LIMITED"],
  },
  {
    method: "GET",
    url: "/files/:id",
    operationId: "download",
    tag: "files",
    summary: "An uploaded file's bytes; the URL is the capability.",
    description:
      "`Content-Type` is the sniffed type; images are served inline, anything else as an attachment, with " +
      "`nosniff` and a sandboxing CSP. 404 for an unknown or malformed id or a removed file.",
    params: fileParamsSchema,
    responses: { 200: { description: "the file's bytes", contentType: "application/octet-stream" } },
    errors: ["NOT_FOUND"],
  },
  {
    method: "POST",
    url: "/api/push",
    operationId: "push",
    tag: "push",
    summary: "Stores a system message to a user, a room's members or everyone, and delivers it now.",
    auth: "pushApiKey",
    body: { schema: pushSchema, contentTypes: ["application/json"], required: true },
    responses: {
      202: { description: "stored; `delivered` counts the sockets reached now", schema: pushResponseSchema },
    },
    errors: ["INVALID_PAYLOAD", "UNAUTHORIZED", "NOT_FOUND"],
  },
  {
    method: "POST",
    url: "/send",
    operationId: "send",
    tag: "push",
    summary: "The push-centre compatible form: a system message to one user.",
    description:
      "`uid` and `message` as query fields, form fields or JSON body fields (body fields win); both are " +
      "required from one place or the other.",
    auth: "pushApiKey",
    query: legacySendSchema.partial(),
    body: {
      schema: legacySendSchema.partial(),
      contentTypes: ["application/x-www-form-urlencoded", "application/json"],
      required: false,
    },
    responses: { 202: { description: "stored", schema: pushResponseSchema } },
    errors: ["INVALID_PAYLOAD", "UNAUTHORIZED", "NOT_FOUND"],
  },
  {
    method: "GET",
    url: "/api/admin/stats",
    operationId: "stats",
    tag: "operations",
    summary: "Who is connected: sockets, users, rooms, group workers and cluster nodes.",
    auth: ADMIN,
    responses: { 200: { description: "the counts", schema: adminStatsSchema } },
    errors: [...ADMIN_ERRORS],
  },
  {
    method: "POST",
    url: "/api/auth/password",
    operationId: "changePassword",
    tag: "auth",
    summary: "Changes a built-in account's password; every token the user held before stops working.",
    description:
      'Answers a new token. Sockets holding the old tokens get `server:notice { reason: "signed-out" }` and ' +
      "are disconnected. A wrong current password is 401 and counts as a failed login.",
    auth: "userToken",
    body: { schema: passwordChangeSchema, contentTypes: ["application/json"], required: true },
    responses: { 200: { description: "changed", schema: authResponseSchema } },
    errors: ["INVALID_PAYLOAD", "UNAUTHORIZED", "FORBIDDEN", "CONFLICT", "RATE_LIMITED"],
  },
  {
    method: "POST",
    url: "/api/auth/logout",
    operationId: "logout",
    tag: "auth",
    summary: "Signs this token out, or with `everywhere` every token of the user issued until now.",
    auth: "userToken",
    body: { schema: logoutSchema, contentTypes: ["application/json"], required: false },
    responses: { 204: { description: "signed out", contentType: "text/plain" } },
    errors: ["INVALID_PAYLOAD", "UNAUTHORIZED", "FORBIDDEN"],
  },
  {
    method: "GET",
    url: "/api/admin/users",
    operationId: "adminUsers",
    tag: "admin",
    summary: "Users by id, filtered by `q` (in the id or the name, without case), in pages.",
    auth: ADMIN,
    query: adminUsersQuerySchema,
    responses: { 200: { description: "one page", schema: adminUsersSchema } },
    errors: [...ADMIN_ERRORS, "INVALID_PAYLOAD"],
  },
  userAction("disable", "disableUser", "Disables an account: no login, no connection; its sockets are closed."),
  userAction("enable", "enableUser", "Enables a disabled account (its earlier tokens stay revoked)."),
  userAction("sign-out", "signOutUser", "Revokes every token of the user issued until now; its sockets are closed."),
  userAction("admin", "setAdmin", "Makes the user an admin, or not.", adminFlagSchema),
  {
    method: "POST",
    url: "/api/admin/users/:id/password",
    operationId: "resetPassword",
    tag: "admin",
    summary: "Sets a new password for the user; every token of the user stops working.",
    auth: ADMIN,
    params: userParamsSchema,
    body: { schema: passwordResetSchema, contentTypes: ["application/json"], required: true },
    responses: { 204: { description: "set", contentType: "text/plain" } },
    errors: [...ADMIN_ERRORS, "NOT_FOUND", "INVALID_PAYLOAD"],
  },
  {
    method: "GET",
    url: "/api/admin/sessions",
    operationId: "adminSessions",
    tag: "admin",
    summary: "Connected sockets on every node (of one user with `user`), by socket id, in pages.",
    auth: ADMIN,
    query: adminSessionsQuerySchema,
    responses: { 200: { description: "one page", schema: adminSessionsSchema } },
    errors: [...ADMIN_ERRORS, "INVALID_PAYLOAD"],
  },
  {
    method: "DELETE",
    url: "/api/admin/sessions/:socketId",
    operationId: "endSession",
    tag: "admin",
    summary: 'Ends one socket, on whichever node it is: it gets `server:notice { reason: "kicked" }`.',
    auth: ADMIN,
    params: socketParamsSchema,
    responses: { 204: { description: "ended", contentType: "text/plain" } },
    errors: [...ADMIN_ERRORS, "NOT_FOUND"],
  },
  {
    method: "GET",
    url: "/api/admin/rooms",
    operationId: "adminRooms",
    tag: "admin",
    summary: "Every room by id, with its member count, in pages.",
    auth: ADMIN,
    query: adminRoomsQuerySchema,
    responses: {
      200: { description: "one page", schema: z.object({ rooms: z.array(roomSchema), hasMore: z.boolean() }) },
    },
    errors: [...ADMIN_ERRORS, "INVALID_PAYLOAD"],
  },
  {
    method: "GET",
    url: "/api/admin/rooms/:id/messages",
    operationId: "adminRoomMessages",
    tag: "admin",
    summary: "A room's newest messages (or those before `before`), ascending by id, tombstones included.",
    auth: ADMIN,
    params: z.object({ id: z.string().meta({ description: "the room's id" }) }),
    query: adminRoomMessagesQuerySchema,
    responses: {
      200: {
        description: "one page",
        schema: z.object({ messages: z.array(storedMessageSchema), hasMore: z.boolean() }),
      },
    },
    errors: [...ADMIN_ERRORS, "INVALID_PAYLOAD", "NOT_FOUND"],
  },
  {
    method: "DELETE",
    url: "/api/admin/messages/:id",
    operationId: "adminDeleteMessage",
    tag: "admin",
    summary: "Deletes any message: answers the tombstone, which everyone who may see the message is sent.",
    auth: ADMIN,
    params: z.object({ id: z.string().meta({ description: "the message's id" }) }),
    responses: { 200: { description: "the tombstone", schema: storedMessageSchema } },
    errors: [...ADMIN_ERRORS, "INVALID_PAYLOAD", "NOT_FOUND"],
  },
  {
    method: "POST",
    url: "/api/admin/notices",
    operationId: "adminNotice",
    tag: "admin",
    summary: "A system message to a user, a room or everyone, as `POST /api/push` with admin credentials.",
    auth: ADMIN,
    body: { schema: pushSchema, contentTypes: ["application/json"], required: true },
    responses: { 202: { description: "stored and sent", schema: pushResponseSchema } },
    errors: [...ADMIN_ERRORS, "INVALID_PAYLOAD", "NOT_FOUND"],
  },
  {
    method: "GET",
    url: "/metrics",
    operationId: "metrics",
    tag: "operations",
    summary: "Prometheus metrics (text format); keep it off the public internet with the proxy.",
    responses: { 200: { description: "the metrics", contentType: "text/plain" } },
  },
  {
    method: "GET",
    url: "/healthz",
    operationId: "health",
    tag: "operations",
    summary: "Liveness.",
    responses: { 200: { description: "the process serves requests", schema: healthSchema } },
  },
  {
    method: "GET",
    url: "/readyz",
    operationId: "ready",
    tag: "operations",
    summary: "Readiness: the database (and Redis, in a cluster) answers and the server is not shutting down.",
    responses: { 200: { description: "ready", schema: readySchema } },
  },
  {
    method: "GET",
    url: "/api/version",
    operationId: "version",
    tag: "operations",
    summary: "The server's version (package.json).",
    responses: { 200: { description: "the version", schema: versionSchema } },
  },
  {
    method: "GET",
    url: "/api/openapi.json",
    operationId: "openapi",
    tag: "reference",
    summary: "This document (OpenAPI 3.1).",
    responses: { 200: { description: "the document", schema: z.looseObject({ openapi: z.literal("3.1.0") }) } },
  },
  {
    method: "GET",
    url: "/api/docs",
    operationId: "docs",
    tag: "reference",
    summary: "This document as a web page.",
    responses: { 200: { description: "the reference page", contentType: "text/html" } },
  },
  {
    method: "GET",
    url: "/admin",
    operationId: "adminConsole",
    tag: "web",
    summary: "The admin console: a page of the web client; sign in there with the admin key or as an admin.",
    responses: { 200: { description: "the web client's page", contentType: "text/html" } },
  },
  {
    method: "GET",
    url: "/",
    operationId: "webClient",
    tag: "web",
    summary: "The web client (its other files are under `/assets/`), or a page saying how to build it.",
    responses: { 200: { description: "the web client's page", contentType: "text/html" } },
  },
  {
    method: "POST",
    url: "/api/admin/webhooks",
    operationId: "createWebhook",
    tag: "webhooks",
    summary: "Subscribes an endpoint to events (all, or those named); answers its signing secret, this once.",
    description:
      "Every event is POSTed to `url` signed with the Standard Webhooks headers (docs/protocol.md, Webhooks). At " +
      "most 100 endpoints (CONFLICT beyond); an unknown event name is INVALID_PAYLOAD.",
    auth: ADMIN,
    body: { schema: webhookCreateSchema, contentTypes: ["application/json"], required: true },
    responses: { 201: { description: "the endpoint, with its secret", schema: webhookCreatedSchema } },
    errors: ["INVALID_PAYLOAD", "UNAUTHORIZED", "FORBIDDEN", "CONFLICT"],
  },
  {
    method: "GET",
    url: "/api/admin/webhooks",
    operationId: "listWebhooks",
    tag: "webhooks",
    summary: "Every endpoint (the one of WEBHOOK_URL too), without secrets.",
    auth: ADMIN,
    responses: { 200: { description: "the endpoints, oldest first", schema: webhookListSchema } },
    errors: ["UNAUTHORIZED", "FORBIDDEN"],
  },
  {
    method: "DELETE",
    url: "/api/admin/webhooks/:id",
    operationId: "deleteWebhook",
    tag: "webhooks",
    summary: "Removes an endpoint and its deliveries, pending ones included.",
    description: "The endpoint of WEBHOOK_URL (`env`) is the configuration's: CONFLICT.",
    auth: ADMIN,
    params: webhookParamsSchema,
    responses: { 204: { description: "removed", contentType: null } },
    errors: ["INVALID_PAYLOAD", "UNAUTHORIZED", "FORBIDDEN", "NOT_FOUND", "CONFLICT"],
  },
  {
    method: "GET",
    url: "/api/admin/webhooks/:id/deliveries",
    operationId: "webhookDeliveries",
    tag: "webhooks",
    summary: "An endpoint's deliveries, newest event first: pending, delivered or failed, with their attempts.",
    description: "Delivered and failed deliveries are kept WEBHOOK_RETENTION_MS (default 7 days).",
    auth: ADMIN,
    params: webhookParamsSchema,
    query: webhookDeliveriesQuerySchema,
    responses: { 200: { description: "the deliveries", schema: webhookDeliveriesSchema } },
    errors: ["INVALID_PAYLOAD", "UNAUTHORIZED", "FORBIDDEN", "NOT_FOUND"],
  },
  {
    method: "POST",
    url: "/api/admin/webhooks/:id/deliveries/:eventId/retry",
    operationId: "retryWebhookDelivery",
    tag: "webhooks",
    summary: "Makes a delivery pending and due now, whatever its state (a delivered event is sent again).",
    description: "A failed delivery gets one more attempt; if it fails too, it is failed again.",
    auth: ADMIN,
    params: webhookDeliveryParamsSchema,
    responses: { 202: { description: "the delivery, pending", schema: webhookDeliverySchema } },
    errors: ["INVALID_PAYLOAD", "UNAUTHORIZED", "FORBIDDEN", "NOT_FOUND"],
  },
];
