import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from "node:crypto";
import { availableParallelism } from "node:os";
import { AppError } from "../errors.js";

const KEY_LENGTH = 32;

function scryptAsync(password: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, KEY_LENGTH, options, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

function optionsFor(logN: number, r: number, p: number): ScryptOptions {
  const N = 2 ** logN;
  // scrypt needs 128·N·r bytes; Node's default maxmem (32 MiB) is below OWASP's N = 2^17.
  return { N, r, p, maxmem: 256 * N * r + 1024 * 1024 };
}

/**
 * Hashes a password with scrypt (OWASP: N = 2^17, r = 8, p = 1) and a random salt. The parameters travel
 * with the hash, so raising the cost later keeps old hashes valid.
 * @example await hashPassword("correct horse", 17) // "scrypt$17$8$1$<salt>$<key>"
 */
export async function hashPassword(password: string, logN: number): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, optionsFor(logN, 8, 1));
  return ["scrypt", logN, 8, 1, salt.toString("base64url"), key.toString("base64url")].join("$");
}

/** Checks a password against a stored hash in constant time; false for any malformed hash. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, logN, r, p, salt, key] = stored.split("$");
  if (scheme !== "scrypt" || !logN || !r || !p || !salt || !key) return false;
  const expected = Buffer.from(key, "base64url");
  const actual = await scryptAsync(
    password,
    Buffer.from(salt, "base64url"),
    optionsFor(Number(logN), Number(r), Number(p)),
  );
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

/** Options of a `PasswordHasher`. */
export interface PasswordHasherOptions {
  /** log2 of scrypt's N for new hashes. */
  logN: number;
  /**
   * Hashes computed at once; each holds 128·N·r bytes (128 MiB at N = 2^17) while it runs, and one more than
   * the cores adds memory, not throughput. @default min(4, the number of cores)
   */
  concurrency?: number;
  /** Hashes waiting for a turn; beyond, a request is refused with 503 UNAVAILABLE. @default 64 */
  queueLimit?: number;
}

/**
 * Runs password hashing (register, login) at most `concurrency` (≤ 4) at a time, the rest waiting in a bounded FIFO
 * queue, so a burst of logins costs bounded memory (scrypt's buffers) and leaves libuv's thread pool to the
 * rest of the server part of the time. A full queue refuses with UNAVAILABLE (503): the server is busy, the
 * client did nothing wrong, and the per-address and per-username limits deal with who is guessing.
 */
export class PasswordHasher {
  private readonly concurrency: number;
  private readonly queueLimit: number;
  private readonly waiting: (() => void)[] = [];
  private active = 0;
  private peak = 0;

  constructor(private readonly options: PasswordHasherOptions) {
    this.concurrency = options.concurrency ?? Math.min(4, availableParallelism());
    this.queueLimit = options.queueLimit ?? 64;
  }

  /** Hashes computing now. */
  get running(): number {
    return this.active;
  }

  /** The most hashes that ever computed at once (for tests and diagnostics). */
  get peakRunning(): number {
    return this.peak;
  }

  /** Hashes waiting for a turn. */
  get queued(): number {
    return this.waiting.length;
  }

  /** `hashPassword` with the configured cost, in turn. */
  hash(password: string): Promise<string> {
    return this.inTurn(() => hashPassword(password, this.options.logN));
  }

  /** `verifyPassword`, in turn. */
  verify(password: string, stored: string): Promise<boolean> {
    return this.inTurn(() => verifyPassword(password, stored));
  }

  private async inTurn<T>(work: () => Promise<T>): Promise<T> {
    if (this.active >= this.concurrency) {
      if (this.waiting.length >= this.queueLimit) {
        throw new AppError("UNAVAILABLE", "too many password checks in progress, try again shortly");
      }
      // The finishing hash hands its slot over directly (`active` stays counted), so nobody overtakes.
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.active += 1;
    }
    this.peak = Math.max(this.peak, this.active);
    try {
      return await work();
    } finally {
      const nextInLine = this.waiting.shift();
      if (nextInLine) nextInLine();
      else this.active -= 1;
    }
  }
}
