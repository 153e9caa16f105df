// The only loop that moves a request between steps (cf. Varnish's CNT_Request). Synchronous steps
// return plain values, so a memory hit runs start to end without a microtask.
import { toMeridianError } from '../../common/errors.ts';
import { compute } from './compute.ts';
import { deliver } from './deliver.ts';
import { filter } from './filter.ts';
import { hit } from './hit.ts';
import { log } from './log.ts';
import { lookup } from './lookup.ts';
import { miss } from './miss.ts';
import { pass } from './pass.ts';
import { route } from './route.ts';
import { slice } from './slice.ts';
import { image } from './image.ts';
import { synth } from './synth.ts';
import type { RequestContext } from './context.ts';
import type { Next, Step } from './steps.ts';

type StepFn<S extends Step> = (ctx: RequestContext) => Next<S> | Promise<Next<S>>;

const STEPS: { [S in Exclude<Step, 'log'>]: StepFn<S> } = {
  route,
  filter,
  compute,
  lookup,
  hit,
  miss,
  pass,
  deliver,
  synth,
  slice,
  image,
};

/** Runs a request to completion. Never throws: failures become synth's error page. */
export function runRequest(ctx: RequestContext): void | Promise<void> {
  let step: Step = 'route';
  while (step !== 'log') {
    let next: Step | Promise<Step>;
    try {
      next = (STEPS[step] as StepFn<typeof step>)(ctx);
    } catch (err) {
      next = fail(ctx, step, err);
    }
    if (next instanceof Promise) return finishAsync(ctx, step, next);
    step = next;
  }
  log(ctx);
}

async function finishAsync(ctx: RequestContext, current: Step, pending: Promise<Step>): Promise<void> {
  let step: Step;
  try {
    step = await pending;
  } catch (err) {
    step = fail(ctx, current, err);
  }
  while (step !== 'log') {
    try {
      step = await (STEPS[step] as StepFn<typeof step>)(ctx);
    } catch (err) {
      step = fail(ctx, step, err);
    }
  }
  log(ctx);
}

function fail(ctx: RequestContext, step: Step, err: unknown): Step {
  ctx.fail(toMeridianError(err));
  // synth itself failed: nothing more can be sent.
  if (step === 'synth') {
    ctx.res.destroy();
    return 'log';
  }
  return 'synth';
}
