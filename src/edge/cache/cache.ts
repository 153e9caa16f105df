// The cache as the pipeline sees it: two tiers (memory over disk) plus the index of which URLs vary
// on which request headers, and the hit-for-pass markers. Freshness is not decided here
// (lib/http-cache); a lookup only finds the stored variant that matches the request.
import type { Readable } from 'node:stream';
import type { Headers } from '../../lib/http-cache/headers.ts';
import { expiredAt } from '../../lib/http-cache/freshness.ts';
import { Invalidations, purgeClockMs } from './invalidation.ts';
import { partialKeyOf, variantKeyOf } from './key.ts';
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
   * Purges by URL, prefix, host, tag and everything (cache/invalidation.ts). An object whose fetch
   * started before a matching purge is not served as fresh or stored, even if its fill finishes (or
   * its disk commit lands) after the purge.
   */
  readonly invalidations = new Invalidations();
  /** Tag → variant keys of objects carrying it (rebuilt from the disk tier at open: survives restarts). */
  readonly #tags = new Map<string, Set<string>>();
  #tagEntries = 0;
  #tagEntriesAfterCompaction = 0;
  /** Start times (ms) of fetches under way, by ticket: purge rules outlive the fills older than them. */
  readonly #fills = new Map<number, number>();
  #nextFill = 0;
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
    if (inMemory !== undefined) {
      const object = this.invalidations.isEmpty ? inMemory : this.#usable(inMemory);
      if (object !== null) return { kind: 'found', object };
    }
    const onDisk = this.disk.get(key);
    if (onDisk !== undefined) {
      const object = this.invalidations.isEmpty ? onDisk : this.#usable(onDisk);
      if (object !== null) return { kind: 'found', object };
    }
    return spec === undefined || spec.names.length === 0
      ? { kind: 'uri-miss' }
      : { kind: 'vary-miss', varyNames: spec.names };
  }

  /** The stored partial response (a 206) of the variant a request maps to, if any (lookup's rules). */
  lookupPartial(primaryKey: string, req: Headers, keyExtra = ''): CachedObject | null {
    const key = partialKeyOf(this.variantKeyFor(primaryKey, req, keyExtra));
    const object = this.memory.get(key) ?? this.disk.get(key);
    if (object === undefined) return null;
    return this.invalidations.isEmpty ? object : this.#usable(object);
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

  /**
   * Was a purge applied after the object's fetch started? Hard or soft: a fill must not store it as
   * fresh either way. (Free while no purge is active.)
   */
  isInvalidated(meta: ObjectMeta): boolean {
    return !this.invalidations.isEmpty && this.invalidations.check(meta) !== null;
  }

  /** The object as a lookup may use it: null when purged, stale from the purge when soft-purged. */
  #usable<T extends CachedObject>(object: T): T | null {
    const invalidated = this.invalidations.check(object.meta);
    if (invalidated === null) return object;
    if (!invalidated.soft) {
      // Lazy removal: gone now rather than when the sweeper reaches it.
      void this.removeKey(object.meta.key).catch(() => undefined);
      return null;
    }
    const meta = { ...object.meta, freshness: expiredAt(object.meta.freshness, invalidated.atMs) };
    return { ...object, meta };
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
  async removeUrl(primaryKey: string, nowMs = purgeClockMs()): Promise<number> {
    this.invalidations.noteUrlPurge(primaryKey, false, nowMs);
    const keys = this.variantKeysOf(primaryKey);
    this.#vary.delete(primaryKey);
    let removed = 0;
    for (const key of keys) if (await this.removeKey(key)) removed++;
    return removed;
  }

  /** Marks every variant of a URL stale as of `nowMs` (soft purge): the next use revalidates. */
  async expireUrl(primaryKey: string, nowMs = purgeClockMs()): Promise<number> {
    this.invalidations.noteUrlPurge(primaryKey, true, nowMs);
    let expired = 0;
    for (const key of this.variantKeysOf(primaryKey)) if (await this.expireKey(key, nowMs)) expired++;
    return expired;
  }

  /** Every variant key stored for a URL (its primary key first). */
  variantKeysOf(primaryKey: string): string[] {
    const spec = this.#vary.get(primaryKey);
    return spec === undefined ? [primaryKey] : [primaryKey, ...spec.keys];
  }

  /** Removes one variant from both tiers; true when either held it. */
  async removeKey(key: string): Promise<boolean> {
    const inMemory = this.memory.delete(key);
    const onDisk = await this.disk.delete(key);
    return inMemory || onDisk;
  }

  /** Rewrites one variant's head as stale from `atMs` in both tiers; true when either held it. */
  async expireKey(key: string, atMs: number): Promise<boolean> {
    const held = this.memory.peek(key) ?? this.disk.get(key);
    if (held === undefined) return false;
    const meta = { ...held.meta, freshness: expiredAt(held.meta.freshness, atMs) };
    if (meta.freshness === held.meta.freshness) return true;
    const inMemory = this.memory.updateMeta(meta);
    const onDisk = await this.disk.updateMeta(meta);
    return inMemory || onDisk;
  }

  /** Variant keys of the objects that carried `tag` when stored (some may be gone since). */
  keysTagged(tag: string): readonly string[] {
    const keys = this.#tags.get(tag);
    return keys === undefined ? [] : [...keys];
  }

  /** Forgets a tag's keys once its purge has handled them. */
  dropTag(tag: string): void {
    const keys = this.#tags.get(tag);
    if (keys === undefined) return;
    this.#tagEntries -= keys.size;
    this.#tags.delete(tag);
  }

  /** Registers a fetch starting now (purgeClockMs); returns the ticket to pass to endFill. */
  beginFill(nowMs = purgeClockMs()): number {
    const ticket = ++this.#nextFill;
    this.#fills.set(ticket, nowMs);
    return ticket;
  }

  /** When the fetch with this ticket started (purgeClockMs); undefined once ended. */
  fillStartMs(ticket: number): number | undefined {
    return this.#fills.get(ticket);
  }

  endFill(ticket: number): void {
    this.#fills.delete(ticket);
  }

  /** The start of the oldest fetch under way (Infinity when none). */
  oldestFillStartMs(): number {
    for (const startMs of this.#fills.values()) return startMs; // insertion order = start order
    return Infinity;
  }

  #index(meta: ObjectMeta): void {
    if (meta.tags.length > 0) this.#indexTags(meta);
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

  #indexTags(meta: ObjectMeta): void {
    for (const tag of meta.tags) {
      let keys = this.#tags.get(tag);
      if (keys === undefined) this.#tags.set(tag, (keys = new Set()));
      if (keys.has(meta.key)) continue;
      keys.add(meta.key);
      this.#tagEntries += 1;
    }
    // Evicted objects leave their keys behind: compact when the index has doubled since last time
    // (amortised O(1) per admission).
    if (this.#tagEntries > 2 * this.#tagEntriesAfterCompaction + 10_000) this.#compactTags();
  }

  #compactTags(): void {
    let entries = 0;
    for (const [tag, keys] of this.#tags) {
      for (const key of keys)
        if (this.memory.peek(key) === undefined && this.disk.get(key) === undefined) keys.delete(key);
      if (keys.size === 0) this.#tags.delete(tag);
      entries += keys.size;
    }
    this.#tagEntries = entries;
    this.#tagEntriesAfterCompaction = entries;
  }
}
