// The filter step's work for a zone with security (pipeline/filter.ts), in Cloudflare's phase order:
// the challenge answer endpoint and "under attack" first, then custom rules (in order; the first
// that blocks or challenges ends the request, `log` and log-only rules only count), then rate
// limits, then the managed rules. A request that passed a challenge (valid clearance cookie) or
// comes from a verified crawler (when the zone allows it) is not challenged again; blocks still apply.
import { MeridianError } from '../../common/errors.ts';
import type { RequestContext } from '../pipeline/context.ts';
import type { Next } from '../pipeline/steps.ts';
import {
  CHALLENGE_PATH,
  CLEARANCE_COOKIE,
  challengePage,
  clearanceCookie,
  hasClearance,
  newChallenge,
  verifySolution,
} from './challenge.ts';
import type { CompiledRateLimit, CompiledSecurity } from './compiled.ts';
import type { EdgeSecurity, SecurityDecision } from './edge-security.ts';
import { retryAfterSeconds, type RateVerdict } from '../../lib/ratelimit/window.ts';
import { ContextSubject, clientIp } from './subject.ts';

type Outcome = Next<'filter'> | null;

export function enforce(
  ctx: RequestContext,
  sec: CompiledSecurity,
  edge: EdgeSecurity,
): Next<'filter'> | Promise<Next<'filter'>> {
  const pass = new SecurityPass(ctx, sec, edge);
  return pass.run();
}

class SecurityPass {
  readonly ctx: RequestContext;
  readonly sec: CompiledSecurity;
  readonly edge: EdgeSecurity;
  readonly subject: ContextSubject;
  readonly zoneId: string;
  #cleared: boolean | null = null;
  skipRateLimits = false;
  skipManaged = false;

  constructor(ctx: RequestContext, sec: CompiledSecurity, edge: EdgeSecurity) {
    this.ctx = ctx;
    this.sec = sec;
    this.edge = edge;
    this.subject = new ContextSubject(ctx);
    this.zoneId = ctx.zone?.zone.id ?? '';
  }

  run(): Next<'filter'> | Promise<Next<'filter'>> {
    const early = this.preamble() ?? this.custom();
    if (early !== null) return early;
    if (!this.skipRateLimits && this.sec.rateLimits !== null) {
      const limited = this.rateLimits(0);
      if (limited instanceof Promise) return limited.then((r) => r ?? this.managed());
      if (limited !== null) return limited;
    }
    return this.managed();
  }

