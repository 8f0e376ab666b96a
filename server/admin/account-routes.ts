import type { FastifyInstance } from "fastify";
import {
  adminFlagSchema,
  adminSessionsQuerySchema,
  adminUsersQuerySchema,
  type AdminSession,
  type AdminUser,
} from "../../shared/http.js";
import type { SocketData } from "../../shared/events.js";
import { passwordResetSchema } from "../../shared/schemas.js";
import type { AccountService } from "../auth/accounts.js";
import type { Config } from "../config.js";
import type { Delivery } from "../delivery/deliver.js";
import { AppError } from "../errors.js";
import type { UserRecord } from "../store/types.js";
import { isAdmin } from "../users/admins.js";
import { parseInput } from "../validate.js";
import { actorId, requireAdmin, type AdminAccessDeps, type AdminActor } from "./access.js";

/** What the account routes of the admin API need. */
export interface AdminAccountDeps extends AdminAccessDeps {
  accounts: AccountService;
  delivery: Delivery;
  /** Which of these users are online now (on any node). */
  isOnline: (userIds: readonly string[]) => Promise<boolean[]>;
}

/** Route parameters naming a user. */
interface UserParams {
  id: string;
}

/**
 * The admin API's accounts and sessions (section 11): list users, disable, enable, sign out, reset a
 * password, make admin; list sessions on every node and end one.
 */
export function registerAdminAccountRoutes(app: FastifyInstance, deps: AdminAccountDeps): void {
  const { store, accounts, config } = deps;
  const admin = (request: Parameters<typeof requireAdmin>[0]) => requireAdmin(request, deps);
  const view = async (record: UserRecord): Promise<AdminUser> => {
    const [online] = await deps.isOnline([record.id]);
    return adminUserView(record, config, online ?? false);
  };

  app.get("/api/admin/users", async (request) => {
    await admin(request);
    const { q, after, limit } = parseInput(adminUsersQuerySchema, request.query);
    const records = await store.listUsers({ q, after, limit: limit + 1 });
    const page = records.slice(0, limit);
    const online = await deps.isOnline(page.map((record) => record.id));
    return {
      users: page.map((record, i) => adminUserView(record, config, online[i] ?? false)),
      hasMore: records.length > limit,
    };
  });

  app.post<{ Params: UserParams }>("/api/admin/users/:id/disable", async (request) => {
    const actor = await admin(request);
    if (isSelf(actor, request.params.id)) {
      throw new AppError("FORBIDDEN", "an admin cannot disable their own account");
    }
    return view(await accounts.disable(request.params.id, actorId(actor)));
  });

  app.post<{ Params: UserParams }>("/api/admin/users/:id/enable", async (request) => {
    const actor = await admin(request);
    return view(await accounts.enable(request.params.id, actorId(actor)));
  });

  app.post<{ Params: UserParams }>("/api/admin/users/:id/sign-out", async (request) => {
    const actor = await admin(request);
    return view(await accounts.signOut(request.params.id, actorId(actor)));
  });

  app.post<{ Params: UserParams }>("/api/admin/users/:id/admin", async (request) => {
    const actor = await admin(request);
    const { admin: flag } = parseInput(adminFlagSchema, request.body);
    if (!flag && isSelf(actor, request.params.id)) {
      throw new AppError("FORBIDDEN", "an admin cannot take their own admin rights away");
    }
    const action = flag ? "user.admin.grant" : "user.admin.revoke";
    const audit = { at: deps.now(), actor: actorId(actor), action, targetUserId: request.params.id };
    const record = await store.setAdmin(request.params.id, flag, audit);
    if (!record) throw new AppError("NOT_FOUND", `no user ${request.params.id}`);
    return view(record);
  });

  app.post<{ Params: UserParams }>("/api/admin/users/:id/password", async (request, reply) => {
    const actor = await admin(request);
    const { password } = parseInput(passwordResetSchema, request.body);
    await accounts.resetPassword(request.params.id, password, actorId(actor));
    return reply.status(204).send();
  });

  app.get("/api/admin/sessions", async (request) => {
    await admin(request);
    const { user, after, limit } = parseInput(adminSessionsQuerySchema, request.query);
    const sessions = (await deps.delivery.sessions(user))
      .map((socket): AdminSession => sessionView(socket.id, socket.data))
      .filter((session) => after === undefined || session.socketId > after)
      .sort((a, b) => (a.socketId < b.socketId ? -1 : a.socketId > b.socketId ? 1 : 0));
    return { sessions: sessions.slice(0, limit), hasMore: sessions.length > limit };
  });

  app.delete<{ Params: { socketId: string } }>("/api/admin/sessions/:socketId", async (request, reply) => {
    const actor = await admin(request);
    const socketId = request.params.socketId;
    const session = await deps.delivery.session(socketId);
    const ended = await deps.delivery.endSessions({ socketId, reason: "kicked" });
    if (ended === 0) throw new AppError("NOT_FOUND", "no such session");
    await store.appendAudit({
      at: deps.now(),
      actor: actorId(actor),
      action: "session.end",
      ...(session ? { targetUserId: session.data.user.id } : {}),
      reason: `socket ${socketId}`,
    });
    return reply.status(204).send();
  });
}

const isSelf = (actor: AdminActor, userId: string) => actor.kind === "user" && actor.record.id === userId;

/** A user as the admin API shows it. */
export function adminUserView(record: UserRecord, config: Pick<Config, "adminUsers">, online: boolean): AdminUser {
  const user: AdminUser = {
    id: record.id,
    name: record.name,
    admin: isAdmin(config, record),
    disabled: record.disabledAt !== null,
    online,
    createdAt: record.createAt,
  };
  if (record.lastSeenAt !== null) user.lastSeenAt = record.lastSeenAt;
  return user;
}

/** A socket as the admin API lists it. */
function sessionView(socketId: string, data: SocketData): AdminSession {
  return {
    socketId,
    userId: data.user.id,
    node: data.node,
    address: data.address,
    transport: data.transport,
    connectedAt: data.connectedAt,
  };
}
