// Disk reads into reused buffers. A warm download of a large object from disk reads it in 256 KiB
// chunks; a fresh buffer per chunk (what fs.createReadStream does) is external memory that makes V8
// run a mark-compact every 100-150 ms (bench/media/slices.ts, about 45% of the edge's time). Here a
// read takes a buffer from a small free list, and the buffer goes back only when its consumer says the
// bytes are no longer needed (deliver, once the socket's write callback fired). A chunk nobody gives
// back is an ordinary buffer the GC collects, so a consumer that keeps chunks (the memory tier's
// promotion, image, the compute cache API) is never handed bytes that change under it.
import { close, read } from 'node:fs';
import { Readable } from 'node:stream';

/** Bytes per disk read: a quarter of the system calls of Node's 64 KiB for the large bodies that come from disk. */
export const READ_CHUNK_BYTES = 256 * 1024;
/** Free buffers kept per process (8 MiB): about three per download in flight (one read, one being written). */
const MAX_FREE = 32;

const free: Buffer[] = [];
/** The memory of every buffer this pool made: release() accepts only those, by their ArrayBuffer. */
const owned = new WeakSet<ArrayBufferLike>();

function acquire(): Buffer {
  const reused = free.pop();
  if (reused !== undefined) return reused;
  // allocUnsafeSlow: its own ArrayBuffer (not a slice of Node's shared 8 KiB pool), so that the
  // ArrayBuffer identifies it. Every byte sent is one the read just wrote.
  const buf = Buffer.allocUnsafeSlow(READ_CHUNK_BYTES);
  owned.add(buf.buffer);
  return buf;
}

/** Is `chunk` (or a view of it) a buffer of this pool? */
export function isPooledChunk(chunk: unknown): chunk is Buffer {
  return Buffer.isBuffer(chunk) && owned.has(chunk.buffer);
}

/**
 * Gives back the buffer under `chunk` for the next read. The caller guarantees that nothing reads
 * `chunk` any more (a socket write's callback fired); a chunk not of this pool is ignored.
 */
export function releaseChunk(chunk: Buffer): void {
  if (!owned.has(chunk.buffer) || free.length >= MAX_FREE) return;
  free.push(Buffer.from(chunk.buffer, 0, READ_CHUNK_BYTES));
}

/** Buffers on the free list now (tests). */
export function freeChunks(): number {
  return free.length;
}

/**
 * Bytes [start, endInclusive] of the open file `fd` as a stream of pooled chunks; closes `fd` when it
 * ends or is destroyed. One chunk is read ahead (highWaterMark: one chunk), so a slow client holds
 * the node to a chunk or two per download, never the file.
 */
export class PooledFileStream extends Readable {
  readonly #fd: number;
  #position: number;
  readonly #end: number;
  /** A read(2) in flight: the fd is closed only after it (a closed fd's number may be reused). */
  #reading = false;
  #closeWhenRead: (() => void) | null = null;

  constructor(fd: number, start: number, endInclusive: number) {
    super({ highWaterMark: READ_CHUNK_BYTES });
    this.#fd = fd;
    this.#position = start;
    this.#end = endInclusive + 1;
  }

  override _read(): void {
    const left = this.#end - this.#position;
    if (left <= 0) {
      this.push(null);
      return;
    }
    const buf = acquire();
    this.#reading = true;
    read(this.#fd, buf, 0, Math.min(left, READ_CHUNK_BYTES), this.#position, (err, bytesRead) => {
      this.#reading = false;
      if (this.#closeWhenRead !== null || this.destroyed) {
        releaseChunk(buf);
        this.#closeWhenRead?.();
        return;
      }
      if (err !== null || bytesRead === 0) {
        releaseChunk(buf);
        // Bodies in objects/ never change, so 0 bytes early is a file cut short behind the store's back.
        this.destroy(err ?? new Error(`the body file ended ${left} bytes early`));
        return;
      }
      this.#position += bytesRead;
      this.push(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead));
    });
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    const closeFd = (): void => {
      this.#closeWhenRead = null;
      close(this.#fd, (closeErr) => callback(err ?? closeErr ?? null));
    };
    if (this.#reading) this.#closeWhenRead = closeFd;
    else closeFd();
  }
}
