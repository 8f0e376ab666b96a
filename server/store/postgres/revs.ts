import type { PoolClient } from "pg";

/**
 * Takes `count` consecutive values of the id/rev counter inside the caller's open transaction and returns
 * the first. The UPDATE locks the counter row until that transaction ends, so values are handed out in
 * commit order: a transaction that takes later values waits for every one that took earlier values to
 * commit or roll back first. `sync { after }` by rev then never skips a message committed late. A
 * rolled-back transaction gives its values back with the row, which is safe: nothing with them was ever
 * visible. One call per group commit keeps the lock short.
 */
export async function takeRevs(client: PoolClient, count: number): Promise<number> {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`count must be a positive integer, got ${count}`);
  const result = await client.query<{ value: string }>(
    "UPDATE counters SET value = value + $1 WHERE name = 'rev' RETURNING value",
    [count],
  );
  const last = Number(result.rows[0]!.value);
  return last - count + 1;
}
