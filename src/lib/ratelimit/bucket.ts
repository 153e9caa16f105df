// Token buckets per key: a sustained rate with a burst, for limits people state as "N per second,
// M at once" (the control plane's purge per zone and API per token). A leaf: no Meridian imports.
// Answers in the same RateVerdict as the window counters (window.ts), so every caller turns a refusal
// into 429 + Retry-After the same way (retryAfterSeconds).
//
// Written by hand rather than taken from npm: it is a dozen lines of arithmetic, and the libraries
// (limiter, rate-limiter-flexible) bring timers or stores that a synchronous in-process check does
// not need.
import type { RateVerdict } from './window.ts';

export interface BucketRate {
  /** Calls per second, sustained (the refill rate); > 0. */
  perSecond: number;
  /** Calls one key may make at once (the bucket's size); >= 1. */
  burst: number;
}

export class TokenBuckets {
  readonly rate: BucketRate;
  readonly #buckets = new Map<string, { tokens: number; atMs: number }>();
  #nextSweepMs = 0;

  constructor(rate: BucketRate) {
    if (!(rate.perSecond > 0) || !Number.isFinite(rate.perSecond))
      throw new RangeError(`rate: expected a positive number of calls per second, got ${rate.perSecond}`);
    if (!(rate.burst >= 1) || !Number.isFinite(rate.burst))
      throw new RangeError(`burst: expected at least 1, got ${rate.burst}`);
    this.rate = rate;
  }

  /**
   * Takes one call for `key`. `count` is the calls now drawn against the burst (this one included,
   * rounded up); `retryAfterMs` is 0 when allowed, else the time until one whole token is back. A
   * refused call takes nothing, so a client that keeps retrying is not starved for longer.
   */
  take(key: string, nowMs: number): RateVerdict {
    if (nowMs >= this.#nextSweepMs) this.#sweep(nowMs);
    const { perSecond, burst } = this.rate;
    const bucket = this.#buckets.get(key) ?? { tokens: burst, atMs: nowMs };
    // A clock that steps back refills nothing (and takes nothing back).
    const elapsedMs = Math.max(0, nowMs - bucket.atMs);
    bucket.tokens = Math.min(burst, bucket.tokens + (elapsedMs / 1000) * perSecond);
    bucket.atMs = Math.max(bucket.atMs, nowMs);
    this.#buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { count: Math.ceil(burst - bucket.tokens), retryAfterMs: 0 };
    }
    return { count: burst, retryAfterMs: Math.ceil(((1 - bucket.tokens) / perSecond) * 1000) };
  }

  /** Keys with a partly drawn bucket (a full bucket is forgotten: it is the same as a new one). */
  get size(): number {
    return this.#buckets.size;
  }

  /** Drops buckets that have refilled: bounded by the keys active within the last burst/rate seconds. */
  #sweep(nowMs: number): void {
    const { perSecond, burst } = this.rate;
    for (const [key, b] of this.#buckets) {
      if (b.tokens + ((nowMs - b.atMs) / 1000) * perSecond >= burst) this.#buckets.delete(key);
    }
    this.#nextSweepMs = nowMs + 1_000;
  }
}
