// The disk tier (DiskTier in ../storage.ts): byte-bounded, persistent, crash-safe. The index lives in
// memory (object-index.ts), so get() is synchronous; files hold what survives a restart.
//
// ON DISK (disk-layout.ts): per object, a body file (raw bytes, never modified once in objects/) and a
// head file (head-file.ts: magic, version, length, CRC-32, then JSON { bodyId, meta }) that names the
// body file and is the object's commit record.
//
// WHY A CRASH NEVER LEAVES A TORN OBJECT VISIBLE, whenever the process dies (SIGKILL included):
// - A body is written under tmp/ and renamed into objects/ only once complete (its size checked);
//   open() empties tmp/. A body in objects/ that no valid head names is deleted by open().
// - A head is written in full under tmp/, then rename(2)d onto objects/<hh>/<hash>.head. rename is
//   atomic: that path holds the previous head or the new one, never a mix. So commit is "rename the
//   body in, then rename the head in"; a replacement's head names a new body file, and the old body
//   is unlinked only after the new head is in place.
// - updateMeta (a 304) writes a new head the same way and never touches the body: O(head), not O(body).
// - delete and eviction unlink the head first, then the body (a body left alone is a leftover).
// - open() accepts a head only if magic, version, length, CRC and JSON shape check out, its key hashes
//   to its file name (collisions and misplaced files are caught) and the body it names exists with
//   exactly meta.bodySize bytes; anything else is deleted.
// After any crash each key therefore has its last committed (or updated) head and that head's complete
// body, or nothing. This relies on the page cache, which outlives a killed process; surviving a power
// cut needs `fsync: true`, which syncs the body and head files before their rename and the shard
// folder after each rename.
//
// CONCURRENCY: every change to one object's files runs in a per-hash queue (keyed-queue.ts), and the
// index changes for a key together with its files, so the head on disk matches what the index says.
// Eviction and delete take an entry out of the index at once (its bytes are freed at once) and queue
// the unlinks; a reader that already has a stream keeps reading the unlinked file through its fd.
import { openSync } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { MeridianError } from '../../../common/errors.ts';
import type { DiskObject, DiskTier, DiskWriter, ObjectMeta, TierStats } from '../storage.ts';
import { bodyPath, hashKey, headPath, newFileId, shardDir, TMP_DIR } from './disk-layout.ts';
import { diskError, DiskStoreWriter, unlinkIfPresent } from './disk-writer.ts';
import { encodeHead } from './head-file.ts';
import { loadIndex } from './load-index.ts';
import { PooledFileStream } from './read-pool.ts';
import { KeyedQueue } from './keyed-queue.ts';
import { DiskEntry, ObjectIndex } from './object-index.ts';

export interface DiskStoreOptions {
  /** The folder this tier owns; created if missing. */
  dir: string;
  /** Bound on the bytes of bodies plus heads. */
  maxBytes: number;
  /** Sync files and folders before a commit or head update resolves (survives power loss). By default false. */
  fsync?: boolean;
}

type StoreState = 'closed' | 'opening' | 'open' | 'closing';

export class DiskStore implements DiskTier {
  readonly #dir: string;
  readonly #maxBytes: number;
  readonly #fsync: boolean;
  readonly #index = new ObjectIndex();
  readonly #queue = new KeyedQueue();
  #state: StoreState = 'closed';

  constructor(options: DiskStoreOptions) {
    if (typeof options.dir !== 'string' || options.dir === '') {
      throw diskError(`dir must be a non-empty path, got ${JSON.stringify(options.dir)}`);
    }
    if (!Number.isSafeInteger(options.maxBytes) || options.maxBytes <= 0) {
      throw diskError(`maxBytes must be a positive integer, got ${String(options.maxBytes)}`);
    }
    this.#dir = options.dir;
    this.#maxBytes = options.maxBytes;
    this.#fsync = options.fsync ?? false;
  }

