// Space-Saving heavy hitters (Metwally, Agrawal & El Abbadi, "Efficient Computation of Frequent and
// Top-k Elements in Data Streams", 2005): at most `capacity` counters; an unseen key takes over the
// smallest counter and inherits its count as its error bound. Every key whose true count exceeds
// N / capacity is held, and a held key's count over-estimates its true count by at most `error`.
// Pure, no I/O.
//
// Written here because the npm packages that implement it are unmaintained or scan all counters on
// every eviction; this one keeps the counters in a min-heap (index map beside it), so an update is
// O(log capacity) whatever the stream. Summaries merge (Agarwal et al., "Mergeable Summaries", 2012):
// add the counts of both, keep the `capacity` largest; the errors add.

export interface HeavyHitter {
  readonly key: string;
  /** Upper bound of the key's true count. */
  readonly count: number;
  /** count − error is a lower bound of the true count. */
  readonly error: number;
}

/** One summary to merge: its held entries, its stream length, and whether it evicted keys (hasEvicted). */
export interface SummaryPart {
  readonly top: readonly HeavyHitter[];
  readonly total: number;
  readonly full: boolean;
}

export class SpaceSaving {
  readonly capacity: number;
  /** Min-heap on count. */
  readonly #keys: string[] = [];
  readonly #counts: number[] = [];
  readonly #errors: number[] = [];
  readonly #index = new Map<string, number>();
  #evicted = false;
  /** Items seen (the stream length N). */
  total = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity: a positive integer');
    this.capacity = capacity;
  }

  get size(): number {
    return this.#keys.length;
  }

  /** Some key was evicted: an absent key may have occurred up to the smallest held count. */
  get hasEvicted(): boolean {
    return this.#evicted;
  }

  /** Counts `key` `weight` times. */
  add(key: string, weight = 1): void {
    this.total += weight;
    const at = this.#index.get(key);
    if (at !== undefined) {
      this.#counts[at] = (this.#counts[at] as number) + weight;
      this.#down(at);
      return;
    }
    if (this.#keys.length < this.capacity) {
      const i = this.#keys.length;
      this.#keys.push(key);
      this.#counts.push(weight);
      this.#errors.push(0);
      this.#index.set(key, i);
      this.#up(i);
      return;
    }
    // Replace the minimum: the newcomer may have been seen up to `min` times before, unrecorded.
    const min = this.#counts[0] as number;
    this.#evicted = true;
    this.#index.delete(this.#keys[0] as string);
    this.#keys[0] = key;
    this.#counts[0] = min + weight;
    this.#errors[0] = min;
    this.#index.set(key, 0);
    this.#down(0);
  }

  /** Adds a held entry with its count and error (for merging summaries). */
  #addEntry(entry: HeavyHitter): void {
    const at = this.#index.get(entry.key);
    if (at !== undefined) {
      this.#counts[at] = (this.#counts[at] as number) + entry.count;
      this.#errors[at] = (this.#errors[at] as number) + entry.error;
      this.#down(at);
      return;
    }
    const i = this.#keys.length;
    this.#keys.push(entry.key);
    this.#counts.push(entry.count);
    this.#errors.push(entry.error);
    this.#index.set(entry.key, i);
    this.#up(i);
  }

  /** The held keys, largest count first. */
  top(limit = this.capacity): HeavyHitter[] {
    const out: HeavyHitter[] = [];
    for (let i = 0; i < this.#keys.length; i++) {
      out.push({
        key: this.#keys[i] as string,
        count: this.#counts[i] as number,
        error: this.#errors[i] as number,
      });
    }
    out.sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : 1));
    return out.slice(0, limit);
  }

  /**
   * Merges summaries: counts and errors add, the `capacity` largest are kept. A key absent from a
   * full summary may have occurred up to that summary's minimum count there; that is added to the
   * error of keys it lacks, so `count − error` stays a lower bound and `count` an upper bound.
   */
  static merge(capacity: number, parts: readonly SummaryPart[]): SpaceSaving {
    const merged = new Map<string, { count: number; error: number }>();
    for (const part of parts) {
      for (const e of part.top) {
        const m = merged.get(e.key);
        if (m === undefined) merged.set(e.key, { count: e.count, error: e.error });
        else {
          m.count += e.count;
          m.error += e.error;
        }
      }
    }
    for (const part of parts) {
      if (!part.full || part.top.length === 0) continue;
      let min = Infinity;
      const held = new Set<string>();
      for (const e of part.top) {
        held.add(e.key);
        if (e.count < min) min = e.count;
      }
      for (const [key, m] of merged) {
        if (held.has(key)) continue;
        m.count += min;
        m.error += min;
      }
    }
    const out = new SpaceSaving(capacity);
    const sorted = [...merged].sort((a, b) => b[1].count - a[1].count || (a[0] < b[0] ? -1 : 1));
    for (const [key, m] of sorted.slice(0, capacity)) out.#addEntry({ key, count: m.count, error: m.error });
    out.#evicted = sorted.length > capacity || parts.some((p) => p.full);
    out.total = parts.reduce((sum, p) => sum + p.total, 0);
    return out;
  }

  #up(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((this.#counts[parent] as number) <= (this.#counts[i] as number)) return;
      this.#swap(i, parent);
      i = parent;
    }
  }

  #down(i: number): void {
    const n = this.#keys.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && (this.#counts[l] as number) < (this.#counts[m] as number)) m = l;
      if (r < n && (this.#counts[r] as number) < (this.#counts[m] as number)) m = r;
      if (m === i) return;
      this.#swap(i, m);
      i = m;
    }
  }

  #swap(a: number, b: number): void {
    const k = this.#keys;
    const c = this.#counts;
    const e = this.#errors;
    [k[a], k[b]] = [k[b] as string, k[a] as string];
    [c[a], c[b]] = [c[b] as number, c[a] as number];
    [e[a], e[b]] = [e[b] as number, e[a] as number];
    this.#index.set(k[a] as string, a);
    this.#index.set(k[b] as string, b);
  }
}
