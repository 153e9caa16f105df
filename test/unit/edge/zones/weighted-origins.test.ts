import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runtimeOf } from './fixtures.ts';

const origins = (...weights: number[]) =>
  weights.map((weight, i) => ({
    url: `http://o${i}.example:8080/base`,
    weight,
    host_header: `h${i}.example`,
  }));

/** How many of `n` picks went to each origin index. */
function count(weights: number[], n: number, exclude?: ReadonlySet<number>): number[] {
  const zone = runtimeOf([], { origins: origins(...weights) });
  const counts = weights.map(() => 0);
  for (let i = 0; i < n; i++) {
    const choice = zone.pickOrigin(exclude);
    assert.ok(choice !== undefined);
    counts[choice.index] = (counts[choice.index] ?? 0) + 1;
  }
  return counts;
}

describe('pickOrigin (smooth weighted round-robin)', () => {
  test('weights 3:1 give exactly 3:1 over 400 picks', () => {
    assert.deepEqual(count([3, 1], 400), [300, 100]);
  });

  test('weight 0 is never picked', () => {
    assert.deepEqual(count([0, 2, 0, 1], 300), [0, 200, 0, 100]);
  });

  test('the sequence is smooth, as in nginx: 5:1:1 → a a b a c a a', () => {
    const zone = runtimeOf([], { origins: origins(5, 1, 1) });
    const seq = Array.from({ length: 14 }, () => 'abc'[zone.pickOrigin()?.index ?? -1]).join('');
    assert.equal(seq, 'aabacaaaabacaa');
  });

  test('exclude skips origins and the others share the load by weight', () => {
    assert.deepEqual(count([3, 1, 1], 200, new Set([0])), [0, 100, 100]);
    assert.deepEqual(count([2, 1], 10, new Set([1])), [10, 0]);
  });

  test('undefined when everything is excluded or weighted 0', () => {
    assert.equal(runtimeOf([], { origins: origins(1, 1) }).pickOrigin(new Set([0, 1])), undefined);
    assert.equal(runtimeOf([], { origins: origins(0) }).pickOrigin(), undefined);
    assert.equal(runtimeOf([], { origins: origins(1) }).pickOrigin(new Set([0])), undefined);
  });

  test('a choice carries the index in zone.origins, the parsed URL and the Host header', () => {
    const zone = runtimeOf([], {
      origins: [
        { url: 'https://a.example/', weight: 0 },
        { url: 'https://b.example:8443/x', weight: 1 },
      ],
    });
    const choice = zone.pickOrigin();
    assert.equal(choice?.index, 1);
    assert.equal(choice?.url.href, 'https://b.example:8443/x');
    assert.equal(choice?.hostHeader, null);
    assert.equal(runtimeOf([], { origins: origins(1) }).pickOrigin()?.hostHeader, 'h0.example');
  });

  test('excluding an origin mid-stream keeps the others fair (failover, then recovery)', () => {
    const zone = runtimeOf([], { origins: origins(1, 1) });
    const picks: number[] = [];
    for (let i = 0; i < 4; i++) picks.push(zone.pickOrigin(new Set([1]))?.index ?? -1);
    for (let i = 0; i < 4; i++) picks.push(zone.pickOrigin()?.index ?? -1);
    assert.deepEqual(picks.slice(0, 4), [0, 0, 0, 0]);
    const after = picks.slice(4);
    assert.equal(after.filter((i) => i === 0).length, 2);
    assert.equal(after.filter((i) => i === 1).length, 2);
  });
});
