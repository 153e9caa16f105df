import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { SpaceSaving } from '../../../../src/lib/analytics/space-saving.ts';

/** A skewed stream: key i appears about n / (i + 1) times (Zipf-like), shuffled deterministically. */
function zipfStream(keys: number, scale: number, seed: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < keys; i++) for (let j = 0; j < Math.ceil(scale / (i + 1)); j++) out.push(`k${i}`);
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j] as string, out[i] as string];
  }
  return out;
}

function truthOf(stream: readonly string[]): Map<string, number> {
  const truth = new Map<string, number>();
  for (const k of stream) truth.set(k, (truth.get(k) ?? 0) + 1);
  return truth;
}

describe('SpaceSaving', () => {
  it('counts exactly while fewer keys than counters were seen', () => {
    const s = new SpaceSaving(8);
    for (const k of ['a', 'b', 'a', 'c', 'a', 'b']) s.add(k);
    assert.deepEqual(
      s.top().map((h) => [h.key, h.count, h.error]),
      [
        ['a', 3, 0],
        ['b', 2, 0],
        ['c', 1, 0],
      ],
    );
    assert.equal(s.total, 6);
    assert.equal(s.hasEvicted, false);
  });

  it('holds every key above N/capacity, and brackets each held count: count - error <= true <= count', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000 }), fc.integer({ min: 4, max: 40 }), (seed, capacity) => {
        const stream = zipfStream(200, 300, seed);
        const truth = truthOf(stream);
        const s = new SpaceSaving(capacity);
        for (const k of stream) s.add(k);
        const held = new Map(s.top().map((h) => [h.key, h]));
        for (const [key, count] of truth) {
          if (count > stream.length / capacity) assert.ok(held.has(key), `${key} (${count}) is missing`);
        }
        for (const h of held.values()) {
          const t = truth.get(h.key) ?? 0;
          assert.ok(h.count >= t && h.count - h.error <= t, `${h.key}: ${h.count}-${h.error} vs ${t}`);
        }
        assert.ok(s.size <= capacity);
      }),
      { numRuns: 50 },
    );
  });

  it('merged summaries keep the bounds of the stream they cover together', () => {
    const stream = zipfStream(300, 400, 3);
    const truth = truthOf(stream);
    const parts = [0, 1, 2].map(() => new SpaceSaving(32));
    stream.forEach((k, i) => parts[i % 3]?.add(k));
    const merged = SpaceSaving.merge(
      32,
      parts.map((p) => ({ top: p.top(), total: p.total, full: p.hasEvicted })),
    );
    assert.equal(merged.total, stream.length);
    for (const h of merged.top()) {
      const t = truth.get(h.key) ?? 0;
      assert.ok(h.count >= t && h.count - h.error <= t, `${h.key}: ${h.count}-${h.error} vs ${t}`);
    }
    // The five heaviest keys of the whole stream lead the merged summary.
    assert.deepEqual(
      merged
        .top(5)
        .map((h) => h.key)
        .sort(),
      ['k0', 'k1', 'k2', 'k3', 'k4'],
    );
  });
});
