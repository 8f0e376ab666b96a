import { isIP } from "node:net";
import { hostname } from "node:os";
import { z } from "zod";
import { isUserId } from "../shared/ids.js";
import { isWebhookSecret } from "./webhooks/signature.js";

/** A blank variable (`PORT=`) counts as unset, never as 0. */
const blankToUndefined = (value: unknown) => (typeof value === "string" && value.trim() === "" ? undefined : value);
/** A whole number in decimal digits only (no `0x50`, `1e3`, `-1`), defaulted when unset. */
const int = (min: number, max: number, fallback: number) =>
  z
    .preprocess(
      blankToUndefined,
      z
        .string()
        .regex(/^\s*\d+\s*$/, "expected a whole number")
        .optional(),
    )
    .transform((value) => (value === undefined ? fallback : Number(value)))
    .pipe(z.number().int().min(min).max(max));
const optionalText = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === "" ? undefined : value));

/** Parses a duration such as `12h`, `30m`, `45s`, `7d` or `3600` (seconds) into seconds. */
export function parseDurationSeconds(text: string): number | undefined {
  const match = /^(\d+)\s*(s|m|h|d)?$/.exec(text.trim());
  if (!match) return undefined;
  const unit = { s: 1, m: 60, h: 3600, d: 86400 }[(match[2] ?? "s") as "s" | "m" | "h" | "d"];
  const seconds = Number(match[1]) * unit;
  return seconds > 0 ? seconds : undefined;
}

/** Names proxy-addr (and so fastify) accepts for well-known ranges in a trusted proxy list. */
export const PROXY_RANGE_NAMES = ["loopback", "linklocal", "uniquelocal"] as const;

