// New users per second per PoP.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CapacityGate } from '../../../src/dns/capacity.ts';

describe('CapacityGate', () => {
  it('capacity 0 is unlimited', () => {
    const gate = new CapacityGate();
    for (let i = 0; i < 1_000; i++) assert.ok(gate.admit('nyc', 0, `u${i}`, 0));
  });

  it('admits `capacity` new users in any 1000 ms (a sliding window, not a fixed second)', () => {
    const gate = new CapacityGate();
    assert.ok(gate.admit('nyc', 2, 'a', 0));
    assert.ok(gate.admit('nyc', 2, 'b', 900));
    assert.ok(!gate.admit('nyc', 2, 'c', 999), 'two in the last second already');
    assert.ok(gate.admit('nyc', 2, 'c', 1_000), "a's admission has left the window");
    assert.ok(!gate.admit('nyc', 2, 'd', 1_500));
    assert.ok(gate.admit('nyc', 2, 'd', 1_900));
    assert.equal(gate.recent('nyc', 1_900), 2);
  });

  it('a user already counted at a PoP is not new there (sticky), until stickyMs passes', () => {
    const gate = new CapacityGate({ stickyMs: 10_000 });
    assert.ok(gate.admit('nyc', 1, 'a', 0));
    assert.ok(!gate.admit('nyc', 1, 'b', 10), 'full');
    assert.ok(gate.admit('nyc', 1, 'a', 20), 'a is not new');
    assert.ok(gate.admit('nyc', 1, 'a', 9_000));
    assert.ok(gate.admit('nyc', 1, 'a', 18_999), 'each query extends the stay');
    assert.ok(gate.admit('nyc', 1, 'b', 18_999), 'the window emptied long ago');
    assert.ok(gate.admit('nyc', 1, 'c', 28_500));
    assert.ok(!gate.admit('nyc', 1, 'a', 29_000), "a's stay ended at 28,999: it is new, and the PoP is full");
  });

  it('a user counted at another PoP is new here', () => {
    const gate = new CapacityGate();
    assert.ok(gate.admit('fra', 1, 'a', 0));
    assert.ok(gate.admit('nyc', 1, 'b', 0));
    assert.ok(!gate.admit('nyc', 1, 'a', 1), 'a is new to nyc, which is full');
    assert.ok(gate.admit('fra', 1, 'a', 2), 'a stays at fra');
  });

  it('a capacity change takes effect at once', () => {
    const gate = new CapacityGate();
    assert.ok(gate.admit('nyc', 1, 'a', 0));
    assert.ok(!gate.admit('nyc', 1, 'b', 1));
    assert.ok(gate.admit('nyc', 5, 'b', 2));
  });

  it('remembers at most maxUsers (the least recently seen are forgotten)', () => {
    const gate = new CapacityGate({ maxUsers: 2 });
    for (const user of ['a', 'b', 'c']) assert.ok(gate.admit('nyc', 3, user, 0));
    // a was forgotten when c came: it is new again, and the PoP is full; b is still known.
    assert.ok(gate.admit('nyc', 3, 'b', 1));
    assert.ok(!gate.admit('nyc', 3, 'a', 1));
  });
});
