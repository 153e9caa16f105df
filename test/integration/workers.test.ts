// Issue 17: edge workers end to end — scripts uploaded through the API (compiled on upload), carried
// by the event log to two nodes of two PoPs, routed by pattern, with bindings (plain text, secrets,
// KV), sub-requests through the node's cache, the cache API, KV written through the control plane
// and read on every node, and rollback.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Client } from 'undici';
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
import type { ControlProc, EdgeProc, Proc } from '../helpers/processes.ts';

const HOST = 'shop.workers.test';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const HELLO = `export default {
  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (url.pathname === '/api/env') return Response.json({ greeting: env.GREETING, secret: env.API_KEY, cf: request.cf });
    if (url.pathname === '/api/sub') {
      const res = await fetch('http://${HOST}/static/data.txt?cc=max-age%3D60');
      return new Response(await res.text(), { headers: { 'x-sub-cache-status': res.headers.get('cache-status') ?? '' } });
    }
    if (url.pathname === '/api/partial') {
      const reader = request.body.getReader();
      const first = await reader.read();
      return new Response('read ' + first.value.length + ' bytes of it');
    }
    if (url.pathname === '/api/stream') {
      let i = 0;
      return new Response(new ReadableStream({ async pull(c) {
        if (i === 3) return c.close();
        await new Promise((r) => setTimeout(r, 10));
        c.enqueue(new TextEncoder().encode('part' + i++ + ';'));
      } }));
    }
    if (url.pathname === '/api/kv-list') {
      const page = await env.STORE.list({ prefix: url.searchParams.get('prefix') ?? '', limit: 1 });
      const rest = page.cursor ? await env.STORE.list({ prefix: url.searchParams.get('prefix') ?? '', cursor: page.cursor }) : { keys: [] };
      return Response.json({ first: page.keys.map((k) => k.name), complete: page.list_complete, rest: rest.keys.map((k) => k.name) });
    }
    if (url.pathname === '/api/kv-meta') {
      if (request.method === 'DELETE') { await env.STORE.delete('meta'); return new Response('deleted'); }
      await env.STORE.put('meta', 'm', { metadata: { v: 1 }, expirationTtl: 120 });
      const got = await env.STORE.getWithMetadata('meta', 'json').catch(() => null);
      const text = await env.STORE.getWithMetadata('meta');
      return Response.json({ value: text.value, metadata: text.metadata, json: got === null ? 'not json' : got.value });
    }
    if (url.pathname === '/api/kv') {
      const key = url.searchParams.get('key');
      if (request.method === 'PUT') { await env.STORE.put(key, await request.text()); return new Response('stored'); }
      if (url.searchParams.has('size')) {
        const bytes = await env.STORE.get(key, 'arrayBuffer');
        return new Response(bytes === null ? 'absent' : String(bytes.byteLength));
      }
      const value = await env.STORE.get(key);
      return value === null ? new Response('absent', { status: 404 }) : new Response(value);
    }
    if (url.pathname === '/api/cache') {
      const cacheUrl = 'http://${HOST}/cached/' + url.searchParams.get('k');
      const hit = await caches.default.match(cacheUrl);
      if (hit) return new Response('hit:' + (await hit.text()));
      await caches.default.put(cacheUrl, new Response('made-' + url.searchParams.get('k'), { headers: { 'cache-control': 'max-age=60' } }));
      return new Response('miss');
    }
    return new Response('v1 ' + request.method + ' ' + url.pathname, { headers: { 'x-worker': 'hello' } });
  },
};`;

