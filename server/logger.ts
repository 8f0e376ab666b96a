import { pino, type DestinationStream, type Logger } from "pino";

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
export function createLogger(level: string, destination?: DestinationStream): Logger {
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

/** Where the process writes its logs, and whether a person reads them there. */
export interface LogTarget {
  /** `NODE_ENV=production`. */
  production: boolean;
  /** Whether the output is a terminal (`process.stdout.isTTY`). */
  tty: boolean;
  /** Where pretty lines go. @default 1 (stdout) */
  output?: number | NodeJS.WritableStream;
}

const loadPretty = () => import("pino-pretty");
type PrettyModule = Awaited<ReturnType<typeof loadPretty>>;

/**
 * The destination of `createLogger` for a terminal outside production: pino-pretty's readable lines. It is a
 * dev dependency, loaded only here, so a production install needs nothing extra; anywhere else (production,
 * output to a file or a pipe, pino-pretty not installed) the answer is undefined: JSON lines to stdout, as
 * log collectors want them. Redaction happens before either, in pino.
 */
export async function prettyDestination(
  target: LogTarget,
  load: () => Promise<PrettyModule> = loadPretty,
): Promise<DestinationStream | undefined> {
  if (target.production || !target.tty) return undefined;
  let pretty: PrettyModule;
  try {
    pretty = await load();
  } catch {
    return undefined;
  }
  // Synchronous writes: the lines logged right before process.exit (a failed boot, a shutdown) still appear.
  return pretty.default({
    colorize: true,
    translateTime: "SYS:HH:MM:ss.l",
    ignore: "pid,hostname",
    sync: true,
    destination: target.output ?? 1,
  });
}
