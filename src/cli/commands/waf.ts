// meridian waf: a zone's edge security through the Rulesets API (custom rules, rate limits, the
// managed rule set) and its security settings (under attack mode).
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import {
  ApiCallError,
  API_CLIENT_OPTIONS,
  apiTarget,
  callApi,
  printJson,
  zoneIdOf,
  type ApiTarget,
} from '../api-client.ts';
import { parseSeconds, UsageError } from '../args.ts';
import { printTable } from '../table.ts';

export const WAF_HELP = `meridian waf — a zone's firewall rules, rate limits, managed rules and under-attack mode

Usage:
  meridian waf list --zone ZONE [--phase PHASE]
  meridian waf add --zone ZONE --expression EXPR --action ACTION [--id ID] [--description TEXT] [--log-only]
  meridian waf add --zone ZONE --phase ratelimit --expression EXPR --requests N --period SECONDS
                   [--characteristic ip.src ...] [--mitigation SECONDS] [--action block] [--node-only]
  meridian waf delete --zone ZONE [--phase PHASE] RULE_ID
  meridian waf put --zone ZONE --phase PHASE --file RULESET.json   (the whole {"rules": [...]} body)
  meridian waf managed --zone ZONE (--paranoia 1-4 [--action ACTION] [--except RULE_ID ...] [--log-only] | --off)
  meridian waf under-attack --zone ZONE on|off
  meridian waf settings --zone ZONE

PHASE is custom (http_request_firewall_custom, the default), ratelimit (http_ratelimit) or managed
(http_request_firewall_managed). Custom actions: block, managed_challenge, js_challenge, log; rate
limit actions: block (429), managed_challenge, js_challenge, log. EXPR is Cloudflare's rules language
(docs/security.md), e.g. 'http.request.uri.path matches "^/admin" and not ip.src in {10.0.0.0/8}'.
--log-only: count and log the rule's decision without enforcing it.
Common options: --api URL, --token TOKEN (or MERIDIAN_API / MERIDIAN_TOKEN), --json.
`;

const PHASES: Record<string, string> = {
  custom: 'http_request_firewall_custom',
  ratelimit: 'http_ratelimit',
  managed: 'http_request_firewall_managed',
};

