import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ConfigError, loadConfig, parseDurationSeconds } from "../server/config.js";
import { resolveSecrets } from "../server/secrets.js";
import { cleanup, tempDir } from "./support/harness.js";

afterEach(cleanup);

const LONG_A = "a-secret-that-is-at-least-32-bytes-long-a";
const LONG_B = "a-secret-that-is-at-least-32-bytes-long-b";
const LONG_C = "a-secret-that-is-at-least-32-bytes-long-c";

/** Calls `fn`, expects a ConfigError and returns its message. */
function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).message;
  }
  throw new Error("expected a ConfigError, nothing was thrown");
}

const mode = (file: string) => statSync(file).mode & 0o777;

describe("loadConfig", () => {
  it("applies the documented defaults to an empty environment", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      production: false,
      port: 3000,
      host: "127.0.0.1",
      dataDir: "./data",
      logLevel: "info",
      jwtSecret: undefined,
      pushApiKey: undefined,
      adminApiKey: undefined,
      jwtIssuer: undefined,
      jwtAudience: undefined,
      jwtPublicKey: undefined,
      jwtAlgorithm: "HS256",
      tokenTtlSeconds: 12 * 3600,
      presenceGraceMs: 5000,
      presenceRoomLimit: 100,
      allowedOrigins: undefined,
      maxFrameBytes: 65536,
      maxUploadBytes: 10 * 1024 * 1024,
      rateLimitEventsPer10s: 200,
      rateLimitConnectionsPerMin: 600,
      rateLimitAuthPerMin: 30,
      trustProxy: 0,
    });
  });

  it("returns a frozen config", () => {
    const config = loadConfig({});
    expect(Object.isFrozen(config)).toBe(true);
    expect(() => {
      (config as { port: number }).port = 1;
    }).toThrow(TypeError);
  });

  it("coerces numeric variables from their string form", () => {
    const config = loadConfig({
      PORT: "8080",
      PRESENCE_GRACE_MS: "250",
      PRESENCE_ROOM_LIMIT: "5",
      MAX_FRAME_BYTES: "2048",
    });
    expect(config).toMatchObject({ port: 8080, presenceGraceMs: 250, presenceRoomLimit: 5, maxFrameBytes: 2048 });
  });

  it("accepts PORT 0 (any free port)", () => {
    expect(loadConfig({ PORT: "0" }).port).toBe(0);
  });

  for (const name of ["PORT", "PRESENCE_GRACE_MS"] as const) {
    it(`never reads an empty ${name} as 0: it is either unset (the default) or refused by name`, () => {
      const fallback = { PORT: 3000, PRESENCE_GRACE_MS: 5000 }[name];
      const field = { PORT: "port", PRESENCE_GRACE_MS: "presenceGraceMs" } as const;
      let value: number | undefined;
      try {
        value = loadConfig({ [name]: "" })[field[name]];
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        expect((error as Error).message).toMatch(new RegExp(name));
        return;
      }
      expect(value).toBe(fallback);
    });
  }

  it("is in production mode only with NODE_ENV=production", () => {
    expect(loadConfig({ NODE_ENV: "production" }).production).toBe(true);
    expect(loadConfig({ NODE_ENV: "development" }).production).toBe(false);
    expect(loadConfig({ NODE_ENV: "test" }).production).toBe(false);
  });

  for (const port of ["abc", "70000", "65536", "-1", "1.5"]) {
    it(`throws a ConfigError naming PORT for PORT=${port}`, () => {
      expect(configError(() => loadConfig({ PORT: port }))).toMatch(/\bPORT\b/);
    });
  }

  it("names the variable in the error for other bad values too", () => {
    expect(configError(() => loadConfig({ PRESENCE_GRACE_MS: "soon" }))).toMatch(/PRESENCE_GRACE_MS/);
    expect(configError(() => loadConfig({ LOG_LEVEL: "loud" }))).toMatch(/LOG_LEVEL/);
    expect(configError(() => loadConfig({ MAX_FRAME_BYTES: "10" }))).toMatch(/MAX_FRAME_BYTES/);
    expect(configError(() => loadConfig({ TRUST_PROXY: "perhaps" }))).toMatch(/TRUST_PROXY/);
  });

  it("treats an empty or blank secret as unset", () => {
    const config = loadConfig({ JWT_SECRET: "", PUSH_API_KEY: "   " });
    expect(config.jwtSecret).toBeUndefined();
    expect(config.pushApiKey).toBeUndefined();
  });

  const durations: [string, number][] = [
    ["12h", 43200],
    ["30m", 1800],
    ["45s", 45],
    ["7d", 604800],
    ["3600", 3600],
  ];
  for (const [text, seconds] of durations) {
    it(`parses TOKEN_TTL=${text} as ${seconds} seconds`, () => {
      expect(loadConfig({ TOKEN_TTL: text }).tokenTtlSeconds).toBe(seconds);
      expect(parseDurationSeconds(text)).toBe(seconds);
    });
  }

  for (const text of ["forever", "0", "0h", "-5", "1w", "1.5h", "h"]) {
    it(`throws a ConfigError naming TOKEN_TTL for TOKEN_TTL=${text}`, () => {
      expect(configError(() => loadConfig({ TOKEN_TTL: text }))).toMatch(/TOKEN_TTL/);
    });
  }

  it("parses ALLOWED_ORIGINS as a comma list, trimming spaces and a trailing slash", () => {
    const config = loadConfig({
      ALLOWED_ORIGINS: "https://chat.example.com, http://localhost:5173 ,https://x.example/",
    });
    expect(config.allowedOrigins).toEqual(["https://chat.example.com", "http://localhost:5173", "https://x.example"]);
  });

  it("treats an empty ALLOWED_ORIGINS as unset", () => {
    expect(loadConfig({ ALLOWED_ORIGINS: "" }).allowedOrigins).toBeUndefined();
  });

  for (const bad of [
    "chat.example.com",
    "https://chat.example.com/path",
    "*",
    "null",
    "https://user:pw@chat.example.com",
  ]) {
    it(`refuses ALLOWED_ORIGINS entry ${JSON.stringify(bad)}, which is not an origin`, () => {
      const message = configError(() => loadConfig({ ALLOWED_ORIGINS: `https://ok.example.com,${bad}` }));
      expect(message).toMatch(/ALLOWED_ORIGINS/);
    });
  }

  for (const algorithm of ["RS256", "ES256", "EdDSA"]) {
    it(`throws a ConfigError naming JWT_PUBLIC_KEY when JWT_ALGORITHM=${algorithm} comes without it`, () => {
      expect(configError(() => loadConfig({ JWT_ALGORITHM: algorithm }))).toMatch(/JWT_PUBLIC_KEY/);
    });
  }

  it("throws a ConfigError naming JWT_ALGORITHM when a public key comes with HS256", () => {
    expect(configError(() => loadConfig({ JWT_PUBLIC_KEY: "-----BEGIN PUBLIC KEY-----" }))).toMatch(/JWT_ALGORITHM/);
  });

  it("refuses an algorithm outside HS256, RS256, ES256 and EdDSA", () => {
    expect(configError(() => loadConfig({ JWT_ALGORITHM: "none" }))).toMatch(/JWT_ALGORITHM/);
    expect(configError(() => loadConfig({ JWT_ALGORITHM: "HS512" }))).toMatch(/JWT_ALGORITHM/);
  });

  it("turns escaped \\n in JWT_PUBLIC_KEY into newlines", () => {
    const config = loadConfig({
      JWT_PUBLIC_KEY: "-----BEGIN PUBLIC KEY-----\\nabc\\n-----END PUBLIC KEY-----",
      JWT_ALGORITHM: "RS256",
    });
    expect(config.jwtPublicKey).toBe("-----BEGIN PUBLIC KEY-----\nabc\n-----END PUBLIC KEY-----");
  });
});

