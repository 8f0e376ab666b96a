import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ConversationService } from "../server/conversations/service.js";
import type { TypingNotice } from "../shared/schemas.js";

// In cluster mode a typing start asks Redis (the gate) whether another node relayed it within the second. The
// entry that remembers a relayed start must outlive that answer: if its timer removed it meanwhile, the start
// went on with an entry nobody could find, and the stop that followed was not relayed (seen in the two-node
// run of conversation-state.test.ts). Fake timers place the timer inside the gate's answer every time.

/** A gate whose answers the test gives, one call at a time. */
function heldGate() {
  const pending: { resolve: (open: boolean) => void; reject: (error: Error) => void }[] = [];
  const gate = (_key: string, _ms: number) =>
    new Promise<boolean>((resolve, reject) => pending.push({ resolve, reject }));
  const next = () => {
    const call = pending.shift();
    if (!call) throw new Error("no gate call is waiting");
    return call;
  };
  return {
    gate,
    /** Resolves once a gate call waits (microtasks only: no timer runs meanwhile). */
    async called() {
      for (let turn = 0; turn < 20 && pending.length === 0; turn++) await Promise.resolve();
      expect(pending).toHaveLength(1);
    },
    waiting: () => pending.length,
    answer: (open: boolean) => next().resolve(open),
    fail: () => next().reject(new Error("Redis did not answer")),
  };
}

/** The typing entries a service holds (the map every user and conversation typed in grows). */
const entries = (conversations: ConversationService) =>
  (conversations as unknown as { typing: Map<string, unknown> }).typing.size;

function scene() {
  const relayed: TypingNotice["state"][] = [];
  const delivery = { typing: (notice: TypingNotice) => relayed.push(notice.state) } as never;
  // Bob exists: a direct conversation with him resolves without a database.
  const store = { userExists: () => Promise.resolve(true) } as never;
  const held = heldGate();
  const conversations = new ConversationService(delivery, store, () => Date.now(), held.gate);
  const typing = (state: "start" | "stop") => conversations.setTyping("alice", { user: "bob" }, state);
  /** A start whose gate answers `open` at once. */
  const answeredStart = async (open: boolean) => {
    const started = typing("start");
    await held.called();
    held.answer(open);
    await started;
  };
  services.push(conversations);
  return { relayed, held, conversations, typing, answeredStart };
}

const services: ConversationService[] = [];

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  for (const service of services.splice(0)) service.close();
  vi.useRealTimers();
});

describe("typing through the cluster's gate", () => {
  it("relays the stop after a start whose gate answered after the entry's removal was due", async () => {
    const { relayed, held, typing } = scene();
    // A stop with nothing to stop: its entry is due for removal at once.
    await typing("stop");
    const start = typing("start");
    await held.called();
    await vi.advanceTimersByTimeAsync(10);
    held.answer(true);
    await start;
    await typing("stop");
    expect(relayed).toEqual(["start", "stop"]);
  });

  it("relays the stop after a start whose gate answered after the previous start's expiry", async () => {
    const { relayed, held, typing, answeredStart } = scene();
    await answeredStart(true);
    await vi.advanceTimersByTimeAsync(5990);
    const second = typing("start");
    await held.called();
    // The first start's expiry fires while the second waits for the gate: it is stopped.
    await vi.advanceTimersByTimeAsync(20);
    expect(relayed).toEqual(["start", "stop"]);
    held.answer(true);
    await second;
    await typing("stop");
    expect(relayed).toEqual(["start", "stop", "start", "stop"]);
  });

  it("keeps the throttle and expiry of an entry whose gate failed, and removes the entry after its expiry", async () => {
    const { relayed, held, conversations, typing, answeredStart } = scene();
    await answeredStart(true);
    await vi.advanceTimersByTimeAsync(1500);
    const failing = typing("start");
    await held.called();
    // Redis did not answer in time: the request fails; the start relayed before stays active.
    held.fail();
    await expect(failing).rejects.toThrow("Redis did not answer");
    expect(entries(conversations)).toBe(1);
    // Within the second of the failed try, a start asks nobody and is not relayed; it renews the expiry.
    await typing("start");
    expect(held.waiting()).toBe(0);
    await vi.advanceTimersByTimeAsync(5990);
    expect(relayed).toEqual(["start"]);
    await vi.advanceTimersByTimeAsync(20);
    expect(relayed).toEqual(["start", "stop"]);
    expect(entries(conversations)).toBe(0);
  });

  it("removes the entry of a start the gate refused once the second has passed", async () => {
    const { relayed, conversations, answeredStart } = scene();
    await answeredStart(false);
    expect(entries(conversations)).toBe(1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(entries(conversations)).toBe(0);
    expect(relayed).toEqual([]);
  });
});