export async function runWaf(argv: string[]): Promise<void> {
  const [verb, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      ...API_CLIENT_OPTIONS,
      zone: { type: 'string' },
      phase: { type: 'string' },
      expression: { type: 'string' },
      action: { type: 'string' },
      id: { type: 'string' },
      description: { type: 'string' },
      'log-only': { type: 'boolean', default: false },
      requests: { type: 'string' },
      period: { type: 'string' },
      characteristic: { type: 'string', multiple: true },
      mitigation: { type: 'string' },
      'node-only': { type: 'boolean', default: false },
      file: { type: 'string' },
      paranoia: { type: 'string' },
      except: { type: 'string', multiple: true },
      off: { type: 'boolean', default: false },
    },
  });
  if (verb === undefined || values.help || verb === 'help' || verb === '--help' || verb === '-h') {
    process.stdout.write(WAF_HELP);
    return;
  }
  if (values.zone === undefined) throw new UsageError('--zone: required');
  const phase = phaseOf(values.phase ?? (verb === 'managed' ? 'managed' : 'custom'));
  const target = apiTarget(values);
  const zoneId = await zoneIdOf(target, values.zone);
  const entrypoint = (p: string) => `/client/v4/zones/${zoneId}/rulesets/phases/${p}/entrypoint`;
  switch (verb) {
    case 'list': {
      const phases = values.phase === undefined ? Object.values(PHASES) : [phase];
      const rows: string[][] = [];
      const all: Record<string, unknown> = {};
      for (const p of phases) {
        const rules = await rulesOf(target, entrypoint(p));
        all[p] = rules;
        for (const r of rules) {
          rows.push([
            p,
            String(r.id),
            String(r.action),
            r.enabled === false ? 'off' : r.log_only === true ? 'log-only' : 'on',
            String(r.expression),
            String(r.description ?? ''),
          ]);
        }
      }
      if (values.json) printJson(all);
      else printTable(['PHASE', 'ID', 'ACTION', 'MODE', 'EXPRESSION', 'DESCRIPTION'], rows);
      return;
    }
    case 'add': {
      if (values.expression === undefined) throw new UsageError('--expression: required');
      const rule: Record<string, unknown> = {
        expression: values.expression,
        action: values.action ?? (phase === PHASES.ratelimit ? 'block' : undefined),
        ...(values.id === undefined ? {} : { id: values.id }),
        ...(values.description === undefined ? {} : { description: values.description }),
        ...(values['log-only'] ? { log_only: true } : {}),
      };
      if (rule.action === undefined) throw new UsageError('--action: required');
      if (phase === PHASES.ratelimit) {
        if (values.requests === undefined || values.period === undefined) {
          throw new UsageError('--requests and --period: required for a rate limit');
        }
        rule.ratelimit = {
          characteristics: values.characteristic ?? ['ip.src'],
          requests_per_period: Number(values.requests),
          period: parseSeconds('period', values.period),
          mitigation_timeout:
            values.mitigation === undefined ? 0 : parseSeconds('mitigation', values.mitigation),
          counting: values['node-only'] ? 'node' : 'pop',
        };
      }
      const rules = await rulesOf(target, entrypoint(phase));
      const res = await callApi<{ rules: { id: string }[] }>(target, 'PUT', entrypoint(phase), {
        rules: [...rules.map(input), rule],
      });
      if (values.json) printJson(res.result);
      else process.stdout.write(`added rule ${res.result.rules.at(-1)?.id ?? '?'} to ${phase}\n`);
      return;
    }
    case 'delete': {
      const ruleId = positionals[0];
      if (ruleId === undefined) throw new UsageError('RULE_ID: required');
      const rules = await rulesOf(target, entrypoint(phase));
      if (!rules.some((r) => r.id === ruleId)) throw new UsageError(`no rule ${ruleId} in ${phase}`);
      await callApi(target, 'PUT', entrypoint(phase), {
        rules: rules.filter((r) => r.id !== ruleId).map(input),
      });
      process.stdout.write(`deleted rule ${ruleId} from ${phase}\n`);
      return;
    }
    case 'put': {
      if (values.file === undefined) throw new UsageError('--file: required');
      const body = JSON.parse(await readFile(values.file, 'utf8')) as unknown;
      const res = await callApi(target, 'PUT', entrypoint(phase), body);
      if (values.json) printJson(res.result);
      else process.stdout.write(`replaced ${phase}\n`);
      return;
    }
    case 'managed': {
      let rules: Record<string, unknown>[] = [];
      if (!values.off) {
        if (values.paranoia === undefined) throw new UsageError('--paranoia 1-4 (or --off): required');
        const exceptions = values.except ?? [];
        rules = [
          ...(exceptions.length === 0
            ? []
            : [
                {
                  id: 'exceptions',
                  expression: 'true',
                  action: 'skip',
                  action_parameters: { rules: { meridian_managed: exceptions } },
                },
              ]),
          {
            id: 'execute-managed',
            expression: 'true',
            action: 'execute',
            ...(values['log-only'] ? { log_only: true } : {}),
            action_parameters: {
              id: 'meridian_managed',
              overrides: {
                paranoia_level: Number(values.paranoia),
                ...(values.action === undefined ? {} : { action: values.action }),
              },
            },
          },
        ];
      }
      await callApi(target, 'PUT', entrypoint(PHASES.managed as string), { rules });
      process.stdout.write(
        values.off ? 'managed rules off\n' : `managed rules on at paranoia ${values.paranoia}\n`,
      );
      return;
    }
    case 'under-attack':
    case 'settings': {
      const path = `/client/v4/zones/${zoneId}/security/settings`;
      const current = (await callApi<Record<string, unknown>>(target, 'GET', path)).result;
      if (verb === 'settings') {
        printJson(current);
        return;
      }
      const mode = positionals[0];
      if (mode !== 'on' && mode !== 'off') throw new UsageError('under-attack: on or off');
      await callApi(target, 'PUT', path, { ...current, under_attack: mode === 'on' });
      process.stdout.write(`under attack mode ${mode}\n`);
      return;
    }
    default:
      throw new UsageError(
        `unknown waf verb "${verb}" (list, add, delete, put, managed, under-attack, settings)`,
      );
  }
}

function phaseOf(name: string): string {
  const phase = PHASES[name] ?? (Object.values(PHASES).includes(name) ? name : undefined);
  if (phase === undefined) throw new UsageError(`--phase: custom, ratelimit or managed, not "${name}"`);
  return phase;
}

/** The phase's rules; none when the zone has no entrypoint yet (404). */
async function rulesOf(target: ApiTarget, path: string): Promise<Record<string, unknown>[]> {
  try {
    return (await callApi<{ rules: Record<string, unknown>[] }>(target, 'GET', path)).result.rules;
  } catch (err) {
    if (err instanceof ApiCallError && /HTTP 404/.test(err.message)) return [];
    throw err;
  }
}

/** A stored rule as PUT input again (the API adds version and last_updated). */
function input(rule: Record<string, unknown>): Record<string, unknown> {
  const { version: _v, last_updated: _l, ...rest } = rule;
  return rest;
}
