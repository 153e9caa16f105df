import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TallySchema } from '../../../../src/common/analytics/batch.ts';
import {
  decodeSketch,
  emptyTally,
  encodeSketch,
  mergeTallies,
  newSketch,
  SKETCH_RELATIVE_ACCURACY,
  type SketchWire,
} from '../../../../src/common/analytics/tally.ts';

/** The exact q-quantile of sorted values (the rank DDSketch targets: floor(q * (n - 1))). */
function exactQuantile(sorted: readonly number[], q: number): number {
  return sorted[Math.floor(q * (sorted.length - 1))] as number;
}

describe('latency sketch (DDSketch)', () => {
  it('answers every quantile within its relative accuracy, also after encoding and merging', () => {
    // Three nodes' latencies: log-normal-ish, from 0.05 ms to seconds.
    let seed = 42;
    const rand = (): number => (seed = (seed * 16807) % 2147483647) / 2147483647;
    const parts = [0, 1, 2].map((p) =>
      Array.from({ length: 5_000 }, () => Math.exp(rand() * 10 - 3 + p) * 0.05 + 0.05),
    );
    const tallies = parts.map((values) => {
      const s = newSketch();
      for (const v of values) s.accept(v);
      return { ...emptyTally(), ttfb_ms: encodeSketch(s) };
    });
    const merged = decodeSketch(mergeTallies(tallies).ttfb_ms as SketchWire);
    const all = parts.flat().sort((a, b) => a - b);
    assert.equal(merged.count, all.length);
    for (const q of [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999]) {
      const truth = exactQuantile(all, q);
      const got = merged.getValueAtQuantile(q);
      const error = Math.abs(got - truth) / truth;
      assert.ok(error <= SKETCH_RELATIVE_ACCURACY + 1e-9, `q=${q}: ${got} vs ${truth} (error ${error})`);
    }
  });
});

describe('tallies', () => {
  it('add up counters exactly', () => {
    const a = emptyTally();
    a.requests = 3;
    a.bytes = 300;
    a.cache = { hit: { requests: 2, bytes: 200 }, miss: { requests: 1, bytes: 100 } };
    a.status = { '200': 3 };
    const b = emptyTally();
    b.requests = 2;
    b.bytes = 50;
    b.cache = { hit: { requests: 1, bytes: 25 }, pass: { requests: 1, bytes: 25 } };
    b.status = { '200': 1, '404': 1 };
    const m = mergeTallies([a, b]);
    assert.equal(m.requests, 5);
    assert.equal(m.bytes, 350);
    assert.deepEqual(m.cache, {
      hit: { requests: 3, bytes: 225 },
      miss: { requests: 1, bytes: 100 },
      pass: { requests: 1, bytes: 25 },
    });
    assert.deepEqual(m.status, { '200': 4, '404': 1 });
    assert.equal(TallySchema.safeParse(m).success, true);
  });

  it('are refused when cache statuses do not add up, or a status key is no code', () => {
    const t = emptyTally();
    t.requests = 2;
    t.cache = { hit: { requests: 1, bytes: 0 } };
    const r = TallySchema.safeParse(t);
    assert.equal(r.success, false);
    assert.match(JSON.stringify(r.error?.issues), /do not add up to requests/);
    const u = emptyTally();
    u.status = { abc: 1 };
    assert.equal(TallySchema.safeParse(u).success, false);
  });
});
