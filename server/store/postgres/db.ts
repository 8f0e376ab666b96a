import pg from "pg";
import type { StoredMessage } from "../../../shared/schemas.js";
import { AppError, invalid } from "../../errors.js";
import type { MessageRow } from "../rows.js";

/** The pool's connections, and whether the store was closed (then every call refuses). */
export interface PgDatabase {
  pool: pg.Pool;
  /** A message row as clients see it (file URLs made by the store's `fileUrl`). */
  toMessage: (row: MessageRow) => StoredMessage;
  isOpen(): boolean;
}

/** pg's type ids of BIGINT (INT8), which it hands out as strings by default, and of JSON, which it parses. */
const INT8_OID = 20;
const JSON_OID = 114;

/**
 * Type parsers of the store's pool only (pg's global ones stay as they are). BIGINT columns become numbers:
 * every BIGINT the store reads is an id, a rev, a time in ms, a size or a count, all far below 2^53. JSON
 * (the reactions) stays text, as SQLite reads it, for the one message mapping both stores share.
 */
const types = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    format === "binary"
      ? pg.types.getTypeParser(oid, format)
      : oid === INT8_OID
        ? (value: string) => Number(value)
        : oid === JSON_OID
          ? (value: string) => value
          : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/** How long a query waits for a connection (pg's default waits forever, e.g. while PostgreSQL is down). */
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * How long PostgreSQL keeps a session that sits in an open transaction without a statement. The store's
 * transactions run their statements back to back; one left open is a node that vanished mid-commit (host
 * down, network cut: no FIN reaches PostgreSQL), and its locks, the rev counter's above all, would stall
 * every node until TCP gave up.
 */
const IDLE_IN_TRANSACTION_MS = 15_000;

/** A pool of `size` connections to `url` whose BIGINTs read as numbers. */
export function createPool(url: string, size: number): pg.Pool {
  return new pg.Pool({
    connectionString: url,
    max: size,
    types,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_MS,
  });
}

/**
 * A PostgreSQL error as a plain Error: its SQLSTATE `code` and message, without the fields pg adds (`detail`
 * quotes a failing row, message text included, and logs must never hold message bodies). Not a special
 * type: callers see an Error and rethrow it; nothing is swallowed. Other values pass through unchanged.
 */
export function plainError(error: unknown): unknown {
  if (unreachable(error)) {
    // The client may try again: nothing was acknowledged (a resend with its clientMsgId is deduplicated
    // if a COMMIT whose answer was lost did commit).
    return new AppError("UNAVAILABLE", "the database cannot be reached; try again shortly", {
      cause: error instanceof pg.DatabaseError ? new Error(`PostgreSQL ${error.code ?? "error"}`) : error,
    });
  }
  if (!(error instanceof pg.DatabaseError)) return error;
  const plain = new Error(`PostgreSQL ${error.code ?? "error"}: ${error.message}`) as Error & { code?: string };
  if (error.code !== undefined) plain.code = error.code;
  return plain;
}

/** SQLSTATEs of a lost or refused connection: class 08, admin/crash shutdown, cannot connect now, too many clients. */
const UNREACHABLE_STATES = /^(08|57P0[1-3]$|53300$)/;
/** Socket errors of a connection that could not be made or was cut. */
const UNREACHABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EPIPE",
  "ENOTFOUND",
]);

/** True when an error says PostgreSQL cannot be reached (as opposed to a statement it refused). */
function unreachable(error: unknown): boolean {
  if (error instanceof pg.DatabaseError) return UNREACHABLE_STATES.test(error.code ?? "");
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" && UNREACHABLE_CODES.has(code)) return true;
  // pg's own messages for a connection it lost, or could not get from the pool in time.
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/.test(
    error.message,
  );
}

/** Why a value holding U+0000 is refused: PostgreSQL's TEXT cannot hold it (SQLite's can). */
export const NUL_REFUSAL = "PostgreSQL cannot store the character U+0000";

