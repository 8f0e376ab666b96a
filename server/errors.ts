import { HTTP_STATUS, type ErrorCode, type ErrorInfo } from "../shared/errors.js";

/** An error with a stable code that is safe to show to a client. */
export class AppError extends Error {
  override readonly name = "AppError";

  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** The HTTP status that goes with the code. */
  get status(): number {
    return HTTP_STATUS[this.code];
  }

  /** The client-facing form: code and message, nothing else. */
  toInfo(): ErrorInfo {
    return { code: this.code, message: this.message };
  }
}

/** Turns any thrown value into client-safe error info; unknown errors become INTERNAL without their text. */
export function toErrorInfo(error: unknown): ErrorInfo {
  if (error instanceof AppError) return error.toInfo();
  return { code: "INTERNAL", message: "internal error" };
}

/** Shorthands for the common refusals. */
export const notFound = (what: string) => new AppError("NOT_FOUND", `${what} not found`);
export const forbidden = (why: string) => new AppError("FORBIDDEN", why);
export const invalid = (why: string) => new AppError("INVALID_PAYLOAD", why);
