// The cache as the pipeline sees it: two tiers (memory over disk) plus the index of which URLs vary
// on which request headers, and the hit-for-pass markers. Freshness is not decided here
// (lib/http-cache); a lookup only finds the stored variant that matches the request.
import type { Readable } from 'node:stream';
import type { Headers } from '../../lib/http-cache/headers.ts';
import { variantKeyOf } from './key.ts';
import type { DiskObject, DiskTier, MemoryObject, MemoryTier, ObjectMeta } from './storage.ts';

/** A stored object as found by a lookup: in memory (with its body) or on disk only. */
export type CachedObject = MemoryObject | DiskObject;

export function isInMemory(object: CachedObject): object is MemoryObject {
  return (object as MemoryObject).body !== undefined;
}

export type Lookup =
  | { kind: 'found'; object: CachedObject }
  | { kind: 'uri-miss' }
  | { kind: 'vary-miss'; varyNames: readonly string[] };

const NO_VARY: readonly string[] = [];

interface VarySpec {
  /** Request header names of the most recent response's Vary for this URL ([] when it does not vary). */
  names: string[];
  /** Every variant key stored for this URL (purge by URL removes them all). */
  keys: Set<string>;
}

export class Cache {
  readonly memory: MemoryTier;
  readonly disk: DiskTier;
  /** Only URLs stored under more than their primary key (Vary, key rules) have an entry: the common case costs one Map miss. */
  readonly #vary = new Map<string, VarySpec>();
  /**
   * Primary key → when it was last invalidated. An object whose fetch started before that moment is
   * not served or stored, even if its fill finishes (or its disk commit lands) after the removal.
   */
  readonly #removedAt = new Map<string, number>();
  /** Primary key → time (ms) until which requests skip collapsing and pass (Varnish hit-for-pass). */
  readonly #hitForPass = new Map<string, number>();

  /** Disk commits under way (drained before shutdown so that finished fills reach the disk). */
  readonly #pendingWrites = new Set<Promise<unknown>>();

  constructor(memory: MemoryTier, disk: DiskTier) {
    this.memory = memory;
    this.disk = disk;
  }

  /** Runs a disk write that shutdown must wait for. */
  trackWrite<T>(write: Promise<T>): Promise<T> {
    this.#pendingWrites.add(write);
    const done = (): void => void this.#pendingWrites.delete(write);
    write.then(done, done);
    return write;
  }

