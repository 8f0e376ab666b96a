import { afterEach, describe, expect, it, vi } from "vitest";
import { ConversationOrder, type ConversationOrderOptions } from "../server/delivery/order.js";

/*
 * ConversationOrder (server/delivery/order.ts): a node delivers a conversation's messages in id order, whichever
 * node stored them. Fake timers: the wait for a missing predecessor is exact here.
 */

afterEach(() => vi.useRealTimers());

function order(options: Partial<ConversationOrderOptions> = {}) {
  const gate = new ConversationOrder({ floor: 100, waitMs: 2000, maxTracked: 1000, maxHeld: 1000, ...options });
  const delivered: number[] = [];
  const admit = (id: number, prev: number, key = "r:a") => gate.admit({ key, id, prev }, () => delivered.push(id));
  return { gate, delivered, admit };
}

describe("ConversationOrder", () => {
  it("delivers at once what follows what it delivered, and what follows a message older than the node", () => {
    const { delivered, admit } = order();
    admit(101, 90); // its predecessor was stored before the node started (floor 100)
    admit(103, 101);
    admit(104, 103);
    admit(105, 0, "r:b"); // the first message of another conversation
    expect(delivered).toEqual([101, 103, 104, 105]);
  });

  it("holds a message until the one before it is delivered, then both go in id order", () => {
    const { gate, delivered, admit } = order();
    admit(101, 90);
    admit(107, 106); // 106 (stored on another node) has not come yet
    admit(108, 107);
    admit(110, 0, "r:b"); // another conversation is not held up
    expect(delivered).toEqual([101, 110]);
    expect(gate.waiting).toBe(2);
    admit(106, 101);
    expect(delivered).toEqual([101, 110, 106, 107, 108]);
    expect(gate.waiting).toBe(0);
  });

  it("holds the first message a node sees of a conversation when its predecessor came after the node started", () => {
    const { delivered, admit } = order();
    admit(102, 101); // 101 is newer than the floor: its broadcast is on its way
    expect(delivered).toEqual([]);
    admit(101, 100);
    expect(delivered).toEqual([101, 102]);
  });

  it("delivers what waited once the wait runs out (a predecessor that never comes), in id order", () => {
    vi.useFakeTimers();
    const { gate, delivered, admit } = order();
    admit(101, 90);
    admit(109, 108);
    admit(105, 104);
    vi.advanceTimersByTime(1999);
    expect(delivered).toEqual([101]);
    vi.advanceTimersByTime(1);
    expect(delivered).toEqual([101, 105, 109]);
    expect(gate.waiting).toBe(0);
    // Late: its successors went already. It is delivered rather than lost; what follows it is not held.
    admit(104, 101);
    admit(110, 109);
    expect(delivered).toEqual([101, 105, 109, 104, 110]);
  });

  it("gives up on each held message after its own wait, not on a later one held a moment ago", () => {
    vi.useFakeTimers();
    const { delivered, admit } = order();
    admit(101, 90);
    admit(103, 102); // 102 never comes
    vi.advanceTimersByTime(1800);
    admit(105, 104); // 104 is on its way
    vi.advanceTimersByTime(200);
    expect(delivered).toEqual([101, 103]); // 103's wait ran out; 105's has 1.8 s left
    vi.advanceTimersByTime(30);
    admit(104, 103);
    expect(delivered).toEqual([101, 103, 104, 105]);
    vi.advanceTimersByTime(5000);
    expect(delivered).toEqual([101, 103, 104, 105]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("holds at most maxHeld messages: beyond, a message is delivered at once", () => {
    const { gate, delivered, admit } = order({ maxHeld: 3 });
    for (let i = 0; i < 5; i++) admit(200 + i * 2, 199 + i * 2, `r:${i}`);
    expect(gate.waiting).toBe(3);
    expect(delivered).toEqual([206, 208]);
  });

  it("remembers at most maxTracked conversations, forgetting the least recently delivered", () => {
    const { delivered, admit } = order({ maxTracked: 2 });
    admit(101, 90, "r:a");
    admit(102, 90, "r:b");
    admit(103, 90, "r:c"); // forgets r:a
    admit(105, 104, "r:b"); // r:b still known: 104 is missing, held
    admit(107, 106, "r:a"); // r:a forgotten: 106 is after the floor, held too
    expect(delivered).toEqual([101, 102, 103]);
  });

  it("drops its timers on close", () => {
    vi.useFakeTimers();
    const { gate, delivered, admit } = order();
    admit(102, 101);
    gate.close();
    vi.advanceTimersByTime(5000);
    expect(delivered).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });
});
