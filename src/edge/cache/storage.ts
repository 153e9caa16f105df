// The storage contract shared by the cache tiers (memory/, disk/) and the code above them
// (cache/cache.ts, the fetch task). Tiers store opaque objects under a variant key; what a key means
// (cache/key.ts) and whether an object is fresh (lib/http-cache) are decided elsewhere.
import type { Readable } from 'node:stream';
import type { StoredFreshness } from '../../lib/http-cache/policy.ts';

/** Response headers as stored: lower-case names; a field that occurred more than once is an array. */
export type HeaderMap = Record<string, string | string[]>;

/** Everything known about a stored response except its body. JSON-serialisable (the disk tier persists it). */
export interface ObjectMeta {
  /** Variant key: the primary key, then the Vary selection when the response varies (cache/key.ts). */
  readonly key: string;
  /** Primary key: groups every variant of one URL (purge by URL removes them all). */
  readonly primaryKey: string;
  /** The absolute URL the object answers (scheme://host/path?query): purge by URL, prefix and host. */
  readonly url: string;
  status: number;
  /** Headers delivered to clients (hop-by-hop and targeted cache fields already removed; no Age). */
  headers: HeaderMap;
  /** Lower-case request header names from the response's Vary, sorted; [] when it does not vary. */
  varyNames: string[];
  /** Surrogate keys from Cache-Tag / Surrogate-Key. */
  tags: string[];
  /** When the object entered the cache, ms since the epoch (purge rules compare against it). */
  storedAtMs: number;
  /** Body length in bytes (known once the fill completed; a tier never holds a partial body). */
  bodySize: number;
  /** Freshness inputs decided when the response was stored or last revalidated (lib/http-cache). */
  freshness: StoredFreshness;
}

/** An object held by the memory tier: its head and the whole body. */
export interface MemoryObject {
  readonly meta: ObjectMeta;
  readonly body: Buffer;
}

/** An object held by the disk tier; its body is read with DiskTier.read. */
export interface DiskObject {
  readonly meta: ObjectMeta;
}

export interface TierStats {
  objects: number;
  bytes: number;
  maxBytes: number;
}

/** Byte-bounded in-memory tier with a frequency-aware admission/eviction policy (W-TinyLFU). */
export interface MemoryTier {
  /** Synchronous: the hit path pays no microtask for a memory hit. Records the access for admission. */
  get(key: string): MemoryObject | undefined;
  /** Like get, without recording an access (purges, index upkeep). */
  peek(key: string): MemoryObject | undefined;
  /** Every object held (the purge sweeper walks them). */
  objects(): IterableIterator<MemoryObject>;
  /** Offers an object; returns false when the admission policy rejected it or it is too large. */
  set(object: MemoryObject): boolean;
  delete(key: string): boolean;
  /** Replaces the head of a held object (after a 304 revalidation) keeping its body; false if absent. */
  updateMeta(meta: ObjectMeta): boolean;
  stats(): TierStats;
  /** The largest body this tier takes, in bytes. */
  readonly maxObjectBytes: number;
}

/** A body being written to disk. Bytes written may be read back while the write goes on. */
export interface DiskWriter {
  /** Bytes whose write has completed (readAt can return them). */
  readonly bytesWritten: number;
  /** Appends a chunk; resolves when it is written to the file (not fsync'd). */
  write(chunk: Buffer): Promise<void>;
  /** Reads back written bytes [position, position + length); valid until release(), also after commit. */
  readAt(position: number, length: number): Promise<Buffer>;
  /** Makes the object visible under meta.key atomically (replacing any older one) and returns it. */
  commit(meta: ObjectMeta): Promise<DiskObject>;
  /** Discards an unfinished object; nothing becomes visible. */
  abort(): Promise<void>;
  /** Closes the file handle once no reader needs readAt any more (after commit or abort). */
  release(): Promise<void>;
}

/** Byte-bounded, persistent, crash-safe tier. Its index lives in memory, so lookups are synchronous. */
export interface DiskTier {
  /** Loads the index from the directory; removes leftovers of interrupted writes. */
  open(): Promise<void>;
  get(key: string): DiskObject | undefined;
  createWriter(): DiskWriter;
  /** Streams body bytes [start, endInclusive] (whole body by default) of a committed object. */
  read(object: DiskObject, start?: number, endInclusive?: number): Readable;
  /** Atomically replaces the stored head of an object (after a 304), keeping its body. */
  updateMeta(meta: ObjectMeta): Promise<boolean>;
  delete(key: string): Promise<boolean>;
  /** Every object in the index (startup rebuilds of other indexes, purge cleanup). */
  objects(): IterableIterator<DiskObject>;
  stats(): TierStats;
  close(): Promise<void>;
}
