// meridian purge: POST /client/v4/zones/{id}/purge_cache, and with --wait the per-PoP progress
// from GET .../purge_cache/{purge_id} until every live node has applied it.
import { parseArgs } from 'node:util';
import { parseDuration, UsageError } from '../args.ts';
import { API_CLIENT_OPTIONS, apiTarget, callApi, printJson, zoneIdOf } from '../api-client.ts';

export const PURGE_HELP = `meridian purge — remove cached content on every node

Usage:
  meridian purge --zone ZONE (--url URL... | --prefix HOST/PATH... | --host HOST... | --tag TAG... | --everything)
                 [--soft] [--wait] [--timeout 30s]

Options:
  --zone ZONE      zone id or name
  --url URL        purge this URL (every variant); repeat for more (up to 500)
  --prefix P       purge every URL starting with P (www.example.com/img/); up to 100
  --host HOST      purge every URL of HOST; up to 100
  --tag TAG        purge every object tagged TAG (Cache-Tag / Surrogate-Key); up to 500
  --everything     purge the whole zone
  --soft           mark stale instead of removing: the next request revalidates with the origin
  --wait           show progress per PoP until every live node has applied the purge
  --timeout D      give up waiting after D (default 30s)
  --json           print the API's results

Common options: --api URL (or MERIDIAN_API), --token TOKEN (or MERIDIAN_TOKEN).
`;

interface PurgeStatus {
  id: string;
  created_at: string;
  complete: boolean;
  pops: {
    name: string;
    applied: number;
    total: number;
    nodes: { name: string; status: string; applied: boolean; applied_at: string | null }[];
  }[];
}

/**
 * When the last node applied the purge, by its receipt: its own clock's time of application, after
 * the purge was accepted (control plane's clock). Receipts are sent some time after application, so
 * this is sooner than the moment --wait saw the purge complete. Null when an applied live node sent
 * no receipt (its heartbeat's seq showed it applied), as then its time is not known.
 */
function lastApplication(status: PurgeStatus): { node: string; afterMs: number } | null {
  const accepted = Date.parse(status.created_at);
  let last: { node: string; afterMs: number } | null = null;
  for (const node of status.pops.flatMap((p) => p.nodes)) {
    if (!node.applied) continue;
    if (node.applied_at === null) return null;
    const afterMs = Date.parse(node.applied_at) - accepted;
    if (last === null || afterMs > last.afterMs) last = { node: node.name, afterMs };
  }
  return last === null || Number.isNaN(last.afterMs) ? null : last;
}

export async function runPurge(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...API_CLIENT_OPTIONS,
      zone: { type: 'string' },
      url: { type: 'string', multiple: true },
      prefix: { type: 'string', multiple: true },
      host: { type: 'string', multiple: true },
      tag: { type: 'string', multiple: true },
      everything: { type: 'boolean', default: false },
      soft: { type: 'boolean', default: false },
      wait: { type: 'boolean', default: false },
      timeout: { type: 'string', default: '30s' },
    },
  });
  if (values.help) {
    process.stdout.write(PURGE_HELP);
    return;
  }
  if (values.zone === undefined) throw new UsageError('--zone is required');
  const body: Record<string, unknown> = { soft: values.soft };
  if (values.url !== undefined) body.files = values.url;
  if (values.prefix !== undefined) body.prefixes = values.prefix;
  if (values.host !== undefined) body.hosts = values.host;
  if (values.tag !== undefined) body.tags = values.tag;
  if (values.everything) body.purge_everything = true;
  const kinds = Object.keys(body).length - 1;
  if (kinds !== 1) throw new UsageError('give exactly one of --url, --prefix, --host, --tag or --everything');
  const timeoutMs = parseDuration('timeout', values.timeout);

  const target = apiTarget(values);
  const zoneId = await zoneIdOf(target, values.zone);
  const path = `/client/v4/zones/${zoneId}/purge_cache`;
  const started = performance.now();
  const created = await callApi<{ id: string; seq: number }>(target, 'POST', path, body);
  if (values.json && !values.wait) {
    printJson(created.result);
    return;
  }
  process.stdout.write(`purge ${created.result.id} accepted\n`);
  if (!values.wait) return;

  const deadline = started + timeoutMs;
  let last = '';
  for (;;) {
    const status = (await callApi<PurgeStatus>(target, 'GET', `${path}/${created.result.id}`)).result;
    const line = status.pops.map((p) => `${p.name} ${p.applied}/${p.total}`).join('  ');
    const elapsed = Math.round(performance.now() - started);
    if (line !== last || status.complete)
      process.stdout.write(`  ${String(elapsed).padStart(6)} ms  ${line}\n`);
    last = line;
    if (status.complete) {
      if (values.json) printJson(status);
      const last = lastApplication(status);
      const when =
        last === null
          ? ''
          : ` (the last, ${last.node}, applied it ${Math.max(0, last.afterMs)} ms after it was accepted, by its clock)`;
      process.stdout.write(`complete: every live node applied the purge in ${elapsed} ms${when}\n`);
      return;
    }
    if (performance.now() > deadline) {
      const missing = status.pops.flatMap((p) =>
        p.nodes.filter((n) => n.status === 'up' && !n.applied).map((n) => n.name),
      );
      process.stderr.write(`not complete after ${values.timeout}: waiting for ${missing.join(', ')}\n`);
      process.exitCode = 1;
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
