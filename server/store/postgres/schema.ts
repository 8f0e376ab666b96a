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
];
