// Shared values for the lib/http-cache table tests (not a test file itself).
import { formatHttpDate } from '../../../../src/lib/http-cache/headers.ts';
import { DEFAULT_POLICY_OPTIONS } from '../../../../src/lib/http-cache/policy.ts';
import type { PolicyOptions, StoredFreshness } from '../../../../src/lib/http-cache/policy.ts';

/** A fixed clock: 2025-01-01T00:00:00Z. */
export const T0 = Date.UTC(2025, 0, 1);

/** T0 + `sec` seconds. */
export const at = (sec: number): number => T0 + sec * 1000;

/** The IMF-fixdate of T0 + `sec` seconds. */
export const httpDate = (sec: number): string => formatHttpDate(at(sec));

export const options = (o: Partial<PolicyOptions> = {}): PolicyOptions => ({
  ...DEFAULT_POLICY_OPTIONS,
  ...o,
});

/** A stored response received at T0 with no delay, Date = T0, fresh for 100 s, no directives. */
export function stored(o: Partial<StoredFreshness> = {}): StoredFreshness {
  return {
    requestTimeMs: T0,
    responseTimeMs: T0,
    dateMs: T0,
    ageSec: 0,
    lifetimeSec: 100,
    swrSec: 0,
    sieSec: 0,
    mustRevalidate: false,
    sharedMaxAge: false,
    noCache: false,
    immutable: false,
    source: 'cache-control',
    ...o,
  };
}
