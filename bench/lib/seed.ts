import Database from "better-sqlite3";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { fileUrl } from "../../server/files/urls.js";
import { PgStore } from "../../server/store/postgres/store.js";
import { SqliteStore } from "../../server/store/sqlite/store.js";
import { LOBBY_ROOM_ID } from "../../shared/ids.js";

/** A room to create with its members. */
export interface SeedRoom {
  id: string;
  members: string[];
}

const dirs: string[] = [];
process.on("exit", () => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A temp directory on the machine's disk (removed when the runner exits). */
export function tempDataDir(prefix = "chat-bench-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

/**
 * Creates the chat's schema in `DATA_DIR/chat.db` (by opening the real store once, so migrations are
 * the server's own), then inserts users — each a lobby member, as the server makes them — and rooms in
 * one transaction, directly. Connecting these users then finds them instead of creating them (user
 * creation is an fsynced write per new user, a different thing from a handshake).
 */
export function seedChatDb(dataDir: string, users: string[], rooms: SeedRoom[] = []): string {
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, "chat.db");
  const at = Date.now();
  // Creates the schema; SQLite closes synchronously, before the next line opens the file again.
  new SqliteStore({ file, sync: "normal", fileUrl: (id) => `/files/${id}`, now: () => at })
    .close()
    .catch((error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    });
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  const insertUser = db.prepare("INSERT INTO users (id, name, password_hash, create_at) VALUES (?, ?, NULL, ?)");
  const insertRoom = db.prepare(
    "INSERT INTO rooms (id, name, visibility, created_by, create_at, member_count) VALUES (?, ?, 'public', ?, ?, ?)",
  );
  const insertMember = db.prepare("INSERT INTO room_members (room_id, user_id, joined_at) VALUES (?, ?, ?)");
  const setCount = db.prepare("UPDATE rooms SET member_count = ? WHERE id = ?");
  db.transaction(() => {
    for (const user of users) {
      insertUser.run(user, user, at);
      insertMember.run(LOBBY_ROOM_ID, user, at);
    }
    setCount.run(users.length, LOBBY_ROOM_ID);
    for (const room of rooms) {
      insertRoom.run(room.id, room.id, room.members[0] ?? "system", at, room.members.length);
      for (const member of room.members) insertMember.run(room.id, member, at + 1);
    }
  })();
  // Diagnostics only (see README): e.g. BENCH_SEED_SQL="DROP TRIGGER messages_fts_insert" to measure a piece away.
  const extra = process.env["BENCH_SEED_SQL"];
  if (extra) db.exec(extra);
  db.close();
  return file;
}

/**
 * `seedChatDb` for PostgreSQL: creates the schema and the lobby in the (empty) database at `url` by opening
 * the real store once (the server's own migrations), then inserts the same users, lobby seats and rooms in
 * one transaction, so the nodes that start on it find them.
 */
export async function seedPostgres(url: string, users: string[], rooms: SeedRoom[] = []): Promise<void> {
  await (await PgStore.open({ url, fileUrl, poolSize: 1 })).close();
  const at = Date.now();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query("BEGIN");
    await client.query(
      "INSERT INTO users (id, name, password_hash, create_at) SELECT id, id, NULL, $2 FROM unnest($1::text[]) AS id",
      [users, at],
    );
    await client.query(
      "INSERT INTO room_members (room_id, user_id, joined_at) SELECT $2, id, $3 FROM unnest($1::text[]) AS id",
      [users, LOBBY_ROOM_ID, at],
    );
    await client.query("UPDATE rooms SET member_count = $1 WHERE id = $2", [users.length, LOBBY_ROOM_ID]);
    for (const room of rooms) {
      await client.query(
        `INSERT INTO rooms (id, name, visibility, created_by, create_at, member_count)
         VALUES ($1, $1, 'public', $2, $3, $4)`,
        [room.id, room.members[0] ?? "system", at, room.members.length],
      );
      await client.query(
        "INSERT INTO room_members (room_id, user_id, joined_at) SELECT $2, id, $3 FROM unnest($1::text[]) AS id",
        [room.members, room.id, at + 1],
      );
    }
    await client.query("COMMIT");
    // Fresh statistics, as a database that has been running would have: the planner then uses the indexes.
    await client.query("ANALYZE");
  } finally {
    await client.end();
  }
}

/** `count` user ids `<prefix>00000`… */
export function userIds(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, index) => `${prefix}${String(index).padStart(5, "0")}`);
}

/** Splits users into rooms of `size` consecutive members: `<prefix>0`, `<prefix>1`, … */
export function roomsOf(prefix: string, users: string[], size: number): SeedRoom[] {
  const rooms: SeedRoom[] = [];
  for (let index = 0; index * size < users.length; index++) {
    rooms.push({ id: `${prefix}${index}`, members: users.slice(index * size, (index + 1) * size) });
  }
  return rooms;
}
