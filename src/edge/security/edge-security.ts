// What the filter step needs of the node: the zones' compiled security, the challenge key, rate
// counters (this node's, and the PoP's through Redis with --redis), the crawler verifier and the
// per-rule counters in /metrics. Built once by startEdge.
import type { Redis } from 'ioredis';
import { Counter, type Registry } from 'prom-client';
import type { Logger } from '../../common/log.ts';
import { ChallengeKeys } from './challenge.ts';
import { CrawlerVerifier, type Resolver } from './crawlers.ts';
import type { CountryLookup } from './geoip.ts';
import { LocalRateCounter, RedisRateCounter, type RateCounter } from '../../lib/ratelimit/window.ts';
import { SecurityTable } from './security-table.ts';

/** A decision the filter made about a request (ctx.security), for metrics and the access log. */
export interface SecurityDecision {
  /** What the rule does: block, js_challenge, managed_challenge, log, ratelimit (block at 429), skip. */
  action: string;
  ruleId: string;
  phase:
    | 'http_request_firewall_custom'
    | 'http_ratelimit'
    | 'http_request_firewall_managed'
    | 'under_attack'
    | 'challenge';
  /** The rule matched but runs in log-only mode (or its action is log): the request went on. */
  logOnly: boolean;
}

export class EdgeSecurity {
  readonly table: SecurityTable;
  readonly keys = new ChallengeKeys();
  readonly local = new LocalRateCounter();
  readonly pop: RateCounter | null;
  readonly crawlers: CrawlerVerifier;
  /** ip.src.country; null without --geoip ("" then: no country). */
  readonly country: CountryLookup | null;
  readonly #actions: Counter<'zone' | 'phase' | 'rule' | 'action' | 'mode'>;
  readonly #redis: Redis | null;

  constructor(options: {
    registry: Registry;
    log: Logger;
    redis: Redis | null;
    resolver?: Resolver;
    country?: CountryLookup | null;
  }) {
    const compileErrors = new Counter({
      name: 'meridian_edge_security_compile_errors_total',
      help: 'Zone security documents this node could not compile (it kept the last good rules).',
      labelNames: ['zone'],
      registers: [options.registry],
    });
    this.table = new SecurityTable({
      log: options.log,
      onCompileError: (zone) => compileErrors.inc({ zone }),
    });
    this.#actions = new Counter({
      name: 'meridian_edge_security_actions_total',
      help: 'Requests a security rule matched, by zone, phase, rule, action and mode (enforce or log).',
      labelNames: ['zone', 'phase', 'rule', 'action', 'mode'],
      registers: [options.registry],
    });
    this.#redis = options.redis;
    this.pop = options.redis === null ? null : new RedisRateCounter(options.redis, options.log);
    this.crawlers = new CrawlerVerifier(options.resolver);
    this.country = options.country ?? null;
  }

  record(zone: string, decision: SecurityDecision): void {
    this.#actions.inc({
      zone,
      phase: decision.phase,
      rule: decision.ruleId,
      action: decision.action,
      mode: decision.logOnly ? 'log' : 'enforce',
    });
  }

  async close(): Promise<void> {
    if (this.#redis !== null) await this.#redis.quit().catch(() => this.#redis?.disconnect());
  }
}
