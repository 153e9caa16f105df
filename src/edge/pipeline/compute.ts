// compute: a zone's edge worker may answer the request itself. By default (no worker route
// matches) the request continues to lookup.
import type { RequestContext } from './context.ts';
import type { Next } from './steps.ts';

export function compute(_ctx: RequestContext): Next<'compute'> {
  return 'lookup';
}