/** True for `10.0.0.1`, `10.0.0.0/8`, `::1`, `fd00::/8` or one of `PROXY_RANGE_NAMES`. */
function isProxyEntry(entry: string): boolean {
  if ((PROXY_RANGE_NAMES as readonly string[]).includes(entry)) return true;
  const [address = "", prefix, extra] = entry.split("/");
  const family = isIP(address);
  if (family === 0 || extra !== undefined) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

/**
 * `TRUST_PROXY`: a hop count (`0`, `1`, ...; `false` is 0 and `true` is 1) or a comma list of trusted proxy
 * addresses, CIDR ranges and range names.
 */
const trustProxySchema = z.preprocess(
  blankToUndefined,
  z
    .string()
    .optional()
    .transform((value, ctx): number | readonly string[] => {
      const text = value?.trim().toLowerCase() ?? "0";
      if (text === "false") return 0;
      if (text === "true") return 1;
      if (/^\d+$/.test(text)) {
        const hops = Number(text);
        if (hops <= 32) return hops;
        ctx.addIssue({ code: "custom", message: "expected at most 32 proxies" });
        return z.NEVER;
      }
      const entries = text
        .split(",")
        .map((entry) => entry.trim())
        .filter(Boolean);
      const bad = entries.find((entry) => !isProxyEntry(entry));
      if (entries.length === 0 || bad !== undefined) {
        ctx.addIssue({
          code: "custom",
          message: `expected a number of proxies, true/false, or a comma list of proxy addresses or CIDR ranges${bad === undefined ? "" : `; "${bad}" is none of them`}`,
        });
        return z.NEVER;
      }
      return Object.freeze(entries);
    }),
);

const envSchema = z.object({
  NODE_ENV: z.string().default("development"),
  PORT: int(0, 65535, 3000),
  HOST: z.string().min(1).default("127.0.0.1"),
  DATA_DIR: z.string().min(1).default("./data"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  JWT_SECRET: optionalText,
  PUSH_API_KEY: optionalText,
  ADMIN_API_KEY: optionalText,
  ADMIN_USERS: z
    .string()
    .optional()
    .transform((value, ctx) => {
      const ids = (value ?? "")
        .split(",")
        .map((entry) => entry.trim())
        .filter(Boolean);
      const bad = ids.find((id) => !isUserId(id));
      if (bad !== undefined) {
        ctx.addIssue({ code: "custom", message: `"${bad}" is not a user id` });
        return z.NEVER;
      }
      return new Set(ids);
    }),
  JWT_ISSUER: optionalText,
  JWT_AUDIENCE: optionalText,
  JWT_PUBLIC_KEY: optionalText,
  JWT_ALGORITHM: z.enum(["HS256", "RS256", "ES256", "EdDSA"]).default("HS256"),
  TOKEN_TTL: z
    .string()
    .default("12h")
    .transform((value, ctx) => {
      const seconds = parseDurationSeconds(value);
      if (seconds === undefined) {
        ctx.addIssue({ code: "custom", message: "expected a duration such as 12h, 30m, 45s or 7d" });
        return z.NEVER;
      }
      return seconds;
    }),
  PRESENCE_GRACE_MS: int(0, 3_600_000, 5000),
  PRESENCE_ROOM_LIMIT: int(0, 10_000_000, 100),
  ALLOWED_ORIGINS: z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined || value.trim() === "") return undefined;
      const origins = value
        .split(",")
        .map((entry) => entry.trim())
        .filter(Boolean);
      const normalized: string[] = [];
      for (const origin of origins) {
        const url = URL.canParse(origin) ? new URL(origin) : undefined;
        // An origin is scheme, host and port only; `URL.origin` lower-cases it and drops a default port.
        if (!url || url.origin === "null" || url.pathname !== "/" || url.search || url.hash || url.username) {
          ctx.addIssue({ code: "custom", message: `"${origin}" is not an origin such as https://chat.example.com` });
          return z.NEVER;
        }
        normalized.push(url.origin);
      }
      return normalized;
    }),
  MAX_FRAME_BYTES: int(1024, 100 * 1024 * 1024, 65536),
  MAX_UPLOAD_BYTES: int(1, 1024 * 1024 * 1024, 10 * 1024 * 1024),
  RATE_LIMIT_EVENTS_PER_10S: int(1, 1_000_000, 200),
  RATE_LIMIT_CONNECTIONS_PER_MIN: int(1, 1_000_000, 600),
  RATE_LIMIT_AUTH_PER_MIN: int(1, 1_000_000, 30),
  TRUST_PROXY: trustProxySchema,
  MAX_SOCKETS_PER_USER: int(1, 1_000_000, 50),
  MAX_SOCKET_BUFFER_BYTES: int(65536, 1024 * 1024 * 1024, 4 * 1024 * 1024),
  CONNECT_TIMEOUT_MS: int(100, 600_000, 10_000),
  IDLE_CONNECTION_TIMEOUT_MS: int(100, 600_000, 30_000),
  RATE_LIMIT_UPLOADS_PER_MIN: int(1, 1_000_000, 30),
  UPLOAD_QUOTA_BYTES: int(1, 2 ** 50, 1024 * 1024 * 1024),
  UPLOAD_ORPHAN_TTL_MS: int(1, 10 * 365 * 86_400_000, 86_400_000),
  DB_SYNC: z.enum(["full", "normal"]).default("full"),
  SCRYPT_LOG_N: int(14, 20, 17),
  PING_INTERVAL_MS: int(1000, 600_000, 25_000),
  PING_TIMEOUT_MS: int(1000, 600_000, 20_000),
  SHUTDOWN_TIMEOUT_MS: int(100, 600_000, 10_000),
  EDIT_WINDOW_MS: int(0, 10 * 365 * 86_400_000, 900_000),
  MAX_ROOMS_PER_USER: int(1, 1_000_000, 100),
  DATABASE_URL: z.preprocess(
    blankToUndefined,
    z
      .string()
      .regex(/^postgres(ql)?:\/\//, "expected a postgres:// URL")
      .optional(),
  ),
  REDIS_URL: z.preprocess(
    blankToUndefined,
    z
      .string()
      .regex(/^rediss?:\/\//, "expected a redis:// or rediss:// URL")
      .optional(),
  ),
  REDIS_PREFIX: z.preprocess(blankToUndefined, z.string().max(100).default("chat:")),
  NODE_ID: z.preprocess(
    blankToUndefined,
    z
      .string()
      .regex(/^[\w.-]{1,100}$/, "expected letters, digits, '.', '_' or '-' (at most 100)")
      .optional(),
  ),
  WEBHOOK_URL: z.preprocess(
    blankToUndefined,
    z.url({ protocol: /^https?$/, error: "expected an http:// or https:// URL" }).optional(),
  ),
  WEBHOOK_SECRET: z.preprocess(
    blankToUndefined,
    z.string().refine(isWebhookSecret, "expected whsec_ followed by the base64 of 24 to 64 random bytes").optional(),
  ),
  WEBHOOK_MAX_ATTEMPTS: int(1, 100, 12),
  WEBHOOK_RETENTION_MS: int(60_000, 10 * 365 * 86_400_000, 7 * 86_400_000),
});

/** The server's whole configuration, parsed once from the environment and frozen. */
export interface Config {
  /** `true` when `NODE_ENV=production`: secrets must be given, dev origins are refused. */
  readonly production: boolean;
  /** @default 3000 */
  readonly port: number;
  /** @default "127.0.0.1" */
  readonly host: string;
  /** Where the database, uploads and generated secrets live. @default "./data" */
  readonly dataDir: string;
  /** @default "info" */
  readonly logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  /** HS256 secret (absent in public-key mode until secrets are resolved). */
  readonly jwtSecret: string | undefined;
  readonly pushApiKey: string | undefined;
  readonly adminApiKey: string | undefined;
  /** `ADMIN_USERS`: admins whatever the admin flag of their account says. */
  readonly adminUsers: ReadonlySet<string>;
  readonly jwtIssuer: string | undefined;
  readonly jwtAudience: string | undefined;
  /** PEM public key: tokens are then verified with `jwtAlgorithm` instead of the shared secret. */
  readonly jwtPublicKey: string | undefined;
  /** @default "HS256" */
  readonly jwtAlgorithm: "HS256" | "RS256" | "ES256" | "EdDSA";
  /** Lifetime of issued tokens, in seconds. @default 43200 (12h) */
  readonly tokenTtlSeconds: number;
  /** @default 5000 */
  readonly presenceGraceMs: number;
  /** Rooms with more members carry no online/offline notices. @default 100 */
  readonly presenceRoomLimit: number;
  /** Extra browser origins allowed besides the server's own. */
  readonly allowedOrigins: readonly string[] | undefined;
  /** @default 65536 */
  readonly maxFrameBytes: number;
  /** @default 10485760 */
  readonly maxUploadBytes: number;
  /** @default 200 */
  readonly rateLimitEventsPer10s: number;
  /** @default 600 */
  readonly rateLimitConnectionsPerMin: number;
  /** @default 30 */
  readonly rateLimitAuthPerMin: number;
  /**
   * Who is a proxy: a number N of proxies in front (the client is the Nth address from the right of
   * `X-Forwarded-For`), or the proxies' addresses and CIDR ranges (the client is the first address, from the
   * right, that is not one of them). @default 0 (the TCP peer is the client)
   */
  readonly trustProxy: number | readonly string[];
  /** Sockets one user may hold at once; beyond, the handshake is RATE_LIMITED. @default 50 */
  readonly maxSocketsPerUser: number;
  /** Unsent output a connection may hold before it is disconnected as a slow consumer. @default 4194304 */
  readonly maxSocketBufferBytes: number;
  /** How long an Engine.IO session may stay without connecting its namespace. @default 10000 */
  readonly connectTimeoutMs: number;
  /** How long an HTTP connection may stay silent (before its first request, or between keep-alive requests). @default 30000 */
  readonly idleConnectionTimeoutMs: number;
  /** Uploads per user per minute. @default 30 */
  readonly rateLimitUploadsPerMin: number;
  /** Most bytes one user's stored files may total. @default 1073741824 */
  readonly uploadQuotaBytes: number;
  /** How long an upload no message references is kept. @default 86400000 */
  readonly uploadOrphanTtlMs: number;
  /** `full` fsyncs every commit before acking; `normal` survives a process crash but not a power loss. @default "full" */
  readonly dbSync: "full" | "normal";
  /** log2 of the scrypt cost parameter N. @default 17 */
  readonly scryptLogN: number;
  /** @default 25000 */
  readonly pingIntervalMs: number;
  /** @default 20000 */
  readonly pingTimeoutMs: number;
  /** @default 10000 */
  readonly shutdownTimeoutMs: number;
  /** How long after sending its author may edit a message. @default 900000 */
  readonly editWindowMs: number;
  /** Rooms one user may own (have created); `room:create` beyond is CONFLICT. @default 100 */
  readonly maxRoomsPerUser: number;
  /** PostgreSQL instead of SQLite (`postgres://…`). @default undefined (SQLite under `dataDir`) */
  readonly databaseUrl: string | undefined;
  /** Redis shared by the nodes of a cluster (`redis://…`); needs `databaseUrl`. @default undefined (one node) */
  readonly redisUrl: string | undefined;
  /** Prefix of every Redis key and stream this cluster uses. @default "chat:" */
  readonly redisPrefix: string;
  /** This node's name in the cluster. @default "<hostname>-<pid>" */
  readonly nodeId: string;
  /** The webhook endpoint of the environment: every event is POSTed there, signed with `secret`. @default none */
  readonly webhook: { readonly url: string; readonly secret: string } | undefined;
  /** Attempts per webhook delivery before it is `failed`. @default 12 */
  readonly webhookMaxAttempts: number;
  /** How long delivered and failed webhook deliveries are kept (the deliveries API). @default 604800000 */
  readonly webhookRetentionMs: number;
}

/** A configuration value that stops the boot; the message names the variable. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** Shortest accepted secret, in bytes. */
export const MIN_SECRET_BYTES = 32;

/**
 * Parses the environment into a frozen `Config`.
 * @example loadConfig({ ...process.env, PORT: "0" })
 */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
    throw new ConfigError(`invalid configuration:\n  ${lines.join("\n  ")}`);
  }
  const e = parsed.data;
  if (e.JWT_PUBLIC_KEY !== undefined && e.JWT_ALGORITHM === "HS256") {
    throw new ConfigError("JWT_ALGORITHM: set RS256, ES256 or EdDSA to go with JWT_PUBLIC_KEY");
  }
  if (e.REDIS_URL !== undefined && e.DATABASE_URL === undefined) {
    throw new ConfigError(
      "REDIS_URL: set DATABASE_URL too: the nodes of a cluster share a PostgreSQL database (SQLite is one node's)",
    );
  }
  if ((e.WEBHOOK_URL === undefined) !== (e.WEBHOOK_SECRET === undefined)) {
    throw new ConfigError(
      e.WEBHOOK_URL === undefined
        ? "WEBHOOK_SECRET: set WEBHOOK_URL too (where the signed events go)"
        : "WEBHOOK_URL: set WEBHOOK_SECRET too (whsec_ and the base64 of 32 random bytes, e.g. `echo whsec_$(openssl rand -base64 32)`)",
    );
  }
  if (e.JWT_PUBLIC_KEY === undefined && e.JWT_ALGORITHM !== "HS256") {
    throw new ConfigError(`JWT_PUBLIC_KEY: required when JWT_ALGORITHM is ${e.JWT_ALGORITHM}`);
  }
  return Object.freeze({
    production: e.NODE_ENV === "production",
    port: e.PORT,
    host: e.HOST,
    dataDir: e.DATA_DIR,
    logLevel: e.LOG_LEVEL,
    jwtSecret: e.JWT_SECRET,
    pushApiKey: e.PUSH_API_KEY,
    adminApiKey: e.ADMIN_API_KEY,
    adminUsers: e.ADMIN_USERS,
    jwtIssuer: e.JWT_ISSUER,
    jwtAudience: e.JWT_AUDIENCE,
    jwtPublicKey: e.JWT_PUBLIC_KEY?.replace(/\\n/g, "\n"),
    jwtAlgorithm: e.JWT_ALGORITHM,
    tokenTtlSeconds: e.TOKEN_TTL,
    presenceGraceMs: e.PRESENCE_GRACE_MS,
    presenceRoomLimit: e.PRESENCE_ROOM_LIMIT,
    allowedOrigins: e.ALLOWED_ORIGINS ? Object.freeze(e.ALLOWED_ORIGINS) : undefined,
    maxFrameBytes: e.MAX_FRAME_BYTES,
    maxUploadBytes: e.MAX_UPLOAD_BYTES,
    rateLimitEventsPer10s: e.RATE_LIMIT_EVENTS_PER_10S,
    rateLimitConnectionsPerMin: e.RATE_LIMIT_CONNECTIONS_PER_MIN,
    rateLimitAuthPerMin: e.RATE_LIMIT_AUTH_PER_MIN,
    rateLimitUploadsPerMin: e.RATE_LIMIT_UPLOADS_PER_MIN,
    uploadQuotaBytes: e.UPLOAD_QUOTA_BYTES,
    uploadOrphanTtlMs: e.UPLOAD_ORPHAN_TTL_MS,
    trustProxy: e.TRUST_PROXY,
    maxSocketsPerUser: e.MAX_SOCKETS_PER_USER,
    maxSocketBufferBytes: e.MAX_SOCKET_BUFFER_BYTES,
    connectTimeoutMs: e.CONNECT_TIMEOUT_MS,
    idleConnectionTimeoutMs: e.IDLE_CONNECTION_TIMEOUT_MS,
    dbSync: e.DB_SYNC,
    scryptLogN: e.SCRYPT_LOG_N,
    pingIntervalMs: e.PING_INTERVAL_MS,
    pingTimeoutMs: e.PING_TIMEOUT_MS,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    editWindowMs: e.EDIT_WINDOW_MS,
    maxRoomsPerUser: e.MAX_ROOMS_PER_USER,
    databaseUrl: e.DATABASE_URL,
    redisUrl: e.REDIS_URL,
    redisPrefix: e.REDIS_PREFIX,
    nodeId: e.NODE_ID ?? `${hostname()}-${process.pid}`,
    webhook:
      e.WEBHOOK_URL === undefined || e.WEBHOOK_SECRET === undefined
        ? undefined
        : Object.freeze({ url: e.WEBHOOK_URL, secret: e.WEBHOOK_SECRET }),
    webhookMaxAttempts: e.WEBHOOK_MAX_ATTEMPTS,
    webhookRetentionMs: e.WEBHOOK_RETENTION_MS,
  });
}
