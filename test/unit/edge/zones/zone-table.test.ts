import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ZoneTable } from '../../../../src/edge/zones/zone-table.ts';
import { event, makeRule, makeZone, request, runtimeOf, snapshot } from './fixtures.ts';

const zoneA = makeZone('a', { hostnames: ['a.example', 'www.a.example'] });
const zoneB = makeZone('b', { hostnames: ['b.example'] });
const bypassAll = makeRule({ action: { bypass: true } }, { id: 'bypass-all', zone_id: 'a' });
const ttl60 = makeRule({ action: { edge_ttl: 60 } }, { id: 'ttl-60', zone_id: 'a' });

function table(): ZoneTable {
  const t = new ZoneTable();
  t.applySnapshot(snapshot(10, [zoneA, zoneB], { a: [ttl60] }));
  return t;
}

/** Everything observable about the table, for before/after comparisons. */
function stateOf(t: ZoneTable): unknown {
  return {
    seq: t.seq,
    zones: [...t.zones()].map((z) => ({
      id: z.zone.id,
      hostnames: z.zone.hostnames,
      resolves: z.zone.hostnames.map((h) => t.resolve(h)?.zone.id),
      ttl: z.decide(request('/')).edgeTtlSec,
    })),
  };
}

describe('ZoneTable snapshot', () => {
  test('resolves every hostname of every zone, nothing else', () => {
    const t = table();
    assert.equal(t.seq, 10);
    assert.equal(t.resolve('a.example')?.zone.id, 'a');
    assert.equal(t.resolve('www.a.example')?.zone.id, 'a');
    assert.equal(t.resolve('b.example')?.zone.id, 'b');
    assert.equal(t.resolve('c.example'), undefined);
    assert.equal(t.resolve('example'), undefined);
    assert.equal(t.get('b')?.zone.id, 'b');
    assert.deepEqual([...t.zones()].map((z) => z.zone.id).sort(), ['a', 'b']);
  });

  test('rules from the snapshot are compiled for their zone only', () => {
    const t = table();
    assert.equal(t.resolve('a.example')?.decide(request('/')).edgeTtlSec, 60);
    assert.equal(t.resolve('b.example')?.decide(request('/')).edgeTtlSec, null);
  });

  test('a new snapshot replaces everything, even one with a lower seq', () => {
    const t = table();
    t.applySnapshot(snapshot(4, [zoneB]));
    assert.equal(t.seq, 4);
    assert.equal(t.resolve('a.example'), undefined);
    assert.equal(t.resolve('b.example')?.zone.id, 'b');
  });

  test('policy options come from the zone settings', () => {
    const t = new ZoneTable();
    t.applySnapshot(
      snapshot(1, [makeZone('p', { settings: { default_ttl: 300, honor_origin_headers: false } }), zoneB]),
    );
    const policy = t.resolve('p.example')?.policy;
    assert.equal(policy?.defaultTtlSec, 300);
    assert.equal(policy?.honorOriginCacheControl, false);
    assert.equal(policy?.heuristicFraction, 0.1);
    assert.equal(t.resolve('b.example')?.policy.defaultTtlSec, null);
    assert.equal(t.resolve('b.example')?.policy.honorOriginCacheControl, true);
  });
});

