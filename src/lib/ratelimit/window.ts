// Fixed-window rate-limit counters in Cloudflare's shape: a fixed window of `period` seconds per rule and
// characteristics value (ip.src, http.host, a header …), exact: every matching request is counted
// once, on this node (a Map) or across the PoP (Redis, one round trip: a Lua script that checks the
// mitigation key, increments and arms the timeout atomically, so concurrent nodes never double-count
// or race the block). A Redis that fails falls back to this node's own counters, logged once per outage.
// A leaf: no Meridian imports (the edge's http_ratelimit phase and tests use it; see bucket.ts for the
// control plane's rate-and-burst limits, which answer in the same RateVerdict).
import type { Redis } from 'ioredis';

/** What the Redis counter reports an outage and a recovery with (a Meridian Logger fits). */
export interface RateLog {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
}

export interface RateVerdict {
  /** Requests counted in the window, this one included (0 while the key is in mitigation). */
  count: number;
  /** Milliseconds until the key may send again: >0 when over the limit or in mitigation. */
  retryAfterMs: number;
}

/** The Retry-After header's value for a refused verdict: whole seconds, rounded up, at least 1. */
export function retryAfterSeconds(retryAfterMs: number): number {
  return Math.max(1, Math.ceil(retryAfterMs / 1000));
}

export interface RateCounter {
  hit(
    key: string,
    periodSec: number,
    limit: number,
    mitigationSec: number,
    nowMs: number,
  ): RateVerdict | Promise<RateVerdict>;
}

/** This node's counters. Windows are swept as they end (bounded by the number of live keys). */
export class LocalRateCounter implements RateCounter {
  readonly #windows = new Map<string, { window: number; count: number; endsMs: number }>();
  readonly #blocked = new Map<string, number>();
  #nextSweepMs = 0;

  hit(key: string, periodSec: number, limit: number, mitigationSec: number, nowMs: number): RateVerdict {
    if (nowMs >= this.#nextSweepMs) this.#sweep(nowMs);
    const until = this.#blocked.get(key);
    if (until !== undefined) {
      if (until > nowMs) return { count: 0, retryAfterMs: until - nowMs };
      this.#blocked.delete(key);
    }
    const periodMs = periodSec * 1000;
    const window = Math.floor(nowMs / periodMs);
    let entry = this.#windows.get(key);
    if (entry === undefined || entry.window !== window) {
      entry = { window, count: 0, endsMs: (window + 1) * periodMs };
      this.#windows.set(key, entry);
    }
    entry.count++;
    if (entry.count <= limit) return { count: entry.count, retryAfterMs: 0 };
    if (mitigationSec > 0) {
      this.#blocked.set(key, nowMs + mitigationSec * 1000);
      return { count: entry.count, retryAfterMs: mitigationSec * 1000 };
    }
    return { count: entry.count, retryAfterMs: entry.endsMs - nowMs };
  }

  get size(): number {
    return this.#windows.size;
  }

  #sweep(nowMs: number): void {
    for (const [key, entry] of this.#windows) if (entry.endsMs <= nowMs) this.#windows.delete(key);
    for (const [key, until] of this.#blocked) if (until <= nowMs) this.#blocked.delete(key);
    this.#nextSweepMs = nowMs + 1_000;
  }
}

/**
 * KEYS[1] window counter, KEYS[2] mitigation flag; ARGV: period ms, limit, mitigation ms.
 * Returns {count, retry-after ms}.
 */
const SCRIPT = `
local blocked = redis.call('PTTL', KEYS[2])
if blocked > 0 then return {0, blocked} end
local c = redis.call('INCR', KEYS[1])
if c == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
if c <= tonumber(ARGV[2]) then return {c, 0} end
if tonumber(ARGV[3]) > 0 then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
  return {c, tonumber(ARGV[3])}
end
return {c, redis.call('PTTL', KEYS[1])}
`;

type RateRedis = Redis & {
  meridianRateHit(
    k1: string,
    k2: string,
    periodMs: number,
    limit: number,
    mitigationMs: number,
  ): Promise<[number, number]>;
};

export class RedisRateCounter implements RateCounter {
  readonly #redis: RateRedis;
  readonly #fallback = new LocalRateCounter();
  readonly #log: RateLog;
  #down = false;

  constructor(redis: Redis, log: RateLog) {
    redis.defineCommand('meridianRateHit', { numberOfKeys: 2, lua: SCRIPT });
    this.#redis = redis as RateRedis;
    this.#log = log;
  }

  async hit(
    key: string,
    periodSec: number,
    limit: number,
    mitigationSec: number,
    nowMs: number,
  ): Promise<RateVerdict> {
    const periodMs = periodSec * 1000;
    const window = Math.floor(nowMs / periodMs);
    try {
      const [count, retryAfterMs] = await this.#redis.meridianRateHit(
        `meridian:rl:{${key}}:${window}`,
        `meridian:rl:{${key}}:block`,
        periodMs,
        limit,
        mitigationSec * 1000,
      );
      if (this.#down) {
        this.#down = false;
        this.#log.info('rate limits: Redis is back, counting across the PoP again');
      }
      return { count, retryAfterMs };
    } catch (err) {
      if (!this.#down) {
        this.#down = true;
        this.#log.warn('rate limits: Redis failed, counting on this node until it is back', { err });
      }
      return this.#fallback.hit(key, periodSec, limit, mitigationSec, nowMs);
    }
  }
}
