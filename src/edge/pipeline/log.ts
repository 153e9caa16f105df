// log: per-request metrics, analytics counters, the sampled access log and live tail. Counters are
// pre-bound per label set, so this costs a few additions; analytics only adds to numbers in memory
// (analytics/collector.ts); access log lines are written by pino's asynchronous destination.
import type { RequestContext } from './context.ts';

export function log(ctx: RequestContext): void {
  // A sibling worker's fill is not a client request: the worker the client asked counts it.
  if (ctx.sibling) return;
  ctx.edge.metrics.recordRequest(ctx.phase, ctx.res.statusCode, ctx.bytesSent);
  const analytics = ctx.edge.analytics;
  // Internal hops are counted where the client's request arrived; a request without zone has no owner.
  if (analytics !== null && ctx.zone !== null && ctx.hop === null) analytics.record(ctx);
}
