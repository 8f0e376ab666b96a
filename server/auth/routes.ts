import type { FastifyInstance, FastifyRequest } from "fastify";
import { RateLimiterMemory } from "rate-limiter-flexible";
import { SYSTEM_USER_ID } from "../../shared/ids.js";
import { credentialsSchema, loginSchema, type AuthResponse, type User } from "../../shared/schemas.js";
import type { Config } from "../config.js";
import { AppError } from "../errors.js";
import type { Store } from "../store/types.js";
import { bearerToken, parseInput } from "../validate.js";
import { hashPassword, verifyPassword } from "./password.js";
import type { TokenService } from "./tokens.js";

/** What the auth routes need. */
export interface AuthDeps {
  config: Config;
  store: Store;
  tokens: TokenService;
  now: () => number;
}

/**
 * Resolves the bearer JWT of a request to its user, creating the user record on first sight of an
 * external issuer's token. Throws UNAUTHORIZED otherwise.
 */
export async function authenticateRequest(request: FastifyRequest, deps: AuthDeps): Promise<User> {
  const identity = deps.tokens.verify(bearerToken(request.headers.authorization));
  const record = await deps.store.ensureUser(identity.id, identity.name ?? identity.id, deps.now());
  return { id: record.id, name: record.name };
}

/** Built-in accounts: register, login (rate limited per client address) and `GET /api/me`. */
export function registerAuthRoutes(app: FastifyInstance, deps: AuthDeps): void {
  const { config, store, tokens } = deps;
  const limiter = new RateLimiterMemory({ points: config.rateLimitAuthPerMin, duration: 60 });
  // Login for an unknown user still runs one hash, so timing does not tell which usernames exist.
  let decoy: Promise<string> | undefined;

  const guard = async (request: FastifyRequest) => {
    try {
      await limiter.consume(request.ip);
    } catch {
      throw new AppError("RATE_LIMITED", "too many attempts, try again in a minute");
    }
    if (!tokens.canIssue)
      throw new AppError("FORBIDDEN", "built-in accounts are disabled: tokens come from an external issuer");
  };

  const answer = (user: User): AuthResponse => ({ token: tokens.issue(user), user });

  app.post("/api/auth/register", async (request, reply) => {
    await guard(request);
    const { username, password } = parseInput(credentialsSchema, request.body);
    const id = username.toLowerCase();
    if (id === SYSTEM_USER_ID || (await store.getUser(id))) throw new AppError("CONFLICT", "username is taken");
    const passwordHash = await hashPassword(password, config.scryptLogN);
    if (!(await store.createUser({ id, name: id, passwordHash, createAt: deps.now() }))) {
      throw new AppError("CONFLICT", "username is taken");
    }
    return reply.status(201).send(answer({ id, name: id }));
  });

  app.post("/api/auth/login", async (request) => {
    await guard(request);
    const { username, password } = parseInput(loginSchema, request.body);
    const record = await store.getUser(username.toLowerCase());
    const stored = record?.passwordHash ?? (await (decoy ??= hashPassword("decoy password", config.scryptLogN)));
    const valid = await verifyPassword(password, stored);
    if (!record?.passwordHash || !valid) throw new AppError("UNAUTHORIZED", "wrong username or password");
    return answer({ id: record.id, name: record.name });
  });

  app.get("/api/me", async (request) => authenticateRequest(request, deps));
}
