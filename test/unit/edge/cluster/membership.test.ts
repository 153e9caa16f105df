import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ControlEvent, Snapshot } from '../../../../src/common/events/types.ts';
import { Membership } from '../../../../src/edge/cluster/membership.ts';

function snapshotOf(nodes: { name: string; pop: string; status?: 'up' | 'down' }[]): Snapshot {
  return {
    seq: 1,
    zones: [],
    rules: {},
    pops: [],
    nodes: nodes.map((n) => ({
      name: n.name,
      pop: n.pop,
      url: `http://${n.name}`,
      status: n.status ?? 'up',
    })),
  };
}

const KEYS = Array.from({ length: 20_000 }, (_, i) => `http://site.test/object/${i}`);

function owners(m: Membership, pop: string): string[] {
  return KEYS.map((k) => m.ownerOf(pop, k)?.name ?? '');
}

describe('Membership', () => {
  const self = { name: 'n0', pop: 'p', url: 'http://n0' };
  const eight = Array.from({ length: 8 }, (_, i) => ({ name: `n${i}`, pop: 'p' }));

  /** Keys whose owner changed when `change` was applied; each must satisfy `check`. */
  function moved(change: ControlEvent, check: (before: string, after: string) => void): number {
    const m = new Membership({ self });
    m.applySnapshot(snapshotOf(eight));
    const before = owners(m, 'p');
    m.applyEvent(change);
    const after = owners(m, 'p');
    let count = 0;
    for (let i = 0; i < KEYS.length; i++) {
      if (before[i] === after[i]) continue;
      count++;
      check(before[i] as string, after[i] as string);
    }
    return count / KEYS.length;
  }
  const nodeEvent = (name: string, status: 'up' | 'down'): ControlEvent => ({
    seq: 2,
    at: '',
    type: 'node.upsert',
    node: { name, pop: 'p', url: `http://${name}`, status },
  });

  it('a node joining takes about 1/N of the keys, each from one owner (measured)', () => {
    const share = moved(nodeEvent('n8', 'up'), (_, after) => assert.equal(after, 'n8'));
    assert.ok(Math.abs(share - 1 / 9) < 0.02, `moved ${(share * 100).toFixed(2)}% (ideal 11.1%)`);
  });

  it('a node leaving (down) gives away only its own keys', () => {
    const share = moved(nodeEvent('n3', 'down'), (before) => assert.equal(before, 'n3'));
    assert.ok(Math.abs(share - 1 / 8) < 0.02, `moved ${(share * 100).toFixed(2)}% (ideal 12.5%)`);
  });

  it('a suspected node is skipped at once without reshuffling the others, and comes back after the timeout', () => {
    const clock = { ms: 0 };
    const m = new Membership({ self, suspectMs: 1000, now: () => clock.ms });
    m.applySnapshot(snapshotOf(eight));
    const key = KEYS.find((k) => m.ownerOf('p', k)?.name === 'n5') as string;
    const second = m.ranked('p', key)[1]?.name;
    m.suspect('n5');
    assert.equal(m.ownerOf('p', key)?.name, second);
    clock.ms += 1001;
    assert.equal(m.ownerOf('p', key)?.name, 'n5');
  });

  it('counts only live nodes of the PoP, and always itself', () => {
    const m = new Membership({ self });
    m.applySnapshot(
      snapshotOf([
        { name: 'n0', pop: 'p', status: 'down' },
        { name: 'n1', pop: 'p', status: 'down' },
        { name: 'x1', pop: 'q' },
      ]),
    );
    assert.deepEqual(
      m.ranked('p', 'k').map((p) => p.name),
      ['n0'],
    );
    assert.deepEqual(
      m.ranked('q', 'k').map((p) => p.name),
      ['x1'],
    );
    assert.deepEqual(m.ranked('nowhere', 'k'), []);
  });
});
