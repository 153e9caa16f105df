// What Node's per-response header handling costs a cache hit: one node:http server answers a 1 KiB
// body with the 9 header fields a Meridian hit carries, either through res.writeHead (Node validates
// and serialises every field on each response) or with the head serialised once (as the edge does
// for keep-alive HTTP/1.1 hits, src/edge/pipeline/deliver.ts). Run each mode pinned to CPU 1 and
// load it with wrk pinned to CPU 0:
//   taskset -c 1 node bench/edge/head-cost.mjs object &   taskset -c 0 wrk -t1 -c64 -d5s http://127.0.0.1:9399/
//   taskset -c 1 node bench/edge/head-cost.mjs raw &      taskset -c 0 wrk -t1 -c64 -d5s http://127.0.0.1:9399/
import { Buffer } from 'node:buffer';
import http from 'node:http';

const body = Buffer.alloc(1024, 97);
const headers = {
  'cache-control': 'max-age=600',
  'x-origin-count': '3',
  'content-type': 'application/octet-stream',
  date: 'Mon, 23 Nov 2026 10:59:07 GMT',
  via: '1.1 meridian',
  'accept-ranges': 'bytes',
  'content-length': '1024',
  age: '25',
  'cache-status': 'meridian; hit; ttl=575',
};
const raw =
  'HTTP/1.1 200 OK\r\n' +
  Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('') +
  'Connection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n';
const mode = process.argv[2] ?? 'object';

http
  .createServer((_req, res) => {
    if (mode === 'raw') {
      res.statusCode = 200;
      res._header = raw;
    } else {
      res.writeHead(200, headers);
    }
    res.end(body);
  })
  .listen(9399, '127.0.0.1');
