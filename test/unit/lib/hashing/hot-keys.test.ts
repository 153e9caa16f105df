import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HotKeys } from '../../../../src/lib/hashing/hot-keys.ts';

/** A HotKeys with a hand-moved clock. */
function detector(thresholdPerSec: number, windowMs = 1000, width?: number) {
  const clock = { ms: 1_000_000 };
  const hot = new HotKeys({
    thresholdPerSec,
    windowMs,
    ...(width === undefined ? {} : { width }),
    now: () => clock.ms,
  });
  return { hot, clock };
}

/** Records `perSec` requests per second for `key` during `ms`, evenly spaced; returns the last answer. */
function drive(d: ReturnType<typeof detector>, key: string, perSec: number, ms: number): boolean {
  const step = 1000 / perSec;
  let answer = false;
  for (let t = 0; t < ms; t += step) {
    d.clock.ms += step;
    answer = d.hot.record(key);
  }
  return answer;
}

describe('HotKeys', () => {
  it('a key becomes hot once it reaches the threshold within the window', () => {
    const d = detector(100);
    let firstHot = -1;
    for (let i = 1; i <= 150; i++) {
      d.clock.ms += 1; // 150 requests within 150 ms: far above 100/s
      if (d.hot.record('/hot') && firstHot === -1) firstHot = i;
    }
    assert.equal(firstHot, 100, 'hot at exactly the threshold count');
    assert.equal(d.hot.isHot('/cold'), false);
  });

  it('steady rates: above the threshold is hot, below is not', () => {
    for (const [rate, expected] of [
      [200, true],
      [120, true],
      [80, false],
      [20, false],
    ] as const) {
      const d = detector(100);
      assert.equal(drive(d, '/k', rate, 5_000), expected, `${rate}/s`);
      const estimate = d.hot.rateOf('/k');
      // Within 5%, or one request of the window's quantisation at low rates.
      assert.ok(
        Math.abs(estimate - rate) <= Math.max(0.05 * rate, 1.5),
        `estimated ${estimate}/s for ${rate}/s`,
      );
    }
  });

  it('decays: a key that stops is cold again within two windows, gradually', () => {
    const d = detector(100);
    assert.equal(drive(d, '/k', 300, 3_000), true);
    d.clock.ms += 500;
    const halfway = d.hot.rateOf('/k');
    assert.ok(halfway > 100 && halfway < 300, `half a window later: ${halfway}/s`);
    d.clock.ms += 700;
    assert.ok(d.hot.rateOf('/k') < 300 * 0.5);
    d.clock.ms += 2_000;
    assert.equal(d.hot.rateOf('/k'), 0);
    assert.equal(d.hot.isHot('/k'), false);
  });

  it('a rate falling below the threshold turns the key cold', () => {
    const d = detector(100);
    assert.equal(drive(d, '/k', 250, 2_000), true);
    assert.equal(drive(d, '/k', 50, 3_000), false);
  });

  it('many cold keys do not make each other hot (collisions stay small)', () => {
    const d = detector(50, 1000, 8192);
    // 20 000 distinct keys, each requested 5 times within one second: 100 000 requests.
    let hotAnswers = 0;
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 20_000; i++) {
        d.clock.ms += 0.01;
        if (d.hot.record(`/cold/${i}`)) hotAnswers++;
      }
    }
    assert.equal(hotAnswers, 0);
    // A real hot key among them is still found.
    assert.equal(drive(d, '/hot', 500, 500), true);
  });

  it('rejects a threshold or window that is not positive', () => {
    assert.throws(() => new HotKeys({ thresholdPerSec: 0 }), /thresholdPerSec/);
    assert.throws(() => new HotKeys({ thresholdPerSec: 10, windowMs: 0 }), /windowMs/);
  });
});