describe('ZoneTable events', () => {
  test('zone.upsert adds a zone; rules.replace recompiles its rules', () => {
    const t = table();
    t.applyEvent(event(11, { type: 'zone.upsert', zone: makeZone('c') }));
    assert.equal(t.resolve('c.example')?.zone.id, 'c');
    t.applyEvent(event(12, { type: 'rules.replace', zone_id: 'a', rules: [bypassAll] }));
    const d = t.resolve('a.example')?.decide(request('/'));
    assert.equal(d?.bypass, true);
    assert.equal(d?.edgeTtlSec, null);
    assert.deepEqual(d?.ruleIds, ['bypass-all']);
    assert.equal(t.seq, 12);
  });

  test('a zone upsert keeps the zone’s rules', () => {
    const t = table();
    t.applyEvent(event(11, { type: 'zone.upsert', zone: { ...zoneA, name: 'renamed' } }));
    assert.equal(t.resolve('a.example')?.zone.name, 'renamed');
    assert.equal(t.resolve('a.example')?.decide(request('/')).edgeTtlSec, 60);
  });

  test('rules may arrive before their zone', () => {
    const t = table();
    t.applyEvent(event(11, { type: 'rules.replace', zone_id: 'c', rules: [bypassAll] }));
    t.applyEvent(event(12, { type: 'zone.upsert', zone: makeZone('c') }));
    assert.equal(t.resolve('c.example')?.decide(request('/')).bypass, true);
  });

  test('replaying an event, or one at or below seq, changes nothing', () => {
    const t = table();
    const upsert = event(11, { type: 'zone.upsert', zone: makeZone('c') });
    t.applyEvent(upsert);
    const before = stateOf(t);
    const runtime = t.resolve('c.example');
    t.applyEvent(upsert);
    assert.equal(t.resolve('c.example'), runtime, 'not even rebuilt');
    t.applyEvent(event(11, { type: 'zone.delete', zone_id: 'c' }));
    t.applyEvent(event(3, { type: 'rules.replace', zone_id: 'a', rules: [] }));
    t.applyEvent(event(10, { type: 'zone.delete', zone_id: 'a' }));
    assert.deepEqual(stateOf(t), before);
  });

  test('applying events the snapshot already holds changes nothing', () => {
    const t = table();
    const before = stateOf(t);
    t.applyEvent(event(9, { type: 'zone.delete', zone_id: 'b' }));
    t.applyEvent(event(10, { type: 'rules.replace', zone_id: 'a', rules: [] }));
    assert.deepEqual(stateOf(t), before);
  });

  test('the same statement under a new seq is idempotent', () => {
    const t = table();
    t.applyEvent(event(11, { type: 'rules.replace', zone_id: 'a', rules: [bypassAll] }));
    const before = stateOf(t);
    t.applyEvent(event(12, { type: 'rules.replace', zone_id: 'a', rules: [bypassAll] }));
    t.applyEvent(event(13, { type: 'zone.upsert', zone: zoneA }));
    assert.deepEqual({ ...(stateOf(t) as object), seq: 11 }, before);
  });

  test('zone.delete removes the zone and all its hostnames; its rules do not come back', () => {
    const t = table();
    t.applyEvent(event(11, { type: 'zone.delete', zone_id: 'a' }));
    assert.equal(t.resolve('a.example'), undefined);
    assert.equal(t.resolve('www.a.example'), undefined);
    assert.equal(t.get('a'), undefined);
    t.applyEvent(event(12, { type: 'zone.upsert', zone: zoneA }));
    assert.equal(t.resolve('a.example')?.decide(request('/')).edgeTtlSec, null);
    t.applyEvent(event(13, { type: 'zone.delete', zone_id: 'missing' }));
    assert.equal(t.seq, 13);
  });

  test('an upsert that drops a hostname unmaps it', () => {
    const t = table();
    t.applyEvent(event(11, { type: 'zone.upsert', zone: { ...zoneA, hostnames: ['a.example'] } }));
    assert.equal(t.resolve('www.a.example'), undefined);
    assert.equal(t.resolve('a.example')?.zone.id, 'a');
  });

  test('a hostname moves from one zone to another (released first)', () => {
    const t = table();
    t.applyEvent(event(11, { type: 'zone.upsert', zone: { ...zoneA, hostnames: ['a.example'] } }));
    t.applyEvent(
      event(12, { type: 'zone.upsert', zone: { ...zoneB, hostnames: ['b.example', 'www.a.example'] } }),
    );
    assert.equal(t.resolve('www.a.example')?.zone.id, 'b');
    assert.equal(t.resolve('a.example')?.zone.id, 'a');
  });

  test('a hostname moves from one zone to another (claimed first)', () => {
    const t = table();
    t.applyEvent(
      event(11, { type: 'zone.upsert', zone: { ...zoneB, hostnames: ['b.example', 'www.a.example'] } }),
    );
    assert.equal(t.resolve('www.a.example')?.zone.id, 'b', 'the newest statement wins');
    t.applyEvent(event(12, { type: 'zone.upsert', zone: { ...zoneA, hostnames: ['a.example'] } }));
    assert.equal(t.resolve('www.a.example')?.zone.id, 'b', 'a’s release does not unmap b’s hostname');
    t.applyEvent(event(13, { type: 'zone.delete', zone_id: 'a' }));
    assert.equal(t.resolve('www.a.example')?.zone.id, 'b');
  });

  test('a contested hostname falls back to the zone still listing it when the winner lets go', () => {
    const t = table();
    t.applyEvent(
      event(11, { type: 'zone.upsert', zone: { ...zoneB, hostnames: ['b.example', 'a.example'] } }),
    );
    assert.equal(t.resolve('a.example')?.zone.id, 'b');
    t.applyEvent(event(12, { type: 'zone.delete', zone_id: 'b' }));
    assert.equal(t.resolve('a.example')?.zone.id, 'a');
    assert.equal(t.resolve('b.example'), undefined);
  });

  test('pop and node events only advance seq', () => {
    const t = table();
    const before = stateOf(t);
    t.applyEvent(event(11, { type: 'pop.delete', name: 'nyc' }));
    t.applyEvent(
      event(12, { type: 'node.upsert', node: { name: 'n1', pop: 'nyc', url: 'http://n1', status: 'up' } }),
    );
    assert.deepEqual({ ...(stateOf(t) as object), seq: 10 }, before);
    assert.equal(t.seq, 12);
  });
});

