import { SYSTEM_USER_ID, isUserId } from "../../shared/ids.js";
import type { User } from "../../shared/schemas.js";
import type { Store } from "../store/types.js";

/**
 * Why a display name would pass for someone else, or undefined when it is fine: `System` in any case, or
 * another user's id (as written, or in lower case: built-in accounts' ids are lower case).
 */
export async function impersonation(store: Store, userId: string, name: string): Promise<string | undefined> {
  if (name.trim().toLowerCase() === SYSTEM_USER_ID) return "the name System is reserved";
  for (const id of new Set([name, name.toLowerCase()])) {
    if (id !== userId && isUserId(id) && (await store.userExists(id))) return "that name is another user's id";
  }
  return undefined;
}

/**
 * Finds or creates the user a verified token names. A new user is named from the token's `name` claim,
 * unless that name would pass for someone else; then by its id. A known user's name is left as it is (and
 * costs no extra read: `userExists` answers known users from memory).
 */
export async function ensureTokenUser(store: Store, identity: { id: string; name: string | undefined }, at: number) {
  let name = identity.name ?? identity.id;
  if (name !== identity.id && !(await store.userExists(identity.id))) {
    if ((await impersonation(store, identity.id, name)) !== undefined) name = identity.id;
  }
  return store.ensureUser(identity.id, name, at);
}

/** A user as clients see it: id, name and, when set, where its avatar image is fetched. */
export function userView(
  record: { id: string; name: string; avatarFileId: string | null },
  fileUrl: (fileId: string) => string,
): User {
  return record.avatarFileId === null
    ? { id: record.id, name: record.name }
    : { id: record.id, name: record.name, avatarUrl: fileUrl(record.avatarFileId) };
}
