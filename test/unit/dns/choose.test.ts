// Which PoP and which addresses a client gets.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CapacityGate } from '../../../src/dns/capacity.ts';
import { choose, rankPops, type ChooseInput, type PopView } from '../../../src/dns/choose.ts';

const NEW_YORK = { latitude: 40.73, longitude: -73.99 };
const BERLIN = { latitude: 52.52, longitude: 13.4 };
const TOKYO = { latitude: 35.68, longitude: 139.69 };

function pop(
  name: string,
  latitude: number,
  longitude: number,
  v4: string[],
  extra: Partial<PopView> = {},
): PopView {
  return {
    name,
    latitude,
    longitude,
    capacity: 0,
    v4: v4.map((address, i) => ({ name: `${name}-${i + 1}`, address, healthy: true })),
    v6: [],
    ...extra,
  };
}

const POPS = [
  pop('nyc', 40.71, -74.01, ['10.1.0.1', '10.1.0.2']),
  pop('fra', 50.11, 8.68, ['10.2.0.1']),
  pop('sin', 1.35, 103.82, ['10.3.0.1']),
];

function input(overrides: Partial<ChooseInput>): ChooseInput {
  return {
    pops: POPS,
    family: 4,
    location: NEW_YORK,
    restrict: null,
    gate: new CapacityGate(),
    user: 'u',
    now: 0,
    maxAddresses: 8,
    rotation: 0,
    ...overrides,
  };
}

describe('rankPops', () => {
  it('orders by great-circle distance', () => {
    assert.deepEqual(
      rankPops(POPS, NEW_YORK).map((p) => p.name),
      ['nyc', 'fra', 'sin'],
    );
    assert.deepEqual(
      rankPops(POPS, BERLIN).map((p) => p.name),
      ['fra', 'nyc', 'sin'],
    );
    assert.deepEqual(
      rankPops(POPS, TOKYO).map((p) => p.name),
      ['sin', 'fra', 'nyc'],
    );
  });

  it('without a location, or at equal distance, by name', () => {
    assert.deepEqual(
      rankPops(POPS, null).map((p) => p.name),
      ['fra', 'nyc', 'sin'],
    );
    const twins = [pop('b', 0, 10, []), pop('a', 0, -10, [])];
    assert.deepEqual(
      rankPops(twins, { latitude: 0, longitude: 0 }).map((p) => p.name),
      ['a', 'b'],
    );
  });
});

describe('choose', () => {
  it('answers every node of the nearest PoP, rotated per query', () => {
    const first = choose(input({ rotation: 0 }));
    const second = choose(input({ rotation: 1 }));
    assert.equal(first.pop, 'nyc');
    assert.deepEqual(first.addresses, ['10.1.0.1', '10.1.0.2']);
    assert.deepEqual(second.addresses, ['10.1.0.2', '10.1.0.1']);
    assert.equal(first.candidates, 3);
  });

  it('tops a one-node PoP up with the next nearest PoP, to two addresses', () => {
    assert.deepEqual(choose(input({ location: BERLIN })).addresses, ['10.2.0.1', '10.1.0.1']);
    assert.deepEqual(choose(input({ location: TOKYO })).addresses, ['10.3.0.1', '10.2.0.1']);
  });

  it('caps the answer at maxAddresses', () => {
    const big = [
      pop(
        'big',
        0,
        0,
        Array.from({ length: 20 }, (_, i) => `10.9.0.${i}`),
      ),
    ];
    assert.equal(choose(input({ pops: big, maxAddresses: 8 })).addresses.length, 8);
    assert.equal(choose(input({ pops: big, maxAddresses: 1 })).addresses.length, 1);
  });

  it('skips unhealthy nodes and PoPs without a healthy node', () => {
    const sick = [pop('nyc', 40.71, -74.01, ['10.1.0.1', '10.1.0.2']), ...POPS.slice(1)];
    for (const node of sick[0]!.v4) node.healthy = false;
    const choice = choose(input({ pops: sick }));
    assert.equal(choice.pop, 'fra');
    assert.deepEqual(choice.addresses, ['10.2.0.1', '10.3.0.1']);
    assert.equal(choice.failOpen, false);
    const half = [pop('nyc', 40.71, -74.01, ['10.1.0.1', '10.1.0.2']), ...POPS.slice(1)];
    half[0]!.v4[0]!.healthy = false;
    assert.deepEqual(choose(input({ pops: half })).addresses, ['10.1.0.2', '10.2.0.1']);
  });

  it('fails open when no candidate is healthy: every candidate, nearest first', () => {
    const dead = POPS.map((p) => ({ ...p, v4: p.v4.map((n) => ({ ...n, healthy: false })) }));
    const choice = choose(input({ pops: dead, location: BERLIN }));
    assert.equal(choice.failOpen, true);
    assert.equal(choice.pop, 'fra');
    assert.deepEqual(choice.addresses, ['10.2.0.1', '10.1.0.1']);
  });

  it("keeps to the zone's PoPs", () => {
    const choice = choose(input({ restrict: ['sin', 'fra'] }));
    assert.equal(choice.pop, 'fra');
    assert.deepEqual(choice.addresses, ['10.2.0.1', '10.3.0.1']);
    assert.deepEqual(choose(input({ restrict: ['sin'] })).addresses, ['10.3.0.1']);
    assert.equal(choose(input({ restrict: ['nowhere'] })).pop, null);
  });

  it('answers AAAA from the IPv6 nodes only', () => {
    const pops = [pop('nyc', 40.71, -74.01, ['10.1.0.1']), pop('fra', 50.11, 8.68, [])];
    pops[1]!.v6 = [{ name: 'fra-6', address: '2001:db8::1', healthy: true }];
    const choice = choose(input({ pops, family: 6 }));
    assert.equal(choice.pop, 'fra', 'the only PoP with IPv6');
    assert.deepEqual(choice.addresses, ['2001:db8::1']);
    assert.equal(choice.candidates, 1);
    assert.deepEqual(choose(input({ pops: POPS, family: 6 })), {
      pop: null,
      addresses: [],
      failOpen: false,
      candidates: 0,
    });
  });

  it('a full PoP sends new users on to the next nearest; when all are full, the nearest takes them', () => {
    const pops = [
      pop('nyc', 40.71, -74.01, ['10.1.0.1', '10.1.0.2'], { capacity: 1 }),
      pop('fra', 50.11, 8.68, ['10.2.0.1'], { capacity: 1 }),
      pop('sin', 1.35, 103.82, ['10.3.0.1'], { capacity: 1 }),
    ];
    const gate = new CapacityGate();
    const pick = (user: string, now = 0) => choose(input({ pops, gate, user, now })).pop;
    assert.equal(pick('a'), 'nyc');
    assert.equal(pick('b'), 'fra');
    assert.equal(pick('c'), 'sin');
    assert.equal(pick('d'), 'nyc', 'everything is full: the nearest');
    assert.equal(pick('b', 10), 'fra', 'b stays where it was counted');
    assert.equal(pick('e', 1_001), 'nyc', 'a second later nyc has room again');
    // The overflow answer still leads with the chosen PoP and fails over to the nearest.
    assert.deepEqual(choose(input({ pops, gate, user: 'f', now: 1_002 })).addresses, [
      '10.2.0.1',
      '10.1.0.1',
    ]);
  });
});
