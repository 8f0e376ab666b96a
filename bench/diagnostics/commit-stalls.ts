/**
 * What stalls the event loop when messages are stored at a steady rate: group messages to rooms of 10 are
 * appended through the real SqliteStore on an open-loop schedule (as the latency case sends them), and the
 * report gives the group commits' durations, the full-text index chunks' durations, the event-loop delay
 * and the time from a message's scheduled send to its commit — once per variant of the WAL settings.
 * Evidence for the latency analysis in bench/README.md; not part of `npm run bench`.
 * `taskset -c 0 npx tsx bench/diagnostics/commit-stalls.ts [rate=2700] [seconds=20] [variant name part]`.
 */
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { roomConversation } from "../../server/messages/conversation.js";
import { SqliteStore } from "../../server/store/sqlite/store.js";
import type { MessageDraft } from "../../server/store/types.js";
import { Histogram } from "../lib/stats.js";
import { roomsOf, seedChatDb, tempDataDir, userIds } from "../lib/seed.js";

const RATE = Number(process.argv[2] ?? 2700);
const SECONDS = Number(process.argv[3] ?? 20);
const only = process.argv[4];

interface Variant {
  name: string;
  pragmas: string[];
}

const variants: Variant[] = [
  { name: "as the server runs", pragmas: [] },
  { name: "no automatic checkpoint", pragmas: ["wal_autocheckpoint = 0"] },
];

const users = userIds("l", 1000);
const rooms = roomsOf("g", users, 10);

function draft(index: number): MessageDraft {
  const user = index % users.length;
  const room = rooms[Math.floor(user / 10)]!.id;
  return {
    messageType: "group",
    mediaType: "text",
    from: users[user]!,
    to: room,
    conversation: roomConversation(room),
    recipientUser: null,
    content: `#${index} the quick brown fox jumps over the lazy dog while the bench counts every frame it sees twice over in order`,
    createAt: Date.now(),
  } as MessageDraft;
}

const fmt = (h: Histogram) => {
  const s = h.summary();
  return `p50 ${s.p50} p99 ${s.p99} max ${s.max} ms`;
};

for (const variant of variants.filter((v) => only === undefined || v.name.includes(only))) {
  const dir = tempDataDir();
  seedChatDb(dir, users, rooms);
  const commits = new Histogram();
  const chunks = new Histogram();
  const waits = new Histogram();
  let committed = 0;
  let commitCount = 0;
  const store = new SqliteStore({
    file: join(dir, "chat.db"),
    sync: "full",
    fileUrl: (id) => `/files/${id}`,
    onCommit: (ms, messages) => {
      commits.record(ms);
      committed += messages;
      commitCount += 1;
    },
  });
  for (const pragma of variant.pragmas) store.database.pragma(pragma);
  // Time each full-text chunk (the store's own field, wrapped).
  const indexer = store as unknown as { indexChunk: (from: number, to: number) => void };
  const chunk = indexer.indexChunk;
  indexer.indexChunk = (from, to) => {
    const t0 = performance.now();
    chunk(from, to);
    chunks.record(performance.now() - t0);
  };
  const eld = monitorEventLoopDelay({ resolution: 1 });
  eld.enable();
  const started = performance.now();
  const interval = 1000 / RATE;
  let next = started;
  let index = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      while (next <= now) {
        const scheduled = next;
        store.appendMessage(draft(index++)).then(
          () => waits.record(performance.now() - scheduled),
          (error: unknown) => {
            console.error(error);
            process.exitCode = 1;
          },
        );
        next += interval;
      }
      if (now - started < SECONDS * 1000) setTimeout(tick, 1);
      else resolve();
    };
    tick();
  });
  eld.disable();
  await store.close();
  const ms = (ns: number) => Math.round(ns / 1e4) / 100;
  process.stdout.write(
    [
      `${variant.name}: ${index} messages at ${RATE}/s, ${commitCount} commits (${(committed / commitCount).toFixed(1)} messages each)`,
      `  commit duration:        ${fmt(commits)}`,
      `  full-text chunk:        ${fmt(chunks)} (${chunks.count} chunks)`,
      `  scheduled → committed:  ${fmt(waits)}`,
      `  event-loop delay:       p50 ${ms(eld.percentile(50))} p99 ${ms(eld.percentile(99))} max ${ms(eld.max)} ms`,
      "",
    ].join("\n"),
  );
}
