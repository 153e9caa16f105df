// meridian audit [--limit N]: the control plane's audit log, newest first (who changed what, when,
// from where).
import { parseArgs } from 'node:util';
import { UsageError } from '../args.ts';
import { API_CLIENT_OPTIONS, apiTarget, callApi, printJson } from '../api-client.ts';
import { printTable } from '../table.ts';

export const AUDIT_HELP = `meridian audit — the audit log, newest first

Usage:
  meridian audit [--limit N]

Every change made through the API: when, which token, from which address, the action and the
resource. --limit: how many entries (default 20, at most 1000). The token needs audit:read.
Common options: --api URL, --token TOKEN (or MERIDIAN_API / MERIDIAN_TOKEN), --json.
`;

interface AuditRow {
  id: number;
  at: string;
  token_name: string;
  ip: string;
  action: string;
  resource_id: string | null;
}

/** The API's largest page. */
const PER_PAGE = 100;

export async function runAudit(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...API_CLIENT_OPTIONS, limit: { type: 'string', default: '20' } },
  });
  if (values.help || positionals[0] === 'help') {
    process.stdout.write(AUDIT_HELP);
    return;
  }
  if (positionals.length > 0) throw new UsageError(`audit: unexpected argument "${positionals[0]}"`);
  const limit = limitOf(values.limit);
  const target = apiTarget(values);
  const entries: AuditRow[] = [];
  for (let page = 1; entries.length < limit; page++) {
    const perPage = Math.min(PER_PAGE, limit);
    const res = await callApi<AuditRow[]>(target, 'GET', `/client/v4/audit?per_page=${perPage}&page=${page}`);
    entries.push(...res.result.slice(0, limit - entries.length));
    if (res.result.length < perPage || page >= (res.result_info?.total_pages ?? 1)) break;
  }
  if (values.json) return printJson(entries);
  printTable(
    ['AT', 'TOKEN', 'IP', 'ACTION', 'RESOURCE'],
    entries.map((e) => [e.at, e.token_name, e.ip, e.action, e.resource_id ?? '-']),
  );
}

export function limitOf(raw: string): number {
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 1000)
    throw new UsageError(`--limit: expected an integer from 1 to 1000, got "${raw}"`);
  return Number(raw);
}
