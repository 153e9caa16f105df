// Issue 17: the Web APIs a worker sees, one test per row of docs/workers.md's conformance table
// (the test names are the rows). Each runs a real module in a real isolate (WorkerIsolate) and
// checks what its Response says. fetch(), KV, caches and request.cf are covered end to end in
// test/integration/workers.test.ts.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { DEFAULT_LIMITS, WorkerIsolate, type WorkerResponse } from '../../../../src/edge/compute/isolate.ts';
import type { WorkerHost } from '../../../../src/edge/compute/host-functions.ts';

const logs: string[] = [];
const host: WorkerHost = {
  fetch: async () => 'fetch: not in unit tests',
  kvGet: async () => null,
  kvPut: async () => null,
  kvDelete: async () => null,
  kvList: async () => ({ keys: [], cursor: null }),
  cacheMatch: async () => null,
  cachePut: async () => null,
  cacheDelete: async () => false,
  log: (level, message) => logs.push(`${level}: ${message}`),
};

const isolates: WorkerIsolate[] = [];

/** A whole body (these tests' responses are not streams). */
function bodyOf(response: WorkerResponse): Buffer {
  assert.ok(response.body !== null, 'a whole body');
  return Buffer.from(response.body);
}

/** A streamed body, read to its end. */
async function streamedBodyOf(response: WorkerResponse): Promise<string> {
  assert.ok(response.stream !== null, 'a streamed body');
  const chunks: Buffer[] = [];
  for await (const chunk of response.stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

/** Runs `body` (the inside of an async fetch handler that returns a value) and answers the value (JSON). */
async function run(
  body: string,
  request: { method?: string; body?: string; headers?: [string, string][] } = {},
) {
  const source = `export default { async fetch(request, env, ctx) { const out = await (async () => { ${body} })(); return Response.json(out); } };`;
  const isolate = await WorkerIsolate.create(source, [], DEFAULT_LIMITS, host);
  isolates.push(isolate);
  const outcome = await isolate.handle(
    {
      method: request.method ?? 'GET',
      url: 'https://shop.example/path?a=1',
      headers: request.headers ?? [],
      body:
        request.body === undefined ? null : (new TextEncoder().encode(request.body).buffer as ArrayBuffer),
      cf: { colo: 'ams' },
    },
    () => undefined,
  );
  if (outcome.kind !== 'response') assert.fail(`${outcome.reason}: ${outcome.message}`);
  return JSON.parse(bodyOf(outcome.response).toString());
}

describe('worker Web APIs (conformance)', () => {
  after(() => {
    for (const isolate of isolates) isolate.dispose();
  });

  it('Request: method, url, headers, text() and json() of the body, clone()', async () => {
    const out = await run(
      `const c = request.clone(); return { m: request.method, u: request.url, h: request.headers.get('X-A'), t: await request.text(), j: await c.json(), used: request.bodyUsed };`,
      { method: 'POST', body: '{"k":1}', headers: [['x-a', 'b']] },
    );
    assert.deepEqual(out, {
      m: 'POST',
      u: 'https://shop.example/path?a=1',
      h: 'b',
      t: '{"k":1}',
      j: { k: 1 },
      used: true,
    });
  });

  it('Response: status, headers, json(), redirect(), clone(), body used once', async () => {
    const out = await run(`
      const r = new Response('x', { status: 201, headers: { 'content-type': 'text/plain' } });
      const j = Response.json({ a: 1 });
      const red = Response.redirect('https://a.example/b', 301);
      const c = r.clone();
      await r.text();
      let again; try { await r.text(); } catch (e) { again = e.constructor.name; }
      return { s: r.status, ok: r.ok, ct: r.headers.get('content-type'), jt: j.headers.get('content-type'), j: await j.json(),
        rs: red.status, loc: red.headers.get('location'), c: await c.text(), again };`);
    assert.deepEqual(out, {
      s: 201,
      ok: true,
      ct: 'text/plain',
      jt: 'application/json',
      j: { a: 1 },
      rs: 301,
      loc: 'https://a.example/b',
      c: 'x',
      again: 'TypeError',
    });
  });

  it('Headers: case-insensitive, append joins, Set-Cookie kept apart, sorted iteration, bad names throw', async () => {
    const out = await run(`
      const h = new Headers([['B', '1'], ['a', '2']]); h.append('b', '3'); h.append('Set-Cookie', 'x=1'); h.append('set-cookie', 'y=2');
      let bad; try { h.set('bad name', 'v'); } catch (e) { bad = e.constructor.name; }
      return { b: h.get('b'), has: h.has('A'), cookies: h.getSetCookie(), keys: [...h.keys()], bad };`);
    assert.deepEqual(out, {
      b: '1, 3',
      has: true,
      cookies: ['x=1', 'y=2'],
      keys: ['a', 'b', 'set-cookie', 'set-cookie'],
      bad: 'TypeError',
    });
  });

  it('URL and URLSearchParams: WHATWG parsing, relative URLs, setters, searchParams live', async () => {
    const out = await run(`
      const u = new URL('../x/./y?b=2&a=1#h', 'https://user@EXAMPLE.com:443/p/q/');
      u.searchParams.append('c', 'd e'); u.searchParams.sort();
      const v = new URL('http://a.example/'); v.pathname = '/new path'; v.port = '8080';
      let bad; try { new URL('not a url'); } catch (e) { bad = e.constructor.name; }
      const p = new URLSearchParams({ q: 'x&y', n: '1' });
      return { href: u.href, host: u.host, origin: u.origin, search: u.search, v: v.href, bad, p: p.toString(), get: p.get('q'), can: URL.canParse('/x', 'http://a') };`);
    assert.deepEqual(out, {
      href: 'https://user@example.com/p/x/y?a=1&b=2&c=d+e#h',
      host: 'example.com',
      origin: 'https://example.com',
      search: '?a=1&b=2&c=d+e',
      v: 'http://a.example:8080/new%20path',
      bad: 'TypeError',
      p: 'q=x%26y&n=1',
      get: 'x&y',
      can: true,
    });
  });

  it('TextEncoder / TextDecoder: UTF-8 both ways, surrogate pairs, streaming, fatal', async () => {
    const out = await run(`
      const bytes = new TextEncoder().encode('h€llo 😀');
      const d = new TextDecoder();
      const split = d.decode(bytes.slice(0, 2), { stream: true }) + d.decode(bytes.slice(2));
      let fatal; try { new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array([0xff])); } catch (e) { fatal = e.constructor.name; }
      return { n: bytes.length, back: new TextDecoder().decode(bytes), split, lossy: new TextDecoder().decode(new Uint8Array([0x61, 0xff, 0x62])), fatal };`);
    assert.deepEqual(out, {
      n: 12,
      back: 'h€llo 😀',
      split: 'h€llo 😀',
      lossy: 'a\ufffdb',
      fatal: 'TypeError',
    });
  });

  it('ReadableStream, TransformStream, TextEncoderStream: streamed bodies in and out', async () => {
    const out = await run(
      `
      const enc = new TextEncoder();
      let i = 0;
      const source = new ReadableStream({ pull(c) { if (i < 3) c.enqueue(enc.encode('c' + i++)); else c.close(); } });
      const upper = new TransformStream({ transform(chunk, c) { c.enqueue(new TextEncoder().encode(new TextDecoder().decode(chunk).toUpperCase())); } });
      const text = await new Response(source.pipeThrough(upper)).text();
      const fromReq = [];
      for await (const chunk of request.body) fromReq.push(chunk.length);
      const [a, b] = new Response('tee').body.tee();
      const strings = ReadableStream.from(['x', 'y']).pipeThrough(new TextEncoderStream());
      return { text, fromReq: fromReq.reduce((s, n) => s + n, 0), a: await new Response(a).text(), b: await new Response(b).text(), s: await new Response(strings).text() };`,
      { method: 'POST', body: 'abcdef' },
    );
    assert.deepEqual(out, { text: 'C0C1C2', fromReq: 6, a: 'tee', b: 'tee', s: 'xy' });
  });

  it('a ReadableStream response body streams out chunk by chunk, while the worker still produces it', async () => {
    const source = `export default { fetch() {
      let i = 0;
      const body = new ReadableStream({ async pull(c) {
        if (i === 3) return c.close();
        await new Promise((r) => setTimeout(r, 20));
        c.enqueue(new TextEncoder().encode('chunk' + i++ + ';'));
      } });
      return new Response(body, { headers: { 'content-type': 'text/plain' } });
    } };`;
    const isolate = await WorkerIsolate.create(source, [], DEFAULT_LIMITS, host);
    isolates.push(isolate);
    let settled: Promise<void> = Promise.resolve();
    const t0 = performance.now();
    const out = await isolate.handle(
      { method: 'GET', url: 'https://a.example/', headers: [], body: null, cf: {} },
      (work) => (settled = work),
    );
    const headAfterMs = performance.now() - t0;
    assert.ok(out.kind === 'response');
    // The head comes before the body is complete (3 chunks, 20 ms apart).
    assert.ok(headAfterMs < 40, `head after ${headAfterMs} ms`);
    assert.equal(await streamedBodyOf(out.response), 'chunk0;chunk1;chunk2;');
    await settled;
    assert.equal(isolate.inFlight, 0);
  });

  it('crypto.getRandomValues and crypto.randomUUID', async () => {
    const out = await run(`
      const a = crypto.getRandomValues(new Uint8Array(32));
      let big; try { crypto.getRandomValues(new Uint8Array(70000)); } catch (e) { big = e.name; }
      return { nonzero: a.some((x) => x !== 0), uuid: crypto.randomUUID(), other: crypto.randomUUID(), big };`);
    assert.equal(out.nonzero, true);
    assert.match(out.uuid, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.notEqual(out.uuid, out.other);
    assert.equal(out.big, 'QuotaExceededError');
  });

  it('crypto.subtle.digest: SHA-1, SHA-256, SHA-384, SHA-512 test vectors', async () => {
    const out = await run(`
      const hex = (b) => [...new Uint8Array(b)].map((x) => x.toString(16).padStart(2, '0')).join('');
      const data = new TextEncoder().encode('abc');
      const r = {};
      for (const alg of ['SHA-1', 'SHA-256', 'SHA-384', 'SHA-512']) r[alg] = hex(await crypto.subtle.digest(alg, data));
      return r;`);
    assert.equal(out['SHA-1'], 'a9993e364706816aba3e25717850c26c9cd0d89d');
    assert.equal(out['SHA-256'], 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    assert.match(out['SHA-384'], /^cb00753f45a35e8b/);
    assert.match(out['SHA-512'], /^ddaf35a193617aba/);
  });

  it('crypto.subtle HMAC: importKey, sign (RFC 4231 vector), verify, wrong key fails', async () => {
    const out = await run(`
      const hex = (b) => [...new Uint8Array(b)].map((x) => x.toString(16).padStart(2, '0')).join('');
      const enc = new TextEncoder();
      const key = await crypto.subtle.importKey('raw', enc.encode('Jefe'), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
      const sig = await crypto.subtle.sign('HMAC', key, enc.encode('what do ya want for nothing?'));
      const other = await crypto.subtle.generateKey({ name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
      return { sig: hex(sig), ok: await crypto.subtle.verify('HMAC', key, sig, enc.encode('what do ya want for nothing?')),
        wrong: await crypto.subtle.verify('HMAC', other, sig, enc.encode('what do ya want for nothing?')), alg: key.algorithm.name, ex: key.extractable };`);
    assert.deepEqual(out, {
      sig: '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
      ok: true,
      wrong: false,
      alg: 'HMAC',
      ex: false,
    });
  });

  it('crypto.subtle AES-GCM: encrypt/decrypt round trip, additional data, tampering detected', async () => {
    const out = await run(`
      const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, true, ['encrypt', 'decrypt']);
      const iv = crypto.getRandomValues(new Uint8Array(12));
      const aad = new TextEncoder().encode('hdr');
      const ct = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: aad }, key, new TextEncoder().encode('secret')));
      const pt = new TextDecoder().decode(await crypto.subtle.decrypt({ name: 'AES-GCM', iv, additionalData: aad }, key, ct));
      ct[0] ^= 1;
      let tampered; try { await crypto.subtle.decrypt({ name: 'AES-GCM', iv, additionalData: aad }, key, ct); } catch (e) { tampered = e.name; }
      const raw = new Uint8Array(await crypto.subtle.exportKey('raw', key));
      return { len: ct.length, pt, tampered, raw: raw.length };`);
    assert.deepEqual(out, { len: 6 + 16, pt: 'secret', tampered: 'OperationError', raw: 32 });
  });

  it('atob / btoa: base64 both ways, invalid input throws', async () => {
    const out = await run(`
      let bad; try { atob('***'); } catch (e) { bad = e.name; }
      let wide; try { btoa('€'); } catch (e) { wide = e.name; }
      return { b: btoa('hello!?'), a: atob('aGVsbG8hPw=='), pad: atob('YQ'), bad, wide };`);
    assert.deepEqual(out, {
      b: 'aGVsbG8hPw==',
      a: 'hello!?',
      pad: 'a',
      bad: 'InvalidCharacterError',
      wide: 'InvalidCharacterError',
    });
  });

  it('structuredClone: Map, Set, Date, nested objects, cycles; functions refused', async () => {
    const out = await run(`
      const o = { m: new Map([[1, { d: new Date(0) }]]), s: new Set([1, 2]) }; o.self = o;
      const c = structuredClone(o);
      let fn; try { structuredClone({ f() {} }); } catch (e) { fn = 'threw'; }
      return { distinct: c !== o, cyc: c.self === c, m: c.m.get(1).d.getTime(), s: [...c.s], fn };`);
    assert.deepEqual(out, { distinct: true, cyc: true, m: 0, s: [1, 2], fn: 'threw' });
  });

  it('console: log/info/warn/error reach the node', async () => {
    logs.length = 0;
    await run(`console.log('hi', { a: 1 }, [1, 2]); console.error(new Error('bad')); return null;`);
    assert.deepEqual(logs, ['log: hi {a: 1} [1, 2]', 'error: Error: bad']);
  });

  it('setTimeout / clearTimeout within the request; setInterval refused', async () => {
    const out = await run(`
      const t0 = Date.now();
      await new Promise((r) => setTimeout(r, 20));
      let cleared = true; const id = setTimeout(() => { cleared = false; }, 5); clearTimeout(id);
      await new Promise((r) => setTimeout(r, 15));
      let iv; try { setInterval(() => {}, 1); } catch (e) { iv = e.constructor.name; }
      return { waited: Date.now() - t0 >= 15, cleared, iv };`);
    assert.deepEqual(out, { waited: true, cleared: true, iv: 'TypeError' });
  });

  it('ctx.waitUntil: work after the response is awaited before the request ends', async () => {
    const source = `let done = 0; export default { async fetch(request, env, ctx) {
      if (new URL(request.url).pathname === '/check') return new Response(String(done));
      ctx.waitUntil(new Promise((r) => setTimeout(() => { done++; r(); }, 30)));
      return new Response('sent'); } };`;
    const isolate = await WorkerIsolate.create(source, [], DEFAULT_LIMITS, host);
    isolates.push(isolate);
    const req = (path: string) => ({
      method: 'GET',
      url: `https://a.example${path}`,
      headers: [],
      body: null,
      cf: {},
    });
    let settled: Promise<void> = Promise.resolve();
    const first = await isolate.handle(req('/'), (work) => (settled = work));
    assert.equal(first.kind, 'response');
    await settled;
    const check = await isolate.handle(req('/check'), () => undefined);
    assert.equal(check.kind === 'response' && bodyOf(check.response).toString(), '1');
  });

  it('env holds only the declared bindings, frozen', async () => {
    const source = `export default { fetch(request, env) { let set; try { env.X = 1; set = 'set'; } catch { set = 'frozen'; }
      return Response.json({ keys: Object.keys(env), v: env.GREETING, set }); } };`;
    const isolate = await WorkerIsolate.create(
      source,
      [{ type: 'plain_text', name: 'GREETING', text: 'hej' }],
      DEFAULT_LIMITS,
      host,
    );
    isolates.push(isolate);
    const out = await isolate.handle(
      { method: 'GET', url: 'https://a.example/', headers: [], body: null, cf: {} },
      () => undefined,
    );
    assert.ok(out.kind === 'response');
    assert.deepEqual(JSON.parse(bodyOf(out.response).toString()), {
      keys: ['GREETING'],
      v: 'hej',
      set: 'frozen',
    });
  });

  it('a CPU limit stops a busy request; the isolate is gone and a new one serves', async () => {
    const isolate = await WorkerIsolate.create(
      'export default { fetch() { for (;;) {} } };',
      [],
      { ...DEFAULT_LIMITS, cpuMs: 20 },
      host,
    );
    const out = await isolate.handle(
      { method: 'GET', url: 'https://a.example/', headers: [], body: null, cf: {} },
      () => undefined,
    );
    assert.equal(out.kind, 'failed');
    assert.equal(out.kind === 'failed' && out.reason, 'cpu');
    assert.equal(isolate.isAlive, false);
  });
});
