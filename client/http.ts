import type { ErrorInfo, HttpErrorBody, Result } from "../shared/errors.js";
import type { AuthResponse, Credentials, User } from "../shared/schemas.js";

/** Where the HTTP API lives: an origin such as `http://127.0.0.1:3000`, or `""` for the page's own. */
export type BaseUrl = string;

const networkError = (error: unknown): ErrorInfo => ({
  code: "UNAVAILABLE",
  message: error instanceof Error ? error.message : "the server could not be reached",
});

/** Reads an HTTP answer into a `Result`: the JSON body on 2xx, the contract's error body otherwise. */
export async function readResult<T>(response: Response): Promise<Result<T>> {
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    body = undefined;
  }
  if (response.ok) return { ok: true, data: body as T };
  const error = (body as Partial<HttpErrorBody> | undefined)?.error;
  if (error && typeof error.code === "string" && typeof error.message === "string") return { ok: false, error };
  return { ok: false, error: { code: "INTERNAL", message: `HTTP ${response.status}` } };
}

async function postJson<T>(baseUrl: BaseUrl, path: string, body: unknown, token?: string): Promise<Result<T>> {
  try {
    const headers: Record<string, string> = { "Content-Type": "application/json" };
    if (token !== undefined) headers["Authorization"] = `Bearer ${token}`;
    const response = await fetch(`${baseUrl}${path}`, { method: "POST", headers, body: JSON.stringify(body) });
    return await readResult<T>(response);
  } catch (error) {
    return { ok: false, error: networkError(error) };
  }
}

/** Creates a built-in account (`POST /api/auth/register`); answers its token and user. */
export function register(baseUrl: BaseUrl, credentials: Credentials): Promise<Result<AuthResponse>> {
  return postJson<AuthResponse>(baseUrl, "/api/auth/register", credentials);
}

/** Signs in to a built-in account (`POST /api/auth/login`); answers a token and the user. */
export function login(baseUrl: BaseUrl, credentials: Credentials): Promise<Result<AuthResponse>> {
  return postJson<AuthResponse>(baseUrl, "/api/auth/login", credentials);
}

/**
 * Changes a built-in account's password (`POST /api/auth/password`); answers a new token: every token the
 * user held before, this one included, stops working (their sockets are signed out).
 */
export function changePassword(
  baseUrl: BaseUrl,
  token: string,
  passwords: { currentPassword: string; newPassword: string },
): Promise<Result<AuthResponse>> {
  return postJson<AuthResponse>(baseUrl, "/api/auth/password", passwords, token);
}

/** Signs this token out (`POST /api/auth/logout`), or with `everywhere` every token of its user issued until now. */
export async function logout(baseUrl: BaseUrl, token: string, everywhere = false): Promise<Result<undefined>> {
  const result = await postJson<unknown>(baseUrl, "/api/auth/logout", { everywhere }, token);
  // 204: no body to read.
  return result.ok ? { ok: true, data: undefined } : result;
}

/** The user a token belongs to (`GET /api/me`); `UNAUTHORIZED` when the token is no longer valid. */
export async function whoAmI(baseUrl: BaseUrl, token: string): Promise<Result<User>> {
  try {
    const response = await fetch(`${baseUrl}/api/me`, { headers: { Authorization: `Bearer ${token}` } });
    return await readResult<User>(response);
  } catch (error) {
    return { ok: false, error: networkError(error) };
  }
}
