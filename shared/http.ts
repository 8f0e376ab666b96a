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
  nodes: z.array(z.object({ id: z.string(), connections: z.int().min(0), startedAt: z.number() })),
});
/** What `GET /api/admin/stats` answers. */
export type AdminStats = z.infer<typeof adminStatsSchema>;
