// Issue 15: analytics from the nodes to the API. Counts and bytes arrive exactly; a control plane
// that restarts while nodes ship loses and doubles nothing; a batch sent twice counts once; bad
// batches, unknown zones, forged tokens, missing scopes and bad ranges are refused with nothing stored.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { emptyTally } from '../../src/common/analytics/tally.ts';
import {
  api,
  CLI,
  fetchReply,
  removeDir,
  startControlProcess,
  startEdgeProcess,
  startTestOrigin,
} from '../helpers/processes.ts';
import type { ControlProc, EdgeProc, Proc } from '../helpers/processes.ts';

const HOST = 'analytics.test';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms ${String(last ?? '')}`);
    await sleep(200);
  }
}

describe('analytics: nodes to API', () => {
  let origin: Proc;
  let control: ControlProc;
  let nodeToken: string;
  let zoneId: string;
  const nodes: EdgeProc[] = [];
  /** What the clients saw, per node: requests, hits and body bytes. */
  const sent = { requests: 0, cached: 0, ownHits: 0, bytes: 0, status404: 0 };
  /** Per node URL: whether each request was a hit of that node's own cache, in order. */
  const hitsAt = new Map<string, boolean[]>();

  const admin = (method: string, path: string, body?: unknown) =>
    api(control.url, control.adminToken, method, path, body);
  const dashboard = async (query = '') =>
    (await admin('GET', `/client/v4/zones/${zoneId}/analytics/dashboard?since=-30${query}`)).body.result;

  /** n requests of a path on a node; counts what the client received. */
  async function traffic(edge: EdgeProc, path: string, n: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      const reply = await fetchReply(`${edge.url}${path}`, {
        headers: { host: HOST, 'user-agent': 'ua-test' },
      });
      sent.requests++;
      sent.bytes += reply.body.length;
      // This node's own entry is the last one (a PoP peer's or shield's entries come before it).
      const entries = String(reply.headers['cache-status']).split(',');
      const isHit = /; hit/.test(entries.at(-1) ?? '');
      // A miss here that the PoP's owner answered from its cache counts as cached (upstream-hit).
      const isUpstreamHit = !isHit && /;\s*hit\s*(;|$)/.test(entries.at(-2) ?? '');
      if (isHit || isUpstreamHit) sent.cached++;
      if (isHit) sent.ownHits++;
      hitsAt.set(edge.url, [...(hitsAt.get(edge.url) ?? []), isHit]);
      if (reply.status === 404) sent.status404++;
    }
  }

  before(async () => {
    origin = await startTestOrigin();
    control = await startControlProcess();
    await admin('PUT', '/client/v4/pops/fra', { city: 'Frankfurt', latitude: 50.1, longitude: 8.7 });
    const zone = await admin('POST', '/client/v4/zones', {
      name: 'analytics',
      hostnames: [HOST],
      origins: [{ url: origin.url }],
    });
    zoneId = zone.body.result.id;
    nodeToken = (await admin('POST', '/client/v4/tokens', { name: 'nodes', scopes: ['node'] })).body.result
      .value;
    for (const name of ['fra-1', 'fra-2']) {
      const cacheDir = join(control.dataDir, name);
      nodes.push(
        await startEdgeProcess(
          '',
          [
            ...['--control', control.url, '--pop', 'fra', '--node', name, '--token', nodeToken],
            ...['--analytics-interval', '500ms', '--access-log', join(cacheDir, 'access.log')],
          ],
          { noOrigin: true, cacheDir, admin: true },
        ),
      );
    }
  });

  after(async () => {
    for (const n of nodes) await n.stop();
    await control?.stop();
    await origin?.stop();
    for (const n of nodes) await removeDir(n.cacheDir);
    if (control !== undefined) await removeDir(control.dataDir);
  });

  it('counts every request and byte exactly, per node, status and cache status', async () => {
    const [a, b] = nodes as [EdgeProc, EdgeProc];
    await traffic(a, '/x?size=1000&cc=max-age%3D600', 5);
    await traffic(b, '/x?size=1000&cc=max-age%3D600', 3);
    await traffic(a, '/y?size=333&cc=no-store', 2);
    await traffic(b, '/missing?status=404&size=10', 1);
    const result = await until('all requests in the API', 15_000, async () => {
      const r = await dashboard();
      return r.totals.requests.all === sent.requests ? r : undefined;
    });
    const t = result.totals;
    assert.equal(t.requests.all, 11);
    assert.equal(t.requests.cached, sent.cached);
    assert.equal(t.requests.uncached, sent.requests - sent.cached);
    assert.equal(t.bandwidth.all, sent.bytes);
    assert.equal(t.requests.http_status['404'], 1);
    assert.equal(t.requests.http_status['200'], 10);
    assert.equal(t.requests.method.GET, 11);
    assert.equal(t.requests.protocol['HTTP/1.1'], 11);
    assert.equal(t.requests.ssl.unencrypted, 11);
    assert.deepEqual(
      t.nodes.map((n: { node: string; requests: number }) => [n.node, n.requests]),
      [
        ['fra-1', 7],
        ['fra-2', 4],
      ],
    );
    assert.deepEqual(
      t.pops.map((p: { pop: string; requests: number }) => [p.pop, p.requests]),
      [['fra', 11]],
    );
    assert.equal(t.top.paths[0].value, '/x');
    assert.equal(t.top.paths[0].requests, 8);
    assert.equal(t.top.user_agents[0].value, 'ua-test');
    assert.equal(t.latency.ttfb_ms.count, 11);
    assert.ok(t.latency.ttfb_ms.p50 > 0 && t.latency.ttfb_ms.p99 >= t.latency.ttfb_ms.p50);
    // Only the requests that went upstream (to the PoP's owner or the origin) have an upstream time.
    assert.equal(t.latency.origin_ms.count, sent.requests - sent.ownHits);
    // Every minute of the range is in the series, and they add up to the totals.
    assert.equal(result.query.resolution, 'minute');
    assert.equal(result.timeseries.length, 31);
    const sum = result.timeseries.reduce(
      (s: number, p: { requests: { all: number } }) => s + p.requests.all,
      0,
    );
    assert.equal(sum, 11);
    // Each node wrote a JSON access log line per request (documented fields).
    const lines = await until('access log lines', 5_000, async () => {
      const text = await readFile(join(a.cacheDir, 'access.log'), 'utf8');
      const parsed = text
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      return parsed.length === 7 ? parsed : undefined;
    });
    assert.equal(lines[0]?.host, HOST);
    assert.equal(lines[0]?.node, 'fra-1');
    assert.equal(lines[0]?.zone_id, zoneId);
    assert.equal(lines[0]?.path, '/x?size=1000&cc=max-age%3D600');
    assert.deepEqual(
      lines.map((l) => l.cache === 'hit'),
      hitsAt.get(a.url),
    );
    assert.equal(lines[0]?.status, 200);
    assert.equal(lines[0]?.bytes, 1000);
  });

  it('loses and doubles nothing when the control plane restarts while the nodes ship', async () => {
    const before = sent.requests;
    await control.stop();
    const [a, b] = nodes as [EdgeProc, EdgeProc];
    await traffic(a, '/x?size=1000&cc=max-age%3D600', 6);
    await traffic(b, '/z?size=50', 4);
    // Several shipping intervals fail while it is away: the batches wait in the nodes' queues.
    await sleep(1_500);
    control = await startControlProcess({ reuse: control });
    const result = await until('the queued batches in the API', 20_000, async () => {
      const r = await dashboard();
      return r.totals.requests.all === before + 10 ? r : undefined;
    });
    assert.equal(result.totals.bandwidth.all, sent.bytes);
    // Some more shipping rounds: nothing arrives twice.
    await sleep(2_000);
    const again = await dashboard();
    assert.equal(again.totals.requests.all, sent.requests);
    assert.equal(again.totals.bandwidth.all, sent.bytes);
  });

  it('counts a batch sent twice once', async () => {
    const tally = emptyTally();
    tally.requests = 2;
    tally.bytes = 20;
    tally.cache = { pass: { requests: 2, bytes: 20 } };
    tally.status = { '200': 2 };
    const minute = new Date(Date.now() - (Date.now() % 60_000)).toISOString();
    const batch = {
      batch_id: randomUUID(),
      node: 'fra-1',
      pop: 'fra',
      minutes: [{ zone_id: zoneId, minute, tally }],
    };
    const node = (body: unknown) =>
      api(control.url, nodeToken, 'POST', '/internal/v1/analytics/batches', body);
    const first = await node(batch);
    assert.equal(first.status, 200);
    assert.equal(first.body.result.duplicate, false);
    const second = await node(batch);
    assert.equal(second.status, 200);
    assert.equal(second.body.result.duplicate, true);
    const r = await dashboard();
    assert.equal(r.totals.requests.all, sent.requests + 2);
    assert.equal(r.totals.requests.cache_status.pass, 2 + (r.totals.requests.cache_status.pass - 2));
  });

  it('refuses bad batches, unknown zones, forged tokens, missing scopes and bad ranges, storing nothing', async () => {
    const baseline = (await dashboard()).totals.requests.all;
    const minute = new Date(Date.now() - (Date.now() % 60_000)).toISOString();
    const good = () => {
      const tally = emptyTally();
      tally.requests = 1;
      tally.cache = { hit: { requests: 1, bytes: 0 } };
      return {
        batch_id: randomUUID(),
        node: 'fra-1',
        pop: 'fra',
        minutes: [{ zone_id: zoneId, minute, tally }],
      };
    };
    const node = (body: unknown, token = nodeToken) =>
      api(control.url, token, 'POST', '/internal/v1/analytics/batches', body);

    const badField = good();
    (badField.minutes[0] as { tally: { requests: number } }).tally.requests = -1;
    let r = await node(badField);
    assert.equal(r.status, 400);
    assert.match(String(r.body.errors[0]?.message), /minutes\.0\.tally\.requests/);

    const extra = { ...good(), surprise: 1 };
    r = await node(extra);
    assert.equal(r.status, 400);
    assert.match(String(r.body.errors[0]?.message), /surprise: unknown field/);

    const unaligned = good();
    (unaligned.minutes[0] as { minute: string }).minute = new Date()
      .toISOString()
      .replace(/:\d\d\.\d+Z$/, ':17.000Z');
    r = await node(unaligned);
    assert.equal(r.status, 400);
    assert.match(String(r.body.errors[0]?.message), /minutes\.0\.minute/);

    const unknownZone = good();
    const other = { ...(good().minutes[0] as (typeof unknownZone.minutes)[number]), zone_id: 'no-such-zone' };
    unknownZone.minutes.push(other as (typeof unknownZone.minutes)[number]);
    r = await node(unknownZone);
    assert.equal(r.status, 404);
    assert.equal(r.body.errors[0]?.code, 1501);
    assert.match(String(r.body.errors[0]?.message), /no-such-zone/);

    const oversized = good();
    (oversized.minutes[0] as { tally: { top: { path: { items: unknown[] } } } }).tally.top.path.items =
      Array.from({ length: 200 }, (_, i) => ['/'.padEnd(2_000, String(i % 10)), 1, 0]);
    const huge = { ...good(), minutes: Array.from({ length: 3 }, () => oversized.minutes[0]) };
    r = await node(huge);
    assert.equal(r.status, 413);

    r = await node(good(), 'mrd_forged_token_that_was_never_issued_aaaaaaaaaaaaa');
    assert.equal(r.status, 401);
    r = await node(good(), control.adminToken.slice(0, -2) + 'xx');
    assert.equal(r.status, 401);
    const unregistered = { ...good(), node: 'ghost-1' };
    r = await node(unregistered);
    assert.equal(r.status, 403);

    // Nothing of those was stored.
    assert.equal((await dashboard()).totals.requests.all, baseline);

    const reader = (await admin('POST', '/client/v4/tokens', { name: 'zones-only', scopes: ['zones:read'] }))
      .body.result.value;
    r = await api(control.url, reader, 'GET', `/client/v4/zones/${zoneId}/analytics/dashboard`);
    assert.equal(r.status, 403);
    assert.match(String(r.body.errors[0]?.message), /analytics:read/);
    r = await api(control.url, nodeToken, 'GET', `/client/v4/zones/${zoneId}/analytics/dashboard`);
    assert.equal(r.status, 403);

    r = await admin(
      'GET',
      `/client/v4/zones/${zoneId}/analytics/dashboard?since=2026-12-03T10:00:00Z&until=2026-12-03T09:00:00Z`,
    );
    assert.equal(r.status, 400);
    assert.equal(r.body.errors[0]?.code, 1502);
    assert.match(String(r.body.errors[0]?.message), /^until: must be after since/);
    r = await admin(
      'GET',
      `/client/v4/zones/${zoneId}/analytics/dashboard?since=2024-01-01T00:00:00Z&until=2026-01-01T00:00:00Z`,
    );
    assert.equal(r.status, 400);
    assert.match(String(r.body.errors[0]?.message), /366 days/);
    r = await admin('GET', `/client/v4/zones/${zoneId}/analytics/dashboard?since=-20000&resolution=minute`);
    assert.equal(r.status, 400);
    assert.match(String(r.body.errors[0]?.message), /^resolution: /);
    r = await admin('GET', `/client/v4/zones/${zoneId}/analytics/dashboard?since=yesterday`);
    assert.equal(r.status, 400);
    assert.match(String(r.body.errors[0]?.message), /^since: expected an ISO 8601 time/);
    r = await admin('GET', `/client/v4/zones/nope/analytics/dashboard`);
    assert.equal(r.status, 404);
  });

  it('shows purges and config changes with when the last node applied them', async () => {
    const purge = await admin('POST', `/client/v4/zones/${zoneId}/purge_cache`, { purge_everything: true });
    assert.equal(purge.status, 200);
    await admin('PATCH', `/client/v4/zones/${zoneId}`, { settings: { default_ttl: 60 } });
    const history = await until('both nodes applied both', 15_000, async () => {
      const r = (await admin('GET', `/client/v4/zones/${zoneId}/analytics/history`)).body.result;
      return r.purges[0]?.complete === true &&
        r.changes[0]?.complete === true &&
        r.changes[0].last_applied_at !== null
        ? r
        : undefined;
    });
    assert.equal(history.purges[0].id, purge.body.result.id);
    assert.equal(history.purges[0].nodes.length, 2);
    assert.ok(history.purges[0].propagation_ms >= 0);
    assert.equal(history.changes[0].type, 'zone.upsert');
    assert.ok(history.changes[0].nodes.every((n: { state: string }) => n.state === 'applied'));
  });

  it('every meridian_* metric of a node and of the control plane is in docs/metrics.md', async () => {
    const doc = await readFile(join(import.meta.dirname, '..', '..', 'docs', 'metrics.md'), 'utf8');
    const [a] = nodes as [EdgeProc];
    const scrape = async (url: string, token?: string) => {
      const res = await request(
        url,
        token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } },
      );
      assert.equal(res.statusCode, 200);
      return res.body.text();
    };
    const texts = [await scrape(`${a.adminUrl}/metrics`), await scrape(`${control.url}/metrics`, nodeToken)];
    const names = new Set(
      texts.flatMap((t) => [...t.matchAll(/^# TYPE (meridian_\S+) /gm)].map((m) => m[1] as string)),
    );
    // prom-client's default process metrics carry the prefix too; docs/metrics.md names them as a group.
    const own = [...names].filter((n) => !/^meridian_(edge|control|dns)_(process_|nodejs_)/.test(n));
    assert.ok(own.includes('meridian_edge_analytics_batches_total'));
    const missing = own.filter((n) => !doc.includes(`\`${n}\``));
    assert.deepEqual(missing, []);
    // The Grafana dashboard queries only documented metrics (or the default process ones).
    const grafana = await readFile(
      join(import.meta.dirname, '..', '..', 'docs', 'grafana-dashboard.json'),
      'utf8',
    );
    const queried = new Set([...grafana.matchAll(/meridian_[a-z0-9_]+/g)].map((m) => m[0]));
    const undocumented = [...queried].filter(
      (n) => !/^meridian_(edge|control|dns)_(process_|nodejs_)/.test(n) && !doc.includes(`\`${n}\``),
    );
    assert.deepEqual(undocumented, []);
    assert.ok((JSON.parse(grafana) as { panels: unknown[] }).panels.length >= 10);
  });

  it("samples the access log by the zone's access_log_sample_rate; counters still count everything", async () => {
    const [a] = nodes as [EdgeProc];
    const lines = async () =>
      (await readFile(join(a.cacheDir, 'access.log'), 'utf8')).trim().split('\n').length;
    const patched = await admin('PATCH', `/client/v4/zones/${zoneId}`, {
      settings: { access_log_sample_rate: 0 },
    });
    assert.equal(patched.status, 200);
    await until('the node applied the change', 10_000, async () => {
      const h = (await admin('GET', `/client/v4/zones/${zoneId}/analytics/history`)).body.result;
      return h.changes[0]?.seq === undefined || !h.changes[0].complete ? undefined : true;
    });
    await sleep(1_500);
    const before = await lines();
    const counted = (await dashboard()).totals.requests.all;
    await traffic(a, '/sampled-out?size=5', 3);
    await sleep(1_500); // the log's buffer is flushed every second
    assert.equal(await lines(), before);
    await until('the three requests counted', 10_000, async () =>
      (await dashboard()).totals.requests.all === counted + 3 ? true : undefined,
    );
    await admin('PATCH', `/client/v4/zones/${zoneId}`, { settings: { access_log_sample_rate: 1 } });
  });

  it('meridian analytics --zone prints the totals the API has', async () => {
    const env = { ...process.env, MERIDIAN_API: control.url, MERIDIAN_TOKEN: control.adminToken };
    const run = (...args: string[]) => promisify(execFile)(process.execPath, [CLI, ...args], { env });
    const api = (await dashboard()).totals;
    const json = JSON.parse((await run('analytics', '--zone', 'analytics', '--since=-30', '--json')).stdout);
    assert.equal(json.totals.requests.all, api.requests.all);
    const text = (await run('analytics', '--zone', 'analytics', '--since=-30')).stdout;
    assert.match(text, new RegExp(`requests   ${api.requests.all}  \\(cached ${api.requests.cached}`));
    assert.match(text, /fra-1 +fra/);
    await assert.rejects(run('tail', '--zone', 'analytics', '--status', '6xx'), /--status: expected a class/);
  });

  it('lists every zone at a glance, and streams live requests to a tail with its filter', async () => {
    const zones = (await admin('GET', '/client/v4/analytics/zones?since=-30')).body.result;
    assert.equal(zones[0].id, zoneId);
    assert.ok(zones[0].requests >= sent.requests);

    const res = await request(`${control.url}/client/v4/zones/${zoneId}/analytics/tail?status=4xx`, {
      headers: { authorization: `Bearer ${control.adminToken}` },
    });
    assert.equal(res.statusCode, 200);
    const lines: Record<string, unknown>[] = [];
    let buffered = '';
    res.body.on('data', (d: Buffer) => {
      buffered += d.toString();
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        lines.push(JSON.parse(buffered.slice(0, nl)) as Record<string, unknown>);
        buffered = buffered.slice(nl + 1);
      }
    });
    const [a] = nodes as [EdgeProc];
    // The nodes learn of the tail with their next receipt (every 500 ms here), then post live.
    const got = await until('a 404 in the tail', 10_000, async () => {
      await fetchReply(`${a.url}/tail-me?status=404`, { headers: { host: HOST } });
      await fetchReply(`${a.url}/tail-ok?size=5`, { headers: { host: HOST } });
      return lines.find((l) => l.path === '/tail-me?status=404');
    });
    assert.equal(got.status, 404);
    assert.equal(got.node, 'fra-1');
    assert.ok(!lines.some((l) => l.path === '/tail-ok?size=5'), 'the filter keeps 2xx out');
    res.body.destroy();
  });
});
