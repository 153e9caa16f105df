// Runs async jobs one at a time per key, in call order, and jobs of different keys concurrently. The
// disk tier queues every change to one object's files on its hash (commit, updateMeta, delete,
// eviction), so the head on disk always matches the order the index saw.

export class KeyedQueue {
  readonly #tails = new Map<string, Promise<void>>();

  /** Runs job after every job queued before on the same key; settles as the job does. */
  run<T>(key: string, job: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const result = previous.then(job);
    const tail = result.then(ignore, ignore);
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return result;
  }

  /** Resolves once no job is queued or running (including jobs queued while waiting). */
  async idle(): Promise<void> {
    while (this.#tails.size > 0) await Promise.all(this.#tails.values());
  }
}

function ignore(): void {}
