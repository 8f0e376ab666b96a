/**
 * The stored-message ids a client has already handed to its listeners, for dedupe. Bounded: past
 * `capacity` ids the smaller half is folded into a floor (every id at or below it counts as seen), which
 * only matters for a message that arrives thousands of ids late.
 */
export class SeenIds {
  private readonly ids = new Set<number>();
  private floor = 0;

  /** @param capacity ids kept exactly before folding. @default 10000 */
  constructor(private readonly capacity = 10_000) {}

  /** True when `id` was seen. */
  has(id: number): boolean {
    return id <= this.floor || this.ids.has(id);
  }

  /** Records `id`; false when it was already seen. */
  add(id: number): boolean {
    if (this.has(id)) return false;
    this.ids.add(id);
    if (this.ids.size > this.capacity) this.fold();
    return true;
  }

  /** Forgets every id. */
  clear(): void {
    this.ids.clear();
    this.floor = 0;
  }

  private fold(): void {
    const sorted = [...this.ids].sort((a, b) => a - b);
    const dropped = sorted.slice(0, Math.floor(sorted.length / 2));
    for (const id of dropped) this.ids.delete(id);
    this.floor = Math.max(this.floor, dropped.at(-1) ?? 0);
  }
}
