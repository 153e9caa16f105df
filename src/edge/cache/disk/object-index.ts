// The in-memory index of the disk tier: variant key → entry, in least-recently-used order, with the
// byte total. A Map keeps insertion order, so "touch" is delete + set and the LRU entry is the first
// one: every operation is O(1), eviction included (no scan).
import type { DiskObject, ObjectMeta } from '../storage.ts';

/** One committed object: its head and where its body lives. What DiskStore.get returns. */
export class DiskEntry implements DiskObject {
  /** Replaced in place by updateMeta (same body). */
  meta: ObjectMeta;
  /** SHA-256 of meta.key (disk-layout.ts). */
  readonly hash: string;
  /** Names the body file; a replacement of the same key gets a new one. */
  readonly bodyId: string;
  /** Size of the head file in bytes. */
  headBytes: number;

  constructor(meta: ObjectMeta, hash: string, bodyId: string, headBytes: number) {
    this.meta = meta;
    this.hash = hash;
    this.bodyId = bodyId;
    this.headBytes = headBytes;
  }

  /** What this object costs against maxBytes: body and head. */
  get bytes(): number {
    return this.meta.bodySize + this.headBytes;
  }
}

interface Slot {
  readonly entry: DiskEntry;
  /** entry.bytes when it was set: updateMeta changes the entry, then sets it again. */
  readonly bytes: number;
}

export class ObjectIndex {
  readonly #slots = new Map<string, Slot>();
  #bytes = 0;

  get size(): number {
    return this.#slots.size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Looks up and marks as most recently used. */
  get(key: string): DiskEntry | undefined {
    const slot = this.#slots.get(key);
    if (slot === undefined) return undefined;
    this.#slots.delete(key);
    this.#slots.set(key, slot);
    return slot.entry;
  }

  /** Looks up without changing the order. */
  peek(key: string): DiskEntry | undefined {
    return this.#slots.get(key)?.entry;
  }

  /**
   * Inserts as most recently used (or re-inserts after the entry's size changed); returns the entry
   * it replaced under the same key, if that was another one.
   */
  set(entry: DiskEntry): DiskEntry | undefined {
    const key = entry.meta.key;
    const old = this.delete(key);
    const bytes = entry.bytes;
    this.#slots.set(key, { entry, bytes });
    this.#bytes += bytes;
    return old === entry ? undefined : old;
  }

  delete(key: string): DiskEntry | undefined {
    const slot = this.#slots.get(key);
    if (slot === undefined) return undefined;
    this.#slots.delete(key);
    this.#bytes -= slot.bytes;
    return slot.entry;
  }

  /** Removes least-recently-used entries until the total is at most maxBytes; returns them. */
  evictOver(maxBytes: number): DiskEntry[] {
    const evicted: DiskEntry[] = [];
    for (const [key, slot] of this.#slots) {
      if (this.#bytes <= maxBytes) break;
      this.delete(key);
      evicted.push(slot.entry);
    }
    return evicted;
  }

  /** A snapshot, least recently used first (the index may change while the caller iterates it). */
  values(): IterableIterator<DiskEntry> {
    return Array.from(this.#slots.values(), (slot) => slot.entry).values();
  }

  clear(): void {
    this.#slots.clear();
    this.#bytes = 0;
  }
}
