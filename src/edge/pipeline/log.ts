// log: per-request metrics. Counters are pre-bound per label set, so this costs a few additions.
import type { RequestContext } from './context.ts';

export function log(ctx: RequestContext): void {
  // A sibling worker's fill is not a client request: the worker the client asked counts it.
  if (ctx.sibling) return;
  ctx.edge.metrics.recordRequest(ctx.phase, ctx.res.statusCode, ctx.bytesSent);
}
