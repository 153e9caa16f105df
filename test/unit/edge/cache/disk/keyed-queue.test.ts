import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KeyedQueue } from '../../../../../src/edge/cache/disk/keyed-queue.ts';

test('jobs on one key run one at a time in call order; other keys do not wait', async () => {
  const queue = new KeyedQueue();
  const log: string[] = [];
  let releaseFirst = (): void => {};
  const first = queue.run('k', async () => {
    log.push('k1 start');
    await new Promise<void>((resolve) => (releaseFirst = resolve));
    log.push('k1 end');
  });
  const second = queue.run('k', async () => log.push('k2'));
  const other = queue.run('other', async () => log.push('other'));
  await other;
  assert.deepEqual(log, ['k1 start', 'other']);
  releaseFirst();
  await Promise.all([first, second]);
  assert.deepEqual(log, ['k1 start', 'other', 'k1 end', 'k2']);
});

test('a failed job rejects its own promise only', async () => {
  const queue = new KeyedQueue();
  const failing = queue.run('k', async () => {
    throw new Error('boom');
  });
  const next = queue.run('k', async () => 'ran');
  await assert.rejects(failing, /boom/);
  assert.equal(await next, 'ran');
  await queue.idle();
});

test('idle waits for jobs queued while it waits', async () => {
  const queue = new KeyedQueue();
  let ran = false;
  void queue.run('a', async () => {
    void queue.run('b', async () => {
      await new Promise((resolve) => setImmediate(resolve));
      ran = true;
    });
  });
  await queue.idle();
  assert.equal(ran, true);
});
