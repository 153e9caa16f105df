// The dashboard (web/): static files under /dashboard/, served from the repository; uPlot (the
// charting library) from its npm package. Nothing comes from another site. The files hold no data
// and need no token; every figure they show comes from the API with the token the person signs in
// with (kept in the browser's sessionStorage only).
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

const WEB = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'web');
const UPLOT = dirname(createRequire(import.meta.url).resolve('uplot'));

/** Every file the dashboard serves: URL name → file and type. Anything else is 404. */
const FILES: Record<string, { path: string; type: string }> = {
  '': { path: join(WEB, 'index.html'), type: 'text/html; charset=utf-8' },
  'app.js': { path: join(WEB, 'app.js'), type: 'text/javascript; charset=utf-8' },
  'views.js': { path: join(WEB, 'views.js'), type: 'text/javascript; charset=utf-8' },
  'style.css': { path: join(WEB, 'style.css'), type: 'text/css; charset=utf-8' },
  'vendor/uplot.js': { path: join(UPLOT, 'uPlot.esm.js'), type: 'text/javascript; charset=utf-8' },
  'vendor/uplot.css': { path: join(UPLOT, 'uPlot.min.css'), type: 'text/css; charset=utf-8' },
};

/** The page may load only its own files and call only its own origin (no inline script, no other host). */
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

export function dashboardRoutes(app: FastifyInstance): void {
  const cache = new Map<string, Buffer>();
  app.get('/dashboard', async (_req, reply) => reply.redirect('/dashboard/', 301));
  app.get('/dashboard/*', async (req, reply) => {
    const name = (req.params as { '*': string })['*'];
    const file = FILES[name];
    if (file === undefined) return reply.code(404).type('text/plain').send('not found\n');
    let body = cache.get(name);
    if (body === undefined) {
      body = await readFile(file.path);
      cache.set(name, body);
    }
    return reply
      .header('content-security-policy', CSP)
      .header('x-content-type-options', 'nosniff')
      .header('cache-control', 'no-cache')
      .type(file.type)
      .send(body);
  });
}
