// An origin for slice-caching tests, in the test's own process: large deterministic objects with
// single-range support (RFC 9110 §14), and switches for the misbehaviours the edge must survive.
// It counts requests and body bytes per path, and records which node (Via) asked.
//
// Paths: /<mode>/<name>?size=N[&v=tag] — mode is one of
//   ok       ranges answered with 206 (the object's version is `v`, default "1", or set with setVersion)
//   norange  Range ignored: always 200 with the whole object
//   liar     206 whose Content-Range names other bytes than those asked for
//   nolength 206 with Content-Range "bytes a-b/*"
//   short    206 whose chunked body stops halfway
//   missing  404 with a body
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RangeOrigin {
  readonly url: string;
  /** Requests and body bytes sent per path (without the query). */
  stats(path: string): { requests: number; bytes: number; ranges: string[]; via: string[] };
  /** Changes the version (content and ETag) of a path's object from now on. */
  setVersion(path: string, version: string): void;
  reset(): void;
  close(): Promise<void>;
}

/** Byte `i` of version `version` of an object: deterministic, differs between versions. */
export function byteAt(i: number, version: string): number {
  let h = (i * 2654435761) ^ (version.charCodeAt(0) * 40503);
  h ^= h >>> 13;
  return h & 0xff;
}

export function bodyOf(size: number, version: string, start = 0, end = size): Buffer {
  const out = Buffer.allocUnsafe(end - start);
  for (let i = start; i < end; i++) out[i - start] = byteAt(i, version);
  return out;
}

export async function startRangeOrigin(): Promise<RangeOrigin> {
  const stats = new Map<string, { requests: number; bytes: number; ranges: string[]; via: string[] }>();
  const versions = new Map<string, string>();
  const statOf = (path: string) => {
    let s = stats.get(path);
    if (s === undefined) stats.set(path, (s = { requests: 0, bytes: 0, ranges: [], via: [] }));
    return s;
  };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://origin');
    const [, mode = 'ok'] = url.pathname.split('/');
    const stat = statOf(url.pathname);
    stat.requests++;
    stat.ranges.push(String(req.headers.range ?? ''));
    stat.via.push(String(req.headers.via ?? ''));
    const size = Number(url.searchParams.get('size') ?? '1000');
    const version = versions.get(url.pathname) ?? url.searchParams.get('v') ?? '1';
    const etag = `"${version}-${size}"`;
    const base = {
      'cache-control': url.searchParams.get('cc') ?? 'max-age=600',
      etag,
      'last-modified': new Date(Date.UTC(2026, 0, 1)).toUTCString(),
      'content-type': 'application/octet-stream',
    };
    const send = (status: number, headers: Record<string, string>, body: Buffer): void => {
      stat.bytes += body.length;
      res.writeHead(status, { ...base, ...headers });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (mode === 'missing') {
      send(404, { 'content-type': 'text/plain', 'content-length': '3' }, Buffer.from('no\n'));
      return;
    }
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, base);
      res.end();
      return;
    }
    const m = /^bytes=(\d+)-(\d*)$/.exec(String(req.headers.range ?? ''));
    if (m === null || mode === 'norange') {
      send(200, { 'content-length': String(size) }, bodyOf(size, version));
      return;
    }
    const start = Number(m[1]);
    if (start >= size) {
      send(416, { 'content-range': `bytes */${size}`, 'content-length': '0' }, Buffer.alloc(0));
      return;
    }
    const end = Math.min(size - 1, m[2] === '' ? size - 1 : Number(m[2]));
    const body = bodyOf(size, version, start, end + 1);
    switch (mode) {
      case 'liar': {
        const shifted = start + 1;
        send(206, { 'content-range': `bytes ${shifted}-${end + 1}/${size + 1}` }, body);
        return;
      }
      case 'nolength':
        send(206, { 'content-range': `bytes ${start}-${end}/*` }, body);
        return;
      case 'short': {
        res.writeHead(206, { ...base, 'content-range': `bytes ${start}-${end}/${size}` });
        const half = body.subarray(0, body.length >> 1);
        stat.bytes += half.length;
        res.write(half, () => res.destroy());
        return;
      }
      default:
        send(
          206,
          { 'content-range': `bytes ${start}-${end}/${size}`, 'content-length': String(body.length) },
          body,
        );
    }
  });
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stats: (path) => ({ ...statOf(path) }),
    setVersion: (path, version) => void versions.set(path, version),
    reset: () => stats.clear(),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
