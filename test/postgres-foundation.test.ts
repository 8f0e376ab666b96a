import pg from "pg";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { migratePostgres } from "../server/store/postgres/migrate.js";
import { PG_MIGRATIONS } from "../server/store/postgres/schema.js";
import { takeRevs } from "../server/store/postgres/revs.js";
import { createTestDatabase, missingServices, type TestDatabase } from "./support/services.js";

const missing = await missingServices(["postgres"], "the PostgreSQL store tests (test/postgres-foundation.test.ts)");

describe.skipIf(missing !== undefined)("PostgreSQL store foundations", () => {
  let database: TestDatabase;
  const pools: pg.Pool[] = [];
  const pool = () => {
    const created = new pg.Pool({ connectionString: database.url, max: 4 });
    pools.push(created);
    return created;
  };

  beforeEach(async () => {
    database = await createTestDatabase();
  });

  afterEach(async () => {
    await Promise.all(pools.splice(0).map((p) => p.end()));
    await database.drop();
  });

  it("migrates an empty database once when several nodes boot at the same moment", async () => {
    const nodes = [pool(), pool(), pool(), pool()];
    const versions = await Promise.all(nodes.map((node) => migratePostgres(node)));
    expect(versions).toEqual(nodes.map(() => PG_MIGRATIONS.length));
    const check = pool();
    expect((await check.query("SELECT version FROM schema_version")).rows).toEqual([{ version: PG_MIGRATIONS.length }]);
    expect((await check.query("SELECT value FROM counters WHERE name = 'rev'")).rows).toEqual([{ value: "0" }]);
    // Booting again applies nothing.
    expect(await migratePostgres(check)).toBe(PG_MIGRATIONS.length);
  });

  it("refuses to run against a database newer than the server", async () => {
    const node = pool();
    await migratePostgres(node);
    await node.query("UPDATE schema_version SET version = version + 1");
    await expect(migratePostgres(node)).rejects.toThrow(/newer than this server/);
  });

  it("rolls a failing migration back whole and leaves the version where it was", async () => {
    const node = pool();
    await migratePostgres(node);
    const broken = [...PG_MIGRATIONS, "CREATE TABLE half (id INT); SELECT no_such_function();"];
    await expect(migratePostgres(node, broken)).rejects.toThrow();
    expect((await node.query("SELECT version FROM schema_version")).rows[0].version).toBe(PG_MIGRATIONS.length);
    expect((await node.query("SELECT to_regclass('half') AS t")).rows[0].t).toBeNull();
  });

  /** Inserts one message row with this id/rev into the `lobby` conversation. */
  const insert = (client: pg.PoolClient, id: number) =>
    client.query(
      `INSERT INTO messages (id, message_type, media_type, sender, recipient, conversation, content, create_at,
         update_at, rev) VALUES ($1, 'group', 'text', 'alice', 'lobby', 'r:lobby', $2, 0, 0, $1)`,
      [id, `message ${id}`],
    );

  /** What `sync { after }` reads: every committed rev above the cursor, ascending. */
  const syncAfter = async (reader: pg.Pool, after: number) =>
    (await reader.query<{ rev: string }>("SELECT rev FROM messages WHERE rev > $1 ORDER BY rev", [after])).rows.map(
      (row) => Number(row.rev),
    );

  it("hands out revs in commit order: a later transaction cannot commit before an earlier one, so sync skips nothing", async () => {
    const node = pool();
    await migratePostgres(node);
    const first = await node.connect();
    const second = await node.connect();
    try {
      await first.query("BEGIN");
      await second.query("BEGIN");
      const firstRev = await takeRevs(first, 1);
      // The second writer asks for its value while the first is still open: it waits for the first's commit.
      let secondRev: number | undefined;
      const taking = takeRevs(second, 2).then((rev) => (secondRev = rev));
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(secondRev).toBeUndefined();
      // A reader meanwhile sees nothing, so its cursor stays at 0.
      expect(await syncAfter(node, 0)).toEqual([]);
      await insert(first, firstRev);
      await first.query("COMMIT");
      await taking;
      expect(secondRev).toBe(firstRev + 1);
      const cursor = (await syncAfter(node, 0)).at(-1)!;
      expect(cursor).toBe(firstRev);
      await insert(second, secondRev!);
      await insert(second, secondRev! + 1);
      await second.query("COMMIT");
      // Everything after the cursor the reader held: nothing committed late below it.
      expect(await syncAfter(node, cursor)).toEqual([firstRev + 1, firstRev + 2]);
    } finally {
      first.release();
      second.release();
    }
  });

  it("would skip with a plain sequence: why the counter row exists", async () => {
    const node = pool();
    await migratePostgres(node);
    await node.query("CREATE SEQUENCE plain_revs");
    const first = await node.connect();
    const second = await node.connect();
    try {
      await first.query("BEGIN");
      await second.query("BEGIN");
      const early = Number((await first.query("SELECT nextval('plain_revs') AS v")).rows[0].v);
      const late = Number((await second.query("SELECT nextval('plain_revs') AS v")).rows[0].v);
      await insert(second, late);
      await second.query("COMMIT");
      const cursor = (await syncAfter(node, 0)).at(-1)!;
      await insert(first, early);
      await first.query("COMMIT");
      expect(cursor).toBe(late);
      expect(await syncAfter(node, cursor)).toEqual([]); // `early` is never seen by a client at `cursor`
    } finally {
      first.release();
      second.release();
    }
  });

  it("gives a rolled-back transaction's revs back, which nobody ever saw", async () => {
    const node = pool();
    await migratePostgres(node);
    const client = await node.connect();
    try {
      await client.query("BEGIN");
      const lost = await takeRevs(client, 3);
      await client.query("ROLLBACK");
      await client.query("BEGIN");
      const next = await takeRevs(client, 1);
      await client.query("COMMIT");
      expect(next).toBe(lost);
      await expect(takeRevs(client, 0)).rejects.toThrow(RangeError);
    } finally {
      client.release();
    }
  });
});
