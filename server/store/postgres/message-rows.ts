/**
 * The key of the direct conversation between `dc.user_id` and `dc.peer`, as directConversation() makes it:
 * the two ids in byte order (COLLATE "C", whatever the database's default collation).
 */
export const DIRECT_KEY_SQL = `CASE WHEN dc.user_id < dc.peer COLLATE "C" THEN 'd:' || dc.user_id || '|' || dc.peer
  ELSE 'd:' || dc.peer || '|' || dc.user_id END`;

/** Every conversation key of user `$1`: its rooms, its direct conversations, the broadcast. */
export const USER_KEYS_SQL = `
  SELECT 'r:' || room_id AS key FROM room_members WHERE user_id = $1
  UNION ALL SELECT ${DIRECT_KEY_SQL} FROM direct_conversations dc WHERE dc.user_id = $1
  UNION ALL SELECT '*'`;
