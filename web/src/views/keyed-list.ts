/** A rendered row, kept while its key's version is unchanged. */
interface Cached {
  element: HTMLElement;
  version: string;
}

/**
 * Keyed rendering of a list: makes `parent`'s children exactly the given rows, in order, building only the
 * rows that are new or whose version changed and moving the others into place; rows that left are dropped
 * from the DOM and from the cache.
 * @example list.render(parent, rows, (row) => h("li", {}, row.text), (element, row) => element.classList.toggle("x", row.x));
 */
export class KeyedList<R extends { key: string; version: string }> {
  private readonly cache = new Map<string, Cached>();

  render(
    parent: HTMLElement,
    rows: Iterable<R>,
    build: (row: R) => HTMLElement,
    touch?: (element: HTMLElement, row: R) => void,
  ): void {
    const kept = new Set<string>();
    let cursor: ChildNode | null = parent.firstChild;
    for (const row of rows) {
      kept.add(row.key);
      let cached = this.cache.get(row.key);
      if (!cached || cached.version !== row.version) {
        cached = { element: build(row), version: row.version };
        this.cache.set(row.key, cached);
      }
      touch?.(cached.element, row);
      if (cached.element === cursor) cursor = cursor.nextSibling;
      else parent.insertBefore(cached.element, cursor);
    }
    while (cursor) {
      const next: ChildNode | null = cursor.nextSibling;
      cursor.remove();
      cursor = next;
    }
    for (const key of [...this.cache.keys()]) if (!kept.has(key)) this.cache.delete(key);
  }

  /** Forgets every built row (the next render builds them all). */
  clear(): void {
    this.cache.clear();
  }
}
