// Waiting between reconnection attempts: capped exponential backoff with "equal jitter" (half the
// delay fixed, half random), so a fleet of nodes that lost the control plane together does not come
// back in lock-step, and no attempt follows its predecessor immediately.
import { setTimeout as delay } from 'node:timers/promises';

export interface BackoffOptions {
  /** Delay before the first retry (the ceiling of attempt 0). */
  initialMs: number;
  /** Largest delay. */
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 250, maxMs: 30_000 };

/** Delay before retry number `attempt` (0-based): uniform in [c/2, c], c = min(maxMs, initialMs·2^attempt). */
export function backoffDelayMs(
  attempt: number,
  options: BackoffOptions,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(options.maxMs, options.initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** Sleeps `ms`, or less if `signal` aborts first; never rejects. */
export async function sleep(ms: number, signal: AbortSignal): Promise<void> {
  await delay(ms, undefined, { signal }).catch(() => {});
}
