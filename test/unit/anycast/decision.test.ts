// The agent's decision (src/anycast/decision.ts): node health with fall/rise, the PoP's verdict
// (floor, drain, what the control plane says and whether it is fresh) and the announcement's
// hysteresis, with an injected clock.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  judgePop,
  nextAnnouncement,
  nextNodeHealth,
  type Announcement,
  type NodeHealth,
  type NodeView,
  type Verdict,
} from '../../../src/anycast/decision.ts';

const rules = { fall: 2, rise: 3 };
const up = (name: string, healthy: boolean | null = true, status: 'up' | 'down' = 'up'): NodeView => ({
  name,
  status,
  health: { healthy, streak: 0 },
});

describe('nextNodeHealth', () => {
  it('the first probe decides; then fall failures take it down and rise successes bring it back', () => {
    let h: NodeHealth = { healthy: null, streak: 0 };
    h = nextNodeHealth(h, true, rules);
    assert.equal(h.healthy, true);
    h = nextNodeHealth(h, false, rules);
    assert.equal(h.healthy, true, 'one failure is not enough');
    h = nextNodeHealth(h, true, rules);
    assert.deepEqual(h, { healthy: true, streak: 0 }, 'a success resets the streak');
    h = nextNodeHealth(nextNodeHealth(h, false, rules), false, rules);
    assert.equal(h.healthy, false);
    h = nextNodeHealth(nextNodeHealth(h, true, rules), true, rules);
    assert.equal(h.healthy, false, 'two of three');
    assert.equal(nextNodeHealth(h, true, rules).healthy, true);
  });
});

describe('judgePop', () => {
  const base = { drained: false, controlFresh: true, floor: 1 };
  it("never vouches without the control plane's node list", () => {
    assert.deepEqual(judgePop({ ...base, nodes: null }), {
      kind: 'unhealthy',
      reason: 'no-control-data',
      healthyNodes: [],
    });
  });
  it('counts nodes that pass their probes and are up at the control plane, against the floor', () => {
    const nodes = [up('a-2'), up('a-1'), up('a-3', false), up('a-4', true, 'down'), up('a-5', null)];
    assert.deepEqual(judgePop({ ...base, nodes }), { kind: 'healthy', healthyNodes: ['a-1', 'a-2'] });
    assert.deepEqual(judgePop({ ...base, nodes, floor: 3 }), {
      kind: 'unhealthy',
      reason: 'below-floor',
      healthyNodes: ['a-1', 'a-2'],
    });
    assert.equal(judgePop({ ...base, nodes: [] }).kind, 'unhealthy');
  });
  it('with the control plane away, its stale "down" marks give way to the probes', () => {
    const nodes = [up('a-1', true, 'down'), up('a-2', false)];
    assert.deepEqual(judgePop({ ...base, nodes, controlFresh: false }), {
      kind: 'healthy',
      healthyNodes: ['a-1'],
    });
    assert.equal(judgePop({ ...base, nodes: [up('a-1', false)], controlFresh: false }).kind, 'unhealthy');
  });
  it('a drained PoP is drained whatever its nodes', () => {
    assert.equal(judgePop({ ...base, drained: true, nodes: [up('a-1')] }).kind, 'drained');
  });
});

describe('nextAnnouncement', () => {
  const healthy: Verdict = { kind: 'healthy', healthyNodes: ['a-1'] };
  const sick: Verdict = { kind: 'unhealthy', reason: 'below-floor', healthyNodes: [] };
  const drained: Verdict = { kind: 'drained', healthyNodes: ['a-1'] };
  const off: Announcement = { announced: false, healthySinceMs: null };

  it('announces only after announceDelayMs healthy without a break; withdraws at once', () => {
    let a = nextAnnouncement(off, healthy, 1_000, 3_000, false);
    assert.deepEqual(a, { announced: false, healthySinceMs: 1_000 });
    a = nextAnnouncement(a, healthy, 3_999, 3_000, false);
    assert.equal(a.announced, false);
    a = nextAnnouncement(a, healthy, 4_000, 3_000, false);
    assert.equal(a.announced, true);
    a = nextAnnouncement(a, sick, 4_100, 3_000, false);
    assert.deepEqual(a, off);
  });

  it('a flapping node cannot flap the route faster than the delay', () => {
    let a: Announcement = { announced: true, healthySinceMs: 0 };
    let changes = 0;
    // Healthy and sick on alternate 500 ms ticks for a minute.
    for (let t = 500; t <= 60_000; t += 500) {
      const next = nextAnnouncement(a, (t / 500) % 2 === 0 ? healthy : sick, t, 3_000, false);
      if (next.announced !== a.announced) changes++;
      a = next;
    }
    assert.equal(changes, 1, 'withdrawn once, never re-announced while it flaps');
  });

  it('an undrain with healthy nodes announces at once; a drain withdraws at once', () => {
    const a = nextAnnouncement({ announced: true, healthySinceMs: 0 }, drained, 10, 3_000, false);
    assert.equal(a.announced, false);
    assert.equal(nextAnnouncement(a, healthy, 20, 3_000, true).announced, true);
  });
});
