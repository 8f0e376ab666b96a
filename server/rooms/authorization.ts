import { LOBBY_ROOM_ID } from "../../shared/ids.js";
import type { RoomRole } from "../../shared/schemas.js";
import { forbidden, notFound, type AppError } from "../errors.js";

/** What can be done to a room or to one of its members (section 11's table). */
export type RoomAction =
  "role" | "kick" | "ban" | "unban" | "mute" | "unmute" | "update" | "delete" | "delete-message" | "audit" | "bans";

/** One side of an action: a user's effective role in the room (undefined when not a member), and admin status. */
export interface Party {
  userId: string;
  role: RoomRole | undefined;
  admin: boolean;
}

/** Why an action was refused; each store answers one of these and the service turns it into an error. */
export type Refusal = "no-room" | "no-target" | "no-ban" | "no-mute" | "not-allowed" | "protected" | "self" | "lobby";

/** Who may take each action, by role; admins may take every one, in every room. */
const ALLOWED: Readonly<Record<RoomAction, readonly RoomRole[]>> = {
  role: ["owner"],
  kick: ["owner", "moderator"],
  ban: ["owner", "moderator"],
  unban: ["owner", "moderator"],
  mute: ["owner", "moderator"],
  unmute: ["owner", "moderator"],
  update: ["owner"],
  delete: ["owner"],
  "delete-message": ["owner", "moderator"],
  audit: ["owner", "moderator"],
  bans: ["owner", "moderator"],
};

/** Actions on a user that nobody may take on themselves (a muted moderator cannot unmute itself either). */
const NOT_ON_SELF: ReadonlySet<RoomAction> = new Set(["kick", "ban", "unban", "mute", "unmute"]);

/**
 * Decides whether `actor` may take `action` in `roomId` (on `target`, for actions on a user): undefined when
 * it may, else why not. Pure: the stores call it inside the transaction that writes, on the roles they
 * read there, so the decision and the change are one.
 *
 * - owner: every action; admins: every action in every room, the lobby included;
 * - moderators: kick, ban, unban, mute, unmute, delete others' messages, read the room's audit log and bans, never on
 *   the owner, another moderator or an admin;
 * - nobody kicks, bans or mutes (or unbans, unmutes) themselves; the owner's role cannot change; the lobby
 *   cannot be deleted.
 */
export function authorize(action: RoomAction, roomId: string, actor: Party, target?: Party): Refusal | undefined {
  if (!actor.admin && (actor.role === undefined || !ALLOWED[action].includes(actor.role))) return "not-allowed";
  if (action === "delete" && roomId === LOBBY_ROOM_ID) return "lobby";
  if (!target) return undefined;
  if (target.userId === actor.userId && NOT_ON_SELF.has(action)) return "self";
  if (action === "role" && target.role === "owner") return "protected";
  // Only the owner and admins act on moderators, owners and admins.
  const actorOutranks = actor.admin || actor.role === "owner";
  if (!actorOutranks && (target.admin || target.role === "owner" || target.role === "moderator")) return "protected";
  return undefined;
}

/** The error a refusal is answered with. */
export function refusalError(refusal: Refusal): AppError {
  switch (refusal) {
    case "no-room":
      return notFound("room");
    case "no-target":
      return notFound("member");
    case "no-ban":
      return notFound("ban");
    case "no-mute":
      return notFound("mute");
    case "not-allowed":
      return forbidden("your role in this room does not allow this");
    case "protected":
      return forbidden("a moderator cannot act on the owner, another moderator or an admin");
    case "self":
      return forbidden("you cannot do this to yourself");
    case "lobby":
      return forbidden("the lobby cannot be deleted");
  }
}

/** A user's effective role: the room's creator owns it (whatever its stored role); the lobby has no owner. */
export function effectiveRole(
  createdBy: string,
  userId: string,
  stored: string | null | undefined,
): RoomRole | undefined {
  if (stored === null || stored === undefined) return undefined;
  if (createdBy === userId) return "owner";
  return stored === "moderator" ? "moderator" : "member";
}
