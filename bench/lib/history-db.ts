import Database from "better-sqlite3";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { MIGRATIONS } from "../../server/store/sqlite/migrations.js";
import { SqliteStore } from "../../server/store/sqlite/store.js";
import { ROOT } from "./proc.js";

/** Shape of the history data set. */
export const HISTORY = {
  users: 10_000,
  rooms: 1000,
  roomsPerUser: 10,
  messages: 1_000_000,
  /** Users in 50 rooms each (besides the 10,000 in 10): `conversation:list`, `sync` from 0 and search run as them. */
  wideUsers: 20,
  roomsPerWideUser: 50,
  /** Every 10th message holds this word: found in 100,000 messages (the others' words are in about half). */
  needle: "needle",
  needleEvery: 10,
} as const;

/** Bumped when the generated data changes. */
const BUILDER_VERSION = 3;

/** A user in 50 rooms. */
export const wideUser = (index: number): string => `hw${String(index).padStart(2, "0")}`;

/** The rooms of wide user `w`: 50 rooms 20 apart (they never send, so the messages are as before). */
export function wideRoomsOf(w: number): number[] {
  return Array.from({ length: HISTORY.roomsPerWideUser }, (_, k) => (w + k * 20) % HISTORY.rooms);
}

export const historyUser = (index: number): string => `h${String(index).padStart(5, "0")}`;
export const historyRoom = (index: number): string => `hr${index}`;

/** The rooms of user `u`: 10 rooms 100 apart, so every room has 100 members. */
export function historyRoomsOf(u: number): number[] {
  return Array.from({ length: HISTORY.roomsPerUser }, (_, k) => (u + k * 100) % HISTORY.rooms);
}

/** Members of room `r` (the inverse of historyRoomsOf). */
function membersOf(r: number): number[] {
  const members: number[] = [];
  for (let u = r % 100; u < HISTORY.users; u += 100) {
    if (historyRoomsOf(u).includes(r)) members.push(u);
  }
  return members;
}

/** A small deterministic PRNG (mulberry32), so every build makes the same data. */
export function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The words message texts are made of (each is in about half of the messages). */
export const HISTORY_WORDS =
  "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu".split(
    " ",
  );

/**
 * The 1M-message database, built once and cached under bench/.cache/ (keyed by the schema's migrations,
 * so a schema change rebuilds it). Schema from the real store (SqliteStore runs the migrations); users,
 * memberships and messages bulk-inserted in one transaction with the indexes dropped and rebuilt after.
 */
