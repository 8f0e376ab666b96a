/**
 * What a stored note-to-self message writes to the WAL, and what that costs: appends batches of messages from
 * 100 users to themselves (one conversation each, as `--case send` note-to-self does) through the real
 * SqliteStore (group commit, DB_SYNC=full), counts the WAL frames a commit writes (checkpoints off while
 * counting) and the CPU per message, once as the schema is and once without each per-conversation index (before SQLite migration 16 there
 * were three: unread counts had an index of their own).
 * SQLite writes every frame with two `pwrite` calls (its header, then the page); on this machine's virtualized
 * kernel each system call is dear. Evidence for bench/README.md; not part of `npm run bench`.
 * `taskset -c 0 npx tsx bench/diagnostics/wal-frames.ts [batch=75] [commits=400]`.
 */
import { statSync } from "node:fs";
import { join } from "node:path";
import { directConversation } from "../../server/messages/conversation.js";
import { SqliteStore } from "../../server/store/sqlite/store.js";
import type { MessageDraft } from "../../server/store/types.js";
import { seedChatDb, tempDataDir, userIds } from "../lib/seed.js";

const BATCH = Number(process.argv[2] ?? 75);
const COMMITS = Number(process.argv[3] ?? 400);

const variants: [string, string][] = [
  ["schema as is", ""],
  ["without messages_rev_by_conversation", "DROP INDEX messages_rev_by_conversation"],
  ["without messages_by_conversation", "DROP INDEX messages_by_conversation"],
  ["without both", "DROP INDEX messages_rev_by_conversation; DROP INDEX messages_by_conversation"],
];

async function measure(name: string, alter: string): Promise<void> {
  const users = userIds("s", 100);
  const dir = tempDataDir();
  seedChatDb(dir, users);
  const file = join(dir, "chat.db");
  const store = new SqliteStore({ file, sync: "full", fileUrl: (id) => `/files/${id}` });
  if (alter) store.database.exec(alter);
  let sent = 0;
  const draft = (): MessageDraft => {
    const from = users[sent++ % users.length]!;
    return {
      messageType: "single",
      mediaType: "text",
      from,
      to: from,
      conversation: directConversation(from, from),
      recipientUser: from,
      content: `#${sent} the quick brown fox jumps over the lazy dog while the bench counts every frame it sees twice`,
      createAt: Date.now(),
    };
  };
  const commits = async (count: number) => {
    for (let commit = 0; commit < count; commit++) {
      await Promise.all(Array.from({ length: BATCH }, () => store.appendMessage(draft())));
    }
  };
  await commits(200);
  const db = store.database;
  db.pragma("wal_checkpoint(TRUNCATE)");
  db.pragma("wal_autocheckpoint = 0");
  const walBefore = statSync(`${file}-wal`).size;
  await commits(50);
  const pageSize = db.pragma("page_size", { simple: true }) as number;
  const frames = (statSync(`${file}-wal`).size - walBefore) / (pageSize + 24) / 50;
  db.pragma("wal_autocheckpoint = 10000");
  const cpu0 = process.cpuUsage();
  await commits(COMMITS);
  // The store indexes for search after commits; a search catches it up, inside the measurement.
  await store.search(users[0]!, ["nothing"], undefined, 1);
  const cpu = process.cpuUsage(cpu0);
  await store.close();
  const us = (cpu.user + cpu.system) / (COMMITS * BATCH);
  process.stdout.write(
    `${name.padEnd(38)} ${frames.toFixed(0).padStart(4)} frames/commit (${(frames / BATCH).toFixed(2)}/message), ` +
      `${us.toFixed(1)} µs CPU/message (${((100 * cpu.system) / (cpu.user + cpu.system)).toFixed(0)}% kernel)\n`,
  );
}

process.stdout.write(`${BATCH} messages per commit, ${COMMITS} commits measured\n`);
for (const [name, alter] of variants) await measure(name, alter);
