import type { FastifyInstance, FastifyRequest } from "fastify";
import {
  webhookCreateSchema,
  webhookDeliveriesQuerySchema,
  webhookDeliveryParamsSchema,
  webhookParamsSchema,
} from "../../shared/webhooks.js";
import { parseInput } from "../validate.js";
import type { WebhookEndpoints } from "./endpoints.js";

/**
 * The admin API of webhooks (section 13): `POST`/`GET /api/admin/webhooks`, `DELETE /api/admin/webhooks/:id`,
 * `GET /api/admin/webhooks/:id/deliveries` and `POST /api/admin/webhooks/:id/deliveries/:eventId/retry`.
 * `authorize` is the admin check every route runs first (it throws UNAUTHORIZED or FORBIDDEN).
 */
export function registerWebhookRoutes(
  app: FastifyInstance,
  deps: { endpoints: WebhookEndpoints; authorize: (request: FastifyRequest) => void | Promise<void> },
): void {
  const { endpoints, authorize } = deps;

  app.post("/api/admin/webhooks", async (request, reply) => {
    await authorize(request);
    const created = await endpoints.create(parseInput(webhookCreateSchema, request.body));
    return reply.status(201).send(created);
  });

  app.get("/api/admin/webhooks", async (request) => {
    await authorize(request);
    return { webhooks: await endpoints.list() };
  });

  app.delete("/api/admin/webhooks/:id", async (request, reply) => {
    await authorize(request);
    const { id } = parseInput(webhookParamsSchema, request.params);
    await endpoints.remove(id);
    return reply.status(204).send();
  });

  app.get("/api/admin/webhooks/:id/deliveries", async (request) => {
    await authorize(request);
    const { id } = parseInput(webhookParamsSchema, request.params);
    const { limit } = parseInput(webhookDeliveriesQuerySchema, request.query);
    return { deliveries: await endpoints.deliveries(id, limit) };
  });

  app.post("/api/admin/webhooks/:id/deliveries/:eventId/retry", async (request, reply) => {
    await authorize(request);
    const { id, eventId } = parseInput(webhookDeliveryParamsSchema, request.params);
    return reply.status(202).send(await endpoints.retry(id, eventId));
  });
}
