import type { FastifyInstance } from "fastify";
import { adminAuditQuerySchema, adminRoomMessagesQuerySchema, adminRoomsQuerySchema } from "../../shared/http.js";
import { pushSchema, type PushResponse } from "../../shared/schemas.js";
import { AppError } from "../errors.js";
import type { ChatHub } from "../hub.js";
import { roomConversation } from "../messages/conversation.js";
import { parseInput } from "../validate.js";
import type { ModerationService } from "../rooms/moderation.js";
import { actorId, requireAdmin, type AdminAccessDeps } from "./access.js";

/**
 * The admin API's rooms and messages: rooms in pages, a room's recent messages, deleting a room or any
 * message, a system notice to a user, a room or everyone (as the push API, with admin credentials), and the
 * audit log.
 */
export function registerAdminContentRoutes(
  app: FastifyInstance,
  deps: AdminAccessDeps & { hub: ChatHub; moderation: ModerationService },
): void {
  const { store, hub, moderation } = deps;
  const admin = (request: Parameters<typeof requireAdmin>[0]) => requireAdmin(request, deps);

  app.get("/api/admin/rooms", async (request) => {
    await admin(request);
    const { after, limit } = parseInput(adminRoomsQuerySchema, request.query);
    const rooms = await store.roomsPage(after, limit + 1);
    return { rooms: rooms.slice(0, limit), hasMore: rooms.length > limit };
  });

  app.get<{ Params: { id: string } }>("/api/admin/rooms/:id/messages", async (request) => {
    await admin(request);
    const { before, limit } = parseInput(adminRoomMessagesQuerySchema, request.query);
    if (!(await store.getRoom(request.params.id))) throw new AppError("NOT_FOUND", "no such room");
    return store.conversationPage(roomConversation(request.params.id), { before, limit });
  });

  app.delete<{ Params: { id: string } }>("/api/admin/rooms/:id", async (request, reply) => {
    const actor = await admin(request);
    // The room's deletion writes its audit entry in its own transaction; the admin key acts as `system`.
    await moderation.delete(actorId(actor), request.params.id);
    return reply.status(204).send();
  });

  app.delete<{ Params: { id: string } }>("/api/admin/messages/:id", async (request) => {
    const actor = await admin(request);
    const id = Number(request.params.id);
    if (!Number.isSafeInteger(id) || id < 1) throw new AppError("INVALID_PAYLOAD", "id: expected a message id");
    const record = await store.getMessage(id);
    if (!record) throw new AppError("NOT_FOUND", "no such message");
    // A room's message goes through moderation (tombstone with `deletedBy`, audit entry in its transaction);
    // a direct or system message is deleted as an admin, then recorded.
    if (record.conversation.startsWith("r:") && record.message.from !== actorId(actor)) {
      return moderation.deleteMessage(actorId(actor), id);
    }
    const tombstone = await hub.deleteMessage(id);
    await store.appendAudit({ at: deps.now(), actor: actorId(actor), action: "message.delete", messageId: id });
    return tombstone;
  });

  app.post("/api/admin/notices", async (request, reply) => {
    const actor = await admin(request);
    const { to, content } = parseInput(pushSchema, request.body);
    const result: PushResponse = await hub.send(to, content);
    await store.appendAudit({
      at: deps.now(),
      actor: actorId(actor),
      action: "notice.send",
      messageId: result.message.id,
      ...("room" in to ? { roomId: to.room } : "user" in to ? { targetUserId: to.user } : {}),
    });
    return reply.status(202).send(result);
  });

  app.get("/api/admin/audit", async (request) => {
    await admin(request);
    const query = parseInput(adminAuditQuerySchema, request.query);
    return store.auditPage(query);
  });
}
