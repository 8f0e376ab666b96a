import { z } from "zod";

/** A user id: 1–64 characters of `A-Za-z0-9_.@:-`, equal to the JWT `sub`. */
export const userIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_.@:-]{1,64}$/, "a user id is 1-64 characters of A-Za-z0-9_.@:-");

/** A built-in account's username: 3–32 characters of `A-Za-z0-9_.-`, case-insensitive. */
export const usernameSchema = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{3,32}$/, "a username is 3-32 characters of A-Za-z0-9_.-");

/** A room id as clients send it; the server makes ids, so only bound the length. */
export const roomIdSchema = z.string().min(1).max(64);

/** The reserved id of the server itself, the sender of system messages. */
export const SYSTEM_USER_ID = "system";

/** The room every user belongs to. */
export const LOBBY_ROOM_ID = "lobby";

/** True when `value` is a syntactically valid user id. */
export function isUserId(value: unknown): value is string {
  return userIdSchema.safeParse(value).success;
}
