/** Schema migrations, applied in order inside one transaction each; `user_version` records the last applied. */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE users (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    password_hash TEXT,
    create_at INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE rooms (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    visibility TEXT NOT NULL CHECK (visibility IN ('public', 'private')),
    created_by TEXT NOT NULL,
    create_at INTEGER NOT NULL,
    member_count INTEGER NOT NULL DEFAULT 0
  ) STRICT;
  CREATE INDEX rooms_public ON rooms (visibility, create_at);

  CREATE TABLE room_members (
    room_id TEXT NOT NULL REFERENCES rooms (id),
    user_id TEXT NOT NULL REFERENCES users (id),
    joined_at INTEGER NOT NULL,
    PRIMARY KEY (room_id, user_id)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX room_members_by_user ON room_members (user_id, room_id);

  CREATE TABLE room_invites (
    room_id TEXT NOT NULL REFERENCES rooms (id),
    user_id TEXT NOT NULL,
    invited_by TEXT NOT NULL,
    create_at INTEGER NOT NULL,
    PRIMARY KEY (room_id, user_id)
  ) STRICT, WITHOUT ROWID;

  CREATE TABLE files (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    size INTEGER NOT NULL,
    mime TEXT NOT NULL,
    media_type TEXT NOT NULL CHECK (media_type IN ('image', 'file')),
    create_at INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    message_type TEXT NOT NULL CHECK (message_type IN ('single', 'group', 'system')),
    media_type TEXT NOT NULL CHECK (media_type IN ('text', 'image', 'file')),
    sender TEXT NOT NULL,
    recipient TEXT NOT NULL,
    conversation TEXT NOT NULL,
    recipient_user TEXT,
    content TEXT,
    file_id TEXT,
    client_msg_id TEXT,
    create_at INTEGER NOT NULL,
    update_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX messages_by_conversation ON messages (conversation, id);
  CREATE INDEX messages_by_recipient_user ON messages (recipient_user, id) WHERE recipient_user IS NOT NULL;
  CREATE INDEX messages_direct_by_sender ON messages (sender, id) WHERE message_type = 'single';
  CREATE UNIQUE INDEX messages_client_id ON messages (sender, client_msg_id) WHERE client_msg_id IS NOT NULL;
  `,
  // v1.1, conversation state: revisions of messages share the id counter (rev), edits keep the previous text,
  // deletes leave tombstones, reactions live on the row, read positions per user and conversation, an index
  // of each user's direct conversations, persisted last-seen times, and full-text search.
  `
  ALTER TABLE messages ADD COLUMN rev INTEGER NOT NULL DEFAULT 0;
  UPDATE messages SET rev = id;
  ALTER TABLE messages ADD COLUMN edited_at INTEGER;
  ALTER TABLE messages ADD COLUMN deleted_at INTEGER;
  ALTER TABLE messages ADD COLUMN reply_to INTEGER;
  ALTER TABLE messages ADD COLUMN reactions TEXT;
  CREATE INDEX messages_rev_by_conversation ON messages (conversation, rev);
  CREATE INDEX messages_rev_by_recipient_user ON messages (recipient_user, rev) WHERE recipient_user IS NOT NULL;
  CREATE INDEX messages_rev_direct_by_sender ON messages (sender, rev) WHERE message_type = 'single';

  CREATE TABLE message_revisions (
    message_id INTEGER NOT NULL REFERENCES messages (id),
    content TEXT NOT NULL,
    edited_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX message_revisions_by_message ON message_revisions (message_id, edited_at);

  CREATE TABLE read_positions (
    user_id TEXT NOT NULL,
    conversation TEXT NOT NULL,
    last_read_id INTEGER NOT NULL,
    PRIMARY KEY (user_id, conversation)
  ) STRICT, WITHOUT ROWID;

  CREATE TABLE direct_conversations (
    user_id TEXT NOT NULL,
    peer TEXT NOT NULL,
    PRIMARY KEY (user_id, peer)
  ) STRICT, WITHOUT ROWID;
  INSERT OR IGNORE INTO direct_conversations (user_id, peer)
    SELECT sender, recipient_user FROM messages WHERE message_type = 'single'
    UNION SELECT recipient_user, sender FROM messages WHERE message_type = 'single'
    UNION SELECT recipient_user, 'system' FROM messages WHERE message_type = 'system' AND recipient_user IS NOT NULL;

  ALTER TABLE users ADD COLUMN read_receipts INTEGER NOT NULL DEFAULT 1;
  ALTER TABLE users ADD COLUMN last_seen_at INTEGER;

  CREATE VIRTUAL TABLE messages_fts USING fts5(
    content, content = 'messages', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2'
  );
  INSERT INTO messages_fts (rowid, content) SELECT id, content FROM messages WHERE content IS NOT NULL;
  CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages WHEN new.content IS NOT NULL BEGIN
    INSERT INTO messages_fts (rowid, content) VALUES (new.id, new.content);
  END;
  CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, content) SELECT 'delete', old.id, old.content WHERE old.content IS NOT NULL;
    INSERT INTO messages_fts (rowid, content) SELECT new.id, new.content WHERE new.content IS NOT NULL;
  END;
  `,
  // Since v1.1 every query on these columns orders by rev (the *_rev_* indexes); these two id-ordered ones
  // were only written, at a cost on every insert.
  `
  DROP INDEX messages_by_recipient_user;
  DROP INDEX messages_direct_by_sender;
  `,
  // v1.2: full-text indexing leaves the insert path. A trigger indexed every message inside its own commit,
  // and FTS5's segment merging made that most of a stored message's cost; the store now indexes messages
  // in batches behind a persisted watermark (`search_index.indexed_upto`, everything up to it is indexed)
  // and catches the index up before each search. Edits and deletes touch the index only for indexed rows:
  // deleting an entry that was never inserted would corrupt an external-content index. Bigger batches
  // and automerge 8 (from 4) cut the merge work; searches read a few more segments.
  `
  CREATE TABLE search_index (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    indexed_upto INTEGER NOT NULL
  ) STRICT;
  INSERT INTO search_index (id, indexed_upto) VALUES (1, (SELECT COALESCE(MAX(id), 0) FROM messages));
  DROP TRIGGER messages_fts_insert;
  DROP TRIGGER messages_fts_update;
  CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages
  WHEN old.id <= (SELECT indexed_upto FROM search_index WHERE id = 1) BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, content) SELECT 'delete', old.id, old.content WHERE old.content IS NOT NULL;
    INSERT INTO messages_fts (rowid, content) SELECT new.id, new.content WHERE new.content IS NOT NULL;
  END;
  INSERT INTO messages_fts (messages_fts, rank) VALUES ('automerge', 8);
  `,
  // v1.2: a conversation's messages are scattered over the table (rows are in id order, conversations
  // interleave), so a page of 50 read 50 table pages. The (conversation, id) index now carries every column
  // a read returns, so a page is a few consecutive index pages. It costs the size of the messages again.
  `
  DROP INDEX messages_by_conversation;
  CREATE INDEX messages_by_conversation ON messages (conversation, id, message_type, media_type, sender, recipient,
    content, file_id, client_msg_id, create_at, update_at, rev, edited_at, deleted_at, reply_to, reactions);
  `,
  // v1.2: `sync` and `lastId` read a user's direct conversations through `direct_conversations` and the
  // `(conversation, rev)` index, so these two per-user indexes were two more writes per direct message.
  `
  DROP INDEX messages_rev_by_recipient_user;
  DROP INDEX messages_rev_direct_by_sender;
  `,
  // v2.0: `room:list` answers a user's pending invitations, newest first; `room:create` counts a user's rooms.
  `
  CREATE INDEX room_invites_by_user ON room_invites (user_id, create_at);
  CREATE INDEX rooms_by_creator ON rooms (created_by);
  `,
  // v2.0, file lifecycle: a file goes once no message references it (on the delete of its last message, or
  // after UPLOAD_ORPHAN_TTL_MS when never sent). A file to remove is first marked (deleted_at), its bytes are
  // then unlinked and its row dropped, so a crash in between leaves a row the next sweep finishes. The quota
  // sums a user's live files; the sweep walks files by age and asks, per file, whether a message holds it.
  `
  ALTER TABLE files ADD COLUMN deleted_at INTEGER;
  CREATE INDEX files_live_by_owner ON files (owner, size) WHERE deleted_at IS NULL;
  CREATE INDEX files_by_age ON files (create_at, id);
  CREATE INDEX files_deleted ON files (deleted_at) WHERE deleted_at IS NOT NULL;
  CREATE INDEX messages_by_file ON messages (file_id) WHERE file_id IS NOT NULL;
  `,
  // v2.0: a search restricted to one conversation restricts inside the full-text query (issue 12, item 7):
  // each indexed message also carries its conversation as one token (`scope`, `k` + the key's hex: a key
  // such as `*` or `d:a|b` would tokenize into nothing or into parts), so FTS5 intersects the words with
  // that conversation's postings instead of ranking every match in the database. The index is read through
  // a view, so `rebuild` and `integrity-check` still work; it is rebuilt here, once (1.7 s for 250k messages
  // measured, before the server listens). Rows without text are not indexed (nor scoped).
  `
  DROP TRIGGER messages_fts_update;
  DROP TABLE messages_fts;
  CREATE VIEW messages_search (id, content, scope) AS
    SELECT id, content, CASE WHEN content IS NOT NULL THEN 'k' || hex(conversation) END FROM messages;
  CREATE VIRTUAL TABLE messages_fts USING fts5(
    content, scope, content = 'messages_search', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2'
  );
  INSERT INTO messages_fts (messages_fts, rank) VALUES ('automerge', 8);
  INSERT INTO messages_fts (rowid, content, scope) SELECT id, content, scope FROM messages_search WHERE content IS NOT NULL;
  UPDATE search_index SET indexed_upto = (SELECT COALESCE(MAX(id), 0) FROM messages);
  CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages
  WHEN old.id <= (SELECT indexed_upto FROM search_index WHERE id = 1) BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, content, scope)
      SELECT 'delete', old.id, old.content, 'k' || hex(old.conversation) WHERE old.content IS NOT NULL;
    INSERT INTO messages_fts (rowid, content, scope)
      SELECT new.id, new.content, 'k' || hex(new.conversation) WHERE new.content IS NOT NULL;
  END;
  `,
  // v2.0, avatars: a user may show one of its uploaded images as its avatar; the file counts as referenced
  // (never swept as an orphan, released when replaced) like a message's.
  `
  ALTER TABLE users ADD COLUMN avatar_file_id TEXT;
  CREATE INDEX users_by_avatar ON users (avatar_file_id) WHERE avatar_file_id IS NOT NULL;
  `,
  // v2.0, accounts (section 11): the admin flag, a disabled account, and the time before which the user's tokens
  // no longer count (a password change, a sign-out everywhere); single tokens signed out until they expire.
  `
  ALTER TABLE users ADD COLUMN admin INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE users ADD COLUMN disabled_at INTEGER;
  ALTER TABLE users ADD COLUMN tokens_valid_after INTEGER NOT NULL DEFAULT 0;
  CREATE TABLE revoked_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    expires_at INTEGER NOT NULL
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX revoked_tokens_by_user ON revoked_tokens (user_id);
  CREATE INDEX revoked_tokens_by_expiry ON revoked_tokens (expires_at);
  `,
  // v2.0, webhooks (section 13): the outbox. An event is written in the transaction of the change that causes it,
  // with one delivery row per endpoint subscribed to its type (none subscribed: nothing is written). `seq` is
  // the event's order: this store is the only writer, so AUTOINCREMENT hands it out in commit order. A
  // delivery is pending until a 2xx (delivered) or its last attempt (failed); settled ones are pruned after
  // WEBHOOK_RETENTION_MS, and events once no delivery refers to them.
  `
  CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    events TEXT,
    create_at INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE webhook_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    create_at INTEGER NOT NULL,
    data TEXT NOT NULL
  ) STRICT;

  CREATE TABLE webhook_deliveries (
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_seq INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    last_status_code INTEGER,
    last_error TEXT,
    update_at INTEGER NOT NULL,
    PRIMARY KEY (endpoint_id, event_seq)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX webhook_deliveries_due ON webhook_deliveries (endpoint_id, next_attempt_at, event_seq)
    WHERE status = 'pending';
  CREATE INDEX webhook_deliveries_by_event ON webhook_deliveries (event_seq);
  CREATE INDEX webhook_deliveries_settled ON webhook_deliveries (update_at) WHERE status <> 'pending';
  `,
  // v2.0, room roles and moderation (section 11): a member's stored role (`member` or `moderator`; the room's
  // creator is its owner whatever this says, so existing rooms are owned by their creators), a room's topic,
  // bans (until NULL: for good) and mutes in force until their time (both outlive a leave and a rejoin), and
  // the audit log, written in the same transaction as each moderation action. Bans and mutes are compared
  // with the time of each action, so they end on time without a sweep; an ended row is replaced by the next.
  `
  ALTER TABLE room_members ADD COLUMN role TEXT NOT NULL DEFAULT 'member' CHECK (role IN ('member', 'moderator'));
  ALTER TABLE rooms ADD COLUMN topic TEXT;
  CREATE TABLE room_bans (
    room_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    until INTEGER,
    reason TEXT,
    banned_by TEXT NOT NULL,
    create_at INTEGER NOT NULL,
    PRIMARY KEY (room_id, user_id)
  ) STRICT, WITHOUT ROWID;
  CREATE TABLE room_mutes (
    room_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    until INTEGER NOT NULL,
    muted_by TEXT NOT NULL,
    create_at INTEGER NOT NULL,
    PRIMARY KEY (room_id, user_id)
  ) STRICT, WITHOUT ROWID;
  CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    room_id TEXT,
    target_user_id TEXT,
    message_id INTEGER,
    reason TEXT,
    until INTEGER
  ) STRICT;
  CREATE INDEX audit_by_room ON audit_log (room_id, id) WHERE room_id IS NOT NULL;
  CREATE INDEX audit_by_actor ON audit_log (actor, id);
  CREATE INDEX audit_by_target ON audit_log (target_user_id, id) WHERE target_user_id IS NOT NULL;
  CREATE INDEX audit_by_action ON audit_log (action, id);
  `,
  // v2.0, moderation: who deleted a message when it was not its author (`deletedBy` in history and `sync`, not
  // only on the live tombstone). The history's covering index gains the column, so a page still reads the
  // index alone (rebuilt once here).
  `
  ALTER TABLE messages ADD COLUMN deleted_by TEXT;
  DROP INDEX messages_by_conversation;
  CREATE INDEX messages_by_conversation ON messages (conversation, id, message_type, media_type, sender, recipient,
    content, file_id, client_msg_id, create_at, update_at, rev, edited_at, deleted_at, reply_to, reactions, deleted_by);
  `,
  // v2.1: unread counts read a narrow index of live messages (conversation, id, sender), not the covering
  // history index whose entries hold the content: counting 999 unread in each of 50 rooms read ~10x the pages.
  `
  CREATE INDEX messages_unread ON messages (conversation, id, sender, deleted_at) WHERE deleted_at IS NULL;
  `,
  // v2.2: unread counts read the (conversation, rev) index, widened by id, sender and deleted_at, instead of an
  // index of their own. Each per-conversation index costs every stored message a page of the WAL (about 10 µs
  // of CPU here: bench/diagnostics/wal-frames.ts). A message's rev is never below its id, so the messages after
  // a read position are all within the index's range of revs after it.
  `
  DROP INDEX messages_unread;
  DROP INDEX messages_rev_by_conversation;
  CREATE INDEX messages_rev_by_conversation ON messages (conversation, rev, id, sender, deleted_at);
  `,
];
