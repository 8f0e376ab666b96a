import type { FastifyError, FastifyInstance, FastifyReply } from "fastify";
import { HTTP_STATUS, type ErrorCode, type HttpErrorBody } from "../../shared/errors.js";
import { AppError } from "../errors.js";

/** Sends a JSON error with the status of its code. */
export function sendError(reply: FastifyReply, code: ErrorCode, message: string): FastifyReply {
  const body: HttpErrorBody = { error: { code, message } };
  return reply.status(HTTP_STATUS[code]).type("application/json; charset=utf-8").send(body);
}

/** Maps a framework error status (bad JSON, body too large, ...) onto the contract's codes. */
function codeForStatus(status: number): ErrorCode {
  if (status === 413) return "PAYLOAD_TOO_LARGE";
  if (status === 429) return "RATE_LIMITED";
  if (status === 404) return "NOT_FOUND";
  if (status === 405) return "METHOD_NOT_ALLOWED";
  if (status === 401) return "UNAUTHORIZED";
  if (status === 403) return "FORBIDDEN";
  if (status === 503) return "UNAVAILABLE";
  return status >= 400 && status < 500 ? "INVALID_PAYLOAD" : "INTERNAL";
}

/**
 * Makes every HTTP error a JSON `{ error: { code, message } }`: `AppError`s keep their code, framework
 * errors (malformed JSON, oversize bodies) get the matching one, anything else is a logged INTERNAL with no
 * detail for the client. A path that no route serves is NOT_FOUND; one served for other methods only is
 * 405 METHOD_NOT_ALLOWED with an `Allow` header naming them.
 */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | AppError, request, reply) => {
    if (error instanceof AppError) return sendError(reply, error.code, error.message);
    const status = typeof error.statusCode === "number" ? error.statusCode : 500;
    const code = codeForStatus(status);
    if (code === "INTERNAL") {
      request.log.error({ err: error }, "request failed");
      return sendError(reply, code, "internal error");
    }
    return sendError(reply, code, code === "INVALID_PAYLOAD" ? "malformed request" : error.message);
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split("?")[0]!;
    const allowed = METHODS.filter((method) => method !== request.method && app.hasRoute({ method, url: path }));
    if (allowed.length === 0) return sendError(reply, "NOT_FOUND", "no such route");
    // `GET /send` from a browser or a habit of the push centre's GET: say which method the route takes.
    reply.header("Allow", allowed.join(", "));
    return sendError(reply, "METHOD_NOT_ALLOWED", `${path} takes ${allowed.join(" or ")}, not ${request.method}`);
  });
}

/** Methods a route of this server may be registered for (HEAD comes with GET). */
const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"] as const;
