// A zone's edge security compiled once when it arrives: expressions into closures (lib/rules), the
// managed set's paranoia and overrides into a rule list (lib/waf), rate limits into counter specs.
// null when the zone has nothing to run, so the filter step costs one Map lookup.
import {
  MANAGED_RULESET_ID,
  type CustomRule,
  type ManagedRule,
  type MitigationAction,
  type RateLimitRule,
  type SecuritySettings,
  type ZoneSecurity,
} from '../../common/config/ruleset.ts';
import { compileExpression, type Matcher } from '../../lib/rules/compile.ts';
import { ManagedEngine, selectManagedRules } from '../../lib/waf/managed-rules.ts';

export interface CompiledCustomRule {
  readonly id: string;
  readonly action: CustomRule['action'];
  readonly matches: Matcher;
  readonly logOnly: boolean;
  readonly response: { status: number; content: string; contentType: string } | null;
  /** skip: the rest of this phase. */
  readonly skipRest: boolean;
  /** skip: these later phases. */
  readonly skipPhases: ReadonlySet<'http_ratelimit' | 'http_request_firewall_managed'>;
}

export interface CompiledRateLimit {
  readonly id: string;
  readonly action: MitigationAction;
  readonly matches: Matcher;
  readonly logOnly: boolean;
  readonly characteristics: readonly string[];
  readonly periodSec: number;
  readonly limit: number;
  readonly mitigationSec: number;
  /** Count across the PoP (Redis) when the node has one. */
  readonly pop: boolean;
}

export interface CompiledManaged {
  readonly id: string;
  readonly matches: Matcher;
  readonly logOnly: boolean;
  readonly engine: ManagedEngine;
  /** Exceptions (skip rules of the managed phase): when `matches`, these ids (null: all) are skipped. */
  readonly exceptions: readonly { matches: Matcher; ids: ReadonlySet<string> | null }[];
}

export interface CompiledSecurity {
  readonly custom: readonly CompiledCustomRule[] | null;
  readonly rateLimits: readonly CompiledRateLimit[] | null;
  readonly managed: CompiledManaged | null;
  readonly settings: SecuritySettings;
}

/** Throws (RuleSyntaxError or Error) when a rule does not compile: the caller keeps the last good set. */
export function compileSecurity(security: ZoneSecurity): CompiledSecurity | null {
  const custom = (security.rulesets.http_request_firewall_custom?.rules ?? [])
    .filter((r) => r.enabled)
    .map((r) => compileCustom(r as CustomRule));
  const rateLimits = (security.rulesets.http_ratelimit?.rules ?? [])
    .filter((r) => r.enabled)
    .map((r) => compileRateLimit(r as RateLimitRule));
  const managed = compileManaged(
    (security.rulesets.http_request_firewall_managed?.rules ?? []) as ManagedRule[],
  );
  if (custom.length === 0 && rateLimits.length === 0 && managed === null && !security.settings.under_attack) {
    return null;
  }
  return {
    custom: custom.length === 0 ? null : custom,
    rateLimits: rateLimits.length === 0 ? null : rateLimits,
    managed,
    settings: security.settings,
  };
}

function compileCustom(rule: CustomRule): CompiledCustomRule {
  const p = rule.action_parameters;
  const response = p !== undefined && 'response' in p ? p.response : null;
  const skip = p !== undefined && !('response' in p) ? p : null;
  return {
    id: rule.id,
    action: rule.action,
    matches: compileExpression(rule.expression),
    logOnly: rule.log_only,
    response:
      response === null
        ? null
        : { status: response.status_code, content: response.content, contentType: response.content_type },
    skipRest: skip?.ruleset === 'current',
    skipPhases: new Set(skip?.phases ?? []),
  };
}

function compileRateLimit(rule: RateLimitRule): CompiledRateLimit {
  return {
    id: rule.id,
    action: rule.action,
    matches: compileExpression(rule.expression),
    logOnly: rule.log_only,
    characteristics: rule.ratelimit.characteristics,
    periodSec: rule.ratelimit.period,
    limit: rule.ratelimit.requests_per_period,
    mitigationSec: rule.ratelimit.mitigation_timeout,
    pop: rule.ratelimit.counting === 'pop',
  };
}

function compileManaged(rules: readonly ManagedRule[]): CompiledManaged | null {
  const enabled = rules.filter((r) => r.enabled);
  const execute = enabled.find((r) => r.action === 'execute');
  if (execute === undefined || execute.action !== 'execute') return null;
  if (execute.action_parameters.id !== MANAGED_RULESET_ID) return null;
  const exceptions = enabled
    .filter((r) => r.action === 'skip')
    .map((r) => {
      const p = r.action_parameters as { ruleset?: string; rules?: Record<string, string[]> };
      const ids = p.rules?.[MANAGED_RULESET_ID];
      return { matches: compileExpression(r.expression), ids: ids === undefined ? null : new Set(ids) };
    });
  return {
    id: execute.id,
    matches: compileExpression(execute.expression),
    logOnly: execute.log_only,
    engine: new ManagedEngine(
      selectManagedRules(execute.action_parameters.overrides ?? { paranoia_level: 1 }),
    ),
    exceptions,
  };
}
