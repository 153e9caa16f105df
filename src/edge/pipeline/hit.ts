// hit: a stored object answers. A stale one under stale-while-revalidate starts one background
// refresh (collapsed with any fetch already in flight). A small object found only on disk is read
// whole and offered to the memory tier before it is delivered.
import type { DiskObject } from '../cache/storage.ts';
import { isInMemory } from '../cache/cache.ts';
import { FetchTask } from '../fetch/fetch-task.ts';
import type { RequestContext } from './context.ts';
import type { Next } from './steps.ts';

export function hit(ctx: RequestContext): Next<'hit'> | Promise<Next<'hit'>> {
  const object = ctx.object;
  if (object === null) return 'miss';
  if (ctx.verdict?.kind === 'stale-while-revalidate') refreshInBackground(ctx);
  if (isInMemory(object) || object.meta.bodySize > ctx.edge.cache.memory.maxObjectBytes) {
    ctx.delivery = { kind: 'object', object };
    return 'deliver';
  }
  return promote(ctx, object);
}

async function promote(ctx: RequestContext, object: DiskObject): Promise<Next<'hit'>> {
  try {
    ctx.delivery = { kind: 'object', object: await ctx.edge.cache.promote(object) };
    return 'deliver';
  } catch {
    // The file went away (evicted or purged) between the lookup and the read.
    ctx.object = null;
    ctx.phase = 'miss';
    ctx.fwd = 'uri-miss';
    return 'miss';
  }
}

/** RFC 5861 §3: serve the stale copy now and refresh it once, asynchronously. */
function refreshInBackground(ctx: RequestContext): void {
  const edge = ctx.edge;
  const stored = ctx.object;
  if (stored === null) return;
  const key = stored.meta.key;
  edge.inflight.join(
    key,
    () => new FetchTask(edge.fetchDeps, { ...edge.fillSpec(ctx, key), stored, background: true }),
  );
}
