// Issue 4: purges through the API reach every node of every PoP, for each kind (URL, one variant,
// prefix, host, tag, everything), hard and soft; a node that was down applies what it missed before
// it serves from its cache; a fill racing a purge is not stored; the status shows each node.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import {
  api,
  CLI,
  fetchReply,
  originCount,
  removeDir,
  startControlProcess,
  startEdgeProcess,
  startTestOrigin,
} from '../helpers/processes.ts';
import type { ControlProc, EdgeProc, Proc, Reply } from '../helpers/processes.ts';

interface PurgeStatus {
  complete: boolean;
  pops: {
    name: string;
    applied: number;
    total: number;
    nodes: { name: string; status: string; applied: boolean; applied_at: string | null }[];
  }[];
}

const HOST = 'purge.test';
const HOST2 = 'static.purge.test';
const cacheStatus = (reply: Reply): string => String(reply.headers['cache-status']);
const isHit = (reply: Reply): boolean => /; hit/.test(cacheStatus(reply));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('purge', () => {
  let origin: Proc;
  let control: ControlProc;
  let nodeToken: string;
  let zoneId: string;
  let otherZoneId: string;
  const nodes = new Map<string, EdgeProc>();

  const admin = (method: string, path: string, body?: unknown) =>
    api(control.url, control.adminToken, method, path, body);
  const startNode = async (name: string, pop: string, cacheDir?: string): Promise<EdgeProc> => {
    const edge = await startEdgeProcess(
      '',
      ['--control', control.url, '--pop', pop, '--node', name, '--token', nodeToken],
      { noOrigin: true, ...(cacheDir === undefined ? {} : { cacheDir }) },
    );
    nodes.set(name, edge);
    return edge;
  };
  const get = (edge: EdgeProc, path: string, headers: Record<string, string> = {}, host = HOST) =>
    fetchReply(`${edge.url}${path}`, { headers: { host, ...headers } });
  const all = () => [...nodes.values()];

  /** Purges and waits until every live node applied it; returns the status. */
  async function purge(body: unknown, zone = zoneId): Promise<{ id: string; status: PurgeStatus }> {
    const res = await admin('POST', `/client/v4/zones/${zone}/purge_cache`, body);
    assert.equal(res.status, 200, JSON.stringify(res.body.errors));
    const id = res.body.result.id as string;
    const deadline = Date.now() + 5_000;
    for (;;) {
      const status = await admin('GET', `/client/v4/zones/${zone}/purge_cache/${id}`);
      assert.equal(status.status, 200);
      if (status.body.result.complete) return { id, status: status.body.result };
      if (Date.now() > deadline)
        assert.fail(`purge ${id} not complete: ${JSON.stringify(status.body.result)}`);
      await sleep(10);
    }
  }

  /** Fetches `path` through every node twice: the second answer must be a hit. */
  async function warm(path: string, headers: Record<string, string> = {}, host = HOST): Promise<void> {
    for (const edge of all()) {
      await get(edge, path, headers, host);
      const again = await get(edge, path, headers, host);
      assert.ok(isHit(again), `${path} should be a hit before the purge: ${cacheStatus(again)}`);
    }
  }

  /**
   * Asks every node for `path`. Purged (expectHit false): no node may answer with a copy fetched
   * before now (the origin numbers its answers in X-Origin-Count); the first request in a PoP
   * refetches through the key's owner and the others may hit that new copy. Kept (true): every
   * node answers from a cached copy fetched before now.
   */
  async function assertEverywhere(
    path: string,
    expectHit: boolean,
    headers: Record<string, string> = {},
    host = HOST,
  ): Promise<void> {
    const countBefore = await originCount(origin, path.split('?')[0] as string);
    for (const edge of all()) {
      const reply = await get(edge, path, headers, host);
      const fetchedAfter = Number(reply.headers['x-origin-count']) > countBefore;
      const what = `${path} on ${edge.url}: ${cacheStatus(reply)}, X-Origin-Count ${String(reply.headers['x-origin-count'])} (before: ${countBefore})`;
      if (expectHit) assert.ok(isHit(reply) && !fetchedAfter, `should be the kept copy: ${what}`);
      else assert.ok(fetchedAfter, `served a copy from before the purge: ${what}`);
    }
  }

  before(async () => {
    origin = await startTestOrigin();
    control = await startControlProcess({
      extra: ['--node-stale', '2s', '--purge-rate', '1', '--purge-burst', '60'],
    });
    nodeToken = (await admin('POST', '/client/v4/tokens', { name: 'nodes', scopes: ['node'] })).body.result
      .value;
    await admin('PUT', '/client/v4/pops/nyc', { city: 'New York', latitude: 40.7, longitude: -74 });
    await admin('PUT', '/client/v4/pops/fra', { city: 'Frankfurt', latitude: 50.1, longitude: 8.7 });
    zoneId = (
      await admin('POST', '/client/v4/zones', {
        name: 'purge-site',
        hostnames: [HOST, HOST2],
        origins: [{ url: origin.url }],
      })
    ).body.result.id;
    otherZoneId = (
      await admin('POST', '/client/v4/zones', {
        name: 'other',
        hostnames: ['other.test'],
        origins: [{ url: origin.url }],
      })
    ).body.result.id;
    await startNode('nyc-1', 'nyc');
    await startNode('nyc-2', 'nyc');
    await startNode('fra-1', 'fra');
  });

  after(async () => {
    for (const edge of nodes.values()) {
      await edge.stop();
      await removeDir(edge.cacheDir);
    }
    await control.stop();
    await removeDir(control.dataDir);
    await origin.stop();
  });

  it('by URL: every node misses afterwards, the status lists each node by PoP', async () => {
    const path = '/url-1?cc=max-age%3D600';
    await warm(path);
    const before = await originCount(origin, '/url-1');
    const { status } = await purge({ files: [`http://${HOST}${path}`] });
    assert.deepEqual(
      status.pops.map((p) => [p.name, p.applied, p.total]),
      [
        ['fra', 1, 1],
        ['nyc', 2, 2],
      ],
    );
    for (const pop of status.pops)
      for (const node of pop.nodes)
        assert.ok(!Number.isNaN(Date.parse(node.applied_at ?? '')), 'applied_at is a time');
    for (const edge of all()) assert.match(cacheStatus(await get(edge, path)), /fwd=uri-miss/);
    // One refetch per PoP: nyc's owner of the key (the other nyc node fetches through it) and fra-1.
    assert.equal(await originCount(origin, '/url-1'), before + 2);
  });

  it('by URL removes every Vary variant; {url, headers} removes only that variant', async () => {
    const path = '/vary-1?cc=max-age%3D600&vary=accept-encoding';
    const gzip = { 'accept-encoding': 'gzip' };
    const br = { 'accept-encoding': 'br' };
    await warm(path, gzip);
    await warm(path, br);
    await purge({ files: [`http://${HOST}${path}`] });
    await assertEverywhere(path, false, gzip);
    await assertEverywhere(path, false, br);
    await warm(path, gzip);
    await warm(path, br);
    await purge({ files: [{ url: `http://${HOST}${path}`, headers: { 'Accept-Encoding': 'gzip' } }] });
    await assertEverywhere(path, false, gzip);
    await assertEverywhere(path, true, br);
  });

  it('by prefix, host and tag: only what matches', async () => {
    await warm('/pre/a?cc=max-age%3D600');
    await warm('/pre/b/c?cc=max-age%3D600');
    await warm('/prefixless?cc=max-age%3D600');
    await purge({ prefixes: [`${HOST}/pre/`] });
    await assertEverywhere('/pre/a?cc=max-age%3D600', false);
    await assertEverywhere('/pre/b/c?cc=max-age%3D600', false);
    await assertEverywhere('/prefixless?cc=max-age%3D600', true);

    await warm('/h?cc=max-age%3D600', {}, HOST2);
    await warm('/h?cc=max-age%3D600');
    await purge({ hosts: [HOST2] });
    await assertEverywhere('/h?cc=max-age%3D600', false, {}, HOST2);
    await assertEverywhere('/h?cc=max-age%3D600', true);

    await warm('/t1?cc=max-age%3D600&tags=red,blue');
    await warm('/t2?cc=max-age%3D600&tags=blue');
    await warm('/t3?cc=max-age%3D600&tags=green');
    const tagged = await get(all()[0] as EdgeProc, '/t1?cc=max-age%3D600&tags=red,blue');
    assert.equal(tagged.headers['cache-tag'], undefined, 'Cache-Tag is stripped before the client');
    await purge({ tags: ['blue'] });
    await assertEverywhere('/t1?cc=max-age%3D600&tags=red,blue', false);
    await assertEverywhere('/t2?cc=max-age%3D600&tags=blue', false);
    await assertEverywhere('/t3?cc=max-age%3D600&tags=green', true);
  });

  it('purge_everything empties the zone and leaves other zones alone', async () => {
    await warm('/every-1?cc=max-age%3D600');
    await warm('/every-2?cc=max-age%3D600', {}, HOST2);
    await warm('/every-3?cc=max-age%3D600', {}, 'other.test');
    await purge({ purge_everything: true });
    await assertEverywhere('/every-1?cc=max-age%3D600', false);
    await assertEverywhere('/every-2?cc=max-age%3D600', false, {}, HOST2);
    await assertEverywhere('/every-3?cc=max-age%3D600', true, {}, 'other.test');
  });

  it('soft: the stale copy serves under stale-while-revalidate while one revalidation goes to the origin', async () => {
    const path = '/soft-swr?cc=max-age%3D600%2C%20stale-while-revalidate%3D600&etag=%22v1%22';
    await warm(path);
    const before = await originCount(origin, '/soft-swr');
    await purge({ files: [`http://${HOST}${path}`], soft: true });
    const node = all()[0] as EdgeProc;
    const reply = await get(node, path);
    assert.equal(reply.status, 200);
    assert.match(cacheStatus(reply), /hit; ttl=-?\d+; fwd=stale|fwd=stale|stale/);
    await sleep(200);
    assert.ok((await originCount(origin, '/soft-swr')) > before, 'a revalidation reached the origin');
    assert.ok(isHit(await get(node, path)), 'fresh again after the revalidation');
  });

  it('soft without stale windows: the next request revalidates (304) instead of refetching', async () => {
    const path = '/soft-pre/x?cc=max-age%3D600&etag=%22v1%22';
    await warm(path);
    const before = await originCount(origin, '/soft-pre/x');
    await purge({ prefixes: [`${HOST}/soft-pre/`], soft: true });
    // The first request in each PoP revalidates at the key's owner (304); the rest hit the refreshed copy.
    const statuses: string[] = [];
    for (const edge of all()) statuses.push(cacheStatus(await get(edge, path)));
    for (const status of statuses) assert.match(status, /fwd=stale; fwd-status=304|; hit/);
    assert.equal(
      statuses.filter((s) => /fwd=stale; fwd-status=304/.test(s)).length >= 2,
      true,
      statuses.join(' | '),
    );
    assert.equal(
      await originCount(origin, '/soft-pre/x'),
      before + 2,
      'one revalidation per PoP, no refetch',
    );
    for (const edge of all()) assert.ok(isHit(await get(edge, path)), 'fresh again');
  });

  it('a fill that started before the purge is served but not stored', async () => {
    const node = all()[0] as EdgeProc;
    for (const body of [
      (p: string) => ({ files: [`http://${HOST}${p}`] }),
      () => ({ prefixes: [`${HOST}/race-`] }),
    ]) {
      const path = `/race-${Math.random().toString(36).slice(2)}?cc=max-age%3D600&delay=600`;
      const inFlight = get(node, path);
      await sleep(200);
      await purge(body(path));
      const first = await inFlight;
      assert.equal(first.status, 200);
      const next = await get(node, path);
      assert.ok(!isHit(next), `the racing fill must not be stored as fresh: ${cacheStatus(next)}`);
    }
  });

  it('a node down during the purge applies it before serving from its cache again', async () => {
    const path = '/down-1?cc=max-age%3D600';
    await warm(path);
    const away = nodes.get('fra-1') as EdgeProc;
    await away.stop();
    nodes.delete('fra-1');
    // The control plane notices (node-stale 2 s); the purge completes without the dead node.
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline) {
      const list = (await admin('GET', '/client/v4/nodes')).body.result as { name: string; status: string }[];
      if (list.find((n) => n.name === 'fra-1')?.status === 'down') break;
      await sleep(100);
    }
    const { id, status } = await purge({ files: [`http://${HOST}${path}`] });
    const fra = status.pops.find((p) => p.name === 'fra');
    assert.deepEqual(
      fra?.nodes.map((n) => [n.status, n.applied]),
      [['down', false]],
    );
    const back = await startNode('fra-1', 'fra', away.cacheDir);
    assert.match(cacheStatus(await get(back, path)), /fwd=uri-miss/, 'the purged object is not served');
    // Its receipt follows (sent 50 ms after the purges it applied at start).
    let applied: boolean | undefined;
    for (const deadline = Date.now() + 3_000; applied !== true && Date.now() < deadline; await sleep(50)) {
      const after = (await admin('GET', `/client/v4/zones/${zoneId}/purge_cache/${id}`)).body
        .result as PurgeStatus;
      applied = after.pops.find((p) => p.name === 'fra')?.nodes[0]?.applied;
    }
    assert.equal(applied, true);
  });

  it('validates input, names the field, scopes tokens, and rate-limits with 429', async () => {
    const path = `/client/v4/zones/${zoneId}/purge_cache`;
    const bad = async (body: unknown, field: RegExp): Promise<void> => {
      const res = await admin('POST', path, body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.match(res.body.errors.map((e) => e.message).join('; '), field);
    };
    await bad({}, /exactly one of/);
    await bad({ files: ['http://purge.test/a'], tags: ['x'] }, /exactly one of/);
    await bad({ files: ['not a url'] }, /files\.0/);
    await bad({ files: ['http://elsewhere.test/a'] }, /files\.0: elsewhere\.test is not a hostname/);
    await bad({ prefixes: ['/no-host'] }, /prefixes\.0/);
    await bad({ hosts: ['other.test'] }, /hosts\.0/);
    await bad({ tags: ['has space'] }, /tags\.0/);
    await bad({ files: Array.from({ length: 501 }, (_, i) => `http://purge.test/${i}`) }, /files/);
    await bad({ purge_everything: false }, /purge_everything/);
    await bad({ purge_everything: true, extra: 1 }, /extra|Unrecognized/i);
    assert.equal(
      (await admin('POST', '/client/v4/zones/nope/purge_cache', { purge_everything: true })).status,
      404,
    );
    assert.equal((await admin('GET', `${path}/nope`)).status, 404);
    assert.equal((await api(control.url, null, 'POST', path, { purge_everything: true })).status, 401);
    const scoped = (
      await admin('POST', '/client/v4/tokens', {
        name: 'other-purger',
        scopes: ['purge'],
        zones: [otherZoneId],
      })
    ).body.result.value;
    assert.equal((await api(control.url, scoped, 'POST', path, { purge_everything: true })).status, 403);
    const reader = (await admin('POST', '/client/v4/tokens', { name: 'reader', scopes: ['zones:read'] })).body
      .result.value;
    assert.equal((await api(control.url, reader, 'POST', path, { purge_everything: true })).status, 403);

    // Burst of 60 per zone, then 1/s (this control plane's flags): the other zone has used none yet.
    const other = `/client/v4/zones/${otherZoneId}/purge_cache`;
    const statuses: number[] = [];
    let retryAfter: string | undefined;
    for (let i = 0; i < 70; i++) {
      const res = await fetchReply(`${control.url}${other}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${control.adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ files: [`http://other.test/${i}`] }),
      });
      statuses.push(res.status);
      if (res.status === 429) retryAfter = String(res.headers['retry-after']);
    }
    assert.ok(statuses.slice(0, 60).every((s) => s === 200));
    // 1/s refills the bucket while the calls run: a slow machine may see a 200 among them.
    assert.ok(statuses.slice(60).filter((s) => s === 429).length >= 8, statuses.join(','));
    assert.match(retryAfter ?? '', /^\d+$/);
  });

  it('meridian purge --wait shows progress per PoP until complete', async () => {
    await warm('/cli-1?cc=max-age%3D600');
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [CLI, 'purge', '--zone', 'purge-site', '--url', `http://${HOST}/cli-1?cc=max-age%3D600`, '--wait'],
      { env: { ...process.env, MERIDIAN_API: control.url, MERIDIAN_TOKEN: control.adminToken } },
    );
    assert.match(stdout, /purge [0-9a-f]{32} accepted/);
    assert.match(stdout, /fra 1\/1 applied {2}nyc 2\/2 applied/);
    const done =
      /complete: every node applied the purge in (\d+) ms \(the last, (\S+), applied it (\d+) ms after it was accepted, by its clock\)/.exec(
        stdout,
      );
    assert.ok(done, stdout);
    // The nodes' own times come before --wait saw the last receipt (receipts leave 50 ms later).
    assert.ok(Number(done[3]) <= Number(done[1]), stdout);
    assert.match(done[2] as string, /^(fra|nyc)-/);
    await assertEverywhere('/cli-1?cc=max-age%3D600', false);
  });

  const runCli = async (
    args: string[],
    api = control.url,
    token = control.adminToken,
  ): Promise<{ code: number; stdout: string; stderr: string }> => {
    try {
      const { stdout, stderr } = await promisify(execFile)(process.execPath, [CLI, ...args], {
        env: { ...process.env, MERIDIAN_API: api, MERIDIAN_TOKEN: token },
      });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };

  it('meridian purge --wait names a node that is down, per PoP, and completes with the others', async () => {
    const away = nodes.get('nyc-2') as EdgeProc;
    await away.stop();
    nodes.delete('nyc-2');
    await removeDir(away.cacheDir);
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(100)) {
      const list = (await admin('GET', '/client/v4/nodes')).body.result as { name: string; status: string }[];
      if (list.find((n) => n.name === 'nyc-2')?.status === 'down') break;
    }
    const url = `http://${HOST}/cli-2`;
    const res = await runCli(['purge', '--zone', 'purge-site', '--url', url, '--wait']);
    assert.equal(res.code, 0, res.stdout + res.stderr);
    assert.match(res.stdout, /fra 1\/1 applied {2}nyc 1 applied, 1 down \(nyc-2\)/);
    assert.match(res.stdout, /complete: 2 of 3 nodes applied the purge; down: nyc-2 .* in \d+ ms/);
    const json = await runCli(['purge', '--zone', 'purge-site', '--url', url, '--wait', '--json']);
    assert.equal(json.code, 0, json.stderr);
    const status = JSON.parse(json.stdout) as PurgeStatus & {
      outcome: string;
      nodes: { total: number; applied: number; down: number; pending: number };
    };
    assert.equal(status.outcome, 'complete');
    assert.deepEqual(status.nodes, { total: 3, applied: 2, down: 1, pending: 0 });
    const nyc = status.pops.find((p) => p.name === 'nyc');
    assert.deepEqual(
      nyc?.nodes.map((n) => [n.name, (n as { state?: string }).state]),
      [
        ['nyc-1', 'applied'],
        ['nyc-2', 'down'],
      ],
    );
  });

  it('meridian purge --wait exits 1 after --timeout naming a live node that has not applied it', async () => {
    // A node that registers and heart-beats an old seq but never applies anything: up, and pending.
    await admin('PUT', '/client/v4/pops/zzz', { city: 'Nowhere', latitude: 0, longitude: 0 });
    const node = (method: string, path: string, body: unknown) =>
      api(control.url, nodeToken, method, path, body);
    const reg = await node('POST', '/internal/v1/nodes/register', {
      name: 'zzz-1',
      pop: 'zzz',
      url: 'http://127.0.0.1:9',
      admin_url: null,
    });
    assert.equal(reg.status, 200, JSON.stringify(reg.body.errors));
    const beat = setInterval(
      () =>
        void node('POST', '/internal/v1/nodes/zzz-1/heartbeat', { applied_seq: 0 }).catch(() => undefined),
      500,
    );
    try {
      const url = `http://${HOST}/cli-3`;
      const res = await runCli(['purge', '--zone', 'purge-site', '--url', url, '--wait', '--timeout', '1s']);
      assert.equal(res.code, 1, res.stdout + res.stderr);
      assert.match(res.stdout, /zzz 1 pending \(zzz-1\)/);
      assert.match(res.stderr, /not complete after 1s: pending: zzz-1; down: nyc-2/);
      assert.doesNotMatch(res.stdout, /complete:/);
    } finally {
      clearInterval(beat);
    }
  });

  it('meridian purge --wait with no node registered, or every node down, says so and exits 1', async () => {
    const empty = await startControlProcess({ extra: ['--node-stale', '1s'] });
    try {
      const call = (method: string, path: string, body?: unknown) =>
        api(empty.url, empty.adminToken, method, path, body);
      await call('POST', '/client/v4/zones', {
        name: 'lonely',
        hostnames: ['lonely.test'],
        origins: [{ url: origin.url }],
      });
      const args = ['purge', '--zone', 'lonely', '--url', 'http://lonely.test/x', '--wait'];
      const res = await runCli(args, empty.url, empty.adminToken);
      assert.equal(res.code, 1, res.stdout + res.stderr);
      assert.doesNotMatch(res.stdout, /complete/);
      assert.match(res.stderr, /not confirmed: no node is registered/);
      const json = await runCli([...args, '--json'], empty.url, empty.adminToken);
      assert.equal(json.code, 1);
      assert.equal((JSON.parse(json.stdout) as { outcome: string }).outcome, 'no-nodes');
      // One node that registers and falls silent: once it is down, nothing confirms a purge either.
      await call('PUT', '/client/v4/pops/nyc', { city: 'New York', latitude: 40.7, longitude: -74 });
      const token = (await call('POST', '/client/v4/tokens', { name: 'n', scopes: ['node'] })).body.result
        .value as string;
      const node = { name: 'gone-1', pop: 'nyc', url: 'http://127.0.0.1:9', admin_url: null };
      assert.equal((await api(empty.url, token, 'POST', '/internal/v1/nodes/register', node)).status, 200);
      for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(100)) {
        const list = (await call('GET', '/client/v4/nodes')).body.result as { status: string }[];
        if (list[0]?.status === 'down') break;
      }
      const down = await runCli(args, empty.url, empty.adminToken);
      assert.equal(down.code, 1, down.stdout + down.stderr);
      assert.match(down.stdout, /nyc 1 down \(gone-1\)/);
      assert.match(
        down.stderr,
        /not confirmed: no node applied the purge, every registered node is down; down: gone-1/,
      );
    } finally {
      await empty.stop();
      await removeDir(empty.dataDir);
    }
  });
});
