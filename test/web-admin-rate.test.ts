import { describe, expect, it } from "vitest";
import { messagesBetween, perMinute, type Reading } from "../web/src/admin/rate.js";

// The admin console's messages per minute: differences of the nodes' accepted-message counters.

const node = (id: string, messages: number, startedAt = 0) => ({ id, connections: 0, startedAt, messages });
const reading = (at: number, ...nodes: ReturnType<typeof node>[]): Reading => ({ at, nodes });

describe("messages per minute from the nodes' counters", () => {
  it("adds each node's difference between two readings", () => {
    const before = reading(1000, node("a", 10), node("b", 5));
    const after = reading(61_000, node("a", 40), node("b", 15));
    expect(messagesBetween(before, after)).toBe(40);
    expect(perMinute(before, after)).toBe(40);
    expect(perMinute(before, reading(31_000, node("a", 20), node("b", 5)))).toBe(20);
  });

  it("counts a restarted node's whole count (its counter went down, or it started again), never a negative", () => {
    const before = reading(1000, node("a", 100), node("b", 50));
    expect(messagesBetween(before, reading(6000, node("a", 3, 4000), node("b", 52)))).toBe(5);
    expect(messagesBetween(before, reading(6000, node("a", 7), node("b", 50)))).toBe(7);
  });

  it("counts a node that joined after the first reading, not one that was running unseen before it", () => {
    const before = reading(1000, node("a", 10));
    expect(messagesBetween(before, reading(6000, node("a", 10), node("b", 4, 3000)))).toBe(4);
    expect(messagesBetween(before, reading(6000, node("a", 10), node("c", 400, 0)))).toBe(0);
  });

  it("answers 0 for readings at the same moment", () => {
    expect(perMinute(reading(5, node("a", 1)), reading(5, node("a", 9)))).toBe(0);
  });
});
