import { AppError } from "../errors.js";
import type { Store, UserRecord } from "../store/types.js";
import { ensureTokenUser } from "../users/names.js";
import type { TokenIdentity, TokenService } from "./tokens.js";

/**
 * Signed-out single tokens one user may have on record; one more signs the user out everywhere instead
 * (the bound on what repeated sign-outs can store).
 */
export const MAX_REVOKED_TOKENS_PER_USER = 100;

/** A token that was verified and still counts, and its user. */
export interface Admitted {
  identity: TokenIdentity;
  record: UserRecord;
}

/**
 * Why a verified token no longer opens the account, or undefined when it does: the account is disabled
 * (FORBIDDEN), or the token was issued before the user's tokens were revoked (a password change, a sign-out
 * everywhere), or was signed out itself (UNAUTHORIZED).
 */
export function refusal(record: UserRecord, identity: TokenIdentity, signedOut: boolean): AppError | undefined {
  if (record.disabledAt !== null) return new AppError("FORBIDDEN", "this account is disabled");
  if (signedOut || identity.issuedAt < record.tokensValidAfter) {
    return new AppError("UNAUTHORIZED", "this token was signed out");
  }
  return undefined;
}

/**
 * Verifies a token and checks that it still opens its account (at the handshake, on every HTTP request):
 * the user's record (created on first sight of an external issuer's token) and the signed-out tokens are
 * read together. Throws UNAUTHORIZED or FORBIDDEN.
 */
export async function admitToken(
  deps: { store: Store; tokens: TokenService; now: () => number },
  token: unknown,
): Promise<Admitted> {
  const identity = deps.tokens.verify(token);
  const [record, signedOut] = await Promise.all([
    ensureTokenUser(deps.store, identity, deps.now()),
    deps.store.isTokenRevoked(identity.hash),
  ]);
  const refused = refusal(record, identity, signedOut);
  if (refused) throw refused;
  return { identity, record };
}
