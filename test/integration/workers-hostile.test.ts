// Issue 17: hostile worker scripts are contained. Each one (infinite loops, a memory bomb,
// prototype tampering, reaching for process/require/import()/fs, timers beyond the request,
// private addresses, throwing) gets its own request answered with a 5xx (or the origin, with
// fail_open), while another zone on the same node keeps answering at normal latency.
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

const EVIL = 'evil.workers.test';
const CALM = 'calm.workers.test';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const SCRIPTS: Record<string, string> = {
  loop: 'export default { fetch() { for (;;) {} } };',
  'async-loop':
    'export default { async fetch() { await null; await new Promise((r) => setTimeout(r, 1)); for (;;) {} } };',
  bomb: 'export default { async fetch() { const keep = []; for (;;) keep.push(new Array(1e6).fill(Math.random())); } };',
  'buffer-bomb':
    'export default { async fetch() { const keep = []; for (;;) keep.push(new Uint8Array(16 * 1024 * 1024)); } };',
  thrower: 'export default { async fetch() { throw new Error("boom"); } };',
  'no-response': 'export default { async fetch() { return "not a response"; } };',
  tamper: `
    Array.prototype.push = function () { throw new Error('tampered push'); };
    Object.prototype.polluted = 'yes';
    JSON.stringify = () => '{"tampered":true}';
    Promise.prototype.then = function () { throw new Error('tampered then'); };
    export default { fetch() { return new Response('tampered ' + ({}).polluted); } };`,
  reach: `export default { async fetch() {
    const seen = { process: typeof process, require: typeof require, Deno: typeof Deno, Bun: typeof Bun,
      fs: typeof fs, module: typeof module, global: typeof global, __mh_fetch: typeof globalThis.__mh_fetch };
    try { await import('node:fs'); seen.import = 'imported'; } catch (e) { seen.import = String(e); }
    try { seen.ctor = typeof (function () {}).constructor('return process')(); } catch (e) { seen.ctor = String(e); }
    return new Response(JSON.stringify(seen));
  } };`,
  timer: `export default { async fetch(request) {
    const target = new URL(request.url).searchParams.get('target');
    setTimeout(() => fetch(target), 300);
    return new Response('returned');
  } };`,
  private: `export default { async fetch(request) {
    const target = new URL(request.url).searchParams.get('target');
    try { const r = await fetch(target); return new Response('reached ' + r.status); }
    catch (e) { return new Response('refused: ' + e.message, { status: 502 }); }
  } };`,
  fine: 'export default { fetch() { return new Response("fine"); } };',
};

