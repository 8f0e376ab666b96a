import type { FastifyInstance } from "fastify";
import type { ChatHub } from "../hub.js";
import type { Metrics } from "../metrics.js";
import { requireApiKey } from "../push/routes.js";

/** The monitor (`GET /api/admin/stats`, admin key) and the Prometheus scrape (`GET /metrics`). */
export function registerAdminRoutes(
  app: FastifyInstance,
  deps: { hub: ChatHub; adminApiKey: string; metrics: Metrics },
) {
  app.get("/api/admin/stats", async (request) => {
    requireApiKey(request, deps.adminApiKey, "admin API key");
    return deps.hub.stats();
  });

  app.get("/metrics", async (_request, reply) => {
    const body = await deps.metrics.registry.metrics();
    return reply.type(deps.metrics.registry.contentType).send(body);
  });
}
