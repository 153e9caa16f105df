// A small origin for `meridian demo` / `meridian up`: pages, assets, a slow endpoint, tagged and
// uncacheable content, so every cache behaviour can be seen with curl. GET /__stats counts requests.
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

type Handler = (req: IncomingMessage, res: ServerResponse, path: string) => void;

const html = (title: string, body: string): string =>
  `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title>` +
  `<link rel="stylesheet" href="/static/style.css"></head><body><h1>${title}</h1>${body}` +
  `<script src="/static/app.js"></script></body></html>\n`;

function send(
  res: ServerResponse,
  status: number,
  type: string,
  body: string | Buffer,
  headers: Record<string, string> = {},
): void {
  const etag = `"${createHash('sha1').update(body).digest('base64url').slice(0, 16)}"`;
  res.writeHead(status, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    etag,
    ...headers,
  });
  res.end(body);
}

const ROUTES: [RegExp, Handler][] = [
  [
    /^\/$/,
    (_req, res) =>
      send(
        res,
        200,
        'text/html; charset=utf-8',
        html(
          'Meridian demo origin',
          '<ul><li><a href="/static/app.js">/static/app.js</a> (1 h)</li><li><a href="/slow">/slow</a> (200 ms)</li>' +
            '<li><a href="/tagged/news">/tagged/news</a> (Cache-Tag)</li><li><a href="/api/time">/api/time</a> (no-store)</li>' +
            '<li><a href="/stale">/stale</a> (stale-while-revalidate)</li><li><a href="/images/logo.svg">/images/logo.svg</a></li></ul>',
        ),
        { 'cache-control': 'public, max-age=60' },
      ),
  ],
  [
    /^\/static\/app\.js$/,
    (_req, res) =>
      send(res, 200, 'text/javascript', 'console.log("served through Meridian");\n', {
        'cache-control': 'public, max-age=3600',
        'last-modified': 'Mon, 02 Nov 2026 10:00:00 GMT',
      }),
  ],
  [
    /^\/static\/style\.css$/,
    (_req, res) =>
      send(res, 200, 'text/css', 'body { font-family: sans-serif; margin: 2em; }\n', {
        'cache-control': 'public, max-age=3600',
      }),
  ],
  [
    /^\/images\/logo\.svg$/,
    (_req, res) =>
      send(
        res,
        200,
        'image/svg+xml',
        '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><circle cx="32" cy="32" r="30" fill="#0a7"/></svg>\n',
        { 'cache-control': 'public, max-age=86400' },
      ),
  ],
  [
    /^\/slow(\/.*)?$/,
    (_req, res, path) =>
      void setTimeout(
        () =>
          send(res, 200, 'text/plain', `slow answer for ${path}\n`, {
            'cache-control': 'public, max-age=30',
          }),
        200,
      ),
  ],
  [
    /^\/tagged\/([a-z0-9-]+)$/,
    (_req, res, path) => {
      const name = path.split('/')[2] ?? 'x';
      send(
        res,
        200,
        'text/html; charset=utf-8',
        html(`Tagged ${name}`, `<p>${new Date().toISOString()}</p>`),
        {
          'cache-control': 'public, max-age=600',
          'cache-tag': `demo,tagged,${name}`,
        },
      );
    },
  ],
  [
    /^\/api\/time$/,
    (_req, res) =>
      send(res, 200, 'application/json', JSON.stringify({ now: new Date().toISOString() }), {
        'cache-control': 'no-store',
      }),
  ],
  [
    /^\/stale$/,
    (_req, res) =>
      send(res, 200, 'text/plain', `generated ${new Date().toISOString()}\n`, {
        'cache-control': 'public, max-age=5, stale-while-revalidate=30, stale-if-error=300',
      }),
  ],
];

export interface DemoOrigin {
  readonly server: Server;
  readonly url: string;
  /** Requests seen per path. */
  readonly counts: Map<string, number>;
  close(): Promise<void>;
}

export async function startDemoOrigin(host: string, port: number): Promise<DemoOrigin> {
  const counts = new Map<string, number>();
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path === '/__stats') {
      send(res, 200, 'application/json', JSON.stringify(Object.fromEntries(counts)), {
        'cache-control': 'no-store',
      });
      return;
    }
    counts.set(path, (counts.get(path) ?? 0) + 1);
    const route = ROUTES.find(([pattern]) => pattern.test(path));
    if (route === undefined)
      send(res, 404, 'text/plain', 'not found\n', { 'cache-control': 'public, max-age=10' });
    else route[1](req, res, path);
  });
  server.listen(port, host);
  await once(server, 'listening');
  const address = server.address();
  const actualPort = typeof address === 'object' && address !== null ? address.port : port;
  return {
    server,
    url: `http://${host}:${actualPort}`,
    counts,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
