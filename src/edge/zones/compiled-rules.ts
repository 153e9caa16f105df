// Cache rules compiled when a zone's rules are applied: each condition becomes a closure over
// prepared values (Sets, lower-cased strings, a RegExp from the glob), so matching a request
// allocates nothing beyond the lazily parsed parts of its RequestView.
import type { Rule, RuleMatch } from '../../common/config/zone.ts';
import { CompiledCacheKey } from './cache-key.ts';
import { compileGlob } from './glob.ts';
import type { RequestView } from './request-view.ts';

export type Condition = (view: RequestView) => boolean;

export interface CompiledRule {
  readonly id: string;
  /** Conditions on the request line: method, host, path, extension, query. Cheapest first. */
  readonly lineConditions: readonly Condition[];
  /** Conditions on header fields (header, cookie): false for a request without them. */
  readonly headerConditions: readonly Condition[];
  readonly bypass: boolean;
  readonly edgeTtlSec: number | null;
  readonly browserTtlSec: number | null;
  readonly overrideOrigin: boolean;
  readonly statusTtl: ReadonlyMap<number, number> | null;
  readonly ignoreSetCookie: boolean;
  readonly key: CompiledCacheKey | null;
  /** slice_size: undefined when the rule does not say, null to turn slicing off. */
  readonly sliceBytes: number | null | undefined;
}

/** The enabled rules by ascending position (ties by id, so every node orders them alike); null when none. */
export function compileRules(rules: readonly Rule[]): readonly CompiledRule[] | null {
  const enabled = rules.filter((r) => r.enabled);
  if (enabled.length === 0) return null;
  enabled.sort((a, b) => a.position - b.position || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return enabled.map(compileCached);
}

/**
 * rules.replace carries a zone's whole list; a rule whose match and action are unchanged keeps its
 * compiled form, so one changed rule costs one compilation, not one per rule of the zone. The key is
 * the content itself (not updated_at), so two edits within one millisecond cannot be confused.
 */
const compiled = new Map<string, CompiledRule>();
const MAX_COMPILED = 50_000;

function compileCached(rule: Rule): CompiledRule {
  const id = `${rule.id}\n${JSON.stringify(rule.match)}\n${JSON.stringify(rule.action)}`;
  let result = compiled.get(id);
  if (result === undefined) {
    result = compileRule(rule);
    if (compiled.size >= MAX_COMPILED) compiled.clear();
    compiled.set(id, result);
  }
  return result;
}

export function compileRule(rule: Rule): CompiledRule {
  const a = rule.action;
  const statusTtl = a.status_ttl === undefined ? null : new Map<number, number>();
  for (const [status, sec] of Object.entries(a.status_ttl ?? {})) statusTtl?.set(Number(status), sec);
  return {
    id: rule.id,
    lineConditions: lineConditionsOf(rule.match),
    headerConditions: headerConditionsOf(rule.match),
    bypass: a.bypass,
    edgeTtlSec: a.edge_ttl ?? null,
    browserTtlSec: a.browser_ttl ?? null,
    overrideOrigin: a.override_origin,
    statusTtl: statusTtl !== null && statusTtl.size > 0 ? statusTtl : null,
    ignoreSetCookie: a.ignore_set_cookie,
    key: a.cache_key === undefined ? null : new CompiledCacheKey(a.cache_key),
    sliceBytes: a.slice_size,
  };
}

export function holds(conditions: readonly Condition[], view: RequestView): boolean {
  for (let i = 0; i < conditions.length; i++) if (!(conditions[i] as Condition)(view)) return false;
  return true;
}

function lineConditionsOf(m: RuleMatch): Condition[] {
  const out: Condition[] = [];
  if (m.methods !== undefined) {
    const methods: ReadonlySet<string> = new Set(m.methods);
    out.push((v) => methods.has(v.req.method));
  }
  if (m.hosts !== undefined) {
    const hosts = new Set(m.hosts.map((h) => h.toLowerCase()));
    out.push((v) => hosts.has(v.hostname));
  }
  if (m.extensions !== undefined) {
    const extensions = new Set(m.extensions.map((e) => e.toLowerCase()));
    out.push((v) => {
      const ext = v.extension;
      return ext !== null && extensions.has(ext);
    });
  }
  if (m.path !== undefined) {
    const glob = compileGlob(m.path);
    out.push((v) => glob.test(v.path));
  }
  if (m.query !== undefined) {
    const { name, value } = m.query;
    out.push((v) => v.params.some((p) => p.name === name && (value === undefined || p.value === value)));
  }
  return out;
}

function headerConditionsOf(m: RuleMatch): Condition[] {
  const out: Condition[] = [];
  if (m.header !== undefined) {
    const name = m.header.name.toLowerCase();
    const value = m.header.value?.toLowerCase();
    out.push((v) => headerHolds(v.req.headers[name], value));
  }
  if (m.cookie !== undefined) {
    const { name, value } = m.cookie;
    out.push((v) => {
      const got = v.cookies.get(name);
      return got !== undefined && (value === undefined || got === value);
    });
  }
  return out;
}

/** Present (even empty), or some field line equal to `lowerValue` ignoring case. */
function headerHolds(got: string | string[] | undefined, lowerValue: string | undefined): boolean {
  if (got === undefined) return false;
  if (typeof got === 'string') return lowerValue === undefined || got.toLowerCase() === lowerValue;
  if (got.length === 0) return false;
  return lowerValue === undefined || got.some((line) => line.toLowerCase() === lowerValue);
}
