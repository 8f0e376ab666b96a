import type { MessageDraft } from "./types.js";

/** A user id and another id as one key (a user id cannot hold NUL; the other part may). */
export const pairKey = (userId: string, other: string): string => `${userId}\u0000${other}`;

/** The two parts of a pairKey. */
export function splitKey(key: string): [string, string] {
  const at = key.indexOf("\u0000");
  return [key.slice(0, at), key.slice(at + 1)];
}

/** What a batch of stored messages changes besides their rows, written once per batch. */
export interface BatchEffects {
  /** `user\0peer` direct-conversation pairs the batch's messages belong to. */
  pairs: Set<string>;
  /** `user\0conversation` → the sender's last message id in the batch. */
  readTo: Map<string, number>;
}

/** Effects of no message yet. */
export const noEffects = (): BatchEffects => ({ pairs: new Set(), readTo: new Map() });

/**
 * Adds what storing `draft` as message `id` changes: both users' direct-conversation pair (the recipient's
 * only for a system message, as its conversation with `system`), and the sender's read position, moved to
 * its own message (ids only grow within a batch: the last one wins).
 */
export function noteEffects(effects: BatchEffects, draft: MessageDraft, id: number): void {
  if (draft.recipientUser !== null) {
    effects.pairs.add(pairKey(draft.recipientUser, draft.from));
    if (draft.messageType === "single") effects.pairs.add(pairKey(draft.from, draft.recipientUser));
  }
  if (draft.messageType !== "system") effects.readTo.set(pairKey(draft.from, draft.conversation), id);
}

/**
 * Values known to be stored and never deleted (direct-conversation pairs, user ids), so a hot path can skip
 * a write or a read; emptied when it reaches `max` entries, which bounds its memory.
 */
export class KnownSet {
  private readonly values = new Set<string>();

  constructor(private readonly max: number) {}

  has(value: string): boolean {
    return this.values.has(value);
  }

  add(value: string): void {
    if (this.values.size >= this.max) this.values.clear();
    this.values.add(value);
  }

  addAll(values: ReadonlySet<string>): void {
    if (this.values.size + values.size > this.max) this.values.clear();
    for (const value of values) this.values.add(value);
  }
}
