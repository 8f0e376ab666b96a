import type { Config } from "../config.js";
import type { UserRecord } from "../store/types.js";

/** Whether a user is an admin: listed in `ADMIN_USERS`, or made one through the admin API. */
export function isAdmin(config: Pick<Config, "adminUsers">, user: Pick<UserRecord, "id" | "admin">): boolean {
  return user.admin || config.adminUsers.has(user.id);
}
