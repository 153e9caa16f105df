// The rate-limit leaf: fixed windows (the edge's http_ratelimit rules) and token buckets (the control
// plane's purge and API limits), with the Retry-After rounding both sides answer with.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LocalRateCounter, retryAfterSeconds } from '../../../../src/lib/ratelimit/window.ts';
import { TokenBuckets } from '../../../../src/lib/ratelimit/bucket.ts';

describe('LocalRateCounter', () => {
  it('counts exactly per window, answers Retry-After to the window end, then a new window', () => {
    const c = new LocalRateCounter();
    const t0 = 1_000_000_000_000; // a multiple of the 10 s window
    for (let i = 1; i <= 5; i++)
      assert.deepEqual(c.hit('k', 10, 5, 0, t0 + i), { count: i, retryAfterMs: 0 });
    assert.deepEqual(c.hit('k', 10, 5, 0, t0 + 4_000), { count: 6, retryAfterMs: 6_000 });
    assert.equal(c.hit('other', 10, 5, 0, t0 + 4_000).count, 1);
    assert.equal(c.hit('k', 10, 5, 0, t0 + 10_000).count, 1);
  });
  it('a mitigation timeout blocks the key past its window', () => {
    const c = new LocalRateCounter();
    const t0 = 1_000_000_000_000;
    c.hit('k', 10, 1, 60, t0);
    assert.deepEqual(c.hit('k', 10, 1, 60, t0 + 1), { count: 2, retryAfterMs: 60_000 });
    assert.deepEqual(c.hit('k', 10, 1, 60, t0 + 30_000), { count: 0, retryAfterMs: 30_001 });
    assert.equal(c.hit('k', 10, 1, 60, t0 + 61_000).retryAfterMs, 0);
  });
});

describe('TokenBuckets', () => {
  const t0 = 1_000_000_000_000;
  it('a burst passes at once, the next call waits for one token, per key', () => {
    const b = new TokenBuckets({ perSecond: 2, burst: 3 });
    for (let i = 1; i <= 3; i++) assert.deepEqual(b.take('a', t0), { count: i, retryAfterMs: 0 });
    assert.deepEqual(b.take('a', t0), { count: 3, retryAfterMs: 500 });
    assert.deepEqual(b.take('a', t0 + 100), { count: 3, retryAfterMs: 400 });
    assert.equal(b.take('b', t0).retryAfterMs, 0); // another key has its own bucket
    assert.equal(b.take('a', t0 + 500).retryAfterMs, 0); // one token back after 1/rate s
    assert.equal(b.take('a', t0 + 500).retryAfterMs, 500);
  });
  it('the sustained rate is exact: over 10 s at 5/s with burst 1, 1 + 50 calls pass', () => {
    const b = new TokenBuckets({ perSecond: 5, burst: 1 });
    let passed = 0;
    for (let ms = 0; ms <= 10_000; ms += 10) if (b.take('k', t0 + ms).retryAfterMs === 0) passed++;
    assert.equal(passed, 51);
  });
  it('a refused call takes nothing; a clock step back refills nothing', () => {
    const b = new TokenBuckets({ perSecond: 1, burst: 1 });
    b.take('k', t0);
    for (let i = 0; i < 100; i++) assert.ok(b.take('k', t0 + 10).retryAfterMs > 0);
    assert.equal(b.take('k', t0 + 1_000).retryAfterMs, 0);
    assert.ok(b.take('k', t0 - 60_000).retryAfterMs > 0);
  });
  it('forgets buckets that have refilled (memory bounded by recent keys)', () => {
    const b = new TokenBuckets({ perSecond: 10, burst: 10 });
    for (let i = 0; i < 1_000; i++) b.take(`k${i}`, t0);
    assert.equal(b.size, 1_000);
    b.take('late', t0 + 2_000);
    assert.equal(b.size, 1);
  });
  it('refuses a rate of 0 and a burst under 1', () => {
    assert.throws(() => new TokenBuckets({ perSecond: 0, burst: 5 }), /rate/);
    assert.throws(() => new TokenBuckets({ perSecond: 1, burst: 0.5 }), /burst/);
    assert.throws(() => new TokenBuckets({ perSecond: Infinity, burst: 5 }), /rate/);
  });
});

describe('retryAfterSeconds', () => {
  it('whole seconds, rounded up, never 0', () => {
    assert.equal(retryAfterSeconds(1), 1);
    assert.equal(retryAfterSeconds(1_000), 1);
    assert.equal(retryAfterSeconds(1_001), 2);
    assert.equal(retryAfterSeconds(59_500), 60);
  });
});
