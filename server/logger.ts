import { pino, type Logger } from "pino";

export type { Logger };

/** Paths whose values never reach a log line. */
const REDACT = [
  "req.headers.authorization",
  "req.headers.cookie",
  "headers.authorization",
  "token",
  "password",
  "content",
  "*.token",
  "*.password",
  "*.content",
];

/**
 * Creates the one pino logger of the process. Request URLs are logged without their query string,
 * which may carry a token or a pushed message.
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      redact: { paths: REDACT, censor: "[redacted]" },
      serializers: {
        req(request: { method?: string; url?: string; id?: string }) {
          return { id: request.id, method: request.method, url: request.url?.split("?")[0] };
        },
      },
    },
    destination,
  );
}
