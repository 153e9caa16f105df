// The body of one fetch as it arrives, shared by every request that waits on the fetch. Bytes go to
// the disk writer (and, up to a limit, stay in memory); each reader pulls at its own pace from
// memory or from the file being written, so a slow client neither stalls the fill nor makes the
// node buffer a large body in memory.
import { Readable } from 'node:stream';
import type { DiskWriter } from '../cache/storage.ts';

/** The most a reader asks the file for at once. */
const READ_BYTES = 64 * 1024;

export class BodyFill {
  /** Declared length (Content-Length), when the origin sent one. */
  readonly expectedBytes: number | null;
  readonly #writer: DiskWriter;
  /** Kept while the body fits in `memoryLimitBytes`; null once it outgrew it. */
  #chunks: Buffer[] | null = [];
  #chunkStarts: number[] = [];
  readonly #memoryLimitBytes: number;
  /** Bytes readable so far (written to the file). */
  #bytes = 0;
  #done = false;
  #error: Error | null = null;
  #waiters: (() => void)[] = [];
  #readers = 0;
  /** No new reader can join (the fetch left the in-flight table). */
  #sealed = false;
  #released = false;

  constructor(writer: DiskWriter, memoryLimitBytes: number, expectedBytes: number | null) {
    this.#writer = writer;
    this.#memoryLimitBytes = memoryLimitBytes;
    this.expectedBytes = expectedBytes;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get done(): boolean {
    return this.#done;
  }

  get error(): Error | null {
    return this.#error;
  }

  /** Appends a chunk once it is written to disk; readers waiting for bytes wake up. */
  async push(chunk: Buffer): Promise<void> {
    await this.#writer.write(chunk);
    if (this.#chunks !== null) {
      if (this.#bytes + chunk.length <= this.#memoryLimitBytes) {
        this.#chunkStarts.push(this.#bytes);
        this.#chunks.push(chunk);
      } else {
        this.#chunks = null;
        this.#chunkStarts = [];
      }
    }
    this.#bytes += chunk.length;
    this.#wake();
  }

  /** The whole body when it stayed within the memory limit (for the memory tier). */
  bodyInMemory(): Buffer | null {
    return this.#done && this.#chunks !== null ? Buffer.concat(this.#chunks, this.#bytes) : null;
  }

  finish(): void {
    this.#done = true;
    this.#wake();
  }

  fail(error: Error): void {
    this.#error = error;
    this.#done = true;
    this.#wake();
  }

  /** Called once no new reader can find this fill; the file handle closes after the last reader. */
  seal(): void {
    this.#sealed = true;
    this.#maybeRelease();
  }

  /** A stream of bytes [start, endExclusive) (the whole body by default) that follows the fill. */
  createReader(start = 0, endExclusive = Infinity): Readable {
    this.#readers++;
    let position = start;
    let pending = false;
    let counted = true;
    const leave = (): void => {
      if (!counted) return;
      counted = false;
      this.#readers--;
      this.#maybeRelease();
    };
    const stream = new Readable({
      highWaterMark: READ_BYTES,
      read() {
        if (!pending) pump();
      },
      destroy(err, callback) {
        leave();
        callback(err);
      },
    });
    const pump = (): void => {
      if (stream.destroyed) return;
      const limit = Math.min(endExclusive, this.#bytes);
      if (position >= limit) {
        if (this.#error !== null) return void stream.destroy(this.#error);
        if (this.#done || position >= endExclusive) {
          stream.push(null);
          leave();
          return;
        }
        pending = true;
        this.#waiters.push(() => {
          pending = false;
          pump();
        });
        return;
      }
      const fromMemory = this.#slice(position, limit);
      if (fromMemory !== null) {
        position += fromMemory.length;
        if (stream.push(fromMemory)) pump();
        return;
      }
      pending = true;
      const length = Math.min(READ_BYTES, limit - position);
      this.#writer.readAt(position, length).then(
        (buf) => {
          pending = false;
          position += buf.length;
          if (stream.push(buf)) pump();
        },
        (err: Error) => stream.destroy(err),
      );
    };
    return stream;
  }

  /** Bytes [position, limit) from the kept chunks, up to one chunk's end; null if not kept. */
  #slice(position: number, limit: number): Buffer | null {
    const chunks = this.#chunks;
    if (chunks === null) return null;
    const starts = this.#chunkStarts;
    // Binary search for the chunk holding `position`.
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((starts[mid] as number) <= position) lo = mid;
      else hi = mid - 1;
    }
    const chunk = chunks[lo];
    if (chunk === undefined) return null;
    const offset = position - (starts[lo] as number);
    const end = Math.min(chunk.length, offset + (limit - position));
    return offset === 0 && end === chunk.length ? chunk : chunk.subarray(offset, end);
  }

  #wake(): void {
    const waiters = this.#waiters;
    if (waiters.length === 0) return;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  /** Closes the writer's file handle once the fill ended, is sealed and no reader needs it. */
  #maybeRelease(): void {
    if (this.#done && this.#sealed && this.#readers <= 0 && !this.#released) {
      this.#released = true;
      this.#writer.release().catch(() => undefined);
    }
  }
}
