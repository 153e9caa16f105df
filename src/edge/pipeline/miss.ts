// miss: join the fetch in flight for the key or start it (the writer). Every waiter reads the same
// outcome: a body streaming into the cache, a 304 that refreshed the stored object, an uncacheable
// answer (the writer forwards it, readers fetch for themselves), or a failure (stale-if-error).
import { canServeStaleOnError } from '../../lib/http-cache/policy.ts';
import { parseContentRange, singleByteRange } from '../../lib/http-cache/conditional.ts';
import { firstHeaderValue } from '../../lib/http-cache/headers.ts';
import { partialKeyOf, variantKeyOf } from '../cache/key.ts';
import type { FetchOutcome } from '../fetch/fetch-task.ts';
import { FetchTask } from '../fetch/fetch-task.ts';
import type { RequestContext } from './context.ts';
import { interimForwarder } from './interim.ts';
import type { Next } from './steps.ts';

export async function miss(ctx: RequestContext): Promise<Next<'miss'>> {
  const edge = ctx.edge;
  const req = ctx.req;
  const keyExtra = ctx.decision?.keyExtra ?? '';
  let key = edge.cache.variantKeyFor(ctx.primaryKey, req.headers, keyExtra);
  // A whole fetch already in flight for the variant answers the range too: join it (collapsing; its
  // body may still be on its way to the disk tier) rather than ask the origin for the part.
  const range = edge.inflight.get(key) === undefined ? rangeToForward(ctx) : null;
  // Two rounds at most: a fetch collapsed under a key that turned out to vary differently.
  for (let round = 0; round < 2; round++) {
    // A ranged fetch is shared only by requests for the same range.
    const taskKey = range === null ? key : `${partialKeyOf(key)}\n${range}`;
    const { task, created } = edge.inflight.join(
      taskKey,
      () => new FetchTask(edge.fetchDeps, { ...edge.fillSpec(ctx, taskKey), stored: ctx.object, range }),
    );
    ctx.collapsed = !created;
    // 1xx from the origin reach every request waiting on the fetch, as they arrive.
    const stopInterim = task.listenInterim(interimForwarder(ctx));
    const outcome = await task.outcome.finally(stopInterim);
    ctx.upstreamHrMs = performance.now();
    if (outcome.kind === 'fill') {
      const mine = variantKeyOf(ctx.primaryKey, outcome.meta.varyNames, req.headers, keyExtra);
      if (mine !== outcome.meta.key && partialKeyOf(mine) !== outcome.meta.key) {
        key = mine;
        continue;
      }
    }
    return settle(ctx, task, created, outcome);
  }
  ctx.detail = 'vary-conflict';
  return 'pass';
}

/**
 * The client's Range, forwarded upstream when nothing is stored for the variant and it asks for one
 * byte range of a GET: the origin answers with the part (stored, and later ranges within it are
 * served from it) or with the whole object (stored as usual). Once a stored part has told the
 * complete length and the whole object fits the memory tier, a range outside the part fetches the
 * whole object instead: one more fetch, then every range is a hit. Larger objects keep fetching
 * the ranges asked for (the stored part is replaced by the newest). If-Range requests and several
 * ranges fetch the whole object, which answers them (deliver.ts).
 */
function rangeToForward(ctx: RequestContext): string | null {
  const req = ctx.req;
  if (req.method !== 'GET' || ctx.object !== null || req.headers['if-range'] !== undefined) return null;
  const range = singleByteRange(req.headers);
  if (range === null) return null;
  const cache = ctx.edge.cache;
  const part = cache.lookupPartial(ctx.primaryKey, req.headers, ctx.decision?.keyExtra ?? '');
  const size =
    part === null ? null : parseContentRange(firstHeaderValue(part.meta.headers, 'content-range'))?.size;
  return size !== undefined && size !== null && size <= cache.memory.maxObjectBytes ? null : range;
}

function settle(ctx: RequestContext, task: FetchTask, created: boolean, outcome: FetchOutcome): Next<'miss'> {
  switch (outcome.kind) {
    case 'fill':
      // Several workers: the owner worker answered from its cache, so the node had the object.
      ctx.phase = task.sibling?.hit === true ? 'hit' : 'miss';
      ctx.stored = task.route?.store !== 'none';
      ctx.fwdStatus = outcome.meta.status;
      ctx.delivery = { kind: 'fill', meta: outcome.meta, fill: outcome.fill };
      return 'deliver';
    case 'revalidated':
      ctx.phase = 'revalidated';
      ctx.fwdStatus = outcome.status;
      ctx.delivery = { kind: 'object', object: outcome.object };
      return 'deliver';
    case 'uncacheable': {
      ctx.detail = outcome.reason;
      const response = created ? task.claimResponse() : null;
      if (response === null) return 'pass';
      ctx.fwdStatus = response.status;
      ctx.delivery = { kind: 'upstream', response };
      return 'deliver';
    }
    case 'failed': {
      const stored = ctx.object;
      ctx.fwdStatus = outcome.response?.status ?? 0;
      // RFC 5861 §4: a stale copy may answer when the origin fails.
      if (stored !== null && canServeStaleOnError(stored.meta.freshness, ctx.req.headers, Date.now())) {
        ctx.phase = 'stale-if-error';
        ctx.delivery = { kind: 'object', object: stored };
        return 'deliver';
      }
      if (outcome.response !== null) {
        ctx.delivery = { kind: 'buffered', response: outcome.response };
        return 'deliver';
      }
      ctx.fail(outcome.error);
      return 'synth';
    }
  }
}
