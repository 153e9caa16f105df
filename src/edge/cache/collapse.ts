// Request collapsing: at most one fetch in flight per key on this node. The first request for a key
// creates the fetch (the writer); every later one joins it (a reader) until the fetch leaves the
// table, which it does once its object is committed or it turned out not to be storable.
export class InFlight<T> {
  readonly #tasks = new Map<string, T>();

  get(key: string): T | undefined {
    return this.#tasks.get(key);
  }

  /** The task for `key`, created by `start` if none is in flight. */
  join(key: string, start: () => T): { task: T; created: boolean } {
    const existing = this.#tasks.get(key);
    if (existing !== undefined) return { task: existing, created: false };
    const task = start();
    this.#tasks.set(key, task);
    return { task, created: true };
  }

  /** Removes `task` if it is still the one in flight for `key`. */
  leave(key: string, task: T): void {
    if (this.#tasks.get(key) === task) this.#tasks.delete(key);
  }

  get size(): number {
    return this.#tasks.size;
  }
}
