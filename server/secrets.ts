import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, MIN_SECRET_BYTES, type Config } from "./config.js";

const SECRET_NAMES = ["JWT_SECRET", "PUSH_API_KEY", "ADMIN_API_KEY"] as const;
/** A secret the server generates outside production when it is not set. */
export type SecretName = (typeof SECRET_NAMES)[number];
const FIELD: Record<SecretName, "jwtSecret" | "pushApiKey" | "adminApiKey"> = {
  JWT_SECRET: "jwtSecret",
  PUSH_API_KEY: "pushApiKey",
  ADMIN_API_KEY: "adminApiKey",
};

/** What `resolveSecrets` did, for the boot log (names only, never values). */
export interface SecretsReport {
  generated: SecretName[];
  reused: SecretName[];
  weak: SecretName[];
  file: string;
}

/**
 * The checks every node makes before filling secrets: a short one is refused in production (reported as weak
 * elsewhere), an unset one stops a production boot. Returns the names left to fill.
 */
function checkSecrets(config: Config, report: SecretsReport): SecretName[] {
  // In public-key mode tokens come from an external issuer and built-in accounts are off: no JWT_SECRET needed.
  const needed = SECRET_NAMES.filter((name) => !(name === "JWT_SECRET" && config.jwtPublicKey !== undefined));
  for (const name of needed) {
    const value = config[FIELD[name]];
    if (value !== undefined && Buffer.byteLength(value) < MIN_SECRET_BYTES) {
      if (config.production) throw new ConfigError(`${name}: must be at least ${MIN_SECRET_BYTES} bytes in production`);
      report.weak.push(name);
    }
  }
  const missing = needed.filter((name) => config[FIELD[name]] === undefined);
  if (missing.length > 0 && config.production) {
    throw new ConfigError(
      `${missing.join(", ")}: required when NODE_ENV=production (at least ${MIN_SECRET_BYTES} bytes)`,
    );
  }
  return missing;
}

/** A new secret: 48 random bytes, base64url. */
const freshSecret = (): string => randomBytes(48).toString("base64url");

/**
 * Cluster mode: fills unset secrets from the shared store, so that every node uses the same ones without
 * copying files. `claim(name, fresh)` stores `fresh` unless a value is there already and returns the stored
 * value (one conditional insert: nodes booting together agree on the first one written).
 */
export async function resolveSharedSecrets(
  config: Config,
  claim: (name: SecretName, fresh: string) => Promise<string>,
): Promise<{ config: Config; report: SecretsReport }> {
  const report: SecretsReport = { generated: [], reused: [], weak: [], file: "the database (table settings)" };
  const missing = checkSecrets(config, report);
  if (missing.length === 0) return { config, report };
  const filled: Partial<Record<(typeof FIELD)[SecretName], string>> = {};
  for (const name of missing) {
    const fresh = freshSecret();
    const stored = await claim(name, fresh);
    filled[FIELD[name]] = stored;
    (stored === fresh ? report.generated : report.reused).push(name);
  }
  return { config: Object.freeze({ ...config, ...filled }), report };
}

/**
 * Fills unset secrets: in production an unset or short one stops the boot; elsewhere each is generated
 * once into `DATA_DIR/secrets.json` (mode 0600) and reused on later boots.
 */
export function resolveSecrets(config: Config): { config: Config; report: SecretsReport } {
  const file = join(config.dataDir, "secrets.json");
  const report: SecretsReport = { generated: [], reused: [], weak: [], file };
  const missing = checkSecrets(config, report);
  if (missing.length === 0) return { config, report };
  mkdirSync(config.dataDir, { recursive: true });
  let stored: Partial<Record<SecretName, string>> = {};
  if (existsSync(file)) {
    try {
      stored = JSON.parse(readFileSync(file, "utf8")) as Partial<Record<SecretName, string>>;
    } catch (error) {
      throw new ConfigError(`${file}: cannot be read as JSON; fix or delete it`, { cause: error });
    }
  }
  const filled: Partial<Record<(typeof FIELD)[SecretName], string>> = {};
  let changed = false;
  for (const name of missing) {
    const existing = stored[name];
    if (typeof existing === "string" && Buffer.byteLength(existing) >= MIN_SECRET_BYTES) {
      report.reused.push(name);
      filled[FIELD[name]] = existing;
    } else {
      const fresh = freshSecret();
      stored[name] = fresh;
      filled[FIELD[name]] = fresh;
      report.generated.push(name);
      changed = true;
    }
  }
  if (changed) writeFileSync(file, JSON.stringify(stored, null, 2) + "\n", { mode: 0o600 });
  chmodSync(file, 0o600);
  return { config: Object.freeze({ ...config, ...filled }), report };
}
