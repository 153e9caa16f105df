// Live console output of workers on this node, for `meridian workers tail` (the node's admin
// listener streams it as NDJSON). Nothing is kept: with no subscriber a line costs one Map miss.
export interface TailLine {
  at: string;
  zone_id: string;
  script: string;
  level: string;
  message: string;
}

export class ConsoleTail {
  readonly #subscribers = new Map<string, Set<(line: TailLine) => void>>();

  publish(zoneId: string, script: string, level: string, message: string): void {
    const subs = this.#subscribers.get(`${zoneId}/${script}`);
    if (subs === undefined) return;
    const line = { at: new Date().toISOString(), zone_id: zoneId, script, level, message };
    for (const fn of subs) fn(line);
  }

  /** Calls `fn` for each console line of the script until the returned function is called. */
  subscribe(zoneId: string, script: string, fn: (line: TailLine) => void): () => void {
    const key = `${zoneId}/${script}`;
    let subs = this.#subscribers.get(key);
    if (subs === undefined) this.#subscribers.set(key, (subs = new Set()));
    subs.add(fn);
    return () => {
      subs.delete(fn);
      if (subs.size === 0) this.#subscribers.delete(key);
    };
  }
}
