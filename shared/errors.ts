/**
 * Every error code a client can receive, over Socket.IO acks and HTTP alike (`METHOD_NOT_ALLOWED` over HTTP
 * only: a route that exists for another method).
 */
export const ERROR_CODES = [
  "INVALID_PAYLOAD",
  "UNAUTHORIZED",
  "FORBIDDEN",
  "NOT_FOUND",
  "CONFLICT",
  "RATE_LIMITED",
  "PAYLOAD_TOO_LARGE",
  "UNAVAILABLE",
  "INTERNAL",
  "METHOD_NOT_ALLOWED",
] as const;

/** A stable, machine-readable error code. */
export type ErrorCode = (typeof ERROR_CODES)[number];

/** The HTTP status that goes with each error code. */
export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = Object.freeze({
  INVALID_PAYLOAD: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  METHOD_NOT_ALLOWED: 405,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  UNAVAILABLE: 503,
});

/** The error object carried by a failed `Result` and by HTTP error bodies. */
export interface ErrorInfo {
  code: ErrorCode;
  message: string;
}

/** The answer to every client request: data on success, a coded error otherwise. */
export type Result<T> = { ok: true; data: T } | { ok: false; error: ErrorInfo };

/** The JSON body of every HTTP error response. */
export interface HttpErrorBody {
  error: ErrorInfo;
}
