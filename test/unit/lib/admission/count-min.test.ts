import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CountMinSketch, hashKey } from '../../../../src/lib/admission/count-min.ts';

describe('CountMinSketch', () => {
  it('starts at zero and counts a key exactly when nothing collides', () => {
    const sketch = new CountMinSketch({ capacity: 64, seed: 1 });
    assert.equal(sketch.frequency('a'), 0);
    for (let i = 0; i < 5; i++) sketch.increment('a');
    assert.equal(sketch.frequency('a'), 5);
    assert.equal(sketch.frequencyHash(sketch.hash('a')), 5);
  });

  it('never under-estimates, and over-estimates little at its sized load', () => {
    const capacity = 1024;
    const sketch = new CountMinSketch({ capacity, seed: 7 });
    const truth = new Map<string, number>();
    // Skewed counts over `capacity` keys, fewer increments than the sample size (no aging yet).
    for (let i = 0; i < capacity; i++) {
      const count = Math.min(15, Math.max(1, Math.floor(12 / (1 + (i % 16)))));
      truth.set(`/objects/${i}`, count);
      for (let c = 0; c < count; c++) sketch.increment(`/objects/${i}`);
    }
    assert.ok(sketch.additions < sketch.sampleSize);
    let overEstimated = 0;
    for (const [key, count] of truth) {
      const estimate = sketch.frequency(key);
      assert.ok(estimate >= count, `${key}: ${estimate} < ${count}`);
      if (estimate > count) overEstimated++;
    }
    assert.ok(overEstimated < capacity * 0.02, `${overEstimated} keys over-estimated`);
    let unseenNonZero = 0;
    for (let i = 0; i < 1000; i++) if (sketch.frequency(`/unseen/${i}`) > 0) unseenNonZero++;
    assert.ok(unseenNonZero < 50, `${unseenNonZero} unseen keys estimated above zero`);
  });

  it('saturates at 15', () => {
    const sketch = new CountMinSketch({ capacity: 64, seed: 1 });
    for (let i = 0; i < 40; i++) sketch.increment('hot');
    assert.equal(sketch.frequency('hot'), 15);
  });

  it('age() halves every counter and the addition count', () => {
    const sketch = new CountMinSketch({ capacity: 64, seed: 3 });
    for (let i = 0; i < 15; i++) sketch.increment('a');
    for (let i = 0; i < 9; i++) sketch.increment('b');
    sketch.increment('c');
    const additions = sketch.additions;
    sketch.age();
    assert.deepEqual([sketch.frequency('a'), sketch.frequency('b'), sketch.frequency('c')], [7, 4, 0]);
    assert.equal(sketch.additions, additions >>> 1);
  });

  it('ages by itself after sampleSize increments (10 x capacity)', () => {
    const sketch = new CountMinSketch({ capacity: 16, seed: 5 });
    assert.equal(sketch.sampleSize, 160);
    for (let i = 0; i < 12; i++) sketch.increment('old-favourite');
    let i = 0;
    while (sketch.additions < sketch.sampleSize - 1) sketch.increment(`one-time-${i++}`);
    assert.ok(sketch.frequency('old-favourite') >= 12);
    sketch.increment(`one-time-${i}`);
    assert.equal(sketch.additions, sketch.sampleSize >>> 1);
    assert.ok(sketch.frequency('old-favourite') <= 7, `after aging: ${sketch.frequency('old-favourite')}`);
  });

  it('ensureCapacity grows the sketch keeping every estimate', () => {
    const sketch = new CountMinSketch({ capacity: 16, seed: 9 });
    const keys = Array.from({ length: 40 }, (_, i) => `k${i}`);
    keys.forEach((key, i) => {
      for (let c = 0; c < i % 7; c++) sketch.increment(key);
    });
    const before = keys.map((key) => sketch.frequency(key));
    sketch.ensureCapacity(1000);
    assert.equal(sketch.capacity, 1024);
    assert.equal(sketch.sampleSize, 10_240);
    assert.deepEqual(
      keys.map((key) => sketch.frequency(key)),
      before,
    );
    sketch.ensureCapacity(10);
    assert.equal(sketch.capacity, 1024);
  });

  it('clear() forgets everything', () => {
    const sketch = new CountMinSketch({ capacity: 16, seed: 1 });
    sketch.increment('a');
    sketch.clear();
    assert.deepEqual([sketch.frequency('a'), sketch.additions], [0, 0]);
  });

  it('hashKey is stable per seed and differs across seeds', () => {
    assert.equal(hashKey('/index.html', 1), hashKey('/index.html', 1));
    assert.notEqual(hashKey('/index.html', 1), hashKey('/index.html', 2));
    assert.notEqual(hashKey('/a'), hashKey('/b'));
    assert.ok(hashKey('é☃') >= 0 && hashKey('é☃') < 2 ** 32);
  });

  it('rejects a capacity that is not a positive integer, naming it', () => {
    assert.throws(() => new CountMinSketch({ capacity: 0 }), /capacity must be a positive integer, got 0/);
  });
});
