// A body on its way into the disk tier. The bytes go to tmp/<bodyId>.body through one file handle
// that stays open until release(), so readAt serves readers of an unfinished fill (and, after commit,
// the renamed file: an open fd follows a rename). Writes, commit and abort run one at a time in call
// order; readAt does not wait for them.
import { open, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { MeridianError } from '../../../common/errors.ts';
import type { DiskObject, DiskWriter, ObjectMeta } from '../storage.ts';

/** What the store does to make a finished temp file visible (DiskStore's commit). */
export type CommitBody = (body: { bodyId: string; tmpPath: string; meta: ObjectMeta }) => Promise<DiskObject>;

export interface DiskStoreWriterOptions {
  bodyId: string;
  tmpPath: string;
  fsync: boolean;
  commitBody: CommitBody;
}

type WriterState = 'writing' | 'committed' | 'aborted' | 'failed' | 'released';

export class DiskStoreWriter implements DiskWriter {
  readonly #options: DiskStoreWriterOptions;
  #file: FileHandle | null = null;
  #queue: Promise<unknown> = Promise.resolve();
  #state: WriterState = 'writing';
  /** Bytes handed to write(), including writes still queued. */
  #reservedBytes = 0;
  #bytesWritten = 0;

  constructor(options: DiskStoreWriterOptions) {
    this.#options = options;
  }

  get bytesWritten(): number {
    return this.#bytesWritten;
  }

  write(chunk: Buffer): Promise<void> {
    if (this.#state !== 'writing') return Promise.reject(this.#stateError('write'));
    // No size limit here: the temp file also spools the body for readers of the fill (fetch/body-fill.ts)
    // when the object turns out too large to keep; commit() refuses what does not fit.
    const position = this.#reservedBytes;
    this.#reservedBytes += chunk.length;
    return this.#enqueue('write', async () => {
      if (this.#state !== 'writing') throw this.#stateError('write');
      const file = await this.#openFile();
      await writeFully(file, chunk, position);
      this.#bytesWritten += chunk.length;
    });
  }

  async readAt(position: number, length: number): Promise<Buffer> {
    if (!Number.isSafeInteger(position) || !Number.isSafeInteger(length) || position < 0 || length < 0) {
      throw diskError(`readAt(${position}, ${length}): position and length must be integers >= 0`);
    }
    if (position + length > this.#bytesWritten) {
      throw diskError(`readAt(${position}, ${length}): only ${this.#bytesWritten} bytes are written`);
    }
    if (length === 0) return Buffer.alloc(0);
    const file = this.#file;
    if (this.#state === 'released' || file === null) throw this.#stateError('readAt');
    const buffer = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await file.read(buffer, done, length - done, position + done);
      if (bytesRead === 0) throw diskError(`readAt(${position}, ${length}): file ends early`);
      done += bytesRead;
    }
    return buffer;
  }

  commit(meta: ObjectMeta): Promise<DiskObject> {
    if (this.#state !== 'writing') return Promise.reject(this.#stateError('commit'));
    return this.#enqueue('commit', async () => {
      if (this.#state !== 'writing') throw this.#stateError('commit');
      if (meta.bodySize !== this.#bytesWritten) {
        throw diskError(
          `commit: meta.bodySize is ${meta.bodySize} but ${this.#bytesWritten} bytes were written`,
        );
      }
      const file = await this.#openFile();
      // A tier never holds a partial body: the file itself must agree with what we counted.
      const { size } = await file.stat();
      if (size !== this.#bytesWritten)
        throw diskError(`commit: temp file has ${size} bytes, expected ${meta.bodySize}`);
      if (this.#options.fsync) await file.sync();
      const { bodyId, tmpPath } = this.#options;
      const object = await this.#options.commitBody({ bodyId, tmpPath, meta });
      // abort() or release() called while the commit ran keep their state; the object is committed.
      if (this.#state === 'writing') this.#state = 'committed';
      return object;
    });
  }

  abort(): Promise<void> {
    if (this.#state === 'committed' || this.#state === 'released') return Promise.resolve();
    this.#state = 'aborted';
    return this.#enqueue('abort', () => unlinkIfPresent(this.#options.tmpPath));
  }

  release(): Promise<void> {
    if (this.#state === 'released') return Promise.resolve();
    const uncommitted = this.#state !== 'committed';
    this.#state = 'released';
    return this.#enqueue('release', async () => {
      // FileHandle.close waits for reads still in flight on the handle.
      await this.#file?.close();
      this.#file = null;
      if (uncommitted) await unlinkIfPresent(this.#options.tmpPath);
    });
  }

  /** Queues a job after the previous ones; any failure while writing fails the writer for good. */
  #enqueue<T>(operation: string, job: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(job);
    this.#queue = result.catch((err: unknown) => {
      if (this.#state === 'writing') this.#state = 'failed';
      return err;
    });
    return result.catch((err: unknown) => {
      throw err instanceof MeridianError ? err : diskError(`${operation} failed`, err);
    });
  }

  async #openFile(): Promise<FileHandle> {
    // 'wx+': create exclusively, read and write.
    this.#file ??= await open(this.#options.tmpPath, 'wx+');
    return this.#file;
  }

  #stateError(operation: string): MeridianError {
    return diskError(`${operation}: the writer is ${this.#state}`);
  }
}

async function writeFully(file: FileHandle, chunk: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < chunk.length) {
    const { bytesWritten } = await file.write(chunk, done, chunk.length - done, position + done);
    done += bytesWritten;
  }
}

export async function unlinkIfPresent(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

export function diskError(message: string, cause?: unknown): MeridianError {
  const detail = cause instanceof Error ? `: ${cause.message}` : '';
  return new MeridianError('INTERNAL', `disk cache: ${message}${detail}`, { cause });
}
