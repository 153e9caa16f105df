// Issue 14, "the remaining caching corners": each one through a real `meridian edge` process in
// front of a real origin (a node:http server in this test, so that each case can answer exactly as
// it needs: interim responses, resets, partial content), proved by counting origin requests.
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import {
  request as httpRequest,
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, afterEach, before, describe, it } from 'node:test';
import { h2Session, writeTestCerts, type TestCerts } from '../helpers/https-clients.ts';
import { api, fetchReply, removeDir, startControlProcess, startEdgeProcess } from '../helpers/processes.ts';
import type { ControlProc, EdgeProc, Reply } from '../helpers/processes.ts';

type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/** An origin whose answer for each path is a function set by the test; it counts requests per path. */
class Origin {
  readonly routes = new Map<string, Handler>();
  readonly counts = new Map<string, number>();
  readonly sockets = new Set<Socket>();
  readonly server: Server;
  url = '';

  constructor() {
    this.server = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      this.counts.set(path, (this.counts.get(path) ?? 0) + 1);
      const handler = this.routes.get(path);
      if (handler === undefined) {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('no route');
        return;
      }
      void handler(req, res);
    });
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Stops listening and drops every connection: from now on connections are refused. */
  async close(): Promise<void> {
    const closed = new Promise((resolve) => this.server.close(resolve));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  count(path: string): number {
    return this.counts.get(path) ?? 0;
  }
}

/** A route answering `status` with `headers` and a body naming the path and the request number. */
function answer(origin: Origin, path: string, status: number, headers: Record<string, string>): void {
  origin.routes.set(path, (_req, res) => {
    res.writeHead(status, { 'content-type': 'text/plain', ...headers });
    res.end(`${path} #${origin.count(path)}`);
  });
}

const HOST = 'corners.example';
const origin = new Origin();
let edge: EdgeProc;
let certs: TestCerts;
let certDir: string;

before(async () => {
  await origin.listen();
  certDir = await mkdtemp(join(tmpdir(), 'meridian-corners-'));
  certs = await writeTestCerts(certDir, [HOST]);
  edge = await startEdgeProcess(origin.url, [
    '--node-name',
    'corners',
    '--listen-tls',
    '127.0.0.1:0',
    '--tls-cert',
    certs.certFile,
    '--tls-key',
    certs.keyFile,
  ]);
});

after(async () => {
  await edge.stop();
  await origin.close();
  await removeDir(edge.cacheDir);
  await removeDir(certDir);
});

const get = (path: string, headers: Record<string, string> = {}): Promise<Reply> =>
  fetchReply(`${edge.url}${path}`, { headers });
const status = (reply: Reply): string => String(reply.headers['cache-status']);
const httpDate = (offsetSec: number): string => new Date(Date.now() + offsetSec * 1000).toUTCString();

/** GETs `path` twice; returns both replies and the number of requests the origin saw. */
async function twice(path: string, headers: Record<string, string> = {}) {
  const first = await get(path, headers);
  const second = await get(path, headers);
  return { first, second, count: origin.count(path) };
}

/**
 * The origin's circuit breaker counts 5xx answers (docs/edge-cache.md, "Origins and health"): a
 * success after each test that receives some keeps the circuit closed for the next one.
 */
async function resetBreaker(): Promise<void> {
  answer(origin, '/ok', 200, { 'cache-control': 'no-store' });
  assert.equal((await get('/ok')).status, 200);
}

