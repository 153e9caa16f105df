// lookup: find the stored variant for the request and let the freshness policy decide:
// fresh → hit, stale but usable → hit (stale), must revalidate → miss with the stored object,
// nothing stored → miss (or pass while the URL is marked hit-for-pass).
import { MeridianError } from '../../common/errors.ts';
import { parseContentRange, rangeWithin } from '../../lib/http-cache/conditional.ts';
import { firstHeaderValue } from '../../lib/http-cache/headers.ts';
import { evaluate } from '../../lib/http-cache/policy.ts';
import { isLookupMethod, wantsOnlyIfCached } from './builtin.ts';
import { isImageRequest } from './image.ts';
import { isSliced } from './slice.ts';
import type { RequestContext } from './context.ts';
import type { Next } from './steps.ts';

export function lookup(ctx: RequestContext): Next<'lookup'> {
  const req = ctx.req;
  if (!isLookupMethod(req.method)) {
    ctx.phase = 'pass';
    ctx.fwd = 'method';
    return 'pass';
  }
  const decision = ctx.decision;
  if (decision?.bypass === true) {
    ctx.phase = 'pass';
    ctx.fwd = 'bypass';
    ctx.detail = ctx.zone?.zone.settings.development_mode === true ? 'development-mode' : 'rule';
    return 'pass';
  }
  if (ctx.hopBehind) {
    ctx.fwd = 'request';
    ctx.detail = 'behind-sender';
    return 'miss';
  }
  // Image resizing reads its own variant and source (pipeline/image.ts).
  if (isImageRequest(ctx)) return 'image';
  const cache = ctx.edge.cache;
  const nowMs = Date.now();
  const found = cache.lookup(ctx.primaryKey, req.headers, decision?.keyExtra ?? '');
  if (found.kind === 'found') {
    const verdict = evaluate(found.object.meta.freshness, req.headers, nowMs);
    ctx.object = found.object;
    ctx.verdict = verdict;
    switch (verdict.kind) {
      case 'fresh':
        ctx.phase = 'hit';
        return 'hit';
      case 'stale-while-revalidate':
      case 'stale-allowed':
        ctx.phase = 'stale';
        return 'hit';
      case 'revalidate':
        ctx.fwd = verdict.reason === 'stale' || verdict.reason === 'no-cache' ? 'stale' : 'request';
        return onlyIfCached(ctx) ? 'synth' : 'miss';
    }
  }
  if (req.headers.range !== undefined && partialHit(ctx, nowMs)) return 'hit';
  if (onlyIfCached(ctx)) return 'synth';
  if (cache.isHitForPass(ctx.primaryKey, nowMs)) {
    ctx.phase = 'pass';
    ctx.fwd = 'bypass';
    ctx.detail = 'hit-for-pass';
    return 'pass';
  }
  ctx.fwd = found.kind === 'vary-miss' ? 'vary-miss' : 'uri-miss';
  // slice_size: no whole copy is stored, so the object is read as slices (pipeline/slice.ts).
  if (isSliced(ctx)) return 'slice';
  return 'miss';
}

/**
 * No whole object, but a stored part (a 206) may answer a GET for a range wholly within it (RFC 9111
 * §3.3), while it is fresh. A stale part is not revalidated: the miss fetches the range anew.
 * Preconditions other than If-Range are answered from whole objects only.
 */
function partialHit(ctx: RequestContext, nowMs: number): boolean {
  const req = ctx.req;
  const h = req.headers;
  if (req.method !== 'GET' || h['if-none-match'] !== undefined || h['if-modified-since'] !== undefined)
    return false;
  const part = ctx.edge.cache.lookupPartial(ctx.primaryKey, h, ctx.decision?.keyExtra ?? '');
  if (part === null) return false;
  const range = parseContentRange(firstHeaderValue(part.meta.headers, 'content-range'));
  if (range === null || rangeWithin(h, range, part.meta.headers) === null) return false;
  const verdict = evaluate(part.meta.freshness, h, nowMs);
  if (verdict.kind !== 'fresh') return false;
  ctx.object = part;
  ctx.verdict = verdict;
  ctx.phase = 'hit';
  return true;
}

function onlyIfCached(ctx: RequestContext): boolean {
  if (!wantsOnlyIfCached(ctx.req.headers)) return false;
  ctx.fail(new MeridianError('NOT_CACHED', 'only-if-cached and no usable stored response'));
  return true;
}
