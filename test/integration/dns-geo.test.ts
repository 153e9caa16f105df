// Issue 6: GeoDNS over a real cluster. A control plane (SQLite) with PoPs in New York, Frankfurt and
// Singapore (and a shield PoP next to New York), real `meridian edge` nodes on their own loopback
// addresses, and `meridian dns` as a process, asked by kdig with EDNS Client Subnet. Clients in three
// places land on their nearest PoP; a PoP whose nodes die leaves the answers within 10 s and comes back
// when they return; capacity, per-zone PoP limits and the control plane being away behave.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { bundledGeoDatabasePaths } from '../../src/dns/geo.ts';
import { addressesOf, clientSubnetOf, eventually, kdig, startDnsProcess } from '../helpers/dns.ts';
import type { DnsProc } from '../helpers/dns.ts';
import { api, removeDir, startControlProcess, startEdgeProcess } from '../helpers/processes.ts';
import type { ControlProc, EdgeProc } from '../helpers/processes.ts';

const ZONE = 'cdn.example.net';
const WWW = `www-customer-com.${ZONE}`;

const POPS = {
  nyc: { city: 'New York', latitude: 40.71, longitude: -74.01 },
  fra: { city: 'Frankfurt', latitude: 50.11, longitude: 8.68 },
  sin: { city: 'Singapore', latitude: 1.35, longitude: 103.82 },
  // A shield 15 km from New York: nearer than nyc to New York clients, and never answered.
  shd: { city: 'Newark', latitude: 40.73, longitude: -74.17, role: 'shield' },
};
/** node → PoP and the loopback address its client listener gets. */
const NODES: [string, keyof typeof POPS, string][] = [
  ['nyc-1', 'nyc', '127.0.1.1'],
  ['nyc-2', 'nyc', '127.0.1.2'],
  ['fra-1', 'fra', '127.0.2.1'],
  ['sin-1', 'sin', '127.0.3.1'],
  ['shd-1', 'shd', '127.0.9.1'],
];
const NYC = ['127.0.1.1', '127.0.1.2'];
const FRA = '127.0.2.1';
const SIN = '127.0.3.1';

/** The --locations file: three test networks (RFC 5737 / RFC 3849) in three places. */
const LOCATIONS = {
  '198.51.100.0/24': { city: 'New York', latitude: 40.73, longitude: -73.99 },
  '203.0.113.0/24': { city: 'Berlin', latitude: 52.52, longitude: 13.4 },
  '192.0.2.0/24': { city: 'Tokyo', latitude: 35.68, longitude: 139.69 },
  '2001:db8:1::/48': { city: 'Berlin', latitude: 52.52, longitude: 13.4 },
};
/** The database is an optional dependency (npm ci --omit=optional leaves it out). */
const bundled = bundledGeoDatabasePaths().every(existsSync) && bundledGeoDatabasePaths().length > 0;
const NEW_YORK = '+subnet=198.51.100.7/24';
const BERLIN = '+subnet=203.0.113.9/24';
const TOKYO = '+subnet=192.0.2.200/24';

