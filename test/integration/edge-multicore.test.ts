// Issue 14: one node on every core. With --workers 2 the node is still one cache: a URL costs the
// origin one fetch, whichever worker each request lands on; a purge reaches every worker; the disk
// bound holds for the node; /metrics sums the workers. A worker killed under load costs at most its
// requests in flight and is replaced; SIGUSR2 replaces every worker without a failed request.
import assert from 'node:assert/strict';
import { readdir, stat } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Agent, request } from 'undici';
import {
  api,
  originCount,
  removeDir,
  startControlProcess,
  startEdgeProcess,
  startTestOrigin,
} from '../helpers/processes.ts';
import type { ControlProc, EdgeProc, Proc } from '../helpers/processes.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Answer {
  status: number;
  cacheStatus: string;
  originCount: number;
}

/** One GET on a connection of its own: the primary hands each new connection to the next worker. */
function getFresh(url: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent: false, headers: { connection: 'close', ...headers } }, (res) => {
      res.resume();
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          cacheStatus: String(res.headers['cache-status']),
          originCount: Number(res.headers['x-origin-count'] ?? 0),
        }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

async function metricValue(adminUrl: string, line: RegExp): Promise<number> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  let sum = 0;
  for (const l of text.split('\n')) if (line.test(l)) sum += Number(l.split(' ').pop());
  return sum;
}

/** Bytes of every file under `dir`. */
async function bytesUnder(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += (await stat(join(entry.parentPath, entry.name))).size;
  }
  return total;
}

/** Worker pids from the node's log, in start order. */
function workerPids(edge: EdgeProc): number[] {
  const pids: number[] = [];
  for (const line of edge
    .stderr()
    .split('\n')
    .concat((edge.stdout?.() ?? '').split('\n'))) {
    const match = /"msg":"worker started".*"pid":(\d+)/.exec(line);
    if (match !== null) pids.push(Number(match[1]));
  }
  return pids;
}

/**
 * `clients` loops of GETs over keep-alive connections for `durationMs` (bounded in time and count);
 * `during` runs once the load is on. Counts answers and failures.
 */
async function underLoad(
  url: (i: number) => string,
  clients: number,
  durationMs: number,
  during: () => Promise<void>,
): Promise<{ ok: number; failed: number; errors: string[] }> {
  const dispatcher = new Agent({ connections: clients, keepAliveTimeout: 4_000 });
  const result = { ok: 0, failed: 0, errors: [] as string[] };
  const deadline = Date.now() + durationMs;
  const loop = async (c: number): Promise<void> => {
    for (let i = 0; Date.now() < deadline && i < 20_000; i++) {
      try {
        const res = await request(url(c * 7 + i), { dispatcher, headersTimeout: 10_000 });
        await res.body.dump();
        if (res.statusCode === 200) result.ok++;
        else {
          result.failed++;
          result.errors.push(`status ${res.statusCode}`);
        }
      } catch (err) {
        result.failed++;
        result.errors.push((err as Error).message);
      }
    }
  };
  const loops = Array.from({ length: clients }, (_, c) => loop(c));
  await sleep(300);
  await during();
  await Promise.all(loops);
  await dispatcher.close();
  return result;
}