  async open(): Promise<void> {
    if (this.#state !== 'closed') throw diskError(`open: the store is already ${this.#state}`);
    this.#state = 'opening';
    try {
      const tmpDir = join(this.#dir, TMP_DIR);
      await rm(tmpDir, { recursive: true, force: true });
      await mkdir(tmpDir, { recursive: true });
      const { entries } = await loadIndex(this.#dir);
      for (const entry of entries) this.#index.set(entry);
      // maxBytes may have shrunk since the last run.
      const evicted = this.#index.evictOver(this.#maxBytes);
      this.#state = 'open';
      await this.#removeEvicted(evicted);
    } catch (err) {
      this.#state = 'closed';
      this.#index.clear();
      throw wrap('open', err);
    }
  }

  get(key: string): DiskObject | undefined {
    return this.#index.get(key);
  }

  createWriter(): DiskWriter {
    if (this.#state !== 'open') throw diskError(`createWriter: the store is ${this.#state}`);
    const bodyId = newFileId();
    return new DiskStoreWriter({
      bodyId,
      tmpPath: join(this.#dir, TMP_DIR, `${bodyId}.body`),
      fsync: this.#fsync,
      commitBody: (body) => this.#commit(body.bodyId, body.tmpPath, body.meta),
    });
  }

  read(object: DiskObject, start = 0, endInclusive = object.meta.bodySize - 1): Readable {
    const entry = object instanceof DiskEntry ? object : this.#index.peek(object.meta.key);
    if (entry === undefined) return failedStream(diskError(`read: ${object.meta.key} is not stored`));
    const size = entry.meta.bodySize;
    const isRange = Number.isSafeInteger(start) && Number.isSafeInteger(endInclusive);
    if (!isRange || start < 0 || endInclusive >= size || start > endInclusive + 1) {
      return failedStream(diskError(`read: range ${start}-${endInclusive} is outside the ${size}-byte body`));
    }
    if (start > endInclusive) return Readable.from([]);
    // Opened synchronously (one open(2)): a delete or eviction after read() returns then cannot
    // unlink the file first, and an open fd keeps an unlinked file readable.
    let fd: number;
    try {
      fd = openSync(bodyPath(this.#dir, entry.hash, entry.bodyId), 'r');
    } catch (err) {
      return failedStream(diskError(`read: the body of ${entry.meta.key} is gone`, err));
    }
    // 256 KiB reads into reused buffers (read-pool.ts: deliver gives each back once the socket wrote it).
    return new PooledFileStream(fd, start, endInclusive);
  }

  async updateMeta(meta: ObjectMeta): Promise<boolean> {
    if (this.#state !== 'open') return false;
    const hash = hashKey(meta.key);
    let evicted: DiskEntry[] = [];
    const updated = await this.#queue
      .run(hash, async () => {
        const entry = this.#index.peek(meta.key);
        // A different body size means the object this head was made for was replaced meanwhile (a new
        // fill committed during the revalidation): it is no longer stored, and this head must not be
        // put on another body. (A replacement of the same size is not detectable here: the interface
        // carries no object identity.)
        if (entry === undefined || meta.bodySize !== entry.meta.bodySize) return false;
        const head = encodeHead({ bodyId: entry.bodyId, meta });
        await this.#writeHead(hash, head);
        // Deleted or evicted meanwhile: its removal, queued behind us, deletes the head just written.
        if (this.#index.peek(meta.key) !== entry) return false;
        entry.meta = meta;
        entry.headBytes = head.length;
        this.#index.set(entry);
        evicted = this.#index.evictOver(this.#maxBytes);
        return !evicted.includes(entry);
      })
      .catch((err: unknown) => {
        throw wrap('updateMeta', err);
      });
    await this.#removeEvicted(evicted);
    return updated;
  }

  async delete(key: string): Promise<boolean> {
    const entry = this.#index.delete(key);
    if (entry === undefined) return false;
    await this.#removeFiles(entry).catch((err: unknown) => {
      throw wrap('delete', err);
    });
    return true;
  }

  objects(): IterableIterator<DiskObject> {
    return this.#index.values();
  }

  stats(): TierStats {
    return { objects: this.#index.size, bytes: this.#index.bytes, maxBytes: this.#maxBytes };
  }

  /** Lets file changes under way finish (new commits fail), then drops the index; open() again to reuse. */
  async close(): Promise<void> {
    if (this.#state !== 'open') return;
    this.#state = 'closing';
    // The index stays until the queue is idle: queued removals consult it to know whose head is on disk.
    await this.#queue.idle();
    this.#index.clear();
    this.#state = 'closed';
  }

  /** DiskWriter.commit, after the writer checked and (with fsync) synced the complete temp file. */
  async #commit(bodyId: string, tmpPath: string, meta: ObjectMeta): Promise<DiskObject> {
    const hash = hashKey(meta.key);
    const head = encodeHead({ bodyId, meta });
    const entry = new DiskEntry(meta, hash, bodyId, head.length);
    if (entry.bytes > this.#maxBytes) {
      throw diskError(`commit: ${entry.bytes} bytes (body and head) exceed maxBytes ${this.#maxBytes}`);
    }
    let evicted: DiskEntry[] = [];
    await this.#queue
      .run(hash, async () => {
        if (this.#state !== 'open') throw diskError(`commit: the store is ${this.#state}`);
        const body = bodyPath(this.#dir, hash, bodyId);
        await rename(tmpPath, body);
        try {
          if (this.#fsync) await syncDir(shardDir(this.#dir, hash));
          await this.#writeHead(hash, head);
        } catch (err) {
          await unlinkIfPresent(body).catch(ignore);
          throw err;
        }
        const replaced = this.#index.set(entry);
        // If this unlink fails, the old body is a leftover no head names: the next open() deletes it.
        if (replaced !== undefined)
          await unlinkIfPresent(bodyPath(this.#dir, hash, replaced.bodyId)).catch(ignore);
        evicted = this.#index.evictOver(this.#maxBytes);
      })
      .catch((err: unknown) => {
        throw wrap('commit', err);
      });
    await this.#removeEvicted(evicted);
    return entry;
  }

  /** Writes a head under tmp/ and renames it onto the object's head path (the atomic step). */
  async #writeHead(hash: string, head: Buffer): Promise<void> {
    const tmpPath = join(this.#dir, TMP_DIR, `${newFileId()}.head`);
    try {
      const file = await open(tmpPath, 'wx');
      try {
        await file.writeFile(head);
        if (this.#fsync) await file.sync();
      } finally {
        await file.close();
      }
      await rename(tmpPath, headPath(this.#dir, hash));
    } catch (err) {
      await unlinkIfPresent(tmpPath).catch(ignore);
      throw err;
    }
    if (this.#fsync) await syncDir(shardDir(this.#dir, hash));
  }

  /**
   * Deletes the files of an entry already taken out of the index. The head goes only if no newer
   * entry owns it (a commit of the same key may have finished before this job ran), and goes first.
   */
  #removeFiles(entry: DiskEntry): Promise<void> {
    return this.#queue.run(entry.hash, async () => {
      if (this.#index.peek(entry.meta.key) === undefined)
        await unlinkIfPresent(headPath(this.#dir, entry.hash));
      await unlinkIfPresent(bodyPath(this.#dir, entry.hash, entry.bodyId));
    });
  }

  /**
   * Eviction is not the caller's operation, so its failures are not the caller's error: an unlink
   * that fails leaves a valid object on disk that the next open() loads and evicts again if over budget.
   */
  async #removeEvicted(evicted: readonly DiskEntry[]): Promise<void> {
    await Promise.all(evicted.map((entry) => this.#removeFiles(entry).catch(ignore)));
  }
}

async function syncDir(path: string): Promise<void> {
  const dir = await open(path, 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** A stream that fails as soon as it is read (so the consumer has attached its error handler). */
function failedStream(err: Error): Readable {
  return new Readable({
    read() {
      this.destroy(err);
    },
  });
}

function wrap(operation: string, err: unknown): MeridianError {
  return err instanceof MeridianError ? err : diskError(`${operation} failed`, err);
}

function ignore(): void {}
