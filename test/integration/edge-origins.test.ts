// Issue 5, origins: several origins per zone with weights, active health checks, a circuit breaker
// fed by real requests, failover within one request, and fast answers when every origin is down.
// Real processes: a control plane, a managed edge, four test origins. Each zone sets its own
// host_header, so its origins' health records (and metric labels) are its own.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
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

const FAST_CHECK = { interval_sec: 1, timeout_ms: 500, healthy_threshold: 1, unhealthy_threshold: 2 };

describe('edge origins: weights, health checks, circuit breaker, failover', () => {
  let control: ControlProc;
  let edge: EdgeProc;
  let a: Proc;
  let b: Proc;
  let c: Proc;
  /** The origin this file kills. */
  let d: Proc;

  const get = (host: string, path: string, init: { method?: string; body?: string } = {}): Promise<Reply> =>
    fetchReply(`${edge.url}${path}`, { ...init, headers: { host } });
  const override = (origin: Proc, path: string, params: string) =>
    fetchReply(`${origin.url}/__override?path=${encodeURIComponent(path)}&${params}`, { method: 'POST' });

  /** A metric's value for these labels, undefined when absent. */
  async function metric(name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
    const text = (await fetchReply(`${edge.adminUrl}/metrics`)).body.toString();
    for (const line of text.split('\n')) {
      if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
      if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) {
        return Number(line.slice(line.lastIndexOf(' ') + 1));
      }
    }
    return undefined;
  }
  const upOf = (origin: Proc, host: string) =>
    metric('meridian_edge_origin_up', { origin: origin.url, host });

  async function eventually(check: () => Promise<boolean>, ms = 8_000): Promise<number> {
    const started = Date.now();
    while (Date.now() - started < ms) {
      if (await check()) return Date.now() - started;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`not within ${ms} ms`);
  }

  /** `n` sequential requests; returns their statuses. */
  async function burst(host: string, path: string, n: number): Promise<number[]> {
    const statuses: number[] = [];
    for (let i = 0; i < n; i++) statuses.push((await get(host, path)).status);
    return statuses;
  }

  before(async () => {
    [a, b, c, d] = await Promise.all([
      startTestOrigin(),
      startTestOrigin(),
      startTestOrigin(),
      startTestOrigin(),
    ]);
    control = await startControlProcess();
    const admin = (method: string, path: string, body?: unknown) =>
      api(control.url, control.adminToken, method, path, body);
    const nodeToken = (await admin('POST', '/client/v4/tokens', { name: 'nodes', scopes: ['node'] })).body
      .result.value as string;
    await admin('PUT', '/client/v4/pops/test', { city: 'Testville', latitude: 1, longitude: 2 });
    const zone = async (name: string, origins: Record<string, unknown>[]) => {
      const created = await admin('POST', '/client/v4/zones', {
        name,
        hostnames: [`${name}.test`],
        origins: origins.map((o) => ({ host_header: `${name}.test`, ...o })),
      });
      assert.equal(created.status, 201, JSON.stringify(created.body.errors));
    };
    await zone('weights', [
      { url: a.url, weight: 3 },
      { url: b.url, weight: 1 },
    ]);
    await zone('failover', [{ url: a.url }, { url: d.url }]);
    await zone('checks', [
      { url: a.url, health_check: { path: '/hc-checks', ...FAST_CHECK } },
      { url: b.url, health_check: { path: '/hc-checks', ...FAST_CHECK } },
    ]);
    await zone('stale', [
      { url: b.url, health_check: { path: '/hc-stale', ...FAST_CHECK, unhealthy_threshold: 1 } },
      { url: c.url, health_check: { path: '/hc-stale', ...FAST_CHECK, unhealthy_threshold: 1 } },
    ]);
    await zone('breaker', [
      { url: b.url, circuit_breaker: { failures: 3, cooldown_sec: 1 } },
      { url: c.url, circuit_breaker: { failures: 3, cooldown_sec: 1 } },
    ]);
    edge = await startEdgeProcess(
      '',
      ['--control', control.url, '--pop', 'test', '--node', 'origins-1', '--token', nodeToken],
      { noOrigin: true, admin: true },
    );
  });

  after(async () => {
    await edge?.stop();
    if (edge !== undefined) await removeDir(edge.cacheDir);
    await control?.stop();
    if (control !== undefined) await removeDir(control.dataDir);
    await Promise.all([a, b, c, d].map((o) => o?.stop()));
  });

  it('the zone rejects a health_check_path that contradicts health_check.path', async () => {
    const res = await api(control.url, control.adminToken, 'POST', '/client/v4/zones', {
      name: 'bad',
      hostnames: ['bad.test'],
      origins: [{ url: a.url, health_check_path: '/x', health_check: { path: '/y' } }],
    });
    assert.equal(res.status, 400);
    assert.match(JSON.stringify(res.body.errors), /origins\.0\.health_check_path/);
  });

  it('weights 3:1 send three requests to the first origin for each one to the second', async () => {
    const statuses = await burst('weights.test', '/w?cc=no-store', 40);
    assert.ok(statuses.every((s) => s === 200));
    const onA = await originCount(a, '/w');
    const onB = await originCount(b, '/w');
    assert.equal(onA + onB, 40);
    assert.ok(onA >= 28 && onA <= 32, `${onA}:${onB}`);
  });

  it('an origin killed mid-test loses no request: each one fails over within the request', async () => {
    await burst('failover.test', '/f?cc=no-store', 4);
    assert.ok((await originCount(d, '/f')) > 0, 'the doomed origin was serving');
    const statuses: number[] = [];
    let isRunning = true;
    const load = (async () => {
      while (isRunning) statuses.push((await get('failover.test', '/f?cc=no-store')).status);
    })();
    await new Promise((r) => setTimeout(r, 200));
    await d.stop();
    await new Promise((r) => setTimeout(r, 800));
    isRunning = false;
    await load;
    statuses.push(...(await burst('failover.test', '/f?cc=no-store', 10)));
    assert.ok(statuses.length > 20);
    assert.deepEqual(
      statuses.filter((s) => s !== 200),
      [],
      'every request succeeded',
    );
    assert.ok(((await metric('meridian_edge_origin_failovers_total')) ?? 0) > 0, 'failovers happened');
    // Passive failures opened the dead origin's circuit: it is skipped without a connection attempt.
    assert.equal(await upOf(d, 'failover.test'), 0);
    assert.equal(
      await metric('meridian_edge_origin_circuit_open', { origin: d.url, host: 'failover.test' }),
      1,
    );
  });

  it('an origin whose health check fails stops getting traffic, and gets it again once it passes', async () => {
    await burst('checks.test', '/c?cc=no-store', 2); // first use starts the checks
    await eventually(async () => (await upOf(b, 'checks.test')) === 1);
    await override(b, '/hc-checks', 'status=500');
    const downMs = await eventually(async () => (await upOf(b, 'checks.test')) === 0);
    const before = await originCount(b, '/c');
    assert.deepEqual(new Set(await burst('checks.test', '/c?cc=no-store', 20)), new Set([200]));
    assert.equal(await originCount(b, '/c'), before, 'no request reached the origin marked down');
    await override(b, '/hc-checks', 'status=200');
    const upMs = await eventually(async () => (await upOf(b, 'checks.test')) === 1);
    await burst('checks.test', '/c?cc=no-store', 20);
    const back = (await originCount(b, '/c')) - before;
    assert.ok(back >= 8 && back <= 12, `${back} of 20 after it came back`);
    assert.ok(downMs < 5_000 && upMs < 5_000, `down after ${downMs} ms, up after ${upMs} ms`);
  });

  it('every origin down: stale-if-error content at once, else 503 in well under a second, no connection', async () => {
    const cached = '/s1?cc=max-age%3D1%2C%20stale-if-error%3D600';
    const first = await get('stale.test', cached);
    assert.equal(first.status, 200);
    await new Promise((r) => setTimeout(r, 1_100)); // stale now
    for (const o of [b, c]) await override(o, '/hc-stale', 'status=500');
    await eventually(async () => (await upOf(b, 'stale.test')) === 0 && (await upOf(c, 'stale.test')) === 0);
    const fetchesBefore = (await originCount(b, '/s1')) + (await originCount(c, '/s1'));

    let started = Date.now();
    const stale = await get('stale.test', cached);
    const staleMs = Date.now() - started;
    assert.equal(stale.status, 200);
    assert.deepEqual(stale.body, first.body);
    assert.match(String(stale.headers['cache-status']), /stale-if-error/);
    assert.ok(staleMs < 300, `stale served in ${staleMs} ms`);

    started = Date.now();
    const missing = await get('stale.test', '/s2?cc=max-age%3D60');
    const missMs = Date.now() - started;
    assert.equal(missing.status, 503);
    assert.match(String(missing.headers['cache-status']), /detail="origin-all-down"/);
    assert.ok(missMs < 300, `503 in ${missMs} ms`);
    const post = await get('stale.test', '/s3', { method: 'POST', body: 'x' });
    assert.equal(post.status, 503);

    const fetchesAfter = (await originCount(b, '/s1')) + (await originCount(c, '/s1'));
    assert.equal(fetchesAfter, fetchesBefore, 'no request went to an origin marked down');
    for (const o of [b, c]) {
      assert.equal(await originCount(o, '/s2'), 0);
      assert.equal(await originCount(o, '/s3'), 0);
    }

    for (const o of [b, c]) await override(o, '/hc-stale', 'status=200');
    await eventually(async () => (await get('stale.test', '/s2?cc=max-age%3D60')).status === 200);
  });

  it('the circuit opens after consecutive failed answers, then a trial after the cool-down closes it', async () => {
    await override(c, '/b', 'status=500');
    // Requests alternate between b and c; c's third 500 in a row opens its circuit.
    const statuses = await burst('breaker.test', '/b?cc=no-store', 6);
    assert.deepEqual(
      statuses.filter((s) => s === 500),
      [500, 500, 500],
      'each 500 is forwarded as it is, not replayed on the other origin',
    );
    assert.equal(await originCount(c, '/b'), 3);
    assert.equal(
      await metric('meridian_edge_origin_circuit_open', { origin: c.url, host: 'breaker.test' }),
      1,
    );
    assert.deepEqual(new Set(await burst('breaker.test', '/b?cc=no-store', 10)), new Set([200]));
    assert.equal(await originCount(c, '/b'), 3, 'an open circuit sends nothing');
    assert.ok(
      ((await metric('meridian_edge_origin_failures_total', { origin: c.url, host: 'breaker.test' })) ?? 0) >=
        3,
    );

    await override(c, '/b', 'status=200');
    await new Promise((r) => setTimeout(r, 1_000)); // the cool-down
    await eventually(async () => {
      await get('breaker.test', '/b?cc=no-store');
      return (await originCount(c, '/b')) > 3;
    });
    assert.equal(
      await metric('meridian_edge_origin_circuit_open', { origin: c.url, host: 'breaker.test' }),
      0,
    );
    await burst('breaker.test', '/b?cc=no-store', 10);
    assert.ok((await originCount(c, '/b')) >= 8, 'closed again: c shares the load');
  });
});