export function historyDb(log: (message: string) => void): string {
  const key = createHash("sha256")
    .update(`${BUILDER_VERSION}\n${JSON.stringify(HISTORY)}\n${MIGRATIONS.join("\n")}`)
    .digest("hex")
    .slice(0, 12);
  const dir = join(ROOT, "bench/.cache");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `history-${key}.db`);
  if (existsSync(file)) return file;
  for (const old of readdirSync(dir).filter((name) => name.startsWith("history-")))
    rmSync(join(dir, old), { force: true });
  log(`history: building ${HISTORY.messages.toLocaleString("en-US")} messages into ${file} (once; cached)`);
  const started = Date.now();
  const building = `${file}.building`;
  rmSync(building, { force: true });
  rmSync(`${building}-wal`, { force: true });
  rmSync(`${building}-shm`, { force: true });
  const at = 1_700_000_000_000;
  // Creates the schema; SQLite closes synchronously, before the next line opens the file again.
  new SqliteStore({ file: building, sync: "normal", fileUrl: (id) => `/files/${id}`, now: () => at })
    .close()
    .catch((error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    });
  const db = new Database(building);
  db.pragma("journal_mode = OFF");
  db.pragma("synchronous = OFF");
  const columns = db.prepare("PRAGMA table_info(messages)").all() as {
    name: string;
    notnull: number;
    dflt_value: unknown;
  }[];
  const known = new Set([
    "id",
    "message_type",
    "media_type",
    "sender",
    "recipient",
    "conversation",
    "recipient_user",
    "content",
    "file_id",
    "client_msg_id",
    "create_at",
    "update_at",
  ]);
  // A later migration may add columns; `rev` (v1.1) starts equal to the id. Anything else required is news.
  const extra = columns.filter((c) => !known.has(c.name) && c.notnull === 1 && c.dflt_value === null);
  const withRev = columns.some((c) => c.name === "rev");
  const unknown = extra.filter((c) => c.name !== "rev");
  if (unknown.length > 0) {
    throw new Error(
      `messages has new required columns ${unknown.map((c) => c.name).join(", ")}: update bench/lib/history-db.ts`,
    );
  }
  // Indexes and triggers (full-text search) are dropped for the bulk insert and rebuilt after it.
  const indexes = db
    .prepare("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'messages' AND sql IS NOT NULL")
    .all() as { name: string; sql: string }[];
  const triggers = db
    .prepare("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'messages'")
    .all() as { name: string; sql: string }[];
  const ftsTables = db
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE '%fts5%content%messages%'")
    .all() as { name: string }[];
  const insertUser = db.prepare("INSERT INTO users (id, name, password_hash, create_at) VALUES (?, ?, NULL, ?)");
  const insertRoom = db.prepare(
    "INSERT INTO rooms (id, name, visibility, created_by, create_at, member_count) VALUES (?, ?, 'public', ?, ?, ?)",
  );
  const insertMember = db.prepare("INSERT INTO room_members (room_id, user_id, joined_at) VALUES (?, ?, ?)");
  const insertMessage = db.prepare(
    `INSERT INTO messages (id, message_type, media_type, sender, recipient, conversation, recipient_user, content,
       file_id, client_msg_id, create_at, update_at${withRev ? ", rev" : ""})
     VALUES (?, 'group', 'text', ?, ?, ?, NULL, ?, NULL, NULL, ?, ?${withRev ? ", ?" : ""})`,
  );
  const random = prng(42);
  const members = Array.from({ length: HISTORY.rooms }, (_, r) => membersOf(r));
  db.transaction(() => {
    for (const index of indexes) db.exec(`DROP INDEX ${index.name}`);
    for (const trigger of triggers) db.exec(`DROP TRIGGER ${trigger.name}`);
    for (let u = 0; u < HISTORY.users; u++) {
      insertUser.run(historyUser(u), historyUser(u), at);
      insertMember.run("lobby", historyUser(u), at);
    }
    const wideIn = Array.from({ length: HISTORY.rooms }, () => [] as string[]);
    for (let w = 0; w < HISTORY.wideUsers; w++) {
      insertUser.run(wideUser(w), wideUser(w), at);
      insertMember.run("lobby", wideUser(w), at);
      for (const r of wideRoomsOf(w)) wideIn[r]!.push(wideUser(w));
    }
    db.prepare("UPDATE rooms SET member_count = ? WHERE id = 'lobby'").run(HISTORY.users + HISTORY.wideUsers);
    for (let r = 0; r < HISTORY.rooms; r++) {
      const count = members[r]!.length + wideIn[r]!.length;
      insertRoom.run(historyRoom(r), `Room ${r}`, historyUser(members[r]![0]!), at, count);
      for (const u of members[r]!) insertMember.run(historyRoom(r), historyUser(u), at);
      for (const user of wideIn[r]!) insertMember.run(historyRoom(r), user, at);
    }
    for (let i = 1; i <= HISTORY.messages; i++) {
      const r = Math.floor(random() * HISTORY.rooms);
      const roomMembers = members[r]!;
      const sender = historyUser(roomMembers[Math.floor(random() * roomMembers.length)]!);
      const words: string[] = i % HISTORY.needleEvery === 0 ? [`#${i}`, HISTORY.needle] : [`#${i}`];
      while (words.join(" ").length < 130) words.push(HISTORY_WORDS[Math.floor(random() * HISTORY_WORDS.length)]!);
      const createAt = at + i * 10;
      const args: unknown[] = [i, sender, historyRoom(r), `r:${historyRoom(r)}`, words.join(" "), createAt, createAt];
      if (withRev) args.push(i);
      insertMessage.run(...args);
    }
    for (const index of indexes) db.exec(index.sql);
    for (const fts of ftsTables) db.exec(`INSERT INTO ${fts.name} (${fts.name}) VALUES ('rebuild')`);
    // Since v1.2 the store indexes behind a watermark: the rebuild indexed everything.
    const watermark = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'search_index'").get();
    if (watermark !== undefined) db.exec("UPDATE search_index SET indexed_upto = (SELECT MAX(id) FROM messages)");
    for (const trigger of triggers) db.exec(trigger.sql);
  })();
  db.pragma("journal_mode = WAL");
  db.close();
  renameSync(building, file);
  log(`history: built in ${Math.round((Date.now() - started) / 1000)} s`);
  return file;
}