describe('explicit freshness makes any final status storable (RFC 9111 §3)', () => {
  afterEach(resetBreaker);
  const cases: [string, number, Record<string, string>][] = [
    ['503 with max-age', 503, { 'cache-control': 'max-age=60' }],
    ['502 with s-maxage', 502, { 'cache-control': 's-maxage=60' }],
    ['504 with Expires', 504, { expires: httpDate(60) }],
    ['unknown 599 with max-age', 599, { 'cache-control': 'max-age=60' }],
    ['unknown 299 with max-age', 299, { 'cache-control': 'max-age=60' }],
    ['unknown 432 with CDN-Cache-Control', 432, { 'cdn-cache-control': 'max-age=60' }],
  ];
  for (const [name, code, headers] of cases) {
    it(`stores and reuses: ${name}`, async () => {
      const path = `/any-status-${code}`;
      answer(origin, path, code, headers);
      const { first, second, count } = await twice(path);
      assert.equal(first.status, code);
      assert.equal(second.status, code);
      assert.equal(count, 1, status(second));
      assert.match(status(first), new RegExp(`fwd=uri-miss; fwd-status=${code}; ttl=\\d+; stored`));
      assert.match(status(second), /^corners; hit; ttl=\d+$/);
      assert.deepEqual(second.body, first.body);
    });
  }

  it('a stale 503 is not reused without validation', async () => {
    const path = '/stale-503';
    answer(origin, path, 503, { 'cache-control': 'max-age=1' });
    await get(path);
    await sleep(1_200);
    const reply = await get(path);
    assert.equal(origin.count(path), 2);
    assert.match(reply.body.toString(), /#2/);
  });

  it('... unless a stale directive allows it (stale-while-revalidate)', async () => {
    const path = '/stale-503-swr';
    answer(origin, path, 503, { 'cache-control': 'max-age=1, stale-while-revalidate=60' });
    const first = await get(path);
    await sleep(1_200);
    const reply = await get(path);
    assert.equal(reply.status, 503);
    assert.deepEqual(reply.body, first.body);
    assert.match(status(reply), /hit; ttl=(0|-\d+); detail="stale-while-revalidate"/);
  });

  it('a 5xx without freshness information is passed on, never stored', async () => {
    const path = '/plain-500';
    answer(origin, path, 500, { 'last-modified': httpDate(-86_400) });
    assert.equal((await twice(path)).count, 2);
  });
});

describe('must-understand (RFC 9111 §5.2.2.3)', () => {
  it('for a status code the cache implements, it overrides no-store', async () => {
    const path = '/mu-200';
    answer(origin, path, 200, { 'cache-control': 'must-understand, no-store, max-age=60' });
    const { second, count } = await twice(path);
    assert.equal(count, 1);
    assert.match(status(second), /hit/);
  });

  it('for a status code it does not know, the response is not stored', async () => {
    const path = '/mu-299';
    answer(origin, path, 299, { 'cache-control': 'must-understand, no-store, max-age=60' });
    const { first, count } = await twice(path);
    assert.equal(count, 2);
    assert.match(status(first), /detail="must-understand"/);
  });

  it('without no-store, an unknown status is still not stored', async () => {
    const path = '/mu-299-cacheable';
    answer(origin, path, 299, { 'cache-control': 'must-understand, max-age=60' });
    assert.equal((await twice(path)).count, 2);
  });
});

describe('heuristic freshness (RFC 9110 §15.1, RFC 9111 §4.2.2)', () => {
  afterEach(resetBreaker);
  const lastModified = { 'last-modified': httpDate(-86_400) };
  for (const code of [200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501]) {
    it(`heuristically cacheable: ${code} with only Last-Modified is stored`, async () => {
      const path = `/heuristic-${code}`;
      answer(origin, path, code, lastModified);
      const { second, count } = await twice(path);
      assert.equal(count, 1, status(second));
      assert.equal(second.status, code);
    });
  }
  for (const code of [302, 307, 403, 500, 503]) {
    it(`not heuristically cacheable: ${code} with only Last-Modified is not stored`, async () => {
      const path = `/not-heuristic-${code}`;
      answer(origin, path, code, lastModified);
      assert.equal((await twice(path)).count, 2);
    });
  }
  for (const code of [302, 403, 500]) {
    it(`public makes ${code} heuristically cacheable`, async () => {
      const path = `/public-heuristic-${code}`;
      answer(origin, path, code, { ...lastModified, 'cache-control': 'public' });
      assert.equal((await twice(path)).count, 1);
    });
  }
});

describe('stale when the origin cannot be reached (RFC 5861 §4, RFC 9111 §4.2.4)', () => {
  afterEach(resetBreaker);
  const failures: Record<string, Handler> = {
    reset: (req) => void req.socket.resetAndDestroy(),
    'closed before a response': (req) => void req.socket.destroy(),
  };
  // [name, response Cache-Control, request headers, served stale?]
  const cases: [string, string, Record<string, string>, boolean][] = [
    ['stale-if-error', 'max-age=1, stale-if-error=60', {}, true],
    ['the request asks for stale-if-error', 'max-age=1', { 'cache-control': 'stale-if-error=60' }, true],
    ['s-maxage with its own stale-if-error', 's-maxage=1, stale-if-error=60', {}, true],
    ['no stale directive', 'max-age=1', {}, false],
    ['must-revalidate', 'max-age=1, stale-if-error=60, must-revalidate', {}, false],
    ['proxy-revalidate', 'max-age=1, stale-if-error=60, proxy-revalidate', {}, false],
    ['no-cache', 'no-cache, stale-if-error=60', {}, false],
    [
      's-maxage and only the request allows it',
      's-maxage=1',
      { 'cache-control': 'stale-if-error=60' },
      false,
    ],
    ['beyond the window', 'max-age=0, stale-if-error=1', {}, false],
  ];
  const slug = (failure: string, name: string): string =>
    `/down-${failure}-${name}`.replace(/[^a-z0-9/-]+/gi, '-');
  const firstBodies = new Map<string, Buffer>();

  before(async () => {
    for (const failure of Object.keys(failures)) {
      for (const [name, cc] of cases) {
        const path = slug(failure, name);
        answer(origin, path, 200, { 'cache-control': cc, etag: `"${name.length}"` });
        firstBodies.set(path, (await get(path)).body);
      }
    }
    await sleep(2_200); // every copy stale, the 1-second window of the last case over too
  });

  for (const [failure, handler] of Object.entries(failures)) {
    for (const [name, , reqHeaders, servedStale] of cases) {
      it(`${failure}, ${name}: ${servedStale ? 'the stale copy answers' : 'an error, never the stale copy'}`, async () => {
        const path = slug(failure, name);
        origin.routes.set(path, handler);
        const reply = await get(path, reqHeaders);
        if (servedStale) {
          assert.equal(reply.status, 200, status(reply));
          assert.deepEqual(reply.body, firstBodies.get(path));
          assert.match(status(reply), /detail="stale-if-error"/);
        } else {
          assert.ok(reply.status >= 500, `${reply.status} ${status(reply)}`);
          assert.notDeepEqual(reply.body, firstBodies.get(path));
        }
      });
    }
  }

  it('refused: the origin is gone, stale-if-error still answers and must-revalidate does not', async () => {
    const gone = new Origin();
    await gone.listen();
    const edge2 = await startEdgeProcess(gone.url, ['--node-name', 'refused']);
    try {
      answer(gone, '/sie', 200, { 'cache-control': 'max-age=1, stale-if-error=60' });
      answer(gone, '/mr', 200, { 'cache-control': 'max-age=1, stale-if-error=60, must-revalidate' });
      const sie = await fetchReply(`${edge2.url}/sie`);
      await fetchReply(`${edge2.url}/mr`);
      await sleep(1_200);
      await gone.close(); // connections to its port are now refused
      const stale = await fetchReply(`${edge2.url}/sie`);
      assert.equal(stale.status, 200);
      assert.deepEqual(stale.body, sie.body);
      assert.match(String(stale.headers['cache-status']), /detail="stale-if-error"/);
      const refused = await fetchReply(`${edge2.url}/mr`);
      assert.ok(refused.status >= 500, String(refused.status));
    } finally {
      await edge2.stop();
      await removeDir(edge2.cacheDir);
    }
  });
});

describe('interim responses (RFC 9110 §15.2)', () => {
  const LINK = '</style.css>; rel=preload; as=style';
  /** 103 and 102 at once, the final response 400 ms later. */
  const withHints =
    (cc: string): Handler =>
    async (_req, res) => {
      res.writeEarlyHints({ link: LINK });
      res.writeProcessing();
      await sleep(400);
      res.writeHead(200, { 'cache-control': cc, 'content-type': 'text/plain' });
      res.end('final');
    };

  interface Seen {
    interim: { status: number; atMs: number; link: unknown }[];
    finalAtMs: number;
    status: number;
  }

  function h1(path: string, method = 'GET'): Promise<Seen> {
    return new Promise((resolve, reject) => {
      const started = Date.now();
      const seen: Seen = { interim: [], finalAtMs: 0, status: 0 };
      const req = httpRequest(`${edge.url}${path}`, { method }, (res) => {
        seen.finalAtMs = Date.now() - started;
        seen.status = res.statusCode ?? 0;
        res.resume();
        res.on('end', () => resolve(seen));
      });
      req.on('information', (info) =>
        seen.interim.push({ status: info.statusCode, atMs: Date.now() - started, link: info.headers.link }),
      );
      req.on('error', reject);
      req.end();
    });
  }

  function h2(path: string): Promise<Seen> {
    const session = h2Session(edge.tlsPort as number, HOST, certs.ca);
    return new Promise<Seen>((resolve, reject) => {
      const started = Date.now();
      const seen: Seen = { interim: [], finalAtMs: 0, status: 0 };
      const stream = session.request({ ':path': path, ':method': 'GET' });
      stream.on('headers', (h) =>
        seen.interim.push({ status: Number(h[':status']), atMs: Date.now() - started, link: h.link }),
      );
      stream.on('response', (h) => {
        seen.finalAtMs = Date.now() - started;
        seen.status = Number(h[':status']);
      });
      stream.resume();
      stream.on('end', () => resolve(seen));
      stream.on('error', reject);
    }).finally(() => session.close());
  }

  function assertForwarded(seen: Seen): void {
    assert.deepEqual(
      seen.interim.map((i) => i.status),
      [103, 102],
    );
    assert.equal(seen.interim[0]?.link, LINK);
    // As they arrive: well before the final response, not replayed with it.
    assert.ok((seen.interim[0]?.atMs ?? Infinity) < seen.finalAtMs - 200, JSON.stringify(seen));
    assert.equal(seen.status, 200);
  }

  it('HTTP/1.1: 103 and 102 reach the client on a miss, before the final response; a hit replays none', async () => {
    origin.routes.set('/hints', withHints('max-age=60'));
    assertForwarded(await h1('/hints'));
    const hit = await h1('/hints');
    assert.deepEqual(hit.interim, []);
    assert.equal(origin.count('/hints'), 1);
  });

  it('HTTP/2: forwarded as interim HEADERS frames; a hit replays none', async () => {
    origin.routes.set('/hints-h2', withHints('max-age=60'));
    assertForwarded(await h2('/hints-h2'));
    const hit = await h2('/hints-h2');
    assert.deepEqual(hit.interim, []);
  });

  it('an origin that floods interim responses: at most 16 reach the client, then the final one', async () => {
    origin.routes.set('/hints-flood', (_req, res) => {
      for (let i = 0; i < 40; i++) res.writeProcessing();
      res.writeHead(200, { 'cache-control': 'no-store' });
      res.end('final');
    });
    const seen = await h1('/hints-flood');
    assert.equal(seen.status, 200);
    assert.ok(seen.interim.length > 0 && seen.interim.length <= 16, String(seen.interim.length));
  });

  it('on a pass (POST) and an uncacheable GET too', async () => {
    origin.routes.set('/hints-pass', withHints('no-store'));
    assertForwarded(await h1('/hints-pass', 'POST'));
    assertForwarded(await h1('/hints-pass'));
  });
});

describe('targeted fields (RFC 9213)', () => {
  it('Meridian-CDN-Cache-Control takes precedence and is stripped; CDN-Cache-Control is forwarded', async () => {
    const path = '/mcdn';
    answer(origin, path, 200, {
      'cache-control': 'no-store',
      'cdn-cache-control': 'no-store',
      'meridian-cdn-cache-control': 'max-age=60',
    });
    const { second, count } = await twice(path);
    assert.equal(count, 1);
    assert.equal(second.headers['meridian-cdn-cache-control'], undefined);
    assert.equal(second.headers['cdn-cache-control'], 'no-store');
    assert.equal(second.headers['cache-control'], 'no-store');
  });

  const ignored: [string, Record<string, string>, number][] = [
    [
      'max-age="10" (a String): CDN-Cache-Control ignored, Cache-Control: no-store applies',
      { 'cdn-cache-control': 'max-age="10"', 'cache-control': 'no-store' },
      2,
    ],
    [
      'max-age="10" beside public: the whole field ignored',
      { 'cdn-cache-control': 'public, max-age="10"', 'cache-control': 'no-store' },
      2,
    ],
    [
      'a parse error (trailing comma): ignored',
      { 'cdn-cache-control': 'max-age=60,', 'cache-control': 'no-store' },
      2,
    ],
    [
      'CDN-Cache-Control ignored, Cache-Control: max-age=60 applies',
      { 'cdn-cache-control': 'max-age="10"', 'cache-control': 'max-age=60' },
      1,
    ],
    [
      'a Decimal in Meridian-CDN-Cache-Control: CDN-Cache-Control applies',
      {
        'meridian-cdn-cache-control': 'max-age=1.5',
        'cdn-cache-control': 'max-age=60',
        'cache-control': 'no-store',
      },
      1,
    ],
  ];
  for (const [name, headers, expected] of ignored) {
    it(name, async () => {
      const path = `/targeted-${name.replace(/[^a-z0-9]+/gi, '-')}`;
      answer(origin, path, 200, headers);
      assert.equal((await twice(path)).count, expected);
    });
  }
});

describe('dates and Vary normalisation', () => {
  /** An HTTP-date in the future in rfc850 and asctime forms (RFC 9110 §5.6.7). */
  const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
  const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const two = (n: number): string => String(n).padStart(2, '0');
  function forms(offsetSec: number): { rfc850: string; asctime: string } {
    const d = new Date(Date.now() + offsetSec * 1000);
    const time = `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`;
    const day = DAYS[d.getUTCDay()] as string;
    const month = MONTHS[d.getUTCMonth()] as string;
    return {
      rfc850: `${day}, ${two(d.getUTCDate())}-${month}-${two(d.getUTCFullYear() % 100)} ${time} GMT`,
      asctime: `${day.slice(0, 3)} ${month} ${String(d.getUTCDate()).padStart(2, ' ')} ${time} ${d.getUTCFullYear()}`,
    };
  }
  const expires: [string, string][] = [
    ['IMF-fixdate in lower case', httpDate(120).toLowerCase()],
    ['IMF-fixdate with "Gmt"', httpDate(120).replace('GMT', 'Gmt')],
    ['rfc850-date in upper case', forms(120).rfc850.toUpperCase()],
    ['asctime-date in lower case', forms(120).asctime.toLowerCase()],
  ];
  for (const [name, value] of expires) {
    it(`Expires as ${name} gives freshness (RFC 9111 §4.2: case-insensitive)`, async () => {
      const path = `/expires-${name.replace(/[^a-z0-9]+/gi, '-')}`;
      answer(origin, path, 200, { expires: value });
      const { second, count } = await twice(path);
      assert.equal(count, 1, value);
      assert.match(status(second), /hit; ttl=1[01]\d/);
    });
  }

  it('If-Modified-Since against a stored response without Last-Modified compares with its Date', async () => {
    const path = '/ims-date';
    answer(origin, path, 200, { 'cache-control': 'max-age=60', date: httpDate(-30) });
    const stored = await get(path);
    assert.equal(stored.headers['last-modified'], undefined);
    assert.equal((await get(path, { 'if-modified-since': httpDate(-10) })).status, 304);
    assert.equal(
      (await get(path, { 'if-modified-since': httpDate(-30) })).status,
      304,
      'equal: not modified',
    );
    assert.equal((await get(path, { 'if-modified-since': httpDate(-3600) })).status, 200);
    assert.equal(origin.count(path), 1);
  });

  it('Accept-Language is normalised for Vary: case, q-values and order by weight', async () => {
    const path = '/vary-al';
    origin.routes.set(path, (req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', vary: 'Accept-Language' });
      res.end(`al=${String(req.headers['accept-language'])}`);
    });
    const first = await get(path, { 'accept-language': 'en-US,fr;q=0.5' });
    const same = await get(path, { 'accept-language': 'FR;q=0.50, en-us' });
    const other = await get(path, { 'accept-language': 'fr, en-US;q=0.5' });
    assert.match(status(same), /hit/);
    assert.deepEqual(same.body, first.body);
    assert.match(other.body.toString(), /al=fr, en-US;q=0.5/);
    assert.equal(origin.count(path), 2);
  });
});

describe('partial content (RFC 9111 §3.3): a 206 from the origin is stored and serves the ranges it holds', () => {
  const SIZE = 100_000;
  const body = Buffer.alloc(SIZE);
  for (let i = 0; i < SIZE; i++) body[i] = (i * 7 + (i >> 8)) & 0xff;
  /** Ranges the origin was asked for, per path. */
  const asked = new Map<string, (string | undefined)[]>();

  /** An origin that honours one byte range (RFC 9110 §14.2), or ignores Range when `ignore`. */
  function ranged(path: string, size = SIZE, ignore = false): void {
    asked.set(path, []);
    origin.routes.set(path, (req, res) => {
      const range = req.headers.range;
      asked.get(path)?.push(range);
      const headers = {
        'cache-control': 'max-age=60',
        etag: '"r1"',
        'content-type': 'application/octet-stream',
      };
      const m = /^bytes=(\d*)-(\d*)$/.exec(range ?? '');
      // With Content-Length, as origins send stored files: a fill of unknown length cannot cut a
      // range before its end, so its first readers get the whole 200 (RFC 9110 §14.2 allows that).
      if (ignore || m === null) {
        res.writeHead(200, { ...headers, 'content-length': String(size) });
        res.end(body.subarray(0, size));
        return;
      }
      const start = m[1] === '' ? size - Number(m[2]) : Number(m[1]);
      const end = m[1] === '' || m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
      res.writeHead(206, {
        ...headers,
        'content-range': `bytes ${start}-${end}/${size}`,
        'content-length': String(end - start + 1),
      });
      res.end(body.subarray(start, end + 1));
    });
  }

  function assertPart(reply: Reply, start: number, end: number, size = SIZE): void {
    assert.equal(reply.status, 206, status(reply));
    assert.equal(reply.headers['content-range'], `bytes ${start}-${end}/${size}`);
    assert.equal(reply.headers['content-length'], String(end - start + 1));
    assert.deepEqual(reply.body, body.subarray(start, end + 1));
  }

  it('a miss forwards the Range; ranges within the stored part are hits', async () => {
    const path = '/part-big';
    ranged(path);
    assertPart(await get(path, { range: 'bytes=1000-1999' }), 1000, 1999);
    assert.deepEqual(asked.get(path), ['bytes=1000-1999']);
    const within = await get(path, { range: 'bytes=1200-1299' });
    assertPart(within, 1200, 1299);
    assert.match(status(within), /^corners; hit; ttl=\d+$/);
    const same = await get(path, { range: 'bytes=1000-1999' });
    assertPart(same, 1000, 1999);
    assert.equal(origin.count(path), 1);
    // A part never answers a request for the whole object.
    const whole = await get(path);
    assert.equal(whole.status, 200);
    assert.deepEqual(whole.body, body);
    assert.equal(origin.count(path), 2);
  });

  it('a range outside the part: the whole object is fetched once its size is known, then every range hits', async () => {
    const path = '/part-outside';
    ranged(path);
    assertPart(await get(path, { range: 'bytes=0-99' }), 0, 99);
    assertPart(await get(path, { range: 'bytes=50000-50099' }), 50000, 50099);
    assert.deepEqual(asked.get(path), ['bytes=0-99', undefined]);
    assertPart(await get(path, { range: 'bytes=-10' }), SIZE - 10, SIZE - 1);
    assert.match(status(await get(path, { range: 'bytes=7-8' })), /hit/);
    assert.equal(origin.count(path), 2);
  });

  it('a 206 that holds the whole representation is stored as the whole object', async () => {
    const path = '/part-all';
    ranged(path, 5000);
    const first = await get(path, { range: 'bytes=0-' });
    assertPart(first, 0, 4999, 5000);
    const plain = await get(path);
    assert.equal(plain.status, 200);
    assert.equal(plain.headers['content-range'], undefined);
    assert.deepEqual(plain.body, body.subarray(0, 5000));
    assert.match(status(plain), /hit/);
    assert.equal(origin.count(path), 1);
  });

  it('an origin that ignores Range: its 200 is stored, and the range is cut from it', async () => {
    const path = '/part-ignored';
    ranged(path, SIZE, true);
    assertPart(await get(path, { range: 'bytes=10-19' }), 10, 19);
    assertPart(await get(path, { range: 'bytes=90000-90009' }), 90000, 90009);
    assert.equal(origin.count(path), 1);
  });

  it('If-Range and several ranges fetch the whole object', async () => {
    const path = '/part-if-range';
    ranged(path);
    assertPart(await get(path, { range: 'bytes=0-9', 'if-range': '"r1"' }), 0, 9);
    const multi = await get(path, { range: 'bytes=0-1,5-6' });
    assert.equal(multi.status, 200); // RFC 9110 §14.2: a server MAY ignore Range
    assert.deepEqual(asked.get(path), [undefined]);
  });
});

describe('zone setting strip_cdn_cache_control (managed mode)', () => {
  let control: ControlProc | undefined;
  let managed: EdgeProc | undefined;

  before(async () => {
    const cp = (control = await startControlProcess());
    const admin = (method: string, path: string, body?: unknown) =>
      api(cp.url, cp.adminToken, method, path, body);
    const token = (await admin('POST', '/client/v4/tokens', { name: 'nodes', scopes: ['node'] })).body.result
      .value as string;
    await admin('PUT', '/client/v4/pops/test', { city: 'Testville', latitude: 1, longitude: 2 });
    for (const [name, strip] of [
      ['keeps', false],
      ['strips', true],
    ] as const) {
      const zone = await admin('POST', '/client/v4/zones', {
        name,
        hostnames: [`${name}.test`],
        origins: [{ url: origin.url }],
        settings: { strip_cdn_cache_control: strip },
      });
      assert.equal(zone.status, 201, JSON.stringify(zone.body));
    }
    managed = await startEdgeProcess(
      '',
      ['--control', cp.url, '--pop', 'test', '--node', 'managed', '--token', token],
      { noOrigin: true },
    );
  });

  after(async () => {
    await managed?.stop();
    if (managed !== undefined) await removeDir(managed.cacheDir);
    await control?.stop();
    if (control !== undefined) await removeDir(control.dataDir);
  });

  it('CDN-Cache-Control is obeyed in both zones, and reaches the client only where not stripped', async () => {
    answer(origin, '/zone-cdncc', 200, { 'cache-control': 'no-store', 'cdn-cache-control': 'max-age=60' });
    const node = managed as EdgeProc;
    const at = async (host: string): Promise<Reply[]> => {
      // The node may still be applying the zones it just followed: wait for the zone to answer.
      const deadline = Date.now() + 10_000;
      let first = await fetchReply(`${node.url}/zone-cdncc`, { headers: { host } });
      while (first.status !== 200 && Date.now() < deadline) {
        await sleep(50);
        first = await fetchReply(`${node.url}/zone-cdncc`, { headers: { host } });
      }
      return [first, await fetchReply(`${node.url}/zone-cdncc`, { headers: { host } })];
    };
    const [keptFirst, kept] = (await at('keeps.test')) as [Reply, Reply];
    const [, stripped] = (await at('strips.test')) as [Reply, Reply];
    assert.equal(keptFirst.headers['cdn-cache-control'], 'max-age=60');
    assert.equal(kept.headers['cdn-cache-control'], 'max-age=60');
    assert.match(String(kept.headers['cache-status']), /hit/);
    assert.equal(stripped.headers['cdn-cache-control'], undefined);
    assert.match(String(stripped.headers['cache-status']), /hit/);
    assert.equal(origin.count('/zone-cdncc'), 2, 'one fetch per zone: stored in both');
  });
});