async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('edge --workers 2, standalone', () => {
  let origin: Proc;
  let edge: EdgeProc;

  before(async () => {
    origin = await startTestOrigin();
    edge = await startEdgeProcess(
      origin.url,
      ['--workers', '2', '--disk-cache-size', '400KB', '--memory-cache-size', '64KB'],
      { admin: true },
    );
  });

  after(async () => {
    await edge.stop();
    await removeDir(edge.cacheDir);
    await origin.stop();
  });

  it('fetches a URL from the origin once for the node, whichever worker each request reaches', async () => {
    // Concurrent misses on fresh connections (both workers), then hits; the origin is slow so they overlap.
    for (let u = 0; u < 6; u++) {
      const path = `/once-${u}`;
      const url = `${edge.url}${path}?cc=max-age%3D600&delay=200`;
      const answers = await Promise.all(Array.from({ length: 6 }, () => getFresh(url)));
      assert.ok(answers.every((a) => a.status === 200));
      const again = await Promise.all(Array.from({ length: 4 }, () => getFresh(url)));
      for (const a of again) assert.match(a.cacheStatus, /^meridian; hit/, 'one Cache-Status entry, a hit');
      assert.equal(await originCount(origin, path), 1, `${path} fetched once by the node`);
    }
    // The requests reached both workers, and each keeps every object in its memory (the owner's copy
    // and the other worker's): 6 objects, 12 in memory.
    const inMemory = await metricValue(
      edge.adminUrl as string,
      /^meridian_edge_cache_objects\{tier="memory"\}/,
    );
    assert.equal(inMemory, 12);
    // Both workers own keys: each shard holds objects.
    const shards = (await readdir(edge.cacheDir)).filter((n) => n.startsWith('shard-')).sort();
    assert.deepEqual(shards, ['shard-0-of-2', 'shard-1-of-2']);
  });

  it('sums every worker in one /metrics', async () => {
    const admin = edge.adminUrl as string;
    const before = await metricValue(admin, /^meridian_edge_requests_total\{/);
    const fillsBefore = await metricValue(admin, /^meridian_edge_upstream_fetches_total\{outcome="fill"\}/);
    for (let i = 0; i < 10; i++) await getFresh(`${edge.url}/metrics-${i % 2}?cc=max-age%3D600`);
    assert.equal((await metricValue(admin, /^meridian_edge_requests_total\{/)) - before, 10);
    // Two objects: two fills for the node (a fill through the owner worker is counted once, there).
    const fills = await metricValue(admin, /^meridian_edge_upstream_fetches_total\{outcome="fill"\}/);
    assert.equal(fills - fillsBefore, 2);
    assert.equal(await metricValue(admin, /^meridian_edge_cache_max_bytes\{tier="disk"\}/), 409_600);
  });

  it('holds the disk bound across workers', async () => {
    for (let i = 0; i < 40; i++) await getFresh(`${edge.url}/big-${i}?cc=max-age%3D600&size=30000`);
    await sleep(300);
    const stored = await metricValue(edge.adminUrl as string, /^meridian_edge_cache_bytes\{tier="disk"\}/);
    assert.ok(stored <= 409_600, `disk tier holds ${stored} bytes`);
    assert.ok(stored > 200_000, `both shards are used: ${stored} bytes`);
    let onDisk = 0;
    for (const name of await readdir(edge.cacheDir))
      if (name.startsWith('shard-')) onDisk += await bytesUnder(join(edge.cacheDir, name));
    assert.ok(onDisk <= 409_600 * 1.05, `files under the shards: ${onDisk} bytes`);
  });

  it('replaces a worker killed under load; only its requests in flight fail', async () => {
    const clients = 4;
    const [victim] = workerPids(edge).slice(-2);
    const load = await underLoad(
      (i) => `${edge.url}/load-${i % 8}?cc=max-age%3D600`,
      clients,
      2_500,
      async () => {
        process.kill(victim as number, 'SIGKILL');
      },
    );
    assert.ok(load.ok > 100, `answers under load: ${load.ok}`);
    assert.ok(load.failed <= clients, `failed ${load.failed}: ${load.errors.slice(0, 5).join('; ')}`);
    await waitFor('the replacement worker', () =>
      /worker died; restarting it/.test((edge.stdout?.() ?? '') + edge.stderr()),
    );
    await waitFor('a new worker', () => workerPids(edge).length >= 3);
    const after = await Promise.all(
      Array.from({ length: 6 }, (_, i) => getFresh(`${edge.url}/load-${i}?cc=max-age%3D600`)),
    );
    assert.ok(after.every((a) => a.status === 200));
  });

  it('replaces every worker on SIGUSR2 without a failed request', async () => {
    const pidsBefore = workerPids(edge).length;
    const kept = `${edge.url}/kept?cc=max-age%3D600`;
    await getFresh(kept);
    const load = await underLoad(
      (i) => `${edge.url}/swap-${i % 8}?cc=max-age%3D600`,
      4,
      4_000,
      async () => {
        edge.child.kill('SIGUSR2');
      },
    );
    await waitFor(
      'the replacement',
      () => /"workers replaced"/.test((edge.stdout?.() ?? '') + edge.stderr()),
      60_000,
    );
    assert.equal(load.failed, 0, load.errors.slice(0, 5).join('; '));
    assert.ok(load.ok > 100, `answers under load: ${load.ok}`);
    assert.equal(workerPids(edge).length, pidsBefore + 2, 'two new workers');
    // The cache survived the swap: the new workers open the same shards.
    // A worker without the object in memory gets it from its owner's disk: a hit for the node.
    const answers = await Promise.all(Array.from({ length: 4 }, () => getFresh(kept)));
    for (const a of answers) assert.match(a.cacheStatus, /^meridian; hit/);
    assert.equal(await originCount(origin, '/kept'), 1);
  });
});

describe('edge --workers 2, managed', () => {
  let origin: Proc;
  let control: ControlProc;
  let edge: EdgeProc;
  let zoneId: string;
  const HOST = 'multicore.test';
  const admin = (method: string, path: string, body?: unknown) =>
    api(control.url, control.adminToken, method, path, body);

  before(async () => {
    origin = await startTestOrigin();
    control = await startControlProcess();
    const nodeToken = (await admin('POST', '/client/v4/tokens', { name: 'nodes', scopes: ['node'] })).body
      .result.value as string;
    await admin('PUT', '/client/v4/pops/nyc', { city: 'New York', latitude: 40.7, longitude: -74 });
    zoneId = (
      await admin('POST', '/client/v4/zones', {
        name: 'multicore',
        hostnames: [HOST],
        origins: [{ url: origin.url }],
      })
    ).body.result.id as string;
    edge = await startEdgeProcess(
      '',
      ['--control', control.url, '--pop', 'nyc', '--node', 'nyc-1', '--token', nodeToken, '--workers', '2'],
      { noOrigin: true, admin: true },
    );
  });

  after(async () => {
    await edge.stop();
    await removeDir(edge.cacheDir);
    await control.stop();
    await removeDir(control.dataDir);
    await origin.stop();
  });

  it('applies a purge in every worker before the node reports it applied', async () => {
    const path = '/purged?cc=max-age%3D600';
    const url = `${edge.url}${path}`;
    const get = () => getFresh(url, { host: HOST });
    await waitFor('the zone', async () => (await get()).status === 200);
    // Warm both workers' memory (fresh connections alternate between them).
    for (let i = 0; i < 6; i++) await get();
    const warm = await Promise.all(Array.from({ length: 6 }, get));
    assert.ok(
      warm.every((a) => /hit/.test(a.cacheStatus)),
      warm.map((a) => a.cacheStatus).join(' | '),
    );
    const countBefore = await originCount(origin, '/purged');
    assert.equal(countBefore, 1);
    const res = await admin('POST', `/client/v4/zones/${zoneId}/purge_cache`, {
      files: [`http://${HOST}${path}`],
    });
    assert.equal(res.status, 200);
    const id = res.body.result.id as string;
    await waitFor('the purge to complete', async () => {
      const status = await admin('GET', `/client/v4/zones/${zoneId}/purge_cache/${id}`);
      return status.body.result.complete === true;
    });
    // No worker serves the copy from before the purge; the node refetches once.
    const after = await Promise.all(Array.from({ length: 6 }, get));
    for (const a of after) assert.ok(a.originCount > countBefore, `old copy served: ${a.cacheStatus}`);
    assert.equal(await originCount(origin, '/purged'), 2);
    const health = (await (await fetch(`${edge.adminUrl as string}/healthz`)).json()) as {
      workers: number;
      live: number;
      node: string;
    };
    assert.deepEqual([health.node, health.workers, health.live], ['nyc-1', 2, 2]);
  });
});
