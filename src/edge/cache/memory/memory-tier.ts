// The memory tier: whole objects (head + body) in a byte-bounded W-TinyLFU (lib/admission/tinylfu.ts),
// so a burst of one-time URLs cannot flush the objects that are asked for all day.
import type { MemoryObject, MemoryTier, ObjectMeta, TierStats } from '../storage.ts';
import { WTinyLfu } from '../../../lib/admission/tinylfu.ts';

/** Largest default maxObjectBytes: bigger bodies belong to the disk tier. */
const DEFAULT_MAX_OBJECT_BYTES = 16 * 1024 * 1024;
/** Per-object cost beyond the counted strings: the node, the meta object, arrays, the Buffer header. */
const OBJECT_OVERHEAD_BYTES = 200;

export interface MemoryStoreOptions {
  /** Bytes the tier may hold, bodies and estimated heads together. */
  readonly maxBytes: number;
  /** Largest body taken. Default min(maxBytes / 8, 16 MiB). */
  readonly maxObjectBytes?: number;
  /**
   * Runs after the admission policy dropped an object on its own (to make room, or a recent object that
   * lost admission), synchronously inside the set() that caused it. Not run for delete(), for an object
   * replaced by set() or updateMeta(), nor for the object set() refuses. By default nothing runs.
   */
  readonly onEvict?: (key: string) => void;
  /** Sketch seed; default random. Tests fix it for repeatable admission. */
  readonly seed?: number;
}

/**
 * Estimated memory of an object's head: header names and values, key, URL, tags, plus a fixed
 * overhead. Strings are counted in UTF-16 code units (close to V8's one byte per Latin-1 char).
 */
export function estimateHeadBytes(meta: ObjectMeta): number {
  let bytes = OBJECT_OVERHEAD_BYTES + meta.key.length + meta.url.length;
  for (const name in meta.headers) {
    const value = meta.headers[name];
    bytes += name.length;
    if (typeof value === 'string') bytes += value.length;
    else if (value !== undefined) for (const item of value) bytes += item.length;
  }
  for (const tag of meta.tags) bytes += tag.length;
  return bytes;
}

function validatePositiveInteger(field: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`${field} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

export class MemoryStore implements MemoryTier {
  readonly maxObjectBytes: number;
  readonly #cache: WTinyLfu<MemoryObject>;

  constructor(options: MemoryStoreOptions) {
    const maxBytes = validatePositiveInteger('maxBytes', options.maxBytes);
    this.maxObjectBytes =
      options.maxObjectBytes === undefined
        ? Math.max(1, Math.min(Math.floor(maxBytes / 8), DEFAULT_MAX_OBJECT_BYTES))
        : validatePositiveInteger('maxObjectBytes', options.maxObjectBytes);
    const onEvict = options.onEvict;
    this.#cache = new WTinyLfu<MemoryObject>({
      maxBytes,
      ...(onEvict === undefined ? {} : { onEvict: (key: string) => onEvict(key) }),
      ...(options.seed === undefined ? {} : { seed: options.seed }),
    });
  }

  /** Synchronous and allocation-free on a hit; a miss is recorded too, so a URL asked for often gets in. */
  get(key: string): MemoryObject | undefined {
    return this.#cache.get(key);
  }

  peek(key: string): MemoryObject | undefined {
    return this.#cache.peek(key);
  }

  *objects(): IterableIterator<MemoryObject> {
    for (const key of this.#cache.keys()) {
      const object = this.#cache.peek(key);
      if (object !== undefined) yield object;
    }
  }

  /**
   * Offers an object under meta.key. False when the body exceeds maxObjectBytes, the object exceeds the
   * tier, or admission refused it; an older object under the key is gone in every case (superseded).
   */
  set(object: MemoryObject): boolean {
    const key = object.meta.key;
    if (object.body.length > this.maxObjectBytes) {
      this.#cache.delete(key);
      return false;
    }
    return this.#cache.set(key, object, object.body.length + estimateHeadBytes(object.meta));
  }

  delete(key: string): boolean {
    return this.#cache.delete(key);
  }

  /** Keeps the body, swaps the head (after a 304), recharges the size. Refreshes recency, not frequency. */
  updateMeta(meta: ObjectMeta): boolean {
    const held = this.#cache.peek(meta.key);
    if (held === undefined) return false;
    const object: MemoryObject = { meta, body: held.body };
    return this.#cache.set(meta.key, object, held.body.length + estimateHeadBytes(meta));
  }

  stats(): TierStats {
    return { objects: this.#cache.count, bytes: this.#cache.bytes, maxBytes: this.#cache.maxBytes };
  }
}
