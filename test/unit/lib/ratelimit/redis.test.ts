// RedisRateCounter against the real Redis (127.0.0.1:6379, as in CI): exact under concurrency from
// two clients (two nodes' connections), the mitigation flag shared, and the fallback to this node's
// counters when Redis cannot be reached.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { RedisRateCounter } from '../../../../src/lib/ratelimit/window.ts';
import { memoryLogger } from '../../../helpers/tls.ts';

describe('RedisRateCounter', () => {
  const a = new Redis('redis://127.0.0.1:6379', { enableAutoPipelining: true, maxRetriesPerRequest: 1 });
  const b = new Redis('redis://127.0.0.1:6379', { enableAutoPipelining: true, maxRetriesPerRequest: 1 });
  after(async () => {
    await a.quit();
    await b.quit();
  });

  it('two nodes counting one key: exactly the limit passes, the mitigation holds on both', async () => {
    const log = memoryLogger();
    const one = new RedisRateCounter(a, log);
    const two = new RedisRateCounter(b, log);
    const key = `test:${randomUUID()}`;
    const now = Date.now();
    const verdicts = await Promise.all(
      Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? one : two).hit(key, 3600, 25, 60, now)),
    );
    assert.equal(verdicts.filter((v) => v.retryAfterMs === 0).length, 25);
    const later = await two.hit(key, 3600, 25, 60, now + 1);
    assert.equal(later.count, 0); // in mitigation: not even counted
    assert.ok(later.retryAfterMs > 55_000 && later.retryAfterMs <= 60_000);
  });

  it('an unreachable Redis: the node counts alone (and says so once)', async () => {
    const down = new Redis('redis://127.0.0.1:1', {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    down.on('error', () => undefined);
    const log = memoryLogger();
    const counter = new RedisRateCounter(down, log);
    const now = Date.now();
    const verdicts = [];
    for (let i = 0; i < 5; i++) verdicts.push(await counter.hit('k', 60, 3, 0, now));
    assert.deepEqual(
      verdicts.map((v) => v.retryAfterMs > 0),
      [false, false, false, true, true],
    );
    assert.equal(log.lines.filter((e) => /Redis failed/.test(e.msg)).length, 1);
    down.disconnect();
  });
});
