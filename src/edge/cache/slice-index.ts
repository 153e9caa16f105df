// What a node remembers of sliced objects between requests (docs/media.md): the size and version
// last seen for a URL, so that a suffix range or a range past the end is placed without a fetch,
// and the URLs whose upstream ignored a Range, which are cached whole for a while instead. Both are
// bounded maps in memory; after a restart the first request learns them again from its slice.
import type { Cache } from './cache.ts';

export interface SliceVersion {
  size: number;
  /** ETag, Last-Modified and size joined: slices of one object must all have the same. */
  version: string;
}

/** Entries kept per map; the oldest go first (insertion order). */
const MAX_ENTRIES = 100_000;
/** How long a URL whose upstream ignored Range is cached whole before slicing is tried again. */
export const NO_RANGE_MS = 10 * 60_000;

export class SliceIndex {
  readonly #versions = new Map<string, SliceVersion>();
  readonly #noRangeUntil = new Map<string, number>();

  versionOf(primaryKey: string): SliceVersion | undefined {
    return this.#versions.get(primaryKey);
  }

  note(primaryKey: string, version: SliceVersion): void {
    this.#versions.delete(primaryKey);
    this.#versions.set(primaryKey, version);
    trim(this.#versions);
  }

  forget(primaryKey: string): void {
    this.#versions.delete(primaryKey);
  }

  markNoRange(primaryKey: string, nowMs: number): void {
    this.#noRangeUntil.set(primaryKey, nowMs + NO_RANGE_MS);
    trim(this.#noRangeUntil);
  }

  isNoRange(primaryKey: string, nowMs: number): boolean {
    const until = this.#noRangeUntil.get(primaryKey);
    if (until === undefined) return false;
    if (until > nowMs) return true;
    this.#noRangeUntil.delete(primaryKey);
    return false;
  }
}

function trim<K, V>(map: Map<K, V>): void {
  if (map.size <= MAX_ENTRIES) return;
  for (const key of map.keys()) {
    map.delete(key);
    if (map.size <= MAX_ENTRIES) return;
  }
}

const indexes = new WeakMap<Cache, SliceIndex>();

/** The node's slice index (one per cache). */
export function sliceIndexOf(cache: Cache): SliceIndex {
  let index = indexes.get(cache);
  if (index === undefined) indexes.set(cache, (index = new SliceIndex()));
  return index;
}
