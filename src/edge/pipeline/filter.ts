// filter: the zone's edge security (edge/security/): custom firewall rules, rate limits, the managed
// rule set, "under attack" challenges. Runs after route (the zone is known), before the cache.
// A zone without security has no entry in the node's table: one Map lookup, nothing else.
// An early answer (403 block, 429 limit, the challenge page, the challenge's redirect) is written
// here and the request goes to log. Internal hops were filtered by the first node and pass.
// By default every request continues to compute.
import { enforce } from '../security/enforce.ts';
import type { RequestContext } from './context.ts';
import type { Next } from './steps.ts';

export function filter(ctx: RequestContext): Next<'filter'> | Promise<Next<'filter'>> {
  const security = ctx.edge.security;
  const zone = ctx.zone;
  if (security === null || zone === null || ctx.hop !== null) return 'compute';
  const compiled = security.table.get(zone.zone.id);
  if (compiled === undefined) return 'compute';
  return enforce(ctx, compiled, security);
}