describe('hostile edge workers', () => {
  let origin: Proc;
  let control: ControlProc;
  let edge: EdgeProc;
  let evilZone: string;
  const admin = (method: string, path: string, body?: unknown) =>
    api(control.url, control.adminToken, method, path, body);
  const evil = (path: string): Promise<Reply> =>
    fetchReply(`${edge.url}${path}`, { headers: { host: EVIL } });
  const calm = (path: string): Promise<Reply> =>
    fetchReply(`${edge.url}${path}`, { headers: { host: CALM } });

  /** Latencies (ms) of `count` sequential cached requests to the calm zone. */
  async function calmLatencies(count: number): Promise<number[]> {
    const out: number[] = [];
    for (let i = 0; i < count; i++) {
      const start = performance.now();
      const reply = await calm('/page?cc=max-age%3D300');
      out.push(performance.now() - start);
      assert.equal(reply.status, 200);
    }
    return out.sort((a, b) => a - b);
  }
  const p50 = (sorted: number[]) => sorted[Math.floor(sorted.length / 2)] as number;

  before(async () => {
    origin = await startTestOrigin();
    control = await startControlProcess();
    const nodeToken = (await admin('POST', '/client/v4/tokens', { name: 'n', scopes: ['node'] })).body.result
      .value;
    await admin('PUT', '/client/v4/pops/ams', { city: 'Amsterdam', latitude: 52.4, longitude: 4.9 });
    evilZone = (
      await admin('POST', '/client/v4/zones', {
        name: 'evil',
        hostnames: [EVIL],
        origins: [{ url: origin.url }],
      })
    ).body.result.id;
    await admin('POST', '/client/v4/zones', {
      name: 'calm',
      hostnames: [CALM],
      origins: [{ url: origin.url }],
    });
    edge = await startEdgeProcess(
      '',
      [
        ...['--control', control.url, '--pop', 'ams', '--node', 'ams-1', '--token', nodeToken],
        ...['--worker-cpu', '400ms', '--worker-memory', '16MB', '--worker-wall', '5s'],
      ],
      {
        noOrigin: true,
        admin: true,
      },
    );
    for (const [name, script] of Object.entries(SCRIPTS)) {
      const up = await admin('PUT', `/client/v4/zones/${evilZone}/workers/scripts/${name}`, { script });
      assert.equal(up.status, 200, `${name}: ${JSON.stringify(up.body.errors)}`);
      const route = await admin('POST', `/client/v4/zones/${evilZone}/workers/routes`, {
        pattern: `${EVIL}/${name}/*`,
        script: name,
        fail_open: name === 'thrower',
      });
      assert.equal(route.status, 201);
    }
    const deadline = Date.now() + 10_000;
    while ((await evil('/fine/x')).body.toString() !== 'fine') {
      if (Date.now() > deadline) assert.fail('routes did not reach the node');
      await sleep(25);
    }
  });

  after(async () => {
    await edge?.stop();
    await removeDir(edge.cacheDir);
    await control?.stop();
    await removeDir(control.dataDir);
    await origin?.stop();
  });

  it('infinite loops (sync and after an await) answer 503 WORKER_LIMIT; the isolate is replaced', async () => {
    for (const name of ['loop', 'async-loop']) {
      const reply = await evil(`/${name}/x`);
      assert.equal(reply.status, 503, name);
      assert.match(String(reply.headers['cache-status']), /worker-limit/);
    }
    assert.equal((await evil('/fine/again')).body.toString(), 'fine');
  });

  it('a memory bomb answers 503 and the node lives on; an ArrayBuffer bomb fails its allocation (500)', async () => {
    const reply = await evil('/bomb/x');
    assert.equal(reply.status, 503);
    assert.equal((await evil('/buffer-bomb/x')).status, 500);
    assert.equal((await evil('/fine/after-bomb')).status, 200);
  });

  it('a throw is a 500, or the origin when the route says fail_open; a non-Response is a 500', async () => {
    const before = await originCount(origin, '/thrower/x');
    const open = await evil('/thrower/x');
    assert.equal(open.status, 200);
    assert.equal(await originCount(origin, '/thrower/x'), before + 1);
    const closed = await evil('/no-response/x');
    assert.equal(closed.status, 500);
    assert.match(String(closed.headers['cache-status']), /worker-exception/);
  });

  it('tampering with built-ins stays inside the worker: others and the node are unaffected', async () => {
    const reply = await evil('/tamper/x');
    // Its own Promise.prototype.then is broken, so its request may fail: either way, contained.
    assert.ok([200, 500].includes(reply.status), String(reply.status));
    assert.equal((await evil('/fine/after-tamper')).body.toString(), 'fine');
    const reach = JSON.parse((await evil('/reach/x')).body.toString());
    assert.equal(reach.polluted, undefined);
  });

  it('process, require, fs, import() and host functions are out of reach', async () => {
    const seen = JSON.parse((await evil('/reach/x')).body.toString());
    for (const name of ['process', 'require', 'Deno', 'Bun', 'fs', 'module', 'global', '__mh_fetch'])
      assert.equal(seen[name], 'undefined', name);
    assert.match(seen.import, /not supported|cannot import/i);
    assert.match(seen.ctor, /process is not defined/);
  });

  it('timers do not outlive the request', async () => {
    const target = `${origin.url}/timer-fired`;
    // The zone may not reach loopback anyway; what matters is that the callback never runs.
    const reply = await evil(`/timer/x?target=${encodeURIComponent(`http://${CALM}/timer-fired`)}`);
    assert.equal(reply.body.toString(), 'returned');
    await sleep(700);
    assert.equal(await originCount(origin, '/timer-fired'), 0, target);
  });

  it('sub-requests to loopback, private and link-local addresses are refused', async () => {
    for (const target of [
      origin.url,
      'http://10.1.2.3/',
      'http://169.254.169.254/latest/meta-data/',
      'http://[::1]:1/',
      'http://localhost/',
    ]) {
      const reply = await evil(`/private/x?target=${encodeURIComponent(target)}`);
      assert.equal(reply.status, 502, target);
      assert.match(reply.body.toString(), /private address/, target);
    }
  });

  it('another zone keeps normal latency while hostile scripts run', async () => {
    const baseline = await calmLatencies(40);
    const attacks = Promise.all([evil('/loop/y'), evil('/bomb/y'), evil('/async-loop/y'), evil('/loop/z')]);
    const during = await calmLatencies(40);
    const answers = await attacks;
    assert.ok(answers.every((r) => r.status === 503));
    // Generous against a loaded test machine: what must not happen is waiting for the loops (50 ms+ each).
    assert.ok(
      p50(during) < Math.max(20, p50(baseline) * 5),
      `p50 ${p50(during)} ms vs baseline ${p50(baseline)} ms`,
    );
  });

  it('/metrics counts worker outcomes and cold starts', async () => {
    const text = (await fetchReply(`${edge.adminUrl as string}/metrics`)).body.toString();
    const value = (line: RegExp) => Number(line.exec(text)?.[1] ?? 0);
    assert.ok(value(/^meridian_edge_worker_requests_total\{outcome="cpu"\} (\d+)/m) >= 3, text);
    assert.ok(value(/^meridian_edge_worker_requests_total\{outcome="memory"\} (\d+)/m) >= 1);
    assert.ok(value(/^meridian_edge_worker_requests_total\{outcome="response"\} (\d+)/m) >= 1);
    assert.ok(value(/^meridian_edge_worker_cold_starts_total (\d+)/m) >= 10);
    assert.ok(value(/^meridian_edge_worker_isolates (\d+)/m) >= 1);
  });
});
