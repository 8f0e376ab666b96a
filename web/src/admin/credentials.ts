const KEY = "chat.admin";

/**
 * How this tab signs in to the admin API: the admin key, or an admin user's token. Kept in sessionStorage
 * only (gone when the tab closes), never in localStorage.
 */
export interface AdminCredential {
  kind: "key" | "user";
  /** What goes after `Authorization: Bearer`. */
  bearer: string;
  /** Who this is, for the header: the user's name, or "the admin key". */
  who: string;
  /** A token the console signed in for itself (not the chat's): signing out of the console revokes it. */
  own: boolean;
}

/** The credential this tab keeps, if any. */
export function loadCredential(): AdminCredential | undefined {
  try {
    const value = JSON.parse(sessionStorage.getItem(KEY) ?? "null") as Partial<AdminCredential> | null;
    if (typeof value?.bearer !== "string" || (value.kind !== "key" && value.kind !== "user")) return undefined;
    return { kind: value.kind, bearer: value.bearer, who: String(value.who ?? ""), own: value.own === true };
  } catch {
    return undefined;
  }
}

/** Keeps the credential for this tab. */
export function saveCredential(credential: AdminCredential): void {
  sessionStorage.setItem(KEY, JSON.stringify(credential));
}

/** Forgets it (sign out). */
export function clearCredential(): void {
  sessionStorage.removeItem(KEY);
}

const DECLINED = "chat.admin.declined";

/**
 * Whether the console may sign in with the chat's session of this tab (an admin's token). Not after the user
 * signed out of the console: that sign-out must hold across a reload.
 */
export function mayUseChatSession(): boolean {
  return sessionStorage.getItem(DECLINED) === null;
}

/** Remembers (for this tab) that the console must not sign in with the chat's session again; `false` forgets it. */
export function declineChatSession(declined: boolean): void {
  if (declined) sessionStorage.setItem(DECLINED, "1");
  else sessionStorage.removeItem(DECLINED);
}
