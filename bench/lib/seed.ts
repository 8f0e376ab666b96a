import Database from "better-sqlite3";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LOBBY_ROOM_ID } from "../../shared/ids.js";
import { SqliteStore } from "../../server/store/sqlite/store.js";

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
