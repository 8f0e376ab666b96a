import { isAdmin } from "../users/admins.js";
import type { LimiterFactory } from "../cluster/limiters.js";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { SYSTEM_USER_ID } from "../../shared/ids.js";
import {
  credentialsSchema,
  loginSchema,
  logoutSchema,
  passwordChangeSchema,
  type AuthResponse,
  type User,
} from "../../shared/schemas.js";
import type { Config } from "../config.js";
import { limitKey } from "../http/client-address.js";
import { fileUrl } from "../files/urls.js";
import { userView } from "../users/names.js";
import { admitToken, type Admitted } from "./access.js";
import type { AccountService } from "./accounts.js";
import { AppError } from "../errors.js";
import type { Store } from "../store/types.js";
import { bearerToken, parseInput } from "../validate.js";
import type { PasswordHasher } from "./password.js";
import type { TokenService } from "./tokens.js";

/** What the auth routes need. */
export interface AuthDeps {
  /** Password changes and sign-outs. */
  accounts: AccountService;
  config: Config;
  store: Store;
  tokens: TokenService;
  now: () => number;
  /** Makes the rate limiters (in memory, or in Redis across nodes). */
  limiters: LimiterFactory;
}

/** Failed logins one username may take per window, from any address; then 429 until the window passes. */
export const FAILED_LOGINS_PER_USERNAME = 10;
/** The window of `FAILED_LOGINS_PER_USERNAME`, in seconds (15 minutes). */
export const FAILED_LOGIN_WINDOW_S = 15 * 60;

/**
 * Resolves the bearer JWT of a request to its user, creating the user record on first sight of an
 * external issuer's token. Throws UNAUTHORIZED otherwise, saying whether the token is missing or bad.
 */
export async function authenticateRequest(request: FastifyRequest, deps: AuthDeps): Promise<User> {
  const { record } = await admitRequest(request, deps);
  return userView(record, fileUrl);
}

/** The bearer JWT of a request, verified and still counting (see admitToken), with its user's record. */
async function admitRequest(request: FastifyRequest, deps: AuthDeps): Promise<Admitted> {
  const token = bearerToken(request.headers.authorization);
  if (token === undefined) throw new AppError("UNAUTHORIZED", "missing bearer token (Authorization: Bearer <token>)");
  return admitToken(deps, token);
}

/**
 * Built-in accounts: register, login (rate limited per client address, failed logins limited per username) and
 * `GET /api/me`. Passwords are hashed through `passwords`, which bounds how many hashes run at once.
 */
export function registerAuthRoutes(app: FastifyInstance, deps: AuthDeps & { passwords: PasswordHasher }): void {
  const { store, tokens, passwords } = deps;
  const limiter = deps.limiters({ name: "auth", points: deps.config.rateLimitAuthPerMin, durationSeconds: 60 });
  const failures = deps.limiters({
    name: "failed-logins",
    points: FAILED_LOGINS_PER_USERNAME,
    durationSeconds: FAILED_LOGIN_WINDOW_S,
  });
  // Login for an unknown user still runs one hash, so timing does not tell which usernames exist.
  let decoy: Promise<string> | undefined;
  const decoyHash = () =>
    (decoy ??= passwords.hash("decoy password").catch((error: unknown) => {
      decoy = undefined;
      throw error;
    }));

  const guard = async (request: FastifyRequest) => {
    try {
      await limiter.consume(limitKey(request.ip));
    } catch {
      throw new AppError("RATE_LIMITED", "too many attempts, try again in a minute");
    }
    if (!tokens.canIssue)
      throw new AppError("FORBIDDEN", "built-in accounts are disabled: tokens come from an external issuer");
  };

  const answer = (user: User): AuthResponse => ({ token: tokens.issue(user, deps.now()), user });

  app.post("/api/auth/register", async (request, reply) => {
    await guard(request);
    const { username, password } = parseInput(credentialsSchema, request.body);
    const id = username.toLowerCase();
    if (id === SYSTEM_USER_ID || (await store.getUser(id))) throw new AppError("CONFLICT", "username is taken");
    const passwordHash = await passwords.hash(password);
    if (!(await store.createUser({ id, name: id, passwordHash, createAt: deps.now() }))) {
      throw new AppError("CONFLICT", "username is taken");
    }
    return reply.status(201).send(answer({ id, name: id }));
  });

  app.post("/api/auth/login", async (request) => {
    await guard(request);
    const { username, password } = parseInput(loginSchema, request.body);
    const id = username.toLowerCase();
    // Every attempt takes a point before its hash runs and a success gives it back: parallel guesses cannot
    // all pass a check made before any of them failed.
    try {
      await failures.consume(id);
    } catch {
      throw new AppError("RATE_LIMITED", "too many failed logins for this username, try again later");
    }
    let guessed = false;
    try {
      const record = await store.getUser(id);
      const stored = record?.passwordHash ?? (await decoyHash());
      const valid = await passwords.verify(password, stored);
      if (!record?.passwordHash || !valid) {
        guessed = true;
        throw new AppError("UNAUTHORIZED", "wrong username or password");
      }
      // Said only to whoever knows the password.
      if (record.disabledAt !== null) throw new AppError("FORBIDDEN", "this account is disabled");
      return answer({ id: record.id, name: record.name });
    } finally {
      // Only a wrong password is a failure: a success, a busy server or a broken store gives the point back.
      if (!guessed) await failures.reward(id, 1);
    }
  });

  app.get("/api/me", async (request) => authenticateRequest(request, deps));

  // The web client asks this to decide whether to offer the admin console: a 200 for everyone, where asking
  // an admin route would log a 403 on every non-admin's page load.
  app.get("/api/me/admin", async (request) => {
    const { record } = await admitRequest(request, deps);
    return { admin: isAdmin(deps.config, record) };
  });

  app.post("/api/auth/password", async (request) => {
    const admitted = await admitRequest(request, deps);
    const { currentPassword, newPassword } = parseInput(passwordChangeSchema, request.body);
    // A wrong current password is a failed login: the same per-username budget bounds guessing through here.
    try {
      await failures.consume(admitted.record.id);
    } catch {
      throw new AppError("RATE_LIMITED", "too many failed attempts for this user, try again later");
    }
    let refund = true;
    try {
      return await deps.accounts.changePassword(admitted, currentPassword, newPassword);
    } catch (error) {
      // Only a wrong password is a failure.
      refund = !(error instanceof AppError && error.code === "UNAUTHORIZED");
      throw error;
    } finally {
      if (refund) await failures.reward(admitted.record.id, 1);
    }
  });

  app.post("/api/auth/logout", async (request, reply) => {
    const admitted = await admitRequest(request, deps);
    const { everywhere } = parseInput(logoutSchema, request.body);
    await deps.accounts.logout(admitted, everywhere);
    return reply.status(204).send();
  });
}
