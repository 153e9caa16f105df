// The benchmark's origin: /obj is a cacheable 1 KiB body (an hour of freshness); ORIGIN_PORT.
import { Buffer } from 'node:buffer';
import { createServer } from 'node:http';

const body = Buffer.alloc(1024, 'x');
let requests = 0;
createServer((req, res) => {
  requests++;
  if (req.url === '/__stats') {
    res.end(JSON.stringify({ requests }));
    return;
  }
  res.writeHead(200, {
    'content-type': 'application/octet-stream',
    'cache-control': 'public, max-age=3600',
    'content-length': body.length,
  });
  res.end(body);
}).listen(Number(process.env.ORIGIN_PORT ?? 9400), '127.0.0.1');
