interface Entry<I, R> {
  item: I;
  resolve: (result: R) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit: items added in the same event-loop turn are committed together by one call of `commit`
 * (one transaction), and each item's promise settles only after that call. At most one batch is in flight:
 * items added meanwhile wait for the next batch, which starts as soon as this one settled. `commit` answers
 * one result per item, an Error for an item it refused (the others still commit); when `commit` throws,
 * every item of its batch rejects with that error.
 */
export class GroupCommit<I, R> {
  private pending: Entry<I, R>[] = [];
  private running: Promise<void> | undefined;
  private scheduled = false;
  /** Items added so far, and items whose batch settled: the numbers flush() waits on. */
  private added = 0;
  private settled = 0;
  private waiters: { upto: number; resolve: () => void }[] = [];

  constructor(private readonly commit: (items: I[]) => Promise<(R | Error)[]>) {}

  /** Queues an item for the next batch; resolves with its result once the batch committed. */
  add(item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      this.added += 1;
      this.schedule();
    });
  }

  /** Resolves once every item added before the call has settled, starting a pending batch at once. */
  flush(): Promise<void> {
    if (this.settled >= this.added) return Promise.resolve();
    const done = new Promise<void>((resolve) => this.waiters.push({ upto: this.added, resolve }));
    this.start();
    return done;
  }

  private schedule(): void {
    if (this.scheduled || this.running !== undefined) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.start();
    });
  }

  private start(): void {
    if (this.running !== undefined || this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.running = this.run(batch).finally(() => {
      this.running = undefined;
      this.settled += batch.length;
      this.waiters = this.waiters.filter((waiter) => {
        if (waiter.upto > this.settled) return true;
        waiter.resolve();
        return false;
      });
      if (this.pending.length === 0) return;
      // Someone is waiting for the next batch: no reason to wait for another turn.
      if (this.waiters.length > 0) this.start();
      else this.schedule();
    });
  }

  private async run(batch: Entry<I, R>[]): Promise<void> {
    let results: (R | Error)[];
    try {
      results = await this.commit(batch.map((entry) => entry.item));
    } catch (error) {
      for (const entry of batch) entry.reject(error);
      return;
    }
    batch.forEach((entry, index) => {
      const result = results[index]!;
      if (result instanceof Error) entry.reject(result);
      else entry.resolve(result);
    });
  }
}
