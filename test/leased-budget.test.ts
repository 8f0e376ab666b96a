import { RateLimiterMemory, type RateLimiterAbstract } from "rate-limiter-flexible";
import { describe, expect, it } from "vitest";
import { LeasedBudget } from "../server/cluster/limiters.js";

/** A memory limiter that counts how often it is asked. */
function countedLimiter(
  points: number,
  durationSeconds: number,
): { limiter: RateLimiterAbstract; calls: () => number } {
  const limiter = new RateLimiterMemory({ points, duration: durationSeconds });
  let calls = 0;
  const consume = limiter.consume.bind(limiter);
  limiter.consume = (key, used, options) => {
    calls += 1;
    return consume(key, used, options);
  };
  return { limiter, calls: () => calls };
}

/** Takes `count` charges for `key` one after another, each after the previous one was answered. */
async function takeInTurn(
  budget: LeasedBudget,
  key: string,
  count: number,
): Promise<{ admitted: number; sync: number }> {
  let admitted = 0;
  let sync = 0;
  for (let i = 0; i < count; i += 1) {
    const verdict = budget.take(key);
    if (typeof verdict === "boolean") sync += 1;
    if (await verdict) admitted += 1;
  }
  return { admitted, sync };
}

describe("the leased event budget", () => {
  it("admits exactly the budget per window, asking the limiter once per lease of a tenth of it", async () => {
    const spec = { points: 200, durationSeconds: 10 };
    const { limiter, calls } = countedLimiter(spec.points, spec.durationSeconds);
    const budget = new LeasedBudget(limiter, spec);
    const { admitted, sync } = await takeInTurn(budget, "alice", 250);
    expect(admitted).toBe(200);
    // 10 leases of 20 points, then one refusal that marks the window spent; everything else is answered here.
    expect(calls()).toBe(11);
    expect(sync).toBe(250 - 11);
    // Another key has a budget of its own.
    expect((await takeInTurn(budget, "bob", 5)).admitted).toBe(5);
  });

  it("answers charges in arrival order while a lease is being taken", async () => {
    const spec = { points: 25, durationSeconds: 10 };
    const budget = new LeasedBudget(countedLimiter(spec.points, spec.durationSeconds).limiter, spec);
    // Thirty charges arrive before any answer: the first 25 are admitted, the last 5 refused.
    const verdicts = await Promise.all(Array.from({ length: 30 }, () => Promise.resolve(budget.take("alice"))));
    expect(verdicts).toEqual([...Array<boolean>(25).fill(true), ...Array<boolean>(5).fill(false)]);
  });

  it("admits again once the window has ended, and forgets the keys of ended windows", async () => {
    const spec = { points: 3, durationSeconds: 1 };
    const budget = new LeasedBudget(countedLimiter(spec.points, spec.durationSeconds).limiter, spec);
    expect((await takeInTurn(budget, "alice", 4)).admitted).toBe(3);
    for (let i = 0; i < 1000; i += 1) await budget.take(`user-${i}`);
    expect(budget.size).toBe(1001);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await takeInTurn(budget, "alice", 4)).admitted).toBe(3);
    // The charge above swept every key whose window had ended: only alice's new window is left.
    expect(budget.size).toBe(1);
  });

  it("refuses when its limiter fails", async () => {
    const failing = countedLimiter(10, 10).limiter;
    failing.consume = () => Promise.reject(new Error("limiter down"));
    const budget = new LeasedBudget(failing, { points: 10, durationSeconds: 10 });
    await expect(budget.take("alice")).rejects.toThrow("limiter down");
    // Nothing is kept of a failed lease: the next charge asks again.
    expect(budget.size).toBe(0);
  });
});
