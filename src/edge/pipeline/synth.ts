// synth: every error page. A short plain-text body naming the problem, the status from the
// error's code, and Cache-Status. When the head was already sent, the connection is cut instead.
import { cacheStatusOf } from './deliver.ts';
import type { RequestContext } from './context.ts';
import type { Next } from './steps.ts';

export function synth(ctx: RequestContext): Next<'synth'> {
  const res = ctx.res;
  if (res.headersSent) {
    res.destroy();
    return 'log';
  }
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
  // A malformed request may have left the connection's framing in doubt: close it.
  if (error?.source === 'downstream') fields.push('connection', 'close');
  res.writeHead(status, fields);
  ctx.bytesSent = Buffer.byteLength(body);
  res.end(ctx.req.method === 'HEAD' ? undefined : body);
  return 'log';
}