  /** Passed a challenge, or a verified crawler where the zone lets those skip. */
  cleared(): boolean {
    if (this.#cleared !== null) return this.#cleared;
    const ip = clientIp(this.ctx);
    const now = Date.now();
    let cleared = hasClearance(this.edge.keys, this.subject.cookie, this.zoneId, ip, now);
    if (!cleared && this.sec.settings.verified_crawlers_skip_challenge) {
      cleared = this.edge.crawlers.isVerified(ip, this.subject.userAgent, now);
    }
    this.#cleared = cleared;
    return cleared;
  }

  preamble(): Outcome {
    const path = this.subject.path;
    if (path === CHALLENGE_PATH) return this.answerChallenge();
    if (this.sec.settings.under_attack && !this.cleared()) {
      return this.mitigate(
        { action: 'js_challenge', ruleId: 'under_attack', phase: 'under_attack', logOnly: false },
        0,
      );
    }
    return null;
  }

  custom(): Outcome {
    const rules = this.sec.custom;
    if (rules === null) return null;
    for (const rule of rules) {
      if (!rule.matches(this.subject)) continue;
      if (rule.action === 'skip') {
        this.decide({
          action: 'skip',
          ruleId: rule.id,
          phase: 'http_request_firewall_custom',
          logOnly: rule.logOnly,
        });
        if (rule.logOnly) continue;
        if (rule.skipPhases.has('http_ratelimit')) this.skipRateLimits = true;
        if (rule.skipPhases.has('http_request_firewall_managed')) this.skipManaged = true;
        if (rule.skipRest) return null;
        continue;
      }
      const decision: SecurityDecision = {
        action: rule.action,
        ruleId: rule.id,
        phase: 'http_request_firewall_custom',
        logOnly: rule.logOnly || rule.action === 'log',
      };
      const out = this.mitigate(decision, 0, rule.response);
      if (out !== null) return out;
    }
    return null;
  }

  rateLimits(from: number): Outcome | Promise<Outcome> {
    const rules = this.sec.rateLimits as readonly CompiledRateLimit[];
    for (let i = from; i < rules.length; i++) {
      const rule = rules[i] as CompiledRateLimit;
      if (!rule.matches(this.subject)) continue;
      const key = this.rateKey(rule);
      const counter = rule.pop && this.edge.pop !== null ? this.edge.pop : this.edge.local;
      const verdict = counter.hit(key, rule.periodSec, rule.limit, rule.mitigationSec, Date.now());
      if (verdict instanceof Promise) {
        return verdict.then((v) => this.rateVerdict(rule, v) ?? this.rateLimits(i + 1));
      }
      const out = this.rateVerdict(rule, verdict);
      if (out !== null) return out;
    }
    return null;
  }

  rateVerdict(rule: CompiledRateLimit, verdict: RateVerdict): Outcome {
    if (verdict.retryAfterMs <= 0) return null;
    const decision: SecurityDecision = {
      action: rule.action,
      ruleId: rule.id,
      phase: 'http_ratelimit',
      logOnly: rule.logOnly || rule.action === 'log',
    };
    return this.mitigate(decision, verdict.retryAfterMs);
  }

  rateKey(rule: CompiledRateLimit): string {
    let key = `${this.zoneId}:${rule.id}`;
    for (const c of rule.characteristics) {
      if (c === 'ip.src') key += `:${clientIp(this.ctx)}`;
      else if (c === 'http.host') key += `:${this.subject.host}`;
      else if (c === 'cf.colo.id') key += ':pop';
      else key += `:${this.subject.header(c.slice(22, -2).toLowerCase())}`;
    }
    return key;
  }

  managed(): Next<'filter'> {
    const managed = this.sec.managed;
    if (managed === null || this.skipManaged || !managed.matches(this.subject)) return 'compute';
    let skip: Set<string> | null = null;
    for (const exception of managed.exceptions) {
      if (!exception.matches(this.subject)) continue;
      if (exception.ids === null) return 'compute';
      skip ??= new Set();
      for (const id of exception.ids) skip.add(id);
    }
    const s = this.subject;
    const xff = s.header('x-forwarded-for');
    const referer = s.referer;
    const hit = managed.engine.match(
      {
        method: s.method,
        path: s.path,
        query: s.query,
        cookie: s.cookie,
        userAgent: s.userAgent,
        headers: referer === '' && xff === '' ? [] : [referer, xff],
      },
      skip,
    );
    if (hit === null) return 'compute';
    const decision: SecurityDecision = {
      action: hit.action,
      ruleId: hit.def.id,
      phase: 'http_request_firewall_managed',
      logOnly: managed.logOnly || hit.action === 'log',
    };
    return this.mitigate(decision, 0) ?? 'compute';
  }

  decide(decision: SecurityDecision): void {
    this.ctx.security = decision;
    this.edge.record(this.zoneId, decision);
  }

  /** Records the decision; answers unless it is log-only, or a challenge the client already passed. */
  mitigate(
    decision: SecurityDecision,
    retryAfterMs: number,
    response: { status: number; content: string; contentType: string } | null = null,
  ): Outcome {
    const challenge = decision.action === 'js_challenge' || decision.action === 'managed_challenge';
    if (challenge && !decision.logOnly && this.cleared()) return null;
    this.decide(decision);
    if (decision.logOnly) return null;
    if (challenge) return this.sendChallenge();
    if (decision.phase === 'http_ratelimit') {
      const seconds = retryAfterSeconds(retryAfterMs);
      return this.send(429, 'text/plain; charset=utf-8', `429 rate limited by rule ${decision.ruleId}\n`, [
        'retry-after',
        String(seconds),
      ]);
    }
    if (response !== null) return this.send(response.status, response.contentType, response.content, []);
    return this.send(403, 'text/plain; charset=utf-8', `403 blocked by rule ${decision.ruleId}\n`, []);
  }

  sendChallenge(): Outcome {
    const settings = this.sec.settings;
    const challenge = newChallenge(
      this.edge.keys,
      this.zoneId,
      clientIp(this.ctx),
      settings.challenge_difficulty,
      Date.now(),
    );
    const returnTo = this.ctx.req.method === 'GET' ? this.ctx.path : '/';
    return this.send(
      403,
      'text/html; charset=utf-8',
      challengePage(challenge, settings.challenge_difficulty, returnTo),
      ['meridian-mitigated', 'challenge'],
    );
  }

  /** GET /.meridian/challenge?c=…&n=…&r=…: a solved puzzle earns the clearance cookie. */
  answerChallenge(): Outcome {
    const params = new URLSearchParams(this.subject.query);
    const ip = clientIp(this.ctx);
    const ok = verifySolution(
      this.edge.keys,
      params.get('c') ?? '',
      params.get('n') ?? '',
      this.zoneId,
      ip,
      Date.now(),
    );
    if (!ok) {
      this.decide({ action: 'js_challenge', ruleId: 'challenge_failed', phase: 'challenge', logOnly: false });
      return this.sendChallenge();
    }
    const ttl = this.sec.settings.challenge_ttl;
    const cookie = clearanceCookie(this.edge.keys, this.zoneId, ip, ttl, Date.now());
    const r = params.get('r') ?? '/';
    // Only a path on this host: never an open redirect.
    const location = r.startsWith('/') && !r.startsWith('//') && !r.startsWith('/\\') ? r : '/';
    this.decide({ action: 'challenge_passed', ruleId: 'challenge', phase: 'challenge', logOnly: false });
    return this.send(302, 'text/plain; charset=utf-8', '302 challenge passed\n', [
      'location',
      location,
      'set-cookie',
      `${CLEARANCE_COOKIE}=${cookie}; Path=/; Max-Age=${ttl}; HttpOnly; SameSite=Lax${this.ctx.scheme === 'https' ? '; Secure' : ''}`,
    ]);
  }

  send(status: number, type: string, body: string, extra: string[]): Outcome {
    const ctx = this.ctx;
    if (ctx.res.headersSent) {
      ctx.fail(new MeridianError('INTERNAL', 'security answer after the head was sent'));
      return 'synth';
    }
    const length = Buffer.byteLength(body);
    ctx.res.writeHead(status, [
      'content-type',
      type,
      'content-length',
      String(length),
      'cache-control',
      'no-store',
      'via',
      ctx.edge.via,
      ...extra,
    ]);
    ctx.phase = 'synth';
    ctx.detail = 'security';
    ctx.bytesSent = length;
    if (ctx.req.method === 'HEAD') ctx.res.end();
    else ctx.res.end(body);
    return 'log';
  }
}
