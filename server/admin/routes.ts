import type { FastifyInstance } from "fastify";
import type { ChatHub } from "../hub.js";
import type { Metrics } from "../metrics.js";
import { requireAdmin, type AdminAccessDeps } from "./access.js";

/** The monitor (`GET /api/admin/stats`, admin key or an admin's token) and the Prometheus scrape (`GET /metrics`). */
export function registerAdminRoutes(app: FastifyInstance, deps: AdminAccessDeps & { hub: ChatHub; metrics: Metrics }) {
  app.get("/api/admin/stats", async (request) => {
    await requireAdmin(request, deps);
    return deps.hub.stats();
  });

  app.get("/metrics", async (_request, reply) => {
    const body = await deps.metrics.registry.metrics();
    return reply.type(deps.metrics.registry.contentType).send(body);
  });
}
