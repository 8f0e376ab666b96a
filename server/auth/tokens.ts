import {
  createHash,
  createHmac,
  createPublicKey,
  createSecretKey,
  randomBytes,
  timingSafeEqual,
  verify as verifySignature,
  type KeyObject,
} from "node:crypto";
import jwt from "jsonwebtoken";
import { SYSTEM_USER_ID, isUserId } from "../../shared/ids.js";
import { isWellFormed, type User } from "../../shared/schemas.js";
import { ConfigError, type Config } from "../config.js";
import { AppError } from "../errors.js";

/** What a verified token says about its bearer. */
export interface TokenIdentity {
  id: string;
  /** The `name` claim, when it is a usable display name. */
  name: string | undefined;
  /**
   * When the token was issued, in ms: the `iat_ms` claim of the tokens this server issues (a password
   * change must revoke a token issued in the same second as the new one, and not the new one), else `iat`
   * in ms, else 0 (a token that does not say when it was issued counts as older than any revocation).
   */
  issuedAt: number;
  /** The `exp` claim (seconds since the epoch). */
  exp: number;
  /** SHA-256 of the token's text (base64url): what a sign-out of this one token records. */
  hash: string;
}

/** Issues and verifies the JWTs that carry a user's identity. */
export interface TokenService {
  /** True when this server can issue tokens (shared-secret mode). */
  readonly canIssue: boolean;
  /** Issues a token for a built-in account, issued at `now` (ms). */
  issue(user: User, now?: number): string;
  /** Verifies a token; throws `UNAUTHORIZED` for anything not exactly right. */
  verify(token: unknown): TokenIdentity;
}

/** The key type each asymmetric algorithm verifies with. */
const KEY_TYPES: Record<string, string> = { RS256: "rsa", ES256: "ec", EdDSA: "ed25519" };

const unauthorized = (cause?: unknown) => new AppError("UNAUTHORIZED", "invalid or expired token", { cause });

/**
 * Builds the token service from the config: HS256 with the secret as a KeyObject (a string secret costs
 * ~60x more per verify on Node 20), or the configured asymmetric algorithm with `JWT_PUBLIC_KEY`.
 */
export function createTokenService(config: Config): TokenService {
  const publicMode = config.jwtPublicKey !== undefined;
  let key: KeyObject;
  if (publicMode) {
    try {
      key = createPublicKey(config.jwtPublicKey!);
    } catch (error) {
      throw new ConfigError("JWT_PUBLIC_KEY: not a PEM public key", { cause: error });
    }
    const expected = KEY_TYPES[config.jwtAlgorithm];
    if (key.asymmetricKeyType !== expected) {
      throw new ConfigError(
        `JWT_PUBLIC_KEY: ${config.jwtAlgorithm} needs an ${expected} key, got ${key.asymmetricKeyType}`,
      );
    }
  } else {
    if (config.jwtSecret === undefined) throw new Error("JWT_SECRET is not resolved");
    key = createSecretKey(Buffer.from(config.jwtSecret, "utf8"));
  }
  const algorithm = config.jwtAlgorithm;
  return {
    canIssue: !publicMode,
    issue(user, now = Date.now()) {
      if (publicMode)
        throw new AppError("FORBIDDEN", "built-in accounts are disabled: tokens come from an external issuer");
      // `jti` makes every token distinct, so that signing one out never signs out another issued the same ms.
      const claims = {
        name: user.name,
        iat: Math.floor(now / 1000),
        iat_ms: now,
        jti: randomBytes(12).toString("base64url"),
      };
      return jwt.sign(claims, key, {
        algorithm: "HS256",
        subject: user.id,
        expiresIn: config.tokenTtlSeconds,
        ...(config.jwtIssuer !== undefined && { issuer: config.jwtIssuer }),
        ...(config.jwtAudience !== undefined && { audience: config.jwtAudience }),
      });
    },
    verify(token) {
      if (typeof token !== "string" || token.length === 0 || token.length > 8192) throw unauthorized();
      let payload: jwt.JwtPayload;
      try {
        payload = verifyJwt(token, algorithm, key, config);
      } catch (error) {
        throw unauthorized(error);
      }
      const sub = payload.sub;
      if (!isUserId(sub) || sub === SYSTEM_USER_ID) throw unauthorized();
      const claim: unknown = payload["name"];
      const trimmed = typeof claim === "string" ? claim.trim().slice(0, 64) : "";
      // A name that would pass for the system, or that is not well-formed text, is not used.
      const usable = trimmed.length > 0 && trimmed.toLowerCase() !== SYSTEM_USER_ID && isWellFormed(trimmed);
      const name = usable ? trimmed : undefined;
      return { id: sub, name, issuedAt: issuedAt(payload), exp: payload.exp!, hash: tokenHash(token) };
    },
  };
}

