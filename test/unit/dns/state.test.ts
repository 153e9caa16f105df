// Control-plane data + probe verdicts → serving data.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NodeInfo, Pop } from '../../../src/common/config/topology.ts';
import { buildServingData, nextSerial, nodeAddress, type ControlData } from '../../../src/dns/state.ts';

describe('nodeAddress', () => {
  it('takes the IP literal of the node url', () => {
    assert.deepEqual(nodeAddress('http://127.0.1.1:8080'), { family: 4, address: '127.0.1.1' });
    assert.deepEqual(nodeAddress('https://[2001:db8::1]:8443/'), { family: 6, address: '2001:db8::1' });
    assert.deepEqual(nodeAddress('http://192.0.2.7'), { family: 4, address: '192.0.2.7' });
  });

  it('has nothing for names, unspecified addresses or junk', () => {
    for (const url of ['http://edge1.example.com:8080', 'http://0.0.0.0:8080', 'http://[::]:80', 'nope']) {
      assert.equal(nodeAddress(url), null, url);
    }
  });
});

const pop = (name: string, role: 'edge' | 'shield' = 'edge'): Pop => ({
  name,
  city: name,
  latitude: 1,
  longitude: 2,
  role,
  capacity: 0,
  created_at: '',
});
const node = (name: string, popName: string, url: string, status: 'up' | 'down' = 'up'): NodeInfo => ({
  name,
  pop: popName,
  url,
  admin_url: null,
  status,
  last_heartbeat_at: null,
  applied_seq: 0,
  registered_at: '',
});

describe('buildServingData', () => {
  const control: ControlData = {
    zones: [],
    pops: [pop('nyc'), pop('shd', 'shield')],
    nodes: [
      node('nyc-1', 'nyc', 'http://127.0.1.1:80'),
      node('nyc-2', 'nyc', 'http://127.0.1.2:80', 'down'),
      node('nyc-6', 'nyc', 'http://[2001:db8::6]:80'),
      node('nyc-n', 'nyc', 'http://edge.example:80'),
      node('shd-1', 'shd', 'http://127.0.9.1:80'),
    ],
  };

  it('keeps edge PoPs only; a node answers when it is up and its probes pass', () => {
    const built = buildServingData(control, (n) => n.name !== 'nyc-6');
    assert.equal(built.data.loaded, true);
    assert.deepEqual(
      built.data.pops.map((p) => p.name),
      ['nyc'],
    );
    const nyc = built.data.pops[0]!;
    assert.deepEqual(
      nyc.v4.map((n) => [n.address, n.healthy]),
      [
        ['127.0.1.1', true],
        ['127.0.1.2', false],
      ],
    );
    assert.deepEqual(
      nyc.v6.map((n) => [n.address, n.healthy]),
      [['2001:db8::6', false]],
    );
    assert.match(built.problems.join('\n'), /nyc-n: url http:\/\/edge\.example:80 has no IP address/);
  });

  it('the fingerprint follows health and data, so the serial can follow them', () => {
    const a = buildServingData(control, () => true).fingerprint;
    assert.equal(buildServingData(control, () => true).fingerprint, a);
    assert.notEqual(buildServingData(control, (n) => n.name !== 'nyc-1').fingerprint, a);
    assert.equal(buildServingData(null, () => true).data.loaded, false);
  });
});

describe('nextSerial', () => {
  it('moves forward by at least one, and to the clock when that is later', () => {
    assert.equal(nextSerial(100, 5_000_000), 5_000);
    assert.equal(nextSerial(5_000, 5_000_000), 5_001);
    assert.equal(nextSerial(0xffffffff, 0), 0, 'wraps in serial number arithmetic (RFC 1982)');
  });
});
