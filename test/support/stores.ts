import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe } from "vitest";
import {
  BROADCAST_CONVERSATION,
  directConversation,
  roomConversation,
  systemConversation,
} from "../../server/messages/conversation.js";
import { PgStore } from "../../server/store/postgres/store.js";
import { SqliteStore, type SqliteStoreOptions } from "../../server/store/sqlite/store.js";
import { MAX_REVISIONS } from "../../server/store/types.js";
import type { StoredMessage } from "../../shared/schemas.js";
import type { ChangeResult, FileRecord, MessageDraft, Store } from "../../server/store/types.js";
import { createTestDatabase, missingServices } from "./services.js";

// The one import of the SQLite store's class for the store tests: test/sqlite-store.test.ts takes it from here.
export { SqliteStore, type SqliteStoreOptions };
/** The bound on revisions kept per message (the contract's, in `server/store/types.ts`). */
export { MAX_REVISIONS };

/** What a test may choose about a new store. */
export interface OpenOptions {
  /** The store's clock (the lobby's creation time). @default Date.now */
  now?: () => number;
}

/** One implementation of `Store` for the contract tests (`test/store-contract/`). */
export interface StoreFactory {
  name: string;
  /** Why this implementation cannot run here (an engine is missing); its suites are skipped. */
  skip?: string;
  /** A fresh, empty store of its own (its own temporary directory or database). */
  open(options?: OpenOptions): Promise<Store>;
  /** Closes every store `open` made and removes what they were stored in. */
  cleanup(): Promise<void>;
}

/** Every stored file id turns into this URL, in every implementation. */
export const fileUrl = (fileId: string): string => `/files/${fileId}`;

/** A new store and how to remove what it was stored in once it is closed. */
interface Made {
  store: Store;
  dispose(): Promise<void>;
}

/** A StoreFactory from how to make one store: it keeps what it made, for `cleanup`. */
function storeFactory(name: string, make: (options: OpenOptions) => Promise<Made>, skip?: string): StoreFactory {
  const made: Made[] = [];
  const factory: StoreFactory = {
    name,
    async open(options = {}) {
      const next = await make(options);
      made.push(next);
      return next.store;
    },
    async cleanup() {
      for (const { store, dispose } of made.splice(0)) {
        // A test may have closed it already; closing twice is not part of the contract.
        if (store.isOpen()) await store.close();
        await dispose();
      }
    },
  };
  if (skip !== undefined) factory.skip = skip;
  return factory;
}

/**
 * Every store implementation the contract runs against. A new one is one entry here: its `make` may be
 * async (create a database), and its `skip` is the reason it cannot run, asked before any suite starts
 * (PostgreSQL's: skipped with the reason printed when it is unreachable, a failure under REQUIRE_SERVICES=1).
 */
export const storeFactories: readonly StoreFactory[] = [
  storeFactory("sqlite", async ({ now }) => {
    const dir = await mkdtemp(join(tmpdir(), "store-contract-"));
    const store = new SqliteStore({
      file: join(dir, "chat.db"),
      sync: "normal",
      fileUrl,
      searchIndexDelayMs: 5,
      ...(now && { now }),
    });
    return { store, dispose: () => rm(dir, { recursive: true, force: true }) };
  }),
  storeFactory(
    "postgres",
    async ({ now }) => {
      // A database of its own per store: as empty as a new SQLite file, dropped after the test.
      const database = await createTestDatabase();
      const store = await PgStore.open({ url: database.url, fileUrl, poolSize: 4, ...(now && { now }) }).catch(
        async (error: unknown) => {
          await database.drop();
          throw error;
        },
      );
      return { store, dispose: () => database.drop() };
    },
    await missingServices(["postgres"], "the store contract on PostgreSQL (test/store-contract/)"),
  ),
];

/**
 * Declares `body`'s tests once per store implementation, under `title (name)`, each store opened in a test
 * closed and removed after it; an implementation with a `skip` reason has its copy skipped.
 */
export function describeStores(title: string, body: (open: (options?: OpenOptions) => Promise<Store>) => void): void {
  for (const factory of storeFactories) {
    describe.skipIf(factory.skip !== undefined)(`${title} (${factory.name})`, () => {
      afterEach(() => factory.cleanup());
      body((options) => factory.open(options));
    });
  }
}

let clock = 10_000;

/** A time later than every one before it (drafts' `createAt`, changes' `at`). */
export const tick = (): number => ++clock;

/** A group text message to a room. */
export const group = (from: string, room: string, extra: Partial<MessageDraft> = {}): MessageDraft => ({
  messageType: "group",
  mediaType: "text",
  from,
  to: room,
  conversation: roomConversation(room),
  recipientUser: null,
  content: `${from} in ${room}`,
  createAt: tick(),
  ...extra,
});

/** A single text message between two users. */
export const single = (from: string, to: string, extra: Partial<MessageDraft> = {}): MessageDraft => ({
  messageType: "single",
  mediaType: "text",
  from,
  to,
  conversation: directConversation(from, to),
  recipientUser: to,
  content: `${from} to ${to}`,
  createAt: tick(),
  ...extra,
});

/** A system message to a user, a room or everyone. */
export const system = (target: { user: string } | { room: string } | "*", content?: string): MessageDraft => {
  const base = { messageType: "system" as const, mediaType: "text" as const, from: "system", createAt: tick() };
  if (target === "*") {
    return { ...base, to: "*", conversation: BROADCAST_CONVERSATION, recipientUser: null, content: content ?? "all" };
  }
  if ("user" in target) {
    const conversation = systemConversation(target.user);
    return { ...base, to: target.user, conversation, recipientUser: target.user, content: content ?? "to user" };
  }
  const conversation = roomConversation(target.room);
  return { ...base, to: target.room, conversation, recipientUser: null, content: content ?? "to room" };
};

/** An upload's record: an image of `owner`'s, 10 bytes, unless said. */
export const upload = (id: string, owner: string, extra: Partial<FileRecord> = {}): FileRecord => ({
  id,
  owner,
  name: `${id}.png`,
  size: 10,
  mime: "image/png",
  mediaType: "image",
  createAt: tick(),
  ...extra,
});

/** The message of a change that went through (fails the test with the refusal otherwise). */
export function changed(result: ChangeResult): StoredMessage {
  if (!result.ok) throw new Error(`refused: ${result.refusal}`);
  return result.message;
}

/** The ids of a page's messages, in order. */
export const ids = (page: { messages: { id: number }[] }): number[] => page.messages.map((m) => m.id);

/** Creates users named as their ids (each also joins the lobby). */
export async function addUsers(store: Store, ...userIds: string[]): Promise<void> {
  for (const id of userIds) await store.createUser({ id, name: id, passwordHash: null, createAt: 1 });
}

/** alice, bob and carol, all in the lobby; r1, private, with alice (its creator) and bob; r2, public, with bob (its creator) and carol. */
export async function twoRooms(store: Store): Promise<void> {
  await addUsers(store, "alice", "bob", "carol");
  await store.createRoom({ id: "r1", name: "R1", visibility: "private", createdBy: "alice", createAt: 2 });
  await store.addMember("r1", "bob", 2);
  await store.createRoom({ id: "r2", name: "R2", visibility: "public", createdBy: "bob", createAt: 2 });
  await store.addMember("r2", "carol", 2);
}

/** Appends one after the other, each awaited (so each is its own commit); returns their ids. */
export async function appendAll(store: Store, drafts: MessageDraft[]): Promise<number[]> {
  const out: number[] = [];
  for (const draft of drafts) out.push((await store.appendMessage(draft)).message.id);
  return out;
}
