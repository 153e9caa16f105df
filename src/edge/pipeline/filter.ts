// filter: IP access rules, rate limits and WAF hook in here (per zone, compiled to null when a zone
// has none). By default every request continues to compute.
import type { RequestContext } from './context.ts';
import type { Next } from './steps.ts';

export function filter(_ctx: RequestContext): Next<'filter'> {
  return 'compute';
}
