// Issue 5: PoPs, owners and the shield on a local cluster. Two edge PoPs (3 and 2 nodes) and a
// shield PoP (2 nodes), each node its own process: one origin fetch for the whole network, an
// owner killed mid-load costs no request, loops are refused, a forged hop header is ignored.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { signHop } from '../../src/edge/cluster/hop.ts';
import {
  api,
  fetchReply,
  originCount,
  removeDir,
  startControlProcess,
  startEdgeProcess,
  startTestOrigin,
} from '../helpers/processes.ts';
import type { ControlProc, EdgeProc, Proc, Reply } from '../helpers/processes.ts';

const HOST = 'topo.test';
const LOOP_HOST = 'loop.topo.test';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cacheStatus = (reply: Reply): string => String(reply.headers['cache-status']);
/** The caches a response went through, nearest the origin first (RFC 9211). */
const cachesOf = (reply: Reply): string[] =>
  cacheStatus(reply)
    .split(', ')
    .map((e) => e.split(';')[0] as string);

const LAYOUT: { name: string; pop: string; role: 'edge' | 'shield' }[] = [
  { name: 'e1-a', pop: 'e1', role: 'edge' },
  { name: 'e1-b', pop: 'e1', role: 'edge' },
  { name: 'e1-c', pop: 'e1', role: 'edge' },
  { name: 'e2-a', pop: 'e2', role: 'edge' },
  { name: 'e2-b', pop: 'e2', role: 'edge' },
  { name: 'sh-a', pop: 'sh', role: 'shield' },
  { name: 'sh-b', pop: 'sh', role: 'shield' },
];

