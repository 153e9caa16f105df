// synth: every error page. A short plain-text body naming the problem, the status from the
// error's code, and Cache-Status. When the head was already sent, the connection is cut instead.
// Also the always_use_https redirect (route), which is no error but, like one, never reaches the cache.
import { cacheStatusOf } from './deliver.ts';
import type { RequestContext } from './context.ts';
import { hstsFor } from './https-zone.ts';
import type { Next } from './steps.ts';

export function synth(ctx: RequestContext): Next<'synth'> {
  const res = ctx.res;
  if (res.headersSent) {
    res.destroy();
    return 'log';
  }
  if (ctx.redirect !== null) return redirect(ctx, ctx.redirect);
  const error = ctx.error;
  const status = error?.status ?? (ctx.synthStatus || 500);
  if (ctx.detail === null && error !== null) ctx.detail = error.code.toLowerCase().replaceAll('_', '-');
  ctx.phase = 'synth';
  const body = `${status} ${error?.message ?? 'error'}\n`;
  const fields = [
    'content-type',
    'text/plain; charset=utf-8',
    'content-length',
    String(Buffer.byteLength(body)),
    'cache-control',
    'no-store',
    'via',
    ctx.edge.via,
    'cache-status',
    cacheStatusOf(ctx, null, undefined),
  ];
  // A malformed request may have left the connection's framing in doubt: close it. HTTP/2 frames
  // each stream apart (and forbids Connection, RFC 9113 §8.2.2): the session goes on.
  if (error?.source === 'downstream' && !ctx.h2) fields.push('connection', 'close');
  const hsts = hstsFor(ctx);
  if (hsts !== null) fields.push('strict-transport-security', hsts);
  res.writeHead(status, fields);
  ctx.bytesSent = Buffer.byteLength(body);
  if (ctx.req.method === 'HEAD') res.end();
  else res.end(body);
  return 'log';
}

/** RFC 9110 §15.4.2 / §15.4.9: 301 or 308 with Location; a short body for clients that show it. */
function redirect(ctx: RequestContext, location: string): Next<'synth'> {
  const body = `${ctx.synthStatus} ${location}\n`;
  ctx.res.writeHead(ctx.synthStatus, [
    'location',
    location,
    'content-type',
    'text/plain; charset=utf-8',
    'content-length',
    String(Buffer.byteLength(body)),
    'via',
    ctx.edge.via,
    'cache-status',
    cacheStatusOf(ctx, null, undefined),
  ]);
  ctx.bytesSent = Buffer.byteLength(body);
  if (ctx.req.method === 'HEAD') ctx.res.end();
  else ctx.res.end(body);
  return 'log';
}