describe('development mode and the no-rules fast path', () => {
  test('development mode bypasses every request, with or without rules', () => {
    const t = new ZoneTable();
    const dev = makeZone('dev', { settings: { development_mode: true } });
    const devRules = makeZone('devr', { settings: { development_mode: true } });
    t.applySnapshot(snapshot(1, [dev, devRules], { devr: [ttl60] }));
    assert.equal(t.resolve('dev.example')?.decide(request('/')).bypass, true);
    const d = t.resolve('devr.example')?.decide(request('/'));
    assert.equal(d?.bypass, true);
    assert.equal(d?.edgeTtlSec, 60);
  });

  test('a zone without rules answers the defaults, keyed by the raw target', () => {
    const t = table();
    const d = t.resolve('b.example')?.decide(request('/x?b=2&a=1', { host: 'b.example' }));
    assert.deepEqual(d, {
      bypass: false,
      primaryKey: 'https://b.example/x?b=2&a=1',
      keyExtra: '',
      edgeTtlSec: null,
      overrideOrigin: false,
      browserTtlSec: null,
      statusTtl: null,
      ignoreSetCookie: false,
      ruleIds: [],
      sliceBytes: null,
    });
  });

  test('a zone whose rules are all disabled takes the fast path too', () => {
    const t = new ZoneTable();
    t.applySnapshot(snapshot(1, [zoneA], { a: [{ ...bypassAll, enabled: false }] }));
    assert.equal(t.resolve('a.example')?.decide(request('/')).bypass, false);
  });
});

test('a rule edited in place (same id, same updated_at) is compiled anew', () => {
  const before = makeRule({ match: { path: '/a/**' }, action: { bypass: true } }, { id: 'r1' });
  assert.equal(runtimeOf([before]).decide(request('/a/x')).bypass, true);
  const edited = makeRule(
    { match: { path: '/a/**' }, action: { edge_ttl: 60 } },
    { id: 'r1', updated_at: before.updated_at },
  );
  const decision = runtimeOf([edited]).decide(request('/a/x'));
  assert.equal(decision.bypass, false);
  assert.equal(decision.edgeTtlSec, 60);
});
