import type { FastifyRequest } from "fastify";
import { admitToken } from "../auth/access.js";
import type { TokenService } from "../auth/tokens.js";
import type { Config } from "../config.js";
import { AppError } from "../errors.js";
import type { Store, UserRecord } from "../store/types.js";
import { matchesKey } from "../push/routes.js";
import { isAdmin } from "../users/admins.js";
import { bearerToken } from "../validate.js";

/** Who called an admin route: the holder of the admin key, or an admin user. */
export type AdminActor = { kind: "key" } | { kind: "user"; record: UserRecord };

/** What the admin check needs. */
export interface AdminAccessDeps {
  config: Config;
  adminApiKey: string;
  store: Store;
  tokens: TokenService;
  now: () => number;
}

/**
 * The check of every `/api/admin/*` route: `Bearer <ADMIN_API_KEY>`, or an admin user's JWT (one that still
 * counts: not signed out, account not disabled). No or bad credentials are 401; a valid JWT of a user who
 * is not an admin is 403.
 */
export async function requireAdmin(request: FastifyRequest, deps: AdminAccessDeps): Promise<AdminActor> {
  const given = bearerToken(request.headers.authorization);
  if (given === undefined) {
    throw new AppError("UNAUTHORIZED", "missing credentials (Authorization: Bearer <admin key or admin's token>)");
  }
  if (matchesKey(given, deps.adminApiKey)) return { kind: "key" };
  let record: UserRecord;
  try {
    ({ record } = await admitToken(deps, given));
  } catch (error) {
    if (error instanceof AppError && error.code === "UNAUTHORIZED") {
      throw new AppError("UNAUTHORIZED", "a valid admin API key or an admin's token is required");
    }
    throw error;
  }
  if (!isAdmin(deps.config, record)) throw new AppError("FORBIDDEN", "admins only");
  return { kind: "user", record };
}

/** How an actor is named in the audit log: the user's id, or `system` for the admin key. */
export const actorId = (actor: AdminActor): string => (actor.kind === "user" ? actor.record.id : "system");
