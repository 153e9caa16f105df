// meridian analytics --zone NAME [--since -60] [--until ...]: a zone's traffic over a range (totals,
// cache, status codes, latency, top paths, PoPs and nodes); meridian tail --zone NAME: its requests
// live from every node, through the control plane.
import { request } from 'undici';
import { parseArgs } from 'node:util';
import { UsageError } from '../args.ts';
import { API_CLIENT_OPTIONS, ApiCallError, apiTarget, callApi, printJson, zoneIdOf } from '../api-client.ts';
import { printTable } from '../table.ts';

export const ANALYTICS_HELP = `meridian analytics — a zone's traffic over a time range

Usage:
  meridian analytics --zone NAME [--since=-1440] [--until TIME] [--resolution minute|hour|day]

--since / --until: ISO 8601 times (2026-12-03T12:00:00Z) or minutes relative to now (--since=-60: an hour
ago); default: the last 24 hours. The token needs analytics:read. --json prints the API's answer
(totals and timeseries, Cloudflare's classic zone analytics shape).
Common options: --api URL, --token TOKEN (or MERIDIAN_API / MERIDIAN_TOKEN), --json.
`;

export const TAIL_HELP = `meridian tail — a zone's requests live, from every node

Usage:
  meridian tail --zone NAME [--status 5xx|404] [--pop NAME]

One line per request as the nodes see it (time, node, status, cache, method, host, path, bytes,
ttfb); --json prints each record as the API sends it (NDJSON). Runs until interrupted. Nodes send
a zone's requests while it is tailed, within a second or two of the request.
Common options: --api URL, --token TOKEN (or MERIDIAN_API / MERIDIAN_TOKEN), --json.
`;

interface Latency {
  count: number;
  p50: number | null;
  p90: number | null;
  p99: number | null;
}

interface Totals {
  requests: {
    all: number;
    cached: number;
    uncached: number;
    http_status: Record<string, number>;
    cache_status: Record<string, number>;
  };
  bandwidth: { all: number; cached: number; uncached: number };
  latency: { ttfb_ms: Latency; origin_ms: Latency };
  top: { paths: { value: string; requests: number }[] };
  nodes: { node: string; pop: string; requests: number; bandwidth: number; cached: number }[];
}

export async function runAnalytics(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...API_CLIENT_OPTIONS,
      zone: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      resolution: { type: 'string' },
    },
  });
  if (values.help) {
    process.stdout.write(ANALYTICS_HELP);
    return;
  }
  if (positionals.length > 0) throw new UsageError(`analytics: unexpected argument "${positionals[0]}"`);
  if (values.zone === undefined) throw new UsageError('--zone: required (a zone name or id)');
  const target = apiTarget(values);
  const zoneId = await zoneIdOf(target, values.zone);
  const query = new URLSearchParams();
  for (const key of ['since', 'until', 'resolution'] as const) {
    const v = values[key];
    if (v !== undefined) query.set(key, v);
  }
  const res = await callApi<{ totals: Totals; query: { since: string; until: string; resolution: string } }>(
    target,
    'GET',
    `/client/v4/zones/${zoneId}/analytics/dashboard?${query.toString()}`,
  );
  if (values.json) return printJson(res.result);
  const { totals: t, query: q } = res.result;
  const ratio = t.requests.all === 0 ? 0 : (100 * t.requests.cached) / t.requests.all;
  const ms = (v: number | null): string => (v === null ? '-' : `${v.toFixed(2)} ms`);
  const lines = [
    `${values.zone}  ${q.since} → ${q.until}  (per ${q.resolution})`,
    `  requests   ${t.requests.all}  (cached ${t.requests.cached}, uncached ${t.requests.uncached}, hit ratio ${ratio.toFixed(1)}%)`,
    `  bandwidth  ${t.bandwidth.all} bytes  (cached ${t.bandwidth.cached}, uncached ${t.bandwidth.uncached})`,
    `  status     ${formatCounts(t.requests.http_status)}`,
    `  cache      ${formatCounts(t.requests.cache_status)}`,
    `  ttfb       p50 ${ms(t.latency.ttfb_ms.p50)}  p90 ${ms(t.latency.ttfb_ms.p90)}  p99 ${ms(t.latency.ttfb_ms.p99)}`,
    `  origin     p50 ${ms(t.latency.origin_ms.p50)}  p90 ${ms(t.latency.origin_ms.p90)}  p99 ${ms(t.latency.origin_ms.p99)}`,
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  printTable(
    ['NODE', 'POP', 'REQUESTS', 'CACHED', 'BYTES'],
    t.nodes.map((n) => [n.node, n.pop, String(n.requests), String(n.cached), String(n.bandwidth)]),
  );
  if (t.top.paths.length > 0) {
    process.stdout.write('\n');
    printTable(
      ['TOP PATH', 'REQUESTS'],
      t.top.paths.map((p) => [p.value, String(p.requests)]),
    );
  }
}

function formatCounts(counts: Record<string, number>): string {
  const entries = Object.entries(counts).sort((a, b) => b[1] - a[1]);
  return entries.length === 0 ? '-' : entries.map(([k, v]) => `${k} ${v}`).join(', ');
}

export async function runTail(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...API_CLIENT_OPTIONS,
      zone: { type: 'string' },
      status: { type: 'string' },
      pop: { type: 'string' },
    },
  });
  if (values.help) {
    process.stdout.write(TAIL_HELP);
    return;
  }
  if (positionals.length > 0) throw new UsageError(`tail: unexpected argument "${positionals[0]}"`);
  if (values.zone === undefined) throw new UsageError('--zone: required (a zone name or id)');
  if (values.status !== undefined && !/^([1-5]xx|[1-5]\d\d)$/i.test(values.status))
    throw new UsageError(
      `--status: expected a class such as 5xx or a code such as 404, got "${values.status}"`,
    );
  const target = apiTarget(values);
  const zoneId = await zoneIdOf(target, values.zone);
  const query = new URLSearchParams();
  if (values.status !== undefined) query.set('status', values.status.toLowerCase());
  if (values.pop !== undefined) query.set('pop', values.pop);
  // The first URL of --api: a tail is one long stream, not a call to fail over.
  const base = (target.api.split(',')[0] as string).replace(/\/$/, '');
  const res = await request(`${base}/client/v4/zones/${zoneId}/analytics/tail?${query.toString()}`, {
    headers: { authorization: `Bearer ${target.token}` },
    bodyTimeout: 0,
  });
  if (res.statusCode !== 200) {
    throw new ApiCallError(`tail: HTTP ${res.statusCode}: ${(await res.body.text()).slice(0, 300)}`);
  }
  let buffered = '';
  for await (const chunk of res.body) {
    buffered += (chunk as Buffer).toString();
    let nl;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      printTailLine(line, values.json);
    }
  }
}

function printTailLine(line: string, json: boolean): void {
  const r = JSON.parse(line) as Record<string, unknown>;
  if (r.type === 'heartbeat') return;
  if (r.type === 'hello') {
    if (!json) process.stderr.write(`meridian: tailing ${String(r.zone)} (Ctrl-C to stop)\n`);
    return;
  }
  if (json) {
    process.stdout.write(`${line}\n`);
    return;
  }
  process.stdout.write(
    `${String(r.time)} ${String(r.node)} ${String(r.status)} ${String(r.cache).padEnd(11)} ${String(r.method)} ${String(r.host)}${String(r.path)} ${String(r.bytes)}B ${String(r.ttfb_ms)}ms\n`,
  );
}
