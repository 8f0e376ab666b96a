/** SQL of room moderation that other SQLite repositories share (joins, the group commit, member pages). */

/** A ban from room `?` of user `?` in force at time `?` (until NULL: for good). */
export const BANNED_SQL =
  "SELECT 1 AS one FROM room_bans WHERE room_id = ? AND user_id = ? AND (until IS NULL OR until > ?)";

/** A mute in room `?` of user `?` in force at time `?` (checked again by the group commit). */
export const MUTED_SQL = "SELECT 1 AS one FROM room_mutes WHERE room_id = ? AND user_id = ? AND until > ?";