describe('GeoDNS over a cluster of real edge nodes', () => {
  let control: ControlProc;
  let nodeToken: string;
  let readToken: string;
  let dns: DnsProc;
  const edges = new Map<string, EdgeProc>();
  const admin = (method: string, path: string, body?: unknown) =>
    api(control.url, control.adminToken, method, path, body);
  const ask = (name: string, type: string, ...args: string[]) => kdig(dns.port, [name, type, ...args]);
  const serial = async (): Promise<number> =>
    Number((await ask(ZONE, 'SOA')).answerRRs?.[0]?.rdataSOA?.split(' ')[2]);

  const startNode = async (name: string, pop: string, address: string, cacheDir?: string): Promise<void> => {
    const edge = await startEdgeProcess(
      '',
      [
        '--control',
        control.url,
        '--pop',
        pop,
        '--node',
        name,
        '--token',
        nodeToken,
        '--listen',
        `${address}:0`,
      ],
      { noOrigin: true, admin: true, ...(cacheDir === undefined ? {} : { cacheDir }) },
    );
    edges.set(name, edge);
  };

  before(async () => {
    control = await startControlProcess();
    nodeToken = (await admin('POST', '/client/v4/tokens', { name: 'nodes', scopes: ['node'] })).body.result
      .value;
    readToken = (await admin('POST', '/client/v4/tokens', { name: 'dns', scopes: ['zones:read'] })).body
      .result.value;
    for (const [name, pop] of Object.entries(POPS)) {
      assert.equal((await admin('PUT', `/client/v4/pops/${name}`, pop)).status, 200);
    }
    for (const [name, pop, address] of NODES) await startNode(name, pop, address);
    const origins = [{ url: 'http://127.0.0.1:9' }];
    assert.equal(
      (
        await admin('POST', '/client/v4/zones', {
          name: 'shop',
          hostnames: ['www.customer.com', 'static.customer.com'],
          origins,
        })
      ).status,
      201,
    );
    assert.equal(
      (
        await admin('POST', '/client/v4/zones', {
          name: 'eu-only',
          hostnames: ['eu.customer.org'],
          origins,
          settings: { dns_pops: ['fra'] },
        })
      ).status,
      201,
    );
    const locations = join(control.dataDir, 'locations.json');
    await writeFile(locations, JSON.stringify(LOCATIONS));
    dns = await startDnsProcess([
      '--control',
      control.url,
      '--token',
      readToken,
      '--zone',
      ZONE,
      '--locations',
      locations,
      // Loopback resolvers (kdig without ECS) are in Singapore.
      '--default-location',
      '1.35,103.82',
    ]);
  });

  after(async () => {
    await dns?.stop();
    for (const edge of edges.values()) {
      await edge.stop();
      await removeDir(edge.cacheDir);
    }
    await control?.stop();
    if (control !== undefined) await removeDir(control.dataDir);
  });

  it('clients in New York, Berlin and Tokyo get their nearest edge PoP, never the shield', async () => {
    const ny = await ask(WWW, 'A', NEW_YORK);
    assert.equal(ny.RCODE, 0);
    assert.equal(ny.AA, 1, 'authoritative');
    assert.equal(ny.RA, 0, 'no recursion offered');
    assert.deepEqual(addressesOf(ny).sort(), NYC, 'both New York nodes, not the Newark shield');
    assert.ok(ny.answerRRs?.every((rr) => rr.TTL === 30 && rr.NAME === `${WWW}.`));

    // Frankfurt has one node: the next nearest PoP (New York) adds a second address for failover.
    const berlin = addressesOf(await ask(WWW, 'A', BERLIN));
    assert.equal(berlin[0], FRA);
    assert.equal(berlin.length, 2);
    assert.ok(NYC.includes(berlin[1] as string), `failover address in New York: ${berlin.join(' ')}`);

    const tokyo = addressesOf(await ask(WWW, 'A', TOKYO));
    assert.deepEqual(tokyo, [SIN, FRA], 'Singapore, then Frankfurt (9,300 km) before New York (10,800 km)');
  });

  it('echoes EDNS Client Subnet with the scope of the subnet that decided', async () => {
    const v4 = clientSubnetOf(await ask(WWW, 'A', NEW_YORK));
    assert.deepEqual(v4, { family: 1, source: 24, scope: 24, address: 'c63364' });
    const v6answer = await ask(WWW, 'A', '+subnet=2001:db8:1:2::/56');
    assert.equal(addressesOf(v6answer)[0], FRA);
    const v6 = clientSubnetOf(v6answer);
    assert.equal(v6?.family, 2);
    assert.equal(v6?.source, 56);
    assert.equal(v6?.scope, 48);
  });

  it('answers the label of every hostname and of the zone name; AAAA is NODATA without IPv6 nodes', async () => {
    assert.deepEqual(addressesOf(await ask(`static-customer-com.${ZONE}`, 'A', NEW_YORK)).sort(), NYC);
    assert.deepEqual(addressesOf(await ask(`SHOP.${ZONE}`, 'A', NEW_YORK)).sort(), NYC);
    const aaaa = await ask(WWW, 'AAAA', NEW_YORK);
    assert.equal(aaaa.RCODE, 0);
    assert.equal(aaaa.ANCOUNT, 0);
    assert.equal(aaaa.authorityRRs?.[0]?.TYPEname, 'SOA');
  });

  it('without ECS the resolver address decides: loopback is the default location', async () => {
    assert.deepEqual(addressesOf(await ask(WWW, 'A')), [SIN, FRA]);
  });

  it('the bundled GeoIP database (DB-IP Lite) places public networks', { skip: !bundled }, async () => {
    // Mountain View → New York is the nearest of the three; Darmstadt → Frankfurt; Singapore → Singapore.
    assert.ok(NYC.includes(addressesOf(await ask(WWW, 'A', '+subnet=8.8.8.0/24'))[0] as string));
    assert.equal(addressesOf(await ask(WWW, 'A', '+subnet=194.25.0.0/24'))[0], FRA);
    assert.equal(addressesOf(await ask(WWW, 'A', '+subnet=203.116.0.0/24'))[0], SIN);
    const scope = clientSubnetOf(await ask(WWW, 'A', '+subnet=8.8.8.0/24'))?.scope ?? 0;
    assert.ok(scope > 0 && scope <= 32, `scope from the database: ${scope}`);
  });

  it('a zone limited to some PoPs (settings.dns_pops) is answered only from them', async () => {
    assert.deepEqual(addressesOf(await ask(`eu-customer-org.${ZONE}`, 'A', NEW_YORK)), [FRA]);
    assert.deepEqual(addressesOf(await ask(`eu-only.${ZONE}`, 'A', TOKYO)), [FRA]);
    // Lifting the limit with PATCH (settings merge field by field): New York clients go to New York.
    const zones = (await admin('GET', '/client/v4/zones')).body.result as { id: string; name: string }[];
    const euOnly = zones.find((z) => z.name === 'eu-only')?.id;
    assert.equal(
      (await admin('PATCH', `/client/v4/zones/${euOnly}`, { settings: { dns_pops: null } })).status,
      200,
    );
    await eventually(
      async () => NYC.includes(addressesOf(await ask(`eu-customer-org.${ZONE}`, 'A', NEW_YORK))[0] as string),
      5_000,
      'the limit is lifted',
    );
  });

  it('a full PoP sends new users to the next nearest; users it already has stay', async () => {
    const before = await serial();
    await admin('PUT', '/client/v4/pops/fra', { ...POPS.fra, capacity: 1 });
    await eventually(async () => (await serial()) !== before, 5_000, 'serial moves with the capacity');
    const first = addressesOf(await ask(WWW, 'A', '+subnet=203.0.113.0/25'));
    const second = addressesOf(await ask(WWW, 'A', '+subnet=203.0.113.128/25'));
    const again = addressesOf(await ask(WWW, 'A', '+subnet=203.0.113.0/25'));
    assert.equal(first[0], FRA, 'the first new user of the second fits');
    assert.ok(NYC.includes(second[0] as string), `the second new user goes to New York: ${second.join(' ')}`);
    assert.equal(again[0], FRA, 'a user already counted stays');
    const restored = await serial();
    await admin('PUT', '/client/v4/pops/fra', { ...POPS.fra, capacity: 0 });
    await eventually(async () => (await serial()) !== restored, 5_000, 'serial moves back');
  });

  it('a PoP whose nodes die leaves the answers within 10 s, and returns when they are back', async (t) => {
    const nycEdges = ['nyc-1', 'nyc-2'].map((n) => edges.get(n) as EdgeProc);
    await Promise.all(nycEdges.map((e) => e.stop('SIGKILL')));
    const gone = await eventually(
      async () => addressesOf(await ask(WWW, 'A', NEW_YORK))[0] === FRA,
      10_000,
      'New York clients move to Frankfurt',
    );
    const during = addressesOf(await ask(WWW, 'A', NEW_YORK));
    assert.ok(!during.some((a) => NYC.includes(a)), `no dead node answered: ${during.join(' ')}`);
    assert.ok(gone < 10_000);
    t.diagnostic(`New York left the answers ${gone} ms after its nodes were killed`);

    for (const [i, name] of ['nyc-1', 'nyc-2'].entries()) {
      await startNode(name, 'nyc', NYC[i] as string, nycEdges[i]?.cacheDir);
    }
    const back = await eventually(
      async () => {
        const addresses = addressesOf(await ask(WWW, 'A', NEW_YORK));
        return addresses.length === 2 && addresses.every((a) => NYC.includes(a));
      },
      10_000,
      'New York clients come back to New York',
    );
    assert.ok(back < 10_000);
    t.diagnostic(`New York was back in the answers ${back} ms after its nodes restarted`);
  });

  it('keeps answering from the last good data while the control plane is away', async () => {
    await control.stop();
    await new Promise((r) => setTimeout(r, 2_500));
    assert.deepEqual(addressesOf(await ask(WWW, 'A', NEW_YORK)).sort(), NYC);
    assert.equal(addressesOf(await ask(WWW, 'A', BERLIN))[0], FRA);
    assert.equal((await ask(`nobody.${ZONE}`, 'A')).RCODE, 3);
    control = await startControlProcess({ reuse: control });
    assert.equal(dns.child.exitCode, null, 'still running');
  });
});
