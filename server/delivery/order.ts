/*
 * Delivery in id order within a conversation, across nodes (contract sections 6 and 14). Each node delivers
 * the messages it stores at once and those of other nodes when the adapter's stream brings them, so two
 * messages of one conversation committed on two nodes a moment apart could reach a socket in either order.
 * Each stored message therefore carries `prev`, the id of the message before it in its conversation (taken
 * in the committing transaction), and a node delivers it only once it has delivered `prev`, or when `prev`
 * was stored before this node started (it never comes), or after `waitMs` (a broadcast that never arrives:
 * Redis was unreachable; the clients' `sync` fills the gap).
 */

/** Where a stored message stands in its conversation. */
export interface OrderTag {
  /** The conversation key. */
  key: string;
  id: number;
  /** The id of the conversation's message before this one, 0 when none. */
  prev: number;
}

/** Options of `ConversationOrder`. */
export interface ConversationOrderOptions {
  /** The newest message id when this node started: earlier messages are never waited for. */
  floor: number;
  /** How long a message waits for the one before it, at most. */
  waitMs: number;
  /** Conversations whose last delivered id is kept (least recently delivered forgotten first). */
  maxTracked: number;
  /** Messages held at once, at most; beyond, a message is delivered at once. */
  maxHeld: number;
}

interface Held {
  id: number;
  prev: number;
  /** When it stops waiting for its predecessor. */
  due: number;
  deliver: () => void;
}

/** Holds each conversation's messages until the one before them was delivered on this node. */
export class ConversationOrder {
  /** Per conversation, the highest id delivered; a Map keeps insertion order, so the first key is the stalest. */
  private readonly last = new Map<string, number>();
  private readonly held = new Map<string, { entries: Held[]; timer: NodeJS.Timeout }>();
  private heldCount = 0;

  constructor(private readonly options: ConversationOrderOptions) {}

  /** Messages waiting for the one before them (for tests and metrics). */
  get waiting(): number {
    return this.heldCount;
  }

  /** Runs `deliver` now, or once the message before `tag.id` has been delivered here (at most `waitMs` later). */
  admit(tag: OrderTag, deliver: () => void): void {
    const last = this.last.get(tag.key);
    // Ready when its predecessor was delivered here or came before this node started; late (its successor went
    // when the wait ran out): at once, rather than never.
    const ready = tag.prev <= Math.max(last ?? 0, this.options.floor) || tag.id <= (last ?? 0);
    if (ready || this.heldCount >= this.options.maxHeld) {
      this.deliver(tag.key, tag.id, deliver);
      this.release(tag.key);
      return;
    }
    let waiting = this.held.get(tag.key);
    if (!waiting) {
      waiting = { entries: [], timer: this.arm(tag.key, this.options.waitMs) };
      this.held.set(tag.key, waiting);
    }
    waiting.entries.push({ id: tag.id, prev: tag.prev, due: Date.now() + this.options.waitMs, deliver });
    this.heldCount += 1;
  }

  /** The timer that gives up waiting for the held messages of `key` that are due by then. */
  private arm(key: string, ms: number): NodeJS.Timeout {
    const timer = setTimeout(() => this.expire(key), Math.max(0, ms));
    timer.unref();
    return timer;
  }

  /** Stops the timers and delivers nothing more (the node is closing). */
  close(): void {
    for (const waiting of this.held.values()) clearTimeout(waiting.timer);
    this.held.clear();
    this.heldCount = 0;
  }

  private deliver(key: string, id: number, deliver: () => void): void {
    deliver();
    const last = this.last.get(key);
    this.last.delete(key);
    this.last.set(key, Math.max(last ?? 0, id));
    if (this.last.size > this.options.maxTracked) this.last.delete(this.last.keys().next().value!);
  }

  /** Delivers the held messages of `key` whose predecessor has now been delivered, in id order. */
  private release(key: string): void {
    const waiting = this.held.get(key);
    if (!waiting) return;
    waiting.entries.sort((a, b) => a.id - b.id);
    while (waiting.entries.length > 0 && waiting.entries[0]!.prev <= (this.last.get(key) ?? 0)) {
      const next = waiting.entries.shift()!;
      this.heldCount -= 1;
      this.deliver(key, next.id, next.deliver);
    }
    if (waiting.entries.length === 0) {
      clearTimeout(waiting.timer);
      this.held.delete(key);
    }
  }

  /**
   * The wait ran out for some held messages of `key`: the newest of them goes now with every held message
   * before it, in id order (a message waiting less long is not given up on, unless an older one must go first),
   * then whatever they unblock; the timer is set again for the next due one.
   */
  private expire(key: string): void {
    const waiting = this.held.get(key);
    if (!waiting) return;
    const now = Date.now();
    waiting.entries.sort((a, b) => a.id - b.id);
    let upTo = -1;
    waiting.entries.forEach((entry, index) => {
      if (entry.due <= now) upTo = index;
    });
    for (const entry of waiting.entries.splice(0, upTo + 1)) {
      this.heldCount -= 1;
      this.deliver(key, entry.id, entry.deliver);
    }
    if (waiting.entries.length === 0) {
      this.held.delete(key);
      return;
    }
    this.release(key);
    if (!this.held.has(key)) return;
    waiting.timer = this.arm(key, Math.min(...waiting.entries.map((entry) => entry.due)) - now);
  }
}