describe("resolveSecrets", () => {
  it("generates the three secrets outside production into DATA_DIR/secrets.json with mode 0600", () => {
    const dataDir = join(tempDir(), "not", "yet", "there");
    const { config, report } = resolveSecrets(loadConfig({ DATA_DIR: dataDir }));
    const file = join(dataDir, "secrets.json");
    expect(existsSync(file)).toBe(true);
    expect(mode(file)).toBe(0o600);
    const values = [config.jwtSecret, config.pushApiKey, config.adminApiKey];
    for (const value of values) {
      expect(typeof value).toBe("string");
      expect(Buffer.byteLength(value!)).toBeGreaterThanOrEqual(32);
    }
    expect(new Set(values).size).toBe(3);
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({
      JWT_SECRET: config.jwtSecret,
      PUSH_API_KEY: config.pushApiKey,
      ADMIN_API_KEY: config.adminApiKey,
    });
    expect([...report.generated].sort()).toEqual(["ADMIN_API_KEY", "JWT_SECRET", "PUSH_API_KEY"]);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it("reuses the stored secrets on a second call", () => {
    const dataDir = tempDir();
    const first = resolveSecrets(loadConfig({ DATA_DIR: dataDir })).config;
    const { config, report } = resolveSecrets(loadConfig({ DATA_DIR: dataDir }));
    expect(config.jwtSecret).toBe(first.jwtSecret);
    expect(config.pushApiKey).toBe(first.pushApiKey);
    expect(config.adminApiKey).toBe(first.adminApiKey);
    expect(report.generated).toEqual([]);
    expect([...report.reused].sort()).toEqual(["ADMIN_API_KEY", "JWT_SECRET", "PUSH_API_KEY"]);
    expect(mode(join(dataDir, "secrets.json"))).toBe(0o600);
  });

  it("tightens a stored secrets file that is readable by others back to 0600", () => {
    const dataDir = tempDir();
    resolveSecrets(loadConfig({ DATA_DIR: dataDir }));
    const file = join(dataDir, "secrets.json");
    chmodSync(file, 0o644);
    resolveSecrets(loadConfig({ DATA_DIR: dataDir }));
    expect(mode(file)).toBe(0o600);
  });

  it("uses a given secret as is and generates only the missing ones", () => {
    const dataDir = tempDir();
    const { config, report } = resolveSecrets(loadConfig({ DATA_DIR: dataDir, JWT_SECRET: LONG_A }));
    expect(config.jwtSecret).toBe(LONG_A);
    expect([...report.generated].sort()).toEqual(["ADMIN_API_KEY", "PUSH_API_KEY"]);
    const stored = JSON.parse(readFileSync(join(dataDir, "secrets.json"), "utf8")) as Record<string, string>;
    expect(stored["JWT_SECRET"]).toBeUndefined();
    expect(JSON.stringify(stored)).not.toContain(LONG_A);
  });

  it("writes nothing when every secret is given", () => {
    const dataDir = tempDir();
    const env = { DATA_DIR: dataDir, JWT_SECRET: LONG_A, PUSH_API_KEY: LONG_B, ADMIN_API_KEY: LONG_C };
    const { config } = resolveSecrets(loadConfig(env));
    expect(config).toMatchObject({ jwtSecret: LONG_A, pushApiKey: LONG_B, adminApiKey: LONG_C });
    expect(existsSync(join(dataDir, "secrets.json"))).toBe(false);
  });

  it("replaces a stored secret that is too short instead of reusing it", () => {
    const dataDir = tempDir();
    const file = join(dataDir, "secrets.json");
    writeFileSync(file, JSON.stringify({ JWT_SECRET: "short", PUSH_API_KEY: LONG_B, ADMIN_API_KEY: LONG_C }), {
      mode: 0o600,
    });
    const { config, report } = resolveSecrets(loadConfig({ DATA_DIR: dataDir }));
    expect(config.jwtSecret).not.toBe("short");
    expect(Buffer.byteLength(config.jwtSecret!)).toBeGreaterThanOrEqual(32);
    expect(report.generated).toEqual(["JWT_SECRET"]);
    expect(config.pushApiKey).toBe(LONG_B);
  });

  it("stops with a ConfigError naming the file when secrets.json is not JSON", () => {
    const dataDir = tempDir();
    writeFileSync(join(dataDir, "secrets.json"), "{ not json", { mode: 0o600 });
    expect(configError(() => resolveSecrets(loadConfig({ DATA_DIR: dataDir })))).toMatch(/secrets\.json/);
  });

  it("in production, throws a ConfigError naming JWT_SECRET when it is unset, and writes nothing", () => {
    const dataDir = tempDir();
    const message = configError(() =>
      resolveSecrets(
        loadConfig({ NODE_ENV: "production", DATA_DIR: dataDir, PUSH_API_KEY: LONG_B, ADMIN_API_KEY: LONG_C }),
      ),
    );
    expect(message).toMatch(/JWT_SECRET/);
    expect(existsSync(join(dataDir, "secrets.json"))).toBe(false);
  });

  for (const name of ["PUSH_API_KEY", "ADMIN_API_KEY"]) {
    it(`in production, throws a ConfigError naming ${name} when it is unset`, () => {
      const env: Record<string, string> = {
        NODE_ENV: "production",
        DATA_DIR: tempDir(),
        JWT_SECRET: LONG_A,
        PUSH_API_KEY: LONG_B,
        ADMIN_API_KEY: LONG_C,
      };
      delete env[name];
      expect(configError(() => resolveSecrets(loadConfig(env)))).toMatch(new RegExp(name));
    });
  }

  it("in production, throws a ConfigError naming a secret shorter than 32 bytes", () => {
    const env = { NODE_ENV: "production", DATA_DIR: tempDir(), PUSH_API_KEY: LONG_B, ADMIN_API_KEY: LONG_C };
    const message = configError(() => resolveSecrets(loadConfig({ ...env, JWT_SECRET: "x".repeat(31) })));
    expect(message).toMatch(/JWT_SECRET/);
    expect(message).toMatch(/32/);
    // 32 bytes is enough; multi-byte characters count as bytes.
    expect(() => resolveSecrets(loadConfig({ ...env, JWT_SECRET: "x".repeat(32) }))).not.toThrow();
    expect(() => resolveSecrets(loadConfig({ ...env, JWT_SECRET: "é".repeat(16) }))).not.toThrow();
  });

  it("in production, accepts three given secrets of at least 32 bytes", () => {
    const env = {
      NODE_ENV: "production",
      DATA_DIR: tempDir(),
      JWT_SECRET: LONG_A,
      PUSH_API_KEY: LONG_B,
      ADMIN_API_KEY: LONG_C,
    };
    expect(resolveSecrets(loadConfig(env)).config).toMatchObject({
      jwtSecret: LONG_A,
      pushApiKey: LONG_B,
      adminApiKey: LONG_C,
    });
  });

  it("outside production, accepts a short secret but reports it as weak", () => {
    const env = { DATA_DIR: tempDir(), JWT_SECRET: "short", PUSH_API_KEY: LONG_B, ADMIN_API_KEY: LONG_C };
    const { config, report } = resolveSecrets(loadConfig(env));
    expect(config.jwtSecret).toBe("short");
    expect(report.weak).toEqual(["JWT_SECRET"]);
  });
});
