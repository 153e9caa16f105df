// Builders for zones, rules and requests: inputs go through the real zod schemas, so the defaults
// the edge sees in tests are the ones the control plane would store.
import { RuleInputSchema, ZoneInputSchema } from '../../../../src/common/config/zone.ts';
import type { Rule, Zone } from '../../../../src/common/config/zone.ts';
import type { ControlEvent, EventBody, Snapshot } from '../../../../src/common/events/types.ts';
import { compileRules } from '../../../../src/edge/zones/compiled-rules.ts';
import { CompiledZone } from '../../../../src/edge/zones/zone-runtime.ts';
import type { RuleRequest } from '../../../../src/edge/zones/zone-table.ts';

const AT = '2025-01-01T00:00:00.000Z';

export function makeZone(id: string, input: Record<string, unknown> = {}): Zone {
  const parsed = ZoneInputSchema.parse({
    name: id,
    hostnames: [`${id}.example`],
    origins: [{ url: 'http://origin.example' }],
    ...input,
  });
  return { ...parsed, id, created_at: AT, updated_at: AT };
}

let ruleCount = 0;

/** A rule from its input; positions follow creation order unless given. */
export function makeRule(input: Record<string, unknown>, extra: Partial<Rule> = {}): Rule {
  ruleCount++;
  const parsed = RuleInputSchema.parse({ action: {}, ...input });
  return {
    ...parsed,
    id: `r${ruleCount}`,
    zone_id: 'z',
    position: ruleCount,
    created_at: AT,
    updated_at: AT,
    ...extra,
  };
}

export function runtimeOf(rules: Rule[], zoneInput: Record<string, unknown> = {}): CompiledZone {
  return new CompiledZone(makeZone('z', zoneInput), compileRules(rules));
}

export function request(target: string, init: Partial<RuleRequest> = {}): RuleRequest {
  return { method: 'GET', host: 'z.example', target, headers: {}, scheme: 'https', ...init };
}

export function event(seq: number, body: EventBody): ControlEvent {
  return { ...body, seq, at: AT } as ControlEvent;
}

export function snapshot(seq: number, zones: Zone[], rules: Record<string, Rule[]> = {}): Snapshot {
  return { seq, zones, rules, pops: [], nodes: [] };
}
