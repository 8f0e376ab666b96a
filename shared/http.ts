import { z } from "zod";
import { ERROR_CODES, type ErrorCode } from "./errors.js";

/*
 * The HTTP API's answers that are not messages, users or files (those are in schemas.ts), as zod schemas: the
 * OpenAPI document (`GET /api/openapi.json`) is generated from them and from the request schemas the routes
 * parse with, and the tests check real answers against it.
 */

/** The JSON body of an HTTP error with one of `codes` (every code when none is given). */
export function httpErrorSchema(...codes: ErrorCode[]) {
  const code = codes.length === 0 ? z.enum(ERROR_CODES) : z.enum(codes as [ErrorCode, ...ErrorCode[]]);
  return z.object({ error: z.object({ code, message: z.string() }) });
}

/** `GET /healthz`. */
export const healthSchema = z.object({ status: z.literal("ok") });

/** `GET /readyz` when the server is ready. */
export const readySchema = z.object({ status: z.literal("ready") });

/** `GET /api/version`: the `version` of package.json. */
export const versionSchema = z.object({ version: z.string() });

/** `GET /api/admin/stats`: who is connected, per room and per node, and the group workers running. */
export const adminStatsSchema = z.object({
  /** Sockets connected now, on every node. */
  connections: z.int().min(0),
  /** Users with at least one socket now. */
  users: z.int().min(0),
  /** Rooms, oldest first, at most 1000: `online` members with a socket now, and their `sockets`. */
  rooms: z.array(
    z.object({
      id: z.string(),
      name: z.string(),
      members: z.int().min(0),
      online: z.int().min(0),
      sockets: z.int().min(0),
    }),
  ),
  /** Group workers running on this node. */
  workers: z.array(z.object({ room: z.string(), startedAt: z.number() })),
  /** Every node of the cluster (this one alone when there is one). */
  /** `messages`: messages the node accepted since it started (a rate is the difference of two readings). */
  nodes: z.array(
    z.object({ id: z.string(), connections: z.int().min(0), startedAt: z.number(), messages: z.int().min(0) }),
  ),
});
/** What `GET /api/admin/stats` answers. */
export type AdminStats = z.infer<typeof adminStatsSchema>;

/** A user as the admin API shows it. */
export const adminUserSchema = z.object({
  id: z.string(),
  name: z.string(),
  /** An admin: made one through the API, or listed in `ADMIN_USERS`. */
  admin: z.boolean(),
  disabled: z.boolean(),
  /** Has a socket now (or is within the presence grace), on any node. */
  online: z.boolean(),
  createdAt: z.number(),
  lastSeenAt: z.number().optional(),
});
/** A user as the admin API shows it. */
export type AdminUser = z.infer<typeof adminUserSchema>;

/** Paging of the admin lists: after a cursor (an id), at most `limit` (1–200, default 50). */
const adminPage = { after: z.string().max(256).optional(), limit: z.coerce.number().int().min(1).max(200).default(50) };

/** `GET /api/admin/users` query. */
export const adminUsersQuerySchema = z.object({ q: z.string().max(64).optional(), ...adminPage });
/** `GET /api/admin/users`. */
export const adminUsersSchema = z.object({ users: z.array(adminUserSchema), hasMore: z.boolean() });

/** `GET /api/me/admin`: whether the token's user is an admin. */
export const meAdminSchema = z.object({ admin: z.boolean() });

/** Body of `POST /api/admin/users/:id/admin`. */
export const adminFlagSchema = z.object({ admin: z.boolean() });

/** One connected socket, as `GET /api/admin/sessions` lists it. */
export const adminSessionSchema = z.object({
  socketId: z.string(),
  userId: z.string(),
  node: z.string(),
  address: z.string(),
  transport: z.string(),
  connectedAt: z.number(),
});
/** One connected socket, as the admin API lists it. */
export type AdminSession = z.infer<typeof adminSessionSchema>;

/** `GET /api/admin/sessions` query. */
export const adminSessionsQuerySchema = z.object({ user: z.string().max(64).optional(), ...adminPage });
/** `GET /api/admin/sessions`: sockets by id. */
export const adminSessionsSchema = z.object({ sessions: z.array(adminSessionSchema), hasMore: z.boolean() });

/** `GET /api/admin/rooms` query. */
export const adminRoomsQuerySchema = z.object({ ...adminPage });

/** `GET /api/admin/rooms/:id/messages` query: the newest page, or the one before a message id. */
export const adminRoomMessagesQuerySchema = z.object({
  before: z.coerce.number().int().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
});

/** `GET /api/admin/audit` query: entries before an id, newest first, filtered by what is given. */
export const adminAuditQuerySchema = z.object({
  before: z.coerce.number().int().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  actor: z.string().min(1).max(64).optional(),
  action: z.string().min(1).max(64).optional(),
  roomId: z.string().min(1).max(64).optional(),
  targetUserId: z.string().min(1).max(64).optional(),
});

/** `GET /api/admin/audit` and `room:audit`: a page of the audit log, newest first. */
export const auditPageSchema = z.object({
  entries: z.array(
    z.object({
      id: z.int(),
      at: z.number(),
      actor: z.string(),
      action: z.string(),
      roomId: z.string().optional(),
      targetUserId: z.string().optional(),
      messageId: z.int().optional(),
      reason: z.string().optional(),
      until: z.number().optional(),
    }),
  ),
  hasMore: z.boolean(),
});
