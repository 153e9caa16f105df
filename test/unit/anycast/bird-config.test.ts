// The agent's include file (src/anycast/bird.ts) and the lab's plan and BIRD configurations
// (src/cli/anycast-lab/plan.ts): addresses, who peers with whom, where each region goes, and every
// generated configuration accepted by BIRD's own parser (`bird -p`) where BIRD is installed.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { anycastConfig } from '../../../src/anycast/bird.ts';
import { planLab, popConfig, routerConfig } from '../../../src/cli/anycast-lab/plan.ts';

const run = promisify(execFile);
const hasBird = await run('bird', ['--version']).then(
  () => true,
  () => false,
);

async function birdAccepts(text: string): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'meridian-bird-'));
  try {
    const file = join(dir, 'bird.conf');
    await writeFile(file, text);
    await run('bird', ['-p', '-c', file]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('anycastConfig', () => {
  it('announced via next hops: the prefix in both protocols, the community on the announced one', () => {
    const text = anycastConfig({
      protocol: 'meridian_anycast',
      prefixes: ['198.19.0.0/24'],
      announce: true,
      nexthops: ['198.18.16.2', '198.18.16.6'],
      communities: [[65535, 666]],
    });
    assert.match(
      text,
      /protocol static meridian_anycast \{\n {2}ipv4 \{\n.*bgp_community\.add\(\(65535, 666\)\)/,
    );
    assert.equal(text.match(/route 198\.19\.0\.0\/24 via 198\.18\.16\.2 via 198\.18\.16\.6;/g)?.length, 2);
    assert.match(text, /meridian_anycast_local \{\n {2}ipv4 \{ preference 100; \};/);
  });
  it('withdrawn: no announced route, the local one stays for established flows', () => {
    const text = anycastConfig({
      protocol: 'p',
      prefixes: ['198.19.0.0/24'],
      announce: false,
      nexthops: ['10.0.0.2'],
      communities: [],
    });
    assert.equal(text.match(/route /g)?.length, 1);
    assert.match(text, /p_local \{[^}]*\};\n {2}route 198\.19\.0\.0\/24 via 10\.0\.0\.2;/);
  });
  it('without next hops: blackhole routes and no local protocol', () => {
    const text = anycastConfig({
      protocol: 'p',
      prefixes: ['198.19.0.0/24', '198.19.1.0/24'],
      announce: true,
      nexthops: null,
      communities: [],
    });
    assert.match(text, /route 198\.19\.1\.0\/24 blackhole;/);
    assert.doesNotMatch(text, /_local/);
  });
  it('BIRD parses each form', { skip: !hasBird && 'bird is not installed' }, async () => {
    for (const [announce, nexthops] of [
      [true, ['10.0.0.2']],
      [false, []],
      [true, null],
    ] as const)
      await birdAccepts(
        `router id 10.0.0.1;\n${anycastConfig({ protocol: 'meridian_anycast', prefixes: ['198.19.0.0/24'], announce, nexthops, communities: [[65000, 1]] })}`,
      );
  });
});

describe('planLab', () => {
  const plan = planLab([
    { name: 'nyc', role: 'edge', latitude: 40.71, longitude: -74.01, nodes: 2 },
    { name: 'fra', role: 'edge', latitude: 50.11, longitude: 8.68, nodes: 2 },
    { name: 'sin', role: 'edge', latitude: 1.35, longitude: 103.82, nodes: 2 },
    { name: 'iad', role: 'shield', latitude: 38.95, longitude: -77.45, nodes: 1 },
  ]);

  it('a router and a client namespace per region, a speaker and node namespaces per PoP, all named mrd-*', () => {
    assert.deepEqual(
      plan.routers.map((r) => r.netns),
      ['mrd-r-nyc', 'mrd-r-fra', 'mrd-r-sin'],
    );
    assert.deepEqual(
      plan.clients.map((c) => c.netns),
      ['mrd-c-nyc', 'mrd-c-fra', 'mrd-c-sin'],
    );
    assert.equal(plan.namespaces.length, 3 + 4 + 7 + 3);
    assert.ok(plan.namespaces.every((n) => n.startsWith('mrd-')));
    assert.equal(new Set(plan.namespaces).size, plan.namespaces.length);
  });

  it('addresses come from 198.18.0.0/15 and do not repeat', () => {
    const addresses = plan.links.flatMap((l) => [l.a[2], l.b[2]]);
    assert.equal(new Set(addresses).size, addresses.length);
    for (const a of addresses) assert.match(a, /^198\.1[89]\.\d+\.\d+\/30$/);
    assert.deepEqual(
      plan.pops.find((p) => p.name === 'nyc')?.nodes.map((n) => n.address),
      ['198.18.16.2', '198.18.16.6'],
    );
  });

  it('each region expects its own PoP; the shield hangs off the nearest region; fallbacks follow the link costs', () => {
    assert.deepEqual(plan.expected, { nyc: 'nyc', fra: 'fra', sin: 'sin' });
    assert.deepEqual(plan.next, { nyc: 'fra', fra: 'nyc', sin: 'fra' });
    assert.equal(plan.pops.find((p) => p.name === 'iad')?.router, 'mrd-r-nyc');
  });

  it('BGP sessions come in pairs and the far links are prepended', () => {
    for (const s of plan.sessions) {
      const back = plan.sessions.find(
        (o) =>
          o.netns !== s.netns &&
          plan.links.some((l) => [l.a[2], l.b[2]].includes(`${o.peer}/30`)) &&
          o.prepend === s.prepend,
      );
      assert.ok(back, `a session back for ${s.netns} → ${s.peer}`);
    }
    assert.match(routerConfig(plan, plan.routers[0]!), /bgp_path\.prepend\(65001\);/);
  });

  it(
    'BIRD parses every router and PoP configuration',
    { skip: !hasBird && 'bird is not installed' },
    async () => {
      for (const r of plan.routers) await birdAccepts(routerConfig(plan, r));
      const dir = await mkdtemp(join(tmpdir(), 'meridian-bird-'));
      try {
        const include = join(dir, 'anycast.conf');
        await writeFile(
          include,
          anycastConfig({
            protocol: 'meridian_anycast',
            prefixes: ['198.19.0.0/24'],
            announce: true,
            nexthops: ['198.18.16.2'],
            communities: [],
          }),
        );
        for (const p of plan.pops) await birdAccepts(popConfig(plan, p, include));
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  );
});