describe('topology: owners, shield, internal hops', () => {
  let origin: Proc;
  let control: ControlProc;
  let nodeToken: string;
  const nodes = new Map<string, EdgeProc>();
  const admin = (method: string, path: string, body?: unknown) =>
    api(control.url, control.adminToken, method, path, body);
  const node = (name: string) => nodes.get(name) as EdgeProc;
  const get = (edge: EdgeProc, path: string, headers: Record<string, string> = {}, host = HOST) =>
    fetchReply(`${edge.url}${path}`, { headers: { host, ...headers } });

  async function seqOf(edge: EdgeProc): Promise<number> {
    const reply = await fetchReply(`${edge.adminUrl}/healthz`);
    return (JSON.parse(reply.body.toString()) as { seq: number }).seq;
  }
  /** Every live node applied the log's last event (so each knows its peers). */
  async function settled(): Promise<void> {
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(50)) {
      const seqs = await Promise.all([...nodes.values()].map(seqOf));
      if (seqs.every((s) => s === seqs[0])) return;
    }
    throw new Error('nodes did not settle');
  }

  before(async () => {
    origin = await startTestOrigin();
    control = await startControlProcess();
    nodeToken = (await admin('POST', '/client/v4/tokens', { name: 'nodes', scopes: ['node'] })).body.result
      .value as string;
    for (const pop of ['e1', 'e2', 'sh']) {
      const res = await admin('PUT', `/client/v4/pops/${pop}`, {
        city: pop,
        latitude: 0,
        longitude: 0,
        role: pop === 'sh' ? 'shield' : 'edge',
      });
      assert.ok(res.status === 200 || res.status === 201, JSON.stringify(res.body.errors));
    }
    const zone = await admin('POST', '/client/v4/zones', {
      name: 'topo',
      hostnames: [HOST],
      origins: [{ url: origin.url }],
      shield_pop: 'sh',
    });
    assert.ok(zone.status === 200 || zone.status === 201, JSON.stringify(zone.body.errors));
    await Promise.all(
      LAYOUT.map(async (n) => {
        const edge = await startEdgeProcess(
          '',
          [
            '--control',
            control.url,
            '--pop',
            n.pop,
            '--role',
            n.role,
            '--node',
            n.name,
            '--token',
            nodeToken,
          ],
          { noOrigin: true, admin: true },
        );
        nodes.set(n.name, edge);
      }),
    );
    await settled();
  });

  after(async () => {
    for (const edge of nodes.values()) {
      await edge.stop();
      await removeDir(edge.cacheDir);
    }
    await control?.stop();
    if (control !== undefined) await removeDir(control.dataDir);
    await origin?.stop();
  });

  it('Accept-Ranges appears once per response, not once per hop (stored, hit and passed)', async () => {
    const once = (reply: Reply, what: string): void => {
      const value = reply.headers['accept-ranges'];
      assert.equal(value, 'bytes', `${what}: ${JSON.stringify(value)} via ${cacheStatus(reply)}`);
    };
    const stored = '/topo/ranges?cc=max-age%3D300&ar=bytes';
    const miss = await get(node('e1-a'), stored);
    assert.ok(cachesOf(miss).length >= 2, cacheStatus(miss));
    once(miss, 'miss through the shield');
    once(await get(node('e1-a'), stored), 'hit');
    once(await get(node('e2-b'), stored), 'the other PoP');
    once(await get(node('e1-b'), '/topo/ranges-plain?cc=max-age%3D300'), 'origin without Accept-Ranges');
    once(await get(node('e1-c'), '/topo/ranges-pass?cc=no-store&ar=bytes'), 'not stored anywhere');
  });

  it('a node started with the wrong role is refused at registration', async () => {
    const res = await api(control.url, nodeToken, 'POST', '/internal/v1/nodes/register', {
      name: 'wrong-1',
      pop: 'e1',
      url: 'http://127.0.0.1:1',
      role: 'shield',
    });
    assert.equal(res.status, 400);
    assert.match(res.body.errors[0]?.message ?? '', /^role: /);
  });

  it('the same URL through every node of every PoP reaches the origin once', async () => {
    const path = '/topo/once?cc=max-age%3D300';
    const first = await get(node('e1-a'), path);
    assert.equal(first.status, 200);
    const caches = cachesOf(first);
    // Nearest the origin first: a shield node, then e1's owner, then e1-a (if it is not the owner).
    assert.match(caches[0] as string, /^sh-/, cacheStatus(first));
    assert.equal(caches.at(-1), 'e1-a');
    assert.ok(caches.length >= 2 && caches.length <= 3, cacheStatus(first));
    for (const name of ['e1-a', 'e1-b', 'e1-c', 'e2-a', 'e2-b', 'sh-a', 'sh-b']) {
      const reply = await get(node(name), path);
      assert.equal(reply.status, 200, name);
      assert.equal(reply.body.toString(), first.body.toString(), name);
    }
    assert.equal(await originCount(origin, '/topo/once'), 1);
    // The tags reach every tier (the hop keeps Cache-Tag) but not the client.
    assert.equal(first.headers['cache-tag'], undefined);
  });

  it('concurrent misses for one new object on every node of every PoP cost the origin one request', async () => {
    const path = '/topo/stampede?cc=max-age%3D300&delay=300';
    const replies = await Promise.all(
      Array.from({ length: 70 }, (_, i) => get(node(LAYOUT[i % LAYOUT.length]?.name as string), path)),
    );
    for (const reply of replies) assert.equal(reply.status, 200, cacheStatus(reply));
    assert.equal(await originCount(origin, '/topo/stampede'), 1);
  });

  it('a non-owner keeps a very hot key in its own memory instead of asking the owner every time', async () => {
    const path = '/topo/hot?cc=max-age%3D300';
    const first = await get(node('e2-a'), path);
    const ownerIsA = !cachesOf(first).includes('e2-b');
    const nonOwner = node(ownerIsA ? 'e2-b' : 'e2-a');
    const name = ownerIsA ? 'e2-b' : 'e2-a';
    let last: Reply = first;
    for (let i = 0; i < 300; i++) {
      last = await get(nonOwner, path);
      if (cacheStatus(last).startsWith(`${name}; hit`)) break;
    }
    assert.match(cacheStatus(last), new RegExp(`^${name}; hit`), 'the hot key is served from the non-owner');
    assert.equal(await originCount(origin, '/topo/hot'), 1);
  });

  it('a purge reaches the owner and the shield: the next request goes to the origin', async () => {
    const path = '/topo/purged?cc=max-age%3D300';
    await get(node('e2-a'), path);
    await get(node('e2-b'), path);
    assert.equal(await originCount(origin, '/topo/purged'), 1);
    const zoneId = (await admin('GET', '/client/v4/zones?name=topo')).body.result[0].id as string;
    const seqBefore = await seqOf(node('e2-b'));
    const purged = await admin('POST', `/client/v4/zones/${zoneId}/purge_cache`, {
      files: [`http://${HOST}${path}`],
    });
    assert.equal(purged.status, 200);
    // As soon as the node asked has applied it, whatever the others did: the hop carries the sender's
    // sequence, so an owner or shield that has not applied the purge yet waits for it instead of
    // serving the old copy.
    for (const deadline = Date.now() + 5_000; (await seqOf(node('e2-b'))) <= seqBefore; await sleep(2)) {
      assert.ok(Date.now() < deadline, 'e2-b did not apply the purge');
    }
    const reply = await get(node('e2-b'), path);
    assert.equal(reply.status, 200);
    assert.equal(await originCount(origin, '/topo/purged'), 2);
  });

  it('an owner killed under load costs no request, and the PoP keeps serving', async () => {
    let stop = false;
    const failures: string[] = [];
    let served = 0;
    const load = async (edge: EdgeProc, worker: number): Promise<void> => {
      for (let i = 0; !stop && i < 2_000; i++) {
        // New keys: about a third are owned by e1-c.
        const reply = await get(edge, `/topo/kill/${worker}/${i}?cc=max-age%3D300`).catch((err: Error) => ({
          status: 0,
          headers: {},
          body: Buffer.from(err.message),
        }));
        if (reply.status === 200) served++;
        else failures.push(`${reply.status} ${reply.body.toString().slice(0, 100)}`);
      }
    };
    const running = [load(node('e1-a'), 1), load(node('e1-b'), 2), load(node('e1-a'), 3)];
    await sleep(400);
    await node('e1-c').stop('SIGKILL');
    nodes.delete('e1-c');
    await sleep(800);
    stop = true;
    await Promise.all(running);
    assert.deepEqual(failures, []);
    assert.ok(served > 30, `served ${served}`);
    // A key e1-c owned is now served by another node of the PoP.
    const after = await get(node('e1-a'), '/topo/after-kill?cc=max-age%3D300');
    assert.equal(after.status, 200);
    assert.ok(!cacheStatus(after).includes('e1-c'), cacheStatus(after));
  });

  it('an origin that points back at the CDN is refused with 508, not looped', async () => {
    const looped = await admin('POST', '/client/v4/zones', {
      name: 'loop',
      hostnames: [LOOP_HOST],
      origins: [{ url: node('e2-a').url }],
    });
    assert.ok(looped.status === 200 || looped.status === 201, JSON.stringify(looped.body.errors));
    await settled();
    const started = Date.now();
    const reply = await get(node('e2-a'), '/loop', {}, LOOP_HOST);
    assert.equal(reply.status, 508, reply.body.toString());
    assert.ok(Date.now() - started < 2_000);
  });

  it('a signed hop header that names the node again is refused; forged, stale or moved ones are ignored', async () => {
    const snapshot = await api(control.url, nodeToken, 'GET', '/internal/v1/snapshot');
    const key = Buffer.from(snapshot.body.result.hop_key as string, 'base64url');
    const path = '/topo/hop?cc=max-age%3D300';
    const request = { method: 'GET', host: HOST, target: path };
    const naming = (ts: number) => signHop(key, { path: [{ pop: 'e2', node: 'e2-a' }], seq: 0, ts }, request);

    const loop = await get(node('e2-a'), path, { 'meridian-hop': naming(Date.now()) });
    assert.equal(loop.status, 508);

    // The same header with a wrong signature, too old, or for another URL: an ordinary request.
    const forged = naming(Date.now()).replace(/sig=.*/, `sig=${Buffer.alloc(32, 1).toString('base64url')}`);
    const cases: [string, string][] = [
      [forged, path],
      [naming(Date.now() - 120_000), path],
      [naming(Date.now()), `${path}&moved=1`],
    ];
    for (const [header, target] of cases) {
      const reply = await get(node('e2-a'), target, { 'meridian-hop': header });
      assert.equal(reply.status, 200, `${reply.status} ${cacheStatus(reply)}`);
    }
    // A forged header claiming a huge sequence would make a trusting node wait: it does not.
    const started = Date.now();
    const fake = `v1;ts=${Date.now()};seq=999999999;path=e1/e1-a;sig=${Buffer.alloc(32).toString('base64url')}`;
    const reply = await get(node('e2-b'), '/topo/forged-seq?cc=max-age%3D300', { 'meridian-hop': fake });
    assert.equal(reply.status, 200);
    assert.ok(Date.now() - started < 1_000);
  });
});
