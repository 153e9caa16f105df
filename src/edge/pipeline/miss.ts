// miss: join the fetch in flight for the key or start it (the writer). Every waiter reads the same
// outcome: a body streaming into the cache, a 304 that refreshed the stored object, an uncacheable
// answer (the writer forwards it, readers fetch for themselves), or a failure (stale-if-error).
import { canServeStaleOnError } from '../../lib/http-cache/policy.ts';
import { variantKeyOf } from '../cache/key.ts';
import type { FetchOutcome } from '../fetch/fetch-task.ts';
import { FetchTask } from '../fetch/fetch-task.ts';
import type { RequestContext } from './context.ts';
import type { Next } from './steps.ts';

export async function miss(ctx: RequestContext): Promise<Next<'miss'>> {
  const edge = ctx.edge;
  const req = ctx.req;
  const keyExtra = ctx.decision?.keyExtra ?? '';
  let key = edge.cache.variantKeyFor(ctx.primaryKey, req.headers, keyExtra);
  // Two rounds at most: a fetch collapsed under a key that turned out to vary differently.
  for (let round = 0; round < 2; round++) {
    const { task, created } = edge.inflight.join(
      key,
      () => new FetchTask(edge.fetchDeps, { ...edge.fillSpec(ctx, key), stored: ctx.object }),
    );
    ctx.collapsed = !created;
    const outcome = await task.outcome;
    ctx.upstreamHrMs = performance.now();
    if (outcome.kind === 'fill') {
      const mine = variantKeyOf(ctx.primaryKey, outcome.meta.varyNames, req.headers, keyExtra);
      if (mine !== outcome.meta.key) {
        key = mine;
        continue;
      }
    }
    return settle(ctx, task, created, outcome);
  }
  ctx.detail = 'vary-conflict';
  return 'pass';
}

function settle(ctx: RequestContext, task: FetchTask, created: boolean, outcome: FetchOutcome): Next<'miss'> {
  switch (outcome.kind) {
    case 'fill':
      ctx.phase = 'miss';
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
