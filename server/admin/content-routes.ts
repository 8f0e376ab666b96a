import type { FastifyInstance } from "fastify";
import { adminRoomMessagesQuerySchema, adminRoomsQuerySchema } from "../../shared/http.js";
import { pushSchema, type PushResponse } from "../../shared/schemas.js";
import { AppError } from "../errors.js";
import type { ChatHub } from "../hub.js";
import { roomConversation } from "../messages/conversation.js";
import { parseInput } from "../validate.js";
import { requireAdmin, type AdminAccessDeps } from "./access.js";

/**
 * The admin API's rooms and messages: rooms in pages, a room's recent messages, deleting any message, and a
 * system notice to a user, a room or everyone (as the push API, with admin credentials).
 */
export function registerAdminContentRoutes(app: FastifyInstance, deps: AdminAccessDeps & { hub: ChatHub }): void {
  const { store, hub } = deps;
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

  app.delete<{ Params: { id: string } }>("/api/admin/messages/:id", async (request) => {
    await admin(request);
    const id = Number(request.params.id);
    if (!Number.isSafeInteger(id) || id < 1) throw new AppError("INVALID_PAYLOAD", "id: expected a message id");
    return hub.deleteMessage(id);
  });

  app.post("/api/admin/notices", async (request, reply) => {
    await admin(request);
    const { to, content } = parseInput(pushSchema, request.body);
    const result: PushResponse = await hub.send(to, content);
    return reply.status(202).send(result);
  });
}
