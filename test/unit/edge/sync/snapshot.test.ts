import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Rule, Zone } from '../../../../src/common/config/zone.ts';
import type { ControlEvent, EventBody, Snapshot } from '../../../../src/common/events/types.ts';
import { applyEventToSnapshot, isSnapshot } from '../../../../src/edge/sync/snapshot.ts';

const zone = (id: string, name = id): Zone =>
  ({
    id,
    name,
    hostnames: [`${id}.test`],
    origins: [],
    shield_pop: null,
    settings: {},
    created_at: '',
    updated_at: '',
  }) as unknown as Zone;
const rule = (id: string): Rule => ({ id }) as unknown as Rule;
const pop = (name: string, city = 'X'): Snapshot['pops'][number] =>
  ({
    name,
    city,
    latitude: 0,
    longitude: 0,
    role: 'edge',
    capacity: 0,
    created_at: '',
  }) as Snapshot['pops'][number];
const node = (name: string, status: 'up' | 'down' = 'up'): Snapshot['nodes'][number] => ({
  name,
  pop: 'p',
  url: 'http://n',
  status,
});

const empty: Snapshot = { seq: 0, zones: [], rules: {}, pops: [], nodes: [] };
let seq = 0;
const ev = (body: EventBody): ControlEvent => ({ ...body, seq: ++seq, at: '' }) as ControlEvent;

test('each event type changes the snapshot as its statement says, and advances seq', () => {
  seq = 0;
  const steps: [ControlEvent, (s: Snapshot) => unknown, unknown][] = [
    [ev({ type: 'zone.upsert', zone: zone('z1') }), (s) => s.zones.map((z) => z.name), ['z1']],
    [ev({ type: 'zone.upsert', zone: zone('z2') }), (s) => s.zones.map((z) => z.id), ['z1', 'z2']],
    [
      ev({ type: 'zone.upsert', zone: zone('z1', 'renamed') }),
      (s) => s.zones.map((z) => z.name),
      ['renamed', 'z2'],
    ],
    [
      ev({ type: 'rules.replace', zone_id: 'z1', rules: [rule('r1'), rule('r2')] }),
      (s) => s.rules,
      { z1: [rule('r1'), rule('r2')] },
    ],
    [ev({ type: 'zone.delete', zone_id: 'z1' }), (s) => [s.zones.map((z) => z.id), s.rules], [['z2'], {}]],
    [ev({ type: 'pop.upsert', pop: pop('fra') }), (s) => s.pops.map((p) => p.name), ['fra']],
    [
      ev({ type: 'pop.upsert', pop: pop('fra', 'Frankfurt') }),
      (s) => s.pops.map((p) => p.city),
      ['Frankfurt'],
    ],
    [ev({ type: 'pop.delete', name: 'fra' }), (s) => s.pops, []],
    [ev({ type: 'node.upsert', node: node('n1') }), (s) => s.nodes, [node('n1')]],
    [ev({ type: 'node.upsert', node: node('n1', 'down') }), (s) => s.nodes, [node('n1', 'down')]],
    [ev({ type: 'node.delete', name: 'n1' }), (s) => s.nodes, []],
  ];
  let state = empty;
  for (const [event, view, expected] of steps) {
    const next = applyEventToSnapshot(state, event);
    assert.deepEqual(view(next), expected, event.type);
    assert.equal(next.seq, event.seq);
    state = next;
  }
});

test('an event at or below the snapshot seq changes nothing (idempotent)', () => {
  const state: Snapshot = { ...empty, seq: 5, zones: [zone('z1')] };
  const old = { type: 'zone.delete', zone_id: 'z1', seq: 5, at: '' } as ControlEvent;
  assert.equal(applyEventToSnapshot(state, old), state);
});

test('the input snapshot is not modified', () => {
  const state: Snapshot = { ...empty, zones: [zone('z1')] };
  const frozen = structuredClone(state);
  applyEventToSnapshot(state, { type: 'zone.upsert', zone: zone('z1', 'new'), seq: 1, at: '' });
  assert.deepEqual(state, frozen);
});

test('isSnapshot accepts the shape and rejects near misses', () => {
  assert.equal(isSnapshot(empty), true);
  for (const bad of [
    null,
    [],
    { ...empty, seq: -1 },
    { ...empty, seq: 1.5 },
    { ...empty, zones: {} },
    { ...empty, rules: [] },
  ]) {
    assert.equal(isSnapshot(bad), false, JSON.stringify(bad));
  }
});
