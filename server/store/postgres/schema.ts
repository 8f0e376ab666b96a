/**
 * PostgreSQL schema migrations (cluster mode), applied in order, each in its own transaction, under an
 * advisory lock (see `migrate.ts`); `schema_version` records the last applied. The tables mirror the SQLite
 * store's (`../migrations.ts`) so both implement the same repositories; times are ms since the epoch
 * (BIGINT), as in SQLite.
 */
export const PG_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE users (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    password_hash TEXT,
    create_at BIGINT NOT NULL,
    read_receipts BOOLEAN NOT NULL DEFAULT TRUE,
    last_seen_at BIGINT
  );

  CREATE TABLE rooms (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    visibility TEXT NOT NULL CHECK (visibility IN ('public', 'private')),
    created_by TEXT NOT NULL,
    create_at BIGINT NOT NULL,
    member_count INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX rooms_public ON rooms (visibility, create_at);
  CREATE INDEX rooms_by_creator ON rooms (created_by);

  CREATE TABLE room_members (
    room_id TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id),
    joined_at BIGINT NOT NULL,
    PRIMARY KEY (room_id, user_id)
  );
  CREATE INDEX room_members_by_user ON room_members (user_id, room_id);

  CREATE TABLE room_invites (
    room_id TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    invited_by TEXT NOT NULL,
    create_at BIGINT NOT NULL,
    PRIMARY KEY (room_id, user_id)
  );
  CREATE INDEX room_invites_by_user ON room_invites (user_id, create_at);

  -- Files live in the database in cluster mode, where every node reads them.
  CREATE TABLE files (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    size BIGINT NOT NULL,
    mime TEXT NOT NULL,
    media_type TEXT NOT NULL CHECK (media_type IN ('image', 'file')),
    create_at BIGINT NOT NULL,
    deleted_at BIGINT,
    bytes BYTEA
  );
  CREATE INDEX files_live_by_owner ON files (owner, size) WHERE deleted_at IS NULL;
  CREATE INDEX files_by_age ON files (create_at, id);

  -- The one counter behind message ids and revs. A writer takes its values with an UPDATE of this row inside
  -- the transaction that writes the messages, so the row lock orders writers: a transaction that took later
  -- values cannot commit before one that took earlier values, and a reader that synced past a rev never
  -- misses a smaller one committed later (a SEQUENCE does not give that).
  CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value BIGINT NOT NULL
  );
  INSERT INTO counters (name, value) VALUES ('rev', 0);

  CREATE TABLE messages (
    id BIGINT PRIMARY KEY,
    message_type TEXT NOT NULL CHECK (message_type IN ('single', 'group', 'system')),
    media_type TEXT NOT NULL CHECK (media_type IN ('text', 'image', 'file')),
    sender TEXT NOT NULL,
    recipient TEXT NOT NULL,
    conversation TEXT NOT NULL,
    recipient_user TEXT,
    content TEXT,
    file_id TEXT,
    client_msg_id TEXT,
    create_at BIGINT NOT NULL,
    update_at BIGINT NOT NULL,
    rev BIGINT NOT NULL,
    edited_at BIGINT,
    deleted_at BIGINT,
    reply_to BIGINT,
    reactions JSONB,
    search TSVECTOR GENERATED ALWAYS AS (to_tsvector('simple', COALESCE(content, ''))) STORED
  );
  CREATE INDEX messages_by_conversation ON messages (conversation, id);
  CREATE INDEX messages_rev_by_conversation ON messages (conversation, rev);
  CREATE UNIQUE INDEX messages_client_id ON messages (sender, client_msg_id) WHERE client_msg_id IS NOT NULL;
  CREATE INDEX messages_by_file ON messages (file_id) WHERE file_id IS NOT NULL;
  CREATE INDEX messages_search ON messages USING GIN (search);

  CREATE TABLE message_revisions (
    message_id BIGINT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    content TEXT NOT NULL,
    edited_at BIGINT NOT NULL,
    seq BIGSERIAL
  );
  CREATE INDEX message_revisions_by_message ON message_revisions (message_id, edited_at);

  CREATE TABLE read_positions (
    user_id TEXT NOT NULL,
    conversation TEXT NOT NULL,
    last_read_id BIGINT NOT NULL,
    PRIMARY KEY (user_id, conversation)
  );

  CREATE TABLE direct_conversations (
    user_id TEXT NOT NULL,
    peer TEXT NOT NULL,
    PRIMARY KEY (user_id, peer)
  );

  -- Settings every node shares, such as the secrets generated outside production.
  CREATE TABLE settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );
  `,
  // The store itself (PgStore), answering exactly as the SQLite store does:
  // - avatars (SQLite's migration 10): a user's image, referenced like a message's file;
  // - ids compare and sort by bytes, as in SQLite and JavaScript, whatever the database's default collation
  //   (member pages, room lists, direct conversation keys `d:<lower id>|<higher id>`, the file sweep's cursor);
  // - reactions keep their keys in insertion order (JSONB would reorder them);
  // - the full-text vector is written by the store from the words SQLite's unicode61 tokenizer would make
  //   (see `search.ts`): PostgreSQL's parser keeps `alice@example.com`, `foo-bar` or `v1.2` whole and keeps
  //   accents, so a search would find less than on SQLite. Rows stored before carry the parser's vector;
  // - upload bytes in a table of their own: the route stores them before the file's row exists.
  `
  ALTER TABLE users ADD COLUMN avatar_file_id TEXT;
  CREATE INDEX users_by_avatar ON users (avatar_file_id) WHERE avatar_file_id IS NOT NULL;

  ALTER TABLE users ALTER COLUMN id TYPE TEXT COLLATE "C";
  ALTER TABLE rooms ALTER COLUMN id TYPE TEXT COLLATE "C";
  ALTER TABLE room_members ALTER COLUMN room_id TYPE TEXT COLLATE "C", ALTER COLUMN user_id TYPE TEXT COLLATE "C";
  ALTER TABLE room_invites ALTER COLUMN room_id TYPE TEXT COLLATE "C", ALTER COLUMN user_id TYPE TEXT COLLATE "C";
  ALTER TABLE direct_conversations ALTER COLUMN user_id TYPE TEXT COLLATE "C", ALTER COLUMN peer TYPE TEXT COLLATE "C";
  ALTER TABLE read_positions ALTER COLUMN user_id TYPE TEXT COLLATE "C",
    ALTER COLUMN conversation TYPE TEXT COLLATE "C";
  ALTER TABLE files ALTER COLUMN id TYPE TEXT COLLATE "C", ALTER COLUMN owner TYPE TEXT COLLATE "C";
  ALTER TABLE messages ALTER COLUMN conversation TYPE TEXT COLLATE "C", ALTER COLUMN sender TYPE TEXT COLLATE "C";

  ALTER TABLE messages ALTER COLUMN reactions TYPE JSON USING reactions::json;

  ALTER TABLE messages DROP COLUMN search;
  ALTER TABLE messages ADD COLUMN search TSVECTOR;
  UPDATE messages SET search = to_tsvector('simple', content) WHERE content IS NOT NULL;
  CREATE INDEX messages_search ON messages USING GIN (search);

  CREATE INDEX files_deleted ON files (deleted_at) WHERE deleted_at IS NOT NULL;
  CREATE TABLE file_blobs (
    id TEXT COLLATE "C" PRIMARY KEY,
    bytes BYTEA NOT NULL
  );
  INSERT INTO file_blobs (id, bytes) SELECT id, bytes FROM files WHERE bytes IS NOT NULL;
  ALTER TABLE files DROP COLUMN bytes;
  `,
  // Accounts (SQLite's migration 11): the admin flag, disabled accounts, tokens' valid-after time, and single
  // tokens signed out until they expire.
  `
  ALTER TABLE users ADD COLUMN admin BOOLEAN NOT NULL DEFAULT false;
  ALTER TABLE users ADD COLUMN disabled_at BIGINT;
  ALTER TABLE users ADD COLUMN tokens_valid_after BIGINT NOT NULL DEFAULT 0;
  CREATE TABLE revoked_tokens (
    token_hash TEXT COLLATE "C" PRIMARY KEY,
    user_id TEXT COLLATE "C" NOT NULL,
    expires_at BIGINT NOT NULL
  );
  CREATE INDEX revoked_tokens_by_user ON revoked_tokens (user_id);
  CREATE INDEX revoked_tokens_by_expiry ON revoked_tokens (expires_at);
  `,
  // v2.0, webhooks (section 13): the outbox, as in SQLite's migration 12. `seq` comes from a sequence, which
  // is not commit-ordered; that is enough here: it is never read as a cursor (the sender picks pending
  // deliveries by due time with SKIP LOCKED, so a late commit is never skipped), and an event caused by
  // another that committed first takes its value later, so events of one conversation still get increasing
  // seqs. Message events take theirs after the rev counter row is locked, so their seqs follow their revs.
  `
  CREATE TABLE webhook_endpoints (
    id TEXT COLLATE "C" PRIMARY KEY,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    events TEXT[],
    create_at BIGINT NOT NULL
  );

  CREATE TABLE webhook_events (
    seq BIGSERIAL PRIMARY KEY,
    id TEXT COLLATE "C" NOT NULL UNIQUE,
    type TEXT NOT NULL,
    create_at BIGINT NOT NULL,
    data TEXT NOT NULL
  );

  CREATE TABLE webhook_deliveries (
    endpoint_id TEXT COLLATE "C" NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_seq BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT,
    last_status_code INTEGER,
    last_error TEXT,
    update_at BIGINT NOT NULL,
    PRIMARY KEY (endpoint_id, event_seq)
  );
  CREATE INDEX webhook_deliveries_due ON webhook_deliveries (endpoint_id, next_attempt_at, event_seq)
    WHERE status = 'pending';
  CREATE INDEX webhook_deliveries_by_event ON webhook_deliveries (event_seq);
  CREATE INDEX webhook_deliveries_settled ON webhook_deliveries (update_at) WHERE status <> 'pending';
  `,
  // Room roles and moderation (SQLite's migration 13): stored roles (the creator owns its room whatever this
  // says), topics, bans, mutes and the audit log.
  `
  ALTER TABLE room_members ADD COLUMN role TEXT NOT NULL DEFAULT 'member' CHECK (role IN ('member', 'moderator'));
  ALTER TABLE rooms ADD COLUMN topic TEXT;
  CREATE TABLE room_bans (
    room_id TEXT COLLATE "C" NOT NULL,
    user_id TEXT COLLATE "C" NOT NULL,
    until BIGINT,
    reason TEXT,
    banned_by TEXT NOT NULL,
    create_at BIGINT NOT NULL,
    PRIMARY KEY (room_id, user_id)
  );
  CREATE TABLE room_mutes (
    room_id TEXT COLLATE "C" NOT NULL,
    user_id TEXT COLLATE "C" NOT NULL,
    until BIGINT NOT NULL,
    muted_by TEXT NOT NULL,
    create_at BIGINT NOT NULL,
    PRIMARY KEY (room_id, user_id)
  );
  CREATE TABLE audit_log (
    id BIGSERIAL PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT COLLATE "C" NOT NULL,
    action TEXT COLLATE "C" NOT NULL,
    room_id TEXT COLLATE "C",
    target_user_id TEXT COLLATE "C",
    message_id BIGINT,
    reason TEXT,
    until BIGINT
  );
  CREATE INDEX audit_by_room ON audit_log (room_id, id) WHERE room_id IS NOT NULL;
  CREATE INDEX audit_by_actor ON audit_log (actor, id);
  CREATE INDEX audit_by_target ON audit_log (target_user_id, id) WHERE target_user_id IS NOT NULL;
  CREATE INDEX audit_by_action ON audit_log (action, id);
  `,
  // Who deleted a message when it was not its author (SQLite's migration 14).
  `
  ALTER TABLE messages ADD COLUMN deleted_by TEXT;
  `,
];
