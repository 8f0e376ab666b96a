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
];
