// The pooled disk reader (read-pool.ts): exact bytes for any range, a buffer reused only after its
// consumer gave it back, and the file closed however the stream ends.
import assert from 'node:assert/strict';
import { openSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, test } from 'node:test';
import {
  freeChunks,
  isPooledChunk,
  PooledFileStream,
  READ_CHUNK_BYTES,
  releaseChunk,
} from '../../../../../src/edge/cache/disk/read-pool.ts';
import { makeTempDir, patternBody } from '../../../../contract/fixtures/stored-objects.ts';

let dir: string;
let remove: () => Promise<void>;
let path: string;
const SIZE = READ_CHUNK_BYTES * 3 + 12_345;
const body = patternBody('read-pool', SIZE);

beforeEach(async () => {
  ({ dir, remove } = await makeTempDir('read-pool'));
  path = join(dir, 'body');
  writeFileSync(path, body);
});
afterEach(() => remove());

const openFds = (): number => readdirSync('/proc/self/fd').length;

async function collect(stream: PooledFileStream, release: boolean): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    assert.ok(isPooledChunk(chunk));
    // A copy: a chunk given back is the next read's buffer.
    parts.push(Buffer.from(chunk));
    if (release) releaseChunk(chunk);
  }
  return Buffer.concat(parts);
}

test('reads exactly the range asked for, across chunk boundaries', async () => {
  const ranges: [number, number][] = [
    [0, SIZE - 1],
    [1, 1],
    [READ_CHUNK_BYTES - 1, READ_CHUNK_BYTES],
    [READ_CHUNK_BYTES * 2 + 7, SIZE - 1],
  ];
  for (const [start, end] of ranges) {
    const got = await collect(new PooledFileStream(openSync(path, 'r'), start, end), true);
    assert.deepEqual(got, body.subarray(start, end + 1), `range ${start}-${end}`);
  }
});

test('a buffer is reused only once given back; kept chunks never change', async () => {
  // Drain what other tests left on the free list, keeping the chunks (not given back).
  const kept: Buffer[] = [];
  for await (const chunk of new PooledFileStream(openSync(path, 'r'), 0, SIZE - 1) as AsyncIterable<Buffer>)
    kept.push(chunk);
  const free = freeChunks();
  const copies = kept.map((chunk) => Buffer.from(chunk));
  // A second read of other bytes while the first read's chunks are held: it must not write into them.
  writeFileSync(path, Buffer.alloc(SIZE, 0xee));
  const second = await collect(new PooledFileStream(openSync(path, 'r'), 0, SIZE - 1), true);
  assert.ok(second.every((b) => b === 0xee));
  kept.forEach((chunk, i) => assert.deepEqual(chunk, copies[i], `kept chunk ${i} changed`));
  // Giving the kept chunks back puts their buffers on the free list.
  kept.forEach((chunk) => releaseChunk(chunk));
  assert.ok(freeChunks() > free);
  // A buffer not of the pool is ignored.
  const before = freeChunks();
  releaseChunk(Buffer.alloc(READ_CHUNK_BYTES));
  assert.equal(freeChunks(), before);
});

test('closes its file when it ends and when it is destroyed mid-way', async () => {
  const fds = openFds();
  await collect(new PooledFileStream(openSync(path, 'r'), 0, SIZE - 1), true);
  assert.equal(openFds(), fds);
  const stream = new PooledFileStream(openSync(path, 'r'), 0, SIZE - 1);
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    releaseChunk(chunk);
    break;
  }
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(openFds(), fds);
});

test('a body file cut short is an error, not a short body', async () => {
  writeFileSync(path, body.subarray(0, READ_CHUNK_BYTES + 10));
  await assert.rejects(
    collect(new PooledFileStream(openSync(path, 'r'), 0, SIZE - 1), true),
    /ended \d+ bytes early/,
  );
});
