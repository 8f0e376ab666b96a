/** A map from event name to listener signature. */
export type ListenerMap = { [event: string]: (...args: never[]) => void };

/**
 * A minimal typed event emitter that runs the same in Node and in browsers (no `node:events`). A listener
 * that throws does not stop the others: the error is rethrown asynchronously, where it is reported.
 */
export class TypedEmitter<Events extends ListenerMap> {
  private readonly listeners = new Map<keyof Events, Set<Events[keyof Events]>>();

  /** Adds a listener; returns a function that removes it. */
  on<E extends keyof Events>(event: E, listener: Events[E]): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener);
    return () => this.off(event, listener);
  }

  /** Adds a listener that runs once; returns a function that removes it. */
  once<E extends keyof Events>(event: E, listener: Events[E]): () => void {
    const wrapper = ((...args: Parameters<Events[E]>) => {
      off();
      listener(...args);
    }) as Events[E];
    const off = this.on(event, wrapper);
    return off;
  }

  /** Removes a listener added with `on`. */
  off<E extends keyof Events>(event: E, listener: Events[E]): void {
    this.listeners.get(event)?.delete(listener);
  }

  /** Removes every listener. */
  removeAllListeners(): void {
    this.listeners.clear();
  }

  protected emit<E extends keyof Events>(event: E, ...args: Parameters<Events[E]>): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as (...a: Parameters<Events[E]>) => void)(...args);
      } catch (error) {
        // One broken listener must not starve the others, nor break the client's own bookkeeping.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}