describe('edge workers', () => {
  let origin: Proc;
  let control: ControlProc;
  let nodeToken: string;
  let zoneId: string;
  let kvId: string;
  const nodes: EdgeProc[] = [];
  const admin = (method: string, path: string, body?: unknown) =>
    api(control.url, control.adminToken, method, path, body);
  const get = (edge: EdgeProc, path: string, init: { method?: string; body?: string } = {}) =>
    fetchReply(`${edge.url}${path}`, { ...init, headers: { host: HOST } });
  const upload = (name: string, script: string, bindings: unknown[] = []) =>
    admin('PUT', `/client/v4/zones/${zoneId}/workers/scripts/${name}`, { script, bindings });
  /** Waits until every node answers `path` with `expect` (the event log reached them). */
  async function everywhere(path: string, expect: (body: string, status: number) => boolean): Promise<void> {
    for (const edge of nodes) {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const reply = await get(edge, path);
        if (expect(reply.body.toString(), reply.status)) break;
        if (Date.now() > deadline)
          assert.fail(`${edge.url}${path}: ${reply.status} ${reply.body.toString()}`);
        await sleep(25);
      }
    }
  }

  before(async () => {
    origin = await startTestOrigin();
    control = await startControlProcess();
    nodeToken = (await admin('POST', '/client/v4/tokens', { name: 'nodes', scopes: ['node'] })).body.result
      .value;
    await admin('PUT', '/client/v4/pops/ams', { city: 'Amsterdam', latitude: 52.4, longitude: 4.9 });
    await admin('PUT', '/client/v4/pops/sin', { city: 'Singapore', latitude: 1.3, longitude: 103.8 });
    zoneId = (
      await admin('POST', '/client/v4/zones', {
        name: 'shop',
        hostnames: [HOST],
        origins: [{ url: origin.url }],
      })
    ).body.result.id;
    for (const [name, pop] of [
      ['ams-1', 'ams'],
      ['sin-1', 'sin'],
    ] as const) {
      nodes.push(
        await startEdgeProcess(
          '',
          [
            ...['--control', control.url, '--pop', pop, '--node', name, '--token', nodeToken],
            ...['--worker-country-header', 'X-Geo-Country'],
          ],
          {
            noOrigin: true,
          },
        ),
      );
    }
    const kv = await admin('POST', `/client/v4/zones/${zoneId}/storage/kv/namespaces`, { title: 'store' });
    assert.equal(kv.status, 201, JSON.stringify(kv.body));
    kvId = kv.body.result.id;
    const up = await upload('hello', HELLO, [
      { type: 'plain_text', name: 'GREETING', text: 'hej' },
      { type: 'secret_text', name: 'API_KEY', text: 's3cret' },
      { type: 'kv_namespace', name: 'STORE', namespace_id: kvId },
    ]);
    assert.equal(up.status, 200, JSON.stringify(up.body));
    const route = await admin('POST', `/client/v4/zones/${zoneId}/workers/routes`, {
      pattern: `${HOST}/api/*`,
      script: 'hello',
    });
    assert.equal(route.status, 201, JSON.stringify(route.body));
    await everywhere('/api/x', (body) => body === 'v1 GET /api/x');
  });

  after(async () => {
    for (const edge of nodes) {
      await edge.stop();
      await removeDir(edge.cacheDir);
    }
    await control?.stop();
    await removeDir(control.dataDir);
    await origin?.stop();
  });

  it('routes by pattern: /api/* runs the worker, other paths go to the origin', async () => {
    const worker = await get(nodes[0] as EdgeProc, '/api/hello?q=1');
    assert.equal(worker.status, 200);
    assert.equal(worker.body.toString(), 'v1 GET /api/hello');
    assert.equal(worker.headers['x-worker'], 'hello');
    assert.match(String(worker.headers['cache-status']), /detail="worker"/);
    const before = await originCount(origin, '/other');
    const plain = await get(nodes[0] as EdgeProc, '/other');
    assert.equal(plain.status, 200);
    assert.equal(await originCount(origin, '/other'), before + 1);
    assert.equal(plain.headers['x-worker'], undefined);
  });

  it('a stream body goes to the client as the worker produces it (chunked)', async () => {
    const reply = await get(nodes[0] as EdgeProc, '/api/stream');
    assert.equal(reply.status, 200);
    assert.equal(reply.body.toString(), 'part0;part1;part2;');
    assert.equal(reply.headers['transfer-encoding'], 'chunked');
  });

  it('a request body streams into the worker; one read only in part does not break the response', async () => {
    const body = 'x'.repeat(200_000);
    // One connection: the next request must be able to follow on it.
    const client = new Client((nodes[0] as EdgeProc).url, { pipelining: 1 });
    const on = async (method: 'GET' | 'POST', path: string, payload?: string) => {
      const res = await client.request({ method, path, headers: { host: HOST }, body: payload ?? null });
      return { status: res.statusCode, text: await res.body.text() };
    };
    try {
      const first = await on('POST', '/api/partial', body);
      assert.equal(first.status, 200);
      assert.match(first.text, /^read \d+ bytes of it$/);
      assert.equal((await on('GET', '/api/x')).text, 'v1 GET /api/x');
      assert.equal((await on('POST', '/api/partial', body)).status, 200);
      assert.equal((await on('GET', '/api/y')).text, 'v1 GET /api/y');
    } finally {
      await client.close();
    }
    const reply = await get(nodes[0] as EdgeProc, '/api/partial', { method: 'POST', body });
    assert.equal(reply.status, 200);
    assert.match(reply.body.toString(), /^read \d+ bytes of it$/);
    assert.ok(Number(/read (\d+)/.exec(reply.body.toString())?.[1]) < body.length);
    assert.equal((await get(nodes[0] as EdgeProc, '/api/x')).body.toString(), 'v1 GET /api/x');
  });

  it('env holds the declared bindings; secrets are not shown by the API', async () => {
    const reply = await fetchReply(`${(nodes[1] as EdgeProc).url}/api/env`, {
      headers: { host: HOST, 'x-geo-country': 'NL' },
    });
    const body = JSON.parse(reply.body.toString());
    assert.equal(body.greeting, 'hej');
    assert.equal(body.secret, 's3cret');
    assert.equal(body.cf.colo, 'sin');
    assert.equal(body.cf.country, 'NL');
    assert.equal(body.cf.clientIp, '127.0.0.1');
    const meta = await admin('GET', `/client/v4/zones/${zoneId}/workers/scripts/hello`);
    assert.deepEqual(
      meta.body.result.bindings.find((b: { name: string }) => b.name === 'API_KEY'),
      { type: 'secret_text', name: 'API_KEY' },
    );
    assert.ok(!JSON.stringify(meta.body).includes('s3cret'));
  });

  it('a sub-request goes through the cache: the second identical one is a hit', async () => {
    const edge = nodes[0] as EdgeProc;
    const before = await originCount(origin, '/static/data.txt');
    const first = await get(edge, '/api/sub');
    const second = await get(edge, '/api/sub');
    assert.equal(first.status, 200);
    assert.match(String(first.headers['x-sub-cache-status']), /fwd=(uri-miss|miss)/);
    assert.match(String(second.headers['x-sub-cache-status']), /; hit/);
    assert.equal(await originCount(origin, '/static/data.txt'), before + 1);
  });

  it('caches.default: put then match on the node cache', async () => {
    const edge = nodes[0] as EdgeProc;
    assert.equal((await get(edge, '/api/cache?k=a')).body.toString(), 'miss');
    assert.equal((await get(edge, '/api/cache?k=a')).body.toString(), 'hit:made-a');
    // Keyed like everything else: a plain request for the URL is a hit on what the worker put.
    const plain = await fetchReply(`${edge.url}/cached/a`, { headers: { host: HOST } });
    assert.equal(plain.body.toString(), 'made-a');
    assert.match(String(plain.headers['cache-status']), /; hit/);
  });

  it('KV: written through the API, read by the worker on every node; a worker write reaches the other node', async () => {
    const put = await fetchReply(
      `${control.url}/client/v4/zones/${zoneId}/storage/kv/namespaces/${kvId}/values/greeting`,
      {
        method: 'PUT',
        headers: { authorization: `Bearer ${control.adminToken}`, 'content-type': 'text/plain' },
        body: 'hello from kv',
      },
    );
    assert.equal(put.status, 200, put.body.toString());
    await everywhere('/api/kv?key=greeting', (body) => body === 'hello from kv');
    const wrote = await get(nodes[0] as EdgeProc, '/api/kv?key=from-worker', { method: 'PUT', body: 'w1' });
    assert.equal(wrote.body.toString(), 'stored');
    await everywhere('/api/kv?key=from-worker', (body) => body === 'w1');
    // A value larger than the log carries inline goes by reference: each node fetches it on first read.
    const big = await fetchReply(
      `${control.url}/client/v4/zones/${zoneId}/storage/kv/namespaces/${kvId}/values/big`,
      {
        method: 'PUT',
        headers: {
          authorization: `Bearer ${control.adminToken}`,
          'content-type': 'application/octet-stream',
        },
        body: 'b'.repeat(100_000),
      },
    );
    assert.equal(big.status, 200, big.body.toString());
    await everywhere('/api/kv?key=big&size=1', (body) => body === '100000');
    const keys = await admin(
      'GET',
      `/client/v4/zones/${zoneId}/storage/kv/namespaces/${kvId}/keys?prefix=from`,
    );
    assert.deepEqual(
      keys.body.result.map((k: { name: string }) => k.name),
      ['from-worker'],
    );
    // list with a cursor, metadata, expiration and delete, from a worker.
    await get(nodes[0] as EdgeProc, '/api/kv?key=from-worker-2', { method: 'PUT', body: 'w2' });
    const listed = JSON.parse((await get(nodes[0] as EdgeProc, '/api/kv-list?prefix=from')).body.toString());
    assert.deepEqual(listed, { first: ['from-worker'], complete: false, rest: ['from-worker-2'] });
    const meta = JSON.parse((await get(nodes[0] as EdgeProc, '/api/kv-meta')).body.toString());
    assert.deepEqual(meta, { value: 'm', metadata: { v: 1 }, json: 'not json' });
    assert.equal(
      (await get(nodes[0] as EdgeProc, '/api/kv-meta', { method: 'DELETE' })).body.toString(),
      'deleted',
    );
    await everywhere('/api/kv?key=meta', (_body, status) => status === 404);
  });

  it('a new version replaces the old on every node; rollback brings it back', async () => {
    const v2 = await upload('hello', HELLO.replace("'v1 '", "'v2 '"), [
      { type: 'plain_text', name: 'GREETING', text: 'hej' },
      { type: 'secret_text', name: 'API_KEY', text: 's3cret' },
      { type: 'kv_namespace', name: 'STORE', namespace_id: kvId },
    ]);
    assert.equal(v2.status, 200);
    assert.equal(v2.body.result.version, 2);
    await everywhere('/api/x', (body) => body === 'v2 GET /api/x');
    const back = await admin('POST', `/client/v4/zones/${zoneId}/workers/scripts/hello/rollback`, {});
    assert.equal(back.status, 200, JSON.stringify(back.body));
    assert.equal(back.body.result.version, 1);
    await everywhere('/api/x', (body) => body === 'v1 GET /api/x');
  });

  it('secret texts are sealed at rest: neither the versions table nor the event log holds them', async () => {
    const db = new Database(join(control.dataDir, 'meridian.db'), { readonly: true });
    try {
      const versions = db.prepare('select bindings from worker_versions').all() as { bindings: string }[];
      assert.ok(versions.length > 0);
      for (const row of versions) {
        assert.ok(!row.bindings.includes('s3cret'), row.bindings);
        assert.match(row.bindings, /"API_KEY","text":"mk1:/);
      }
      const events = db.prepare('select body from events').all() as { body: string }[];
      assert.ok(events.every((e) => !e.body.includes('s3cret')));
    } finally {
      db.close();
    }
  });

  it('KV after node restarts: a node back from an outage reads writes made while it was away; without the control plane it serves its replica', async () => {
    const ams = nodes[0] as EdgeProc;
    await ams.stop();
    const put = (key: string, value: string) =>
      fetchReply(`${control.url}/client/v4/zones/${zoneId}/storage/kv/namespaces/${kvId}/values/${key}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${control.adminToken}`, 'content-type': 'text/plain' },
        body: value,
      });
    assert.equal((await put('while-away', 'missed-1')).status, 200);
    const restart = () =>
      startEdgeProcess(
        '',
        ['--control', control.url, '--pop', 'ams', '--node', 'ams-1', '--token', nodeToken],
        {
          noOrigin: true,
          cacheDir: ams.cacheDir,
        },
      );
    nodes[0] = await restart();
    await everywhere('/api/kv?key=while-away', (body) => body === 'missed-1');
    // The control plane goes away: a restarted node serves its last script version and KV replica.
    await (nodes[0] as EdgeProc).stop();
    await control.stop();
    nodes[0] = await restart();
    assert.equal((await get(nodes[0] as EdgeProc, '/api/kv?key=while-away')).body.toString(), 'missed-1');
    assert.equal((await get(nodes[0] as EdgeProc, '/api/kv?key=greeting')).body.toString(), 'hello from kv');
    control = await startControlProcess({ reuse: control });
  });

  it('uploads that do not compile, import, or declare unknown bindings get a 400 naming the problem', async () => {
    const syntax = await upload(
      'bad',
      'export default {\n  async fetch() {\n    return new Response(;\n  }\n}',
    );
    assert.equal(syntax.status, 400);
    assert.equal(syntax.body.errors[0]?.code, 1801);
    assert.match(syntax.body.errors[0]?.message ?? '', /line 3, column \d+/);
    const imports = await upload(
      'bad',
      'import x from "node:fs";\nexport default { fetch() { return new Response(x); } }',
    );
    assert.equal(imports.status, 400);
    assert.equal(imports.body.errors[0]?.code, 1802);
    const binding = await upload('bad', 'export default { fetch() { return new Response("x"); } }', [
      { type: 'durable_object', name: 'X' },
    ]);
    assert.equal(binding.status, 400);
    assert.match(binding.body.errors[0]?.message ?? '', /bindings/);
    const big = await upload(
      'bad',
      `export default { fetch() { return new Response("x"); } }\n//${'x'.repeat(600 * 1024)}`,
    );
    assert.equal(big.status, 400);
    assert.equal(big.body.errors[0]?.code, 1803);
    const route = await admin('POST', `/client/v4/zones/${zoneId}/workers/routes`, {
      pattern: 'elsewhere.test/*',
      script: 'hello',
    });
    assert.equal(route.status, 400);
    assert.match(route.body.errors[0]?.message ?? '', /pattern/);
  });
});
