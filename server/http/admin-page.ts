import type { FastifyInstance } from "fastify";

/**
 * `GET /admin`: the admin console, a page of the web client: the same index.html as `GET /` (the client picks
 * the console by its path and loads it on demand). Registered after @fastify/static, whose `sendFile` serves
 * the built client (or the placeholder page when it is not built).
 */
export function registerAdminPage(app: FastifyInstance): void {
  app.get("/admin", (_request, reply) => reply.sendFile("index.html"));
}
