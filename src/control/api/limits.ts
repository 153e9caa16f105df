// The control plane's call limits: purge per zone (purge.ts) and every API call per token (here),
// both token buckets from src/lib/ratelimit, both refused the same way: 429, Retry-After in whole
// seconds, code rate_limited in the v4 envelope. Kept in this replica's memory: with N replicas
// (PostgreSQL mode) a token may make N times the calls, which is fine for a guard against runaway
// scripts (the edge's limits, which protect origins, are the exact ones).
import type { FastifyReply } from 'fastify';
import { TokenBuckets, type BucketRate } from '../../lib/ratelimit/bucket.ts';
import { retryAfterSeconds, type RateVerdict } from '../../lib/ratelimit/window.ts';
import type { Scope, TokenRecord } from '../store/types.ts';
import { ApiError, API_ERRORS } from './envelope.ts';

/**
 * API calls per token. Far above what the CLI or the dashboard make (the dashboard polls a few calls
 * a second; `meridian` commands make one to a few dozen), so only a runaway loop meets it.
 */
export const DEFAULT_API_RATE: BucketRate = { perSecond: 50, burst: 200 };

/** Throws 429 with Retry-After when `verdict` refuses the call; `limit` says which limit, for the message. */
export function refuseOver(reply: FastifyReply, verdict: RateVerdict, limit: string): void {
  if (verdict.retryAfterMs <= 0) return;
  const seconds = retryAfterSeconds(verdict.retryAfterMs);
  reply.header('retry-after', String(seconds));
  throw new ApiError(429, API_ERRORS.rate_limited, `${limit}; retry in ${seconds} s`);
}

/** One bucket per token id; the routes nodes call (scope node) are not counted (see `check`). */
export class TokenRateLimit {
  readonly #buckets: TokenBuckets;

  constructor(rate: BucketRate = DEFAULT_API_RATE) {
    this.#buckets = new TokenBuckets(rate);
  }

  /**
   * Counts one call of `token` to a route of `scope`. The node endpoints are exempt: a node's event
   * stream, receipts and analytics batches are the cluster's own traffic, scale with the number of
   * zones and nodes, not with a person, and refusing them would delay config and purges fleet-wide.
   */
  check(reply: FastifyReply, token: TokenRecord, scope: Scope): void {
    if (scope === 'node') return;
    const { perSecond, burst } = this.#buckets.rate;
    refuseOver(
      reply,
      this.#buckets.take(token.id, Date.now()),
      `API rate limit for this token: ${perSecond}/s (burst ${burst})`,
    );
  }
}
