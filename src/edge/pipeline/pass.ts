// pass: a private round trip upstream; nothing is stored. A successful unsafe request invalidates
// the stored responses for its URL and for same-origin Location / Content-Location (RFC 9111 §4.4).
import { invalidatedUrls } from '../../lib/http-cache/policy.ts';
import { classify } from '../upstream/origin-client.ts';
import { invalidatesOnSuccess } from './builtin.ts';
import type { RequestContext } from './context.ts';
import type { Next } from './steps.ts';
import { primaryKeysForUrlBothSchemes } from '../zones/zone-table.ts';

export async function pass(ctx: RequestContext): Promise<Next<'pass'>> {
  let response;
  try {
    response = await ctx.edge.pass(ctx);
    ctx.upstreamHrMs = performance.now();
  } catch (err) {
    ctx.fail(classify(err));
    return 'synth';
  }
  ctx.fwdStatus = response.status;
  ctx.delivery = { kind: 'upstream', response };
  if (invalidatesOnSuccess(ctx.req.method, response.status)) await invalidate(ctx, response.headers);
  return 'deliver';
}

/** Completes before the response is delivered, so the client's next GET cannot see the old copy. */
async function invalidate(
  ctx: RequestContext,
  headers: Record<string, string | string[] | undefined>,
): Promise<void> {
  const cache = ctx.edge.cache;
  const removals: Promise<number>[] = [];
  for (const url of invalidatedUrls(ctx.req.method ?? '', ctx.fwdStatus, ctx.url(), headers)) {
    // The zone's key rules decide which stored keys a URL has (query normalisation, key headers).
    for (const key of keysOfUrl(ctx, url)) removals.push(cache.removeUrl(key));
  }
  await Promise.allSettled(removals);
}

/** Both schemes' keys: a change made over https leaves no stale copy under http, and back. */
function keysOfUrl(ctx: RequestContext, url: string): readonly string[] {
  const zone = ctx.zone;
  if (zone === null) return [];
  return primaryKeysForUrlBothSchemes(zone, url) ?? [];
}
