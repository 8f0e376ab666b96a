/**
 * Where a stored message's CPU goes: appends messages through the real SqliteStore (group commit, batches
 * of 100) on a copy of the 1M-message history database, once as the schema is and once with one piece
 * taken away at a time (full-text indexing, the v1.1 `rev` indexes, fsync), and prints CPU µs per message.
 * Evidence for the send-path analysis in bench/README.md; not part of `npm run bench`.
 * `npx tsx bench/diagnostics/insert-cost.ts` (pin it: `taskset -c 0 npx tsx …`).
 */
import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { historyDb, historyRoom, historyRoomsOf, historyUser } from "../lib/history-db.js";
import { tempDataDir } from "../lib/seed.js";
import { SqliteStore } from "../../server/store/sqlite/store.js";
import type { MessageDraft } from "../../server/store/types.js";
import { directConversation, roomConversation } from "../../server/messages/conversation.js";

const MESSAGES = Number(process.argv[2] ?? 20_000);
const BATCH = 100;

interface Variant {
  name: string;
  sync: "full" | "normal";
  alter?: (db: SqliteStore["database"]) => void;
  /** Leave the full-text indexing out of the measurement (it is otherwise caught up inside it). */
  skipIndex?: boolean;
}

const variants: Variant[] = [
  { name: "schema as is, DB_SYNC=full", sync: "full" },
  { name: "schema as is, DB_SYNC=normal", sync: "normal" },
  { name: "full-text index not caught up", sync: "full", skipIndex: true },
  {
    name: "without the (conversation, rev) index",
    sync: "full",
    alter: (db) => {
      for (const { name } of db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'messages_rev_%'")
        .all() as { name: string }[]) {
        db.exec(`DROP INDEX ${name}`);
      }
    },
  },
];

function draft(kind: "group" | "single", i: number): MessageDraft {
  const u = i % 10_000;
  const from = historyUser(u);
  const content = `#${i} the quick brown fox jumps over the lazy dog while the bench counts every frame it sees twice over in order`;
  if (kind === "group") {
    const room = historyRoom(historyRoomsOf(u)[i % 10]!);
    return {
      messageType: "group",
      mediaType: "text",
      from,
      to: room,
      conversation: roomConversation(room),
      recipientUser: null,
      content,
      createAt: Date.now(),
    } as MessageDraft;
  }
  const to = historyUser((u + 1) % 10_000);
  return {
    messageType: "single",
    mediaType: "text",
    from,
    to,
    conversation: directConversation(from, to),
    recipientUser: to,
    content,
    createAt: Date.now(),
  } as MessageDraft;
}

const source = historyDb((m) => process.stdout.write(`${m}\n`));
const only = process.argv[3];
for (const kind of ["group", "single"] as const) {
  for (const variant of variants.filter((v) => only === undefined || v.name.includes(only))) {
    const dir = tempDataDir();
    const file = join(dir, "chat.db");
    copyFileSync(source, file);
    const store = new SqliteStore({
      file,
      sync: variant.sync,
      fileUrl: (id) => `/files/${id}`,
      searchIndexDelayMs: variant.skipIndex === true ? 3_600_000 : undefined,
    });
    variant.alter?.(store.database);
    // Warm-up batch, then measure.
    await Promise.all(Array.from({ length: BATCH }, (_, i) => store.appendMessage(draft(kind, i))));
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let start = 0; start < MESSAGES; start += BATCH) {
      await Promise.all(Array.from({ length: BATCH }, (_, i) => store.appendMessage(draft(kind, start + i + BATCH))));
    }
    // The store indexes for search in batches after commits; a search catches it up, inside the measurement.
    if (variant.skipIndex !== true) await store.search(historyUser(0), ["nothing"], undefined, 1);
    const cpu = process.cpuUsage(cpu0);
    const wall = performance.now() - t0;
    await store.close();
    const us = (cpu.user + cpu.system) / MESSAGES;
    process.stdout.write(
      `${kind.padEnd(6)} ${variant.name.padEnd(34)} ${us.toFixed(1).padStart(6)} µs CPU/message (${((cpu.system / (cpu.user + cpu.system)) * 100).toFixed(0)}% kernel), ${((wall * 1000) / MESSAGES).toFixed(1)} µs wall/message\n`,
    );
  }
}
