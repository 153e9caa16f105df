// Tiny benchmark origin: plain node:http, no dependencies.
//
//   /obj/1k/<any>    1 KiB body     \
//   /obj/100k/<any>  100 KiB body    } Cache-Control: public, max-age=3600, ETag, Last-Modified
//   /obj/1m/<any>    1 MiB body     /  (If-None-Match / If-Modified-Since answered with 304)
//   /slow/<any>      waits SLOW_MS (200) then 1 KiB, cacheable
//   GET  /__stats    JSON request counts per path (the /__ endpoints are not counted)
//   POST /__reset    clears the counts
//
// Env: ORIGIN_HOST (127.0.0.1), ORIGIN_PORT (9000), SLOW_MS (200).
import http from 'node:http';
import crypto from 'node:crypto';
import { Buffer } from 'node:buffer';
import { clearTimeout, setTimeout } from 'node:timers';

const HOST = process.env.ORIGIN_HOST || '127.0.0.1';
const PORT = Number(process.env.ORIGIN_PORT || 9000);
const SLOW_MS = Number(process.env.SLOW_MS || 200);

// Bodies are built once and served from memory.
function makeBody(size, seed) {
  const buf = Buffer.alloc(size);
  const pattern = Buffer.from(`meridian-bench-${seed}-`);
  for (let i = 0; i < size; i += pattern.length) pattern.copy(buf, i);
  return buf;
}
const LAST_MODIFIED = new Date(Date.UTC(2025, 0, 1)).toUTCString();
const SIZES = { '1k': 1024, '100k': 100 * 1024, '1m': 1024 * 1024 };
const OBJECTS = {};
for (const [name, size] of Object.entries(SIZES)) {
  const body = makeBody(size, name);
  const etag = '"' + crypto.createHash('sha1').update(body).digest('hex').slice(0, 16) + '"';
  OBJECTS[name] = { body, etag, length: String(size) };
}

let counts = new Map();
let total = 0;
let startedAt = Date.now();

function sendObject(req, res, obj) {
  const headers = {
    'content-type': 'application/octet-stream',
    'cache-control': 'public, max-age=3600',
    etag: obj.etag,
    'last-modified': LAST_MODIFIED,
  };
  const inm = req.headers['if-none-match'];
  const ims = req.headers['if-modified-since'];
  if (
    (inm && inm.split(',').some((t) => t.trim() === obj.etag || t.trim() === '*')) ||
    (!inm && ims && Date.parse(ims) >= Date.parse(LAST_MODIFIED))
  ) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  headers['content-length'] = obj.length;
  res.writeHead(200, headers);
  res.end(req.method === 'HEAD' ? undefined : obj.body);
}

function sendJson(res, status, value) {
  const body = JSON.stringify(value);
  res.writeHead(status, {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

const server = http.createServer((req, res) => {
  const url = req.url || '/';
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);

  if (path === '/__stats' && req.method === 'GET') {
    return sendJson(res, 200, {
      total,
      uptime_ms: Date.now() - startedAt,
      paths: Object.fromEntries(counts),
    });
  }
  if (path === '/__reset' && req.method === 'POST') {
    counts = new Map();
    total = 0;
    startedAt = Date.now();
    return sendJson(res, 200, { ok: true });
  }

  total++;
  counts.set(path, (counts.get(path) || 0) + 1);

  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-length': '0' });
    return res.end();
  }
  if (path.startsWith('/obj/')) {
    const slash = path.indexOf('/', 5);
    const obj = slash === -1 ? undefined : OBJECTS[path.slice(5, slash)];
    if (obj) return sendObject(req, res, obj);
  } else if (path.startsWith('/slow/')) {
    const timer = setTimeout(() => sendObject(req, res, OBJECTS['1k']), SLOW_MS);
    res.on('close', () => clearTimeout(timer));
    return;
  }
  res.writeHead(404, { 'content-type': 'text/plain', 'content-length': '10', 'cache-control': 'no-store' });
  res.end('not found\n');
});

// Proxies keep upstream connections open; do not close them under their feet.
server.keepAliveTimeout = 75_000;
server.headersTimeout = 80_000;
server.requestTimeout = 0;
server.maxRequestsPerSocket = 0;

server.listen(PORT, HOST, () => {
  console.log(`origin listening on http://${HOST}:${PORT} (node ${process.version}, pid ${process.pid})`);
});

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  });
}
