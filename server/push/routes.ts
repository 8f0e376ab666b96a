import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { legacySendSchema, pushSchema, type PushResponse } from "../../shared/schemas.js";
import { AppError } from "../errors.js";
import type { ChatHub } from "../hub.js";
import type { Metrics } from "../metrics.js";
import { bearerToken, parseInput } from "../validate.js";

const digest = (value: string) => createHash("sha256").update(value).digest();

/** Whether `given` is `key`, compared in constant time (digests make the lengths equal). */
export const matchesKey = (given: string, key: string): boolean => timingSafeEqual(digest(given), digest(key));

/** Checks `Authorization: Bearer <key>` in constant time (digests make the lengths equal). */
export function requireApiKey(request: FastifyRequest, key: string, what: string): void {
  const given = bearerToken(request.headers.authorization);
  if (given === undefined) throw new AppError("UNAUTHORIZED", `missing ${what} (Authorization: Bearer <key>)`);
  if (!matchesKey(given, key)) {
    throw new AppError("UNAUTHORIZED", `a valid ${what} is required`);
  }
}

/**
 * The push centre: business systems push system messages to a user, a room or everyone (`POST /api/push`),
 * or to a user through the push-center compatible `POST /send?uid=&message=` (query or form fields).
 */
export function registerPushRoutes(app: FastifyInstance, deps: { hub: ChatHub; pushApiKey: string; metrics: Metrics }) {
  const { hub, pushApiKey, metrics } = deps;

  app.post("/api/push", async (request, reply) => {
    requireApiKey(request, pushApiKey, "push API key");
    const { to, content } = parseInput(pushSchema, request.body);
    const result: PushResponse = await hub.send(to, content);
    metrics.pushed("/api/push");
    return reply.status(202).send(result);
  });

  app.post("/send", async (request, reply) => {
    requireApiKey(request, pushApiKey, "push API key");
    const body = typeof request.body === "object" && request.body !== null ? request.body : {};
    const { uid, message } = parseInput(legacySendSchema, { ...(request.query as object), ...body });
    const result: PushResponse = await hub.sendToUser(uid, message);
    metrics.pushed("/send");
    return reply.status(202).send(result);
  });
}