  /** Waits (at most `timeoutMs`) for the disk writes under way. */
  async drainWrites(timeoutMs: number): Promise<void> {
    const deadline = new Promise((resolve) => setTimeout(resolve, timeoutMs).unref());
    await Promise.race([Promise.allSettled([...this.#pendingWrites]), deadline]);
  }

  /** Opens the disk tier and rebuilds the Vary index from what it holds. */
  async open(): Promise<void> {
    await this.disk.open();
    for (const object of this.disk.objects()) this.#index(object.meta);
  }

  /** The Vary names known for a URL ([] when its responses do not vary or nothing is stored). */
  varyNamesOf(primaryKey: string): readonly string[] {
    return this.#vary.get(primaryKey)?.names ?? [];
  }

  /** The variant key a request maps to, given what is known of the URL's Vary. */
  variantKeyFor(primaryKey: string, req: Headers, keyExtra = ''): string {
    const spec = this.#vary.get(primaryKey);
    return variantKeyOf(primaryKey, spec === undefined ? NO_VARY : spec.names, req, keyExtra);
  }

  /** Synchronous: a memory hit costs two Map lookups and no allocation. */
  lookup(primaryKey: string, req: Headers, keyExtra = ''): Lookup {
    const spec = this.#vary.get(primaryKey);
    const key =
      spec === undefined && keyExtra === ''
        ? primaryKey
        : variantKeyOf(primaryKey, spec === undefined ? NO_VARY : spec.names, req, keyExtra);
    const inMemory = this.memory.get(key);
    if (inMemory !== undefined && !this.isInvalidated(inMemory.meta))
      return { kind: 'found', object: inMemory };
    const onDisk = this.disk.get(key);
    if (onDisk !== undefined && !this.isInvalidated(onDisk.meta)) return { kind: 'found', object: onDisk };
    return spec === undefined || spec.names.length === 0
      ? { kind: 'uri-miss' }
      : { kind: 'vary-miss', varyNames: spec.names };
  }

  isHitForPass(primaryKey: string, nowMs: number): boolean {
    const until = this.#hitForPass.get(primaryKey);
    if (until === undefined) return false;
    if (until > nowMs) return true;
    this.#hitForPass.delete(primaryKey);
    return false;
  }

  markHitForPass(primaryKey: string, untilMs: number): void {
    this.#hitForPass.set(primaryKey, untilMs);
  }

  clearHitForPass(primaryKey: string): void {
    this.#hitForPass.delete(primaryKey);
  }

  /** Was the object's URL invalidated after its fetch started? (Free while nothing was removed.) */
  isInvalidated(meta: ObjectMeta): boolean {
    if (this.#removedAt.size === 0) return false;
    const removedAt = this.#removedAt.get(meta.primaryKey);
    return removedAt !== undefined && meta.storedAtMs <= removedAt;
  }

  /** Records a committed object: Vary index, and the memory tier when its body is at hand. */
  admit(meta: ObjectMeta, body: Buffer | null): CachedObject {
    if (this.isInvalidated(meta)) return { meta };
    this.#index(meta);
    this.clearHitForPass(meta.primaryKey);
    if (body !== null && body.length <= this.memory.maxObjectBytes) {
      const object: MemoryObject = { meta, body };
      if (this.memory.set(object)) return object;
    }
    return this.disk.get(meta.key) ?? { meta };
  }

  /** Reads a small disk object whole and offers it to the memory tier (promotion on hit). */
  async promote(object: DiskObject): Promise<CachedObject> {
    if (object.meta.bodySize > this.memory.maxObjectBytes) return object;
    const chunks: Buffer[] = [];
    for await (const chunk of this.disk.read(object)) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    if (body.length !== object.meta.bodySize) return object;
    const promoted: MemoryObject = { meta: object.meta, body };
    this.memory.set(promoted);
    return promoted;
  }

  /** Streams a byte range of a disk object's body. */
  read(object: DiskObject, start?: number, endInclusive?: number): Readable {
    return this.disk.read(object, start, endInclusive);
  }

  /** Replaces a stored head after a 304 (RFC 9111 §4.3.4), in both tiers. */
  async updateMeta(meta: ObjectMeta): Promise<void> {
    this.memory.updateMeta(meta);
    await this.disk.updateMeta(meta);
  }

  /** Removes every variant of a URL from both tiers. */
  async removeUrl(primaryKey: string): Promise<number> {
    this.#noteRemoval(primaryKey, Date.now());
    const spec = this.#vary.get(primaryKey);
    const keys = spec === undefined ? [primaryKey] : [primaryKey, ...spec.keys];
    this.#vary.delete(primaryKey);
    let removed = 0;
    for (const key of keys) {
      const inMemory = this.memory.delete(key);
      const onDisk = await this.disk.delete(key);
      if (inMemory || onDisk) removed++;
    }
    return removed;
  }

  /** Keeps the removal times bounded: fills that started over ten minutes before a removal are rare. */
  #noteRemoval(primaryKey: string, nowMs: number): void {
    this.#removedAt.delete(primaryKey);
    this.#removedAt.set(primaryKey, nowMs);
    if (this.#removedAt.size <= 100_000) return;
    for (const [key, at] of this.#removedAt) {
      if (at > nowMs - 600_000) break; // insertion order = time order
      this.#removedAt.delete(key);
    }
  }

  #index(meta: ObjectMeta): void {
    if (meta.key === meta.primaryKey) return;
    let spec = this.#vary.get(meta.primaryKey);
    if (spec === undefined) {
      spec = { names: meta.varyNames, keys: new Set() };
      this.#vary.set(meta.primaryKey, spec);
    } else if (spec.names.join() !== meta.varyNames.join()) {
      // The origin changed its Vary: variants keyed by the old names can no longer be selected.
      spec.names = meta.varyNames;
    }
    spec.keys.add(meta.key);
  }
}