/** True when a parameter (a string, or an array of them) holds U+0000. */
function holdsNul(value: unknown): boolean {
  if (typeof value === "string") return value.includes("\u0000");
  return Array.isArray(value) && value.some(holdsNul);
}

/**
 * Refuses parameters holding U+0000 with INVALID_PAYLOAD before they reach PostgreSQL, which would fail the
 * statement with an encoding error (INTERNAL for the client): nothing stored can hold U+0000, so a lookup by
 * such a value could find nothing anyway, and a write of it cannot be made.
 */
function checkValues(values: unknown[]): void {
  if (values.some(holdsNul)) throw invalid(NUL_REFUSAL);
}

/** Runs one statement on the pool; a database error is rethrown as plainError. */
export async function query<R extends pg.QueryResultRow = pg.QueryResultRow>(
  on: pg.Pool | pg.PoolClient,
  text: string,
  values: unknown[] = [],
): Promise<pg.QueryResult<R>> {
  checkValues(values);
  try {
    return await on.query<R>(text, values);
  } catch (error) {
    throw plainError(error);
  }
}

/** Runs one statement whose rows come back as arrays (message rows: no object per row). */
export async function queryArrays<R extends unknown[]>(
  on: pg.Pool | pg.PoolClient,
  text: string,
  values: unknown[] = [],
): Promise<R[]> {
  checkValues(values);
  try {
    return (await on.query<R>({ text, values, rowMode: "array" })).rows;
  } catch (error) {
    throw plainError(error);
  }
}

/** Connections whose open transaction wrote a webhook delivery (`markDeliveriesWritten`). */
const wroteDeliveries = new WeakSet<pg.PoolClient>();
/** Per pool, who is told when a transaction that wrote webhook deliveries has committed. */
const deliveryListeners = new WeakMap<pg.Pool, () => void>();

/** Notes that the transaction open on `client` wrote webhook deliveries: its pool's listener hears of its COMMIT. */
export function markDeliveriesWritten(client: pg.PoolClient): void {
  wroteDeliveries.add(client);
}

/**
 * Calls `listener` after each transaction of `transaction(pool, …)` that wrote webhook deliveries has
 * committed (never for one rolled back); replaces an earlier listener.
 */
export function onDeliveriesCommitted(pool: pg.Pool, listener: () => void): void {
  deliveryListeners.set(pool, listener);
}

/**
 * Runs `work` in one READ COMMITTED transaction on a connection of its own: committed when it resolves,
 * rolled back when it throws (the error is rethrown). `work` may also ask for a rollback by returning
 * `rollback(value)`: the transaction's writes are undone and `value` is returned.
 */
export async function transaction<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<T | Rollback<T>>,
): Promise<T> {
  const client = await pool.connect().catch((error: unknown) => {
    throw plainError(error);
  });
  // A connection whose BEGIN, COMMIT or ROLLBACK failed is in an unknown state: it is closed, not reused.
  let unusable = false;
  const control = async (statement: "BEGIN" | "COMMIT" | "ROLLBACK") => {
    try {
      await query(client, statement);
    } catch (error) {
      unusable = true;
      throw error;
    }
  };
  try {
    await control("BEGIN");
    let result: T | Rollback<T>;
    try {
      result = await work(client);
    } catch (error) {
      // The work's error is the one to report; a failed ROLLBACK only retires the connection.
      await control("ROLLBACK").catch(() => undefined);
      throw plainError(error);
    }
    if (result instanceof Rollback) {
      await control("ROLLBACK");
      return result.value;
    }
    await control("COMMIT");
    if (wroteDeliveries.has(client)) deliveryListeners.get(pool)?.();
    return result;
  } finally {
    wroteDeliveries.delete(client);
    client.release(unusable);
  }
}

/** What `transaction`'s work returns to undo its writes and still answer `value`. */
export class Rollback<T> {
  constructor(readonly value: T) {}
}

/** Asks `transaction` to roll back and answer `value`. */
export const rollback = <T>(value: T): Rollback<T> => new Rollback(value);
