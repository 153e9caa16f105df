// Stampede client: fires N concurrent GETs for one URL, each on its own connection, all
// started in the same tick, and reports status codes, the proxy's cache header and latency.
//   node stampede.mjs URL [N=200] [TIMEOUT_MS=15000]
// Prints one JSON object. Bounded: every request is aborted after TIMEOUT_MS.
import http from 'node:http';

const [url, nArg, timeoutArg] = process.argv.slice(2);
if (!url) {
  console.error('usage: stampede.mjs URL [N] [TIMEOUT_MS]');
  process.exit(2);
}
const N = Number(nArg || 200);
const TIMEOUT_MS = Number(timeoutArg || 15000);
const target = new URL(url);
if (!['127.0.0.1', 'localhost', '[::1]'].includes(target.hostname)) {
  console.error('stampede.mjs only targets loopback');
  process.exit(2);
}

const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
const CACHE_HEADERS = ['x-cache', 'x-cache-status', 'age', 'via'];

function one() {
  const t0 = process.hrtime.bigint();
  return new Promise((resolve) => {
    const req = http.get(target, { agent, timeout: TIMEOUT_MS }, (res) => {
      let bytes = 0;
      res.on('data', (c) => {
        bytes += c.length;
      });
      res.on('end', () => {
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        const headers = {};
        for (const h of CACHE_HEADERS) if (res.headers[h] !== undefined) headers[h] = res.headers[h];
        resolve({ status: res.statusCode, bytes, ms, headers });
      });
      res.on('error', (e) => resolve({ status: 'error:' + e.code, ms: 0, headers: {} }));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.on('error', (e) => resolve({ status: 'error:' + (e.code || e.message), ms: 0, headers: {} }));
  });
}

const results = await Promise.all(Array.from({ length: N }, one));
const statuses = {};
const cache = {};
for (const r of results) {
  statuses[r.status] = (statuses[r.status] || 0) + 1;
  const tag =
    r.headers['x-cache'] ??
    r.headers['x-cache-status'] ??
    (r.headers.via ? (r.headers.via.match(/\[([^\]]*)\]/)?.[1] ?? 'via') : '-');
  cache[tag] = (cache[tag] || 0) + 1;
}
const ms = results
  .filter((r) => r.status === 200)
  .map((r) => r.ms)
  .sort((a, b) => a - b);
const pct = (p) =>
  ms.length ? Math.round(ms[Math.min(ms.length - 1, Math.floor((p / 100) * ms.length))]) : null;
console.log(
  JSON.stringify({
    url,
    n: N,
    statuses,
    cache,
    ms_min: ms.length ? Math.round(ms[0]) : null,
    ms_p50: pct(50),
    ms_p90: pct(90),
    ms_max: ms.length ? Math.round(ms[ms.length - 1]) : null,
  }),
);
agent.destroy();
