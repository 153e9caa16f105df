// The API shared by the byte-bounded caches of this folder (lru.ts, tinylfu.ts), so that a benchmark
// or a tier can take either.

export interface ByteCache<V> {
  /** The value under key, or undefined; records the access (also on a miss, where the policy keeps history). */
  get(key: string): V | undefined;
  /** The value under key without recording an access or changing any order. */
  peek(key: string): V | undefined;
  /**
   * Stores value under key, charged sizeBytes. Returns whether the value is held after the call: false
   * when sizeBytes > maxBytes or the admission policy rejected it. A value previously under key is
   * replaced (or, when the call returns false, removed): onEvict is not called for it, the caller knows.
   */
  set(key: string, value: V, sizeBytes: number): boolean;
  /** Removes key (onEvict is not called); false when it was absent. */
  delete(key: string): boolean;
  has(key: string): boolean;
  keys(): IterableIterator<string>;
  /** Sum of sizeBytes of the held values; never above maxBytes once a call returns. */
  readonly bytes: number;
  readonly count: number;
  readonly maxBytes: number;
}

/**
 * Called for each entry the policy removes on its own: evicted to make room, or rejected on admission
 * after it was held (a window entry losing to the main area). Not called for delete() or for values
 * replaced or refused by set().
 */
export type EvictListener<V> = (key: string, value: V) => void;

export function validateMaxBytes(maxBytes: number): number {
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) {
    throw new RangeError(`maxBytes must be a positive integer, got ${String(maxBytes)}`);
  }
  return maxBytes;
}

export function validateSizeBytes(sizeBytes: number): void {
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes < 0) {
    throw new RangeError(`sizeBytes must be a non-negative integer, got ${String(sizeBytes)}`);
  }
}
