// Issue 19: a drained PoP drops out of DNS answers like one whose nodes are down (fail open kept).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NodeInfo, Pop } from '../../../src/common/config/topology.ts';
import { buildServingData } from '../../../src/dns/state.ts';

const pop = (name: string, drained: boolean): Pop => ({
  name,
  city: name,
  latitude: 1,
  longitude: 2,
  role: 'edge',
  capacity: 0,
  drained,
  created_at: '',
});
const node = (name: string, popName: string, url: string): NodeInfo => ({
  name,
  pop: popName,
  url,
  admin_url: null,
  status: 'up',
  last_heartbeat_at: null,
  applied_seq: 0,
  registered_at: '',
});

describe('buildServingData with a drained PoP', () => {
  it("marks the drained PoP's nodes unhealthy and leaves the others alone", () => {
    const built = buildServingData(
      {
        zones: [],
        pops: [pop('nyc', true), pop('fra', false)],
        nodes: [node('nyc-1', 'nyc', 'http://127.0.1.1:80'), node('fra-1', 'fra', 'http://127.0.2.1:80')],
      },
      () => true,
    );
    const health = Object.fromEntries(built.data.pops.map((p) => [p.name, p.v4.map((n) => n.healthy)]));
    assert.deepEqual(health, { nyc: [false], fra: [true] });
  });

  it('a drain changes the fingerprint (the SOA serial moves)', () => {
    const data = (drained: boolean) => ({
      zones: [],
      pops: [pop('nyc', drained)],
      nodes: [node('nyc-1', 'nyc', 'http://127.0.1.1:80')],
    });
    assert.notEqual(
      buildServingData(data(true), () => true).fingerprint,
      buildServingData(data(false), () => true).fingerprint,
    );
  });
});