/** SHA-256 of a token's text, base64url: how a signed-out token is recorded (never the token itself). */
export const tokenHash = (token: string): string => createHash("sha256").update(token).digest("base64url");

/** When a token was issued, in ms (see TokenIdentity.issuedAt). */
function issuedAt(claims: jwt.JwtPayload): number {
  const iat = typeof claims.iat === "number" && Number.isFinite(claims.iat) ? claims.iat : undefined;
  if (iat === undefined) return 0;
  const precise: unknown = claims["iat_ms"];
  // The precise time counts only when it agrees with `iat` (both are signed; this keeps them one claim).
  if (typeof precise === "number" && Math.floor(precise / 1000) === Math.floor(iat)) return precise;
  return Math.floor(iat) * 1000;
}

/** Checks a JWS signature over `signed` with the one configured algorithm. */
function signatureValid(algorithm: Config["jwtAlgorithm"], key: KeyObject, signed: Buffer, signature: Buffer): boolean {
  switch (algorithm) {
    case "HS256": {
      const expected = createHmac("sha256", key).update(signed).digest();
      return signature.length === expected.length && timingSafeEqual(signature, expected);
    }
    case "RS256":
      return verifySignature("sha256", signed, key, signature);
    case "ES256":
      // JWS carries ES256 signatures as raw r‖s (IEEE P1363), not DER.
      return verifySignature("sha256", signed, { key, dsaEncoding: "ieee-p1363" }, signature);
    case "EdDSA":
      return verifySignature(null, signed, key, signature);
  }
}

/**
 * Verifies a compact JWS token with node:crypto: each part must be canonical base64url (see decodeCanonical)
 * and the header and claims JSON objects; the header must name exactly the configured algorithm
 * (so a public key can never be used as an HMAC secret, and `none` never passes), the signature must be
 * right, and the claims must hold — `exp` present and in the future, `nbf` passed, `iss`/`aud` as
 * configured. jsonwebtoken 9 does the same for HS/RS/ES but not EdDSA, and costs several times as much
 * per handshake; it still signs the tokens this server issues.
 */
function verifyJwt(token: string, algorithm: Config["jwtAlgorithm"], key: KeyObject, config: Config): jwt.JwtPayload {
  const parts = token.split(".");
  if (parts.length !== 3) throw new Error("malformed token");
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
  const header = parseJsonObject(decodeCanonical(headerPart));
  if (header["alg"] !== algorithm) throw new Error("unexpected algorithm");
  const signed = Buffer.from(`${headerPart}.${payloadPart}`);
  if (!signatureValid(algorithm, key, signed, decodeCanonical(signaturePart))) throw new Error("bad signature");
  const claims = parseJsonObject(decodeCanonical(payloadPart)) as jwt.JwtPayload;
  const now = Math.floor(Date.now() / 1000);
  if (typeof claims.exp !== "number" || claims.exp <= now) throw new Error("expired");
  if (claims.nbf !== undefined && (typeof claims.nbf !== "number" || claims.nbf > now))
    throw new Error("not yet valid");
  if (config.jwtIssuer !== undefined && claims.iss !== config.jwtIssuer) throw new Error("wrong issuer");
  if (config.jwtAudience !== undefined) {
    const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!audiences.includes(config.jwtAudience)) throw new Error("wrong audience");
  }
  return claims;
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;

/**
 * Decodes one part of a compact JWS, accepting only its one canonical base64url text (RFC 7515 §2: no
 * padding, no other characters). Node's decoder skips junk (`!!`, `=`, whitespace) and ignores the unused
 * low bits of the last character, so several texts decode to the same bytes; re-encoding must give back
 * exactly the text received, so that one token has one spelling and an altered token is never accepted.
 */
function decodeCanonical(part: string): Buffer {
  if (!BASE64URL.test(part)) throw new Error("not base64url");
  const bytes = Buffer.from(part, "base64url");
  if (bytes.toString("base64url") !== part) throw new Error("not canonical base64url");
  return bytes;
}

/** Parses a JOSE header or claims set: a JSON object (not an array, not null). */
function parseJsonObject(bytes: Buffer): Record<string, unknown> {
  const value = JSON.parse(bytes.toString("utf8")) as unknown;
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error("not a JSON object");
  return value as Record<string, unknown>;
}
