// meridian purge: POST /client/v4/zones/{id}/purge_cache, and with --wait the per-PoP progress
// from GET .../purge_cache/{purge_id} until every registered node applied it or is known down.
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
  --wait           show progress per PoP (applied / down / pending) until every registered node
                   applied the purge or is known down; exit 1 unless so, and with no nodes at all
  --timeout D      give up waiting after D (default 30s; exit 1, naming the pending nodes)
  --json           print the API's results (with --wait: the final status and its outcome)

Common options: --api URL (or MERIDIAN_API), --token TOKEN (or MERIDIAN_TOKEN).
`;

type NodeState = 'applied' | 'down' | 'pending';

interface PurgeStatus {
  id: string;
  created_at: string;
  complete: boolean;
  nodes: { total: number; applied: number; down: number; pending: number };
  pops: {
    name: string;
    applied: number;
    down: number;
    pending: number;
    total: number;
    nodes: { name: string; status: string; state: NodeState; applied: boolean; applied_at: string | null }[];
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

/** One PoP's progress: `fra 2/2 applied`, or `nyc 1 applied, 1 down (nyc-2), 1 pending (nyc-3)`. */
export function popProgress(pop: PurgeStatus['pops'][number]): string {
  if (pop.applied === pop.total) return `${pop.name} ${pop.applied}/${pop.total} applied`;
  const part = (state: NodeState): string[] => {
    const names = pop.nodes.filter((n) => n.state === state).map((n) => n.name);
    if (names.length === 0) return [];
    return [
      state === 'applied' ? `${names.length} applied` : `${names.length} ${state} (${names.join(', ')})`,
    ];
  };
  return `${pop.name} ${[...part('applied'), ...part('down'), ...part('pending')].join(', ')}`;
}

const namesIn = (status: PurgeStatus, state: NodeState): string[] =>
  status.pops.flatMap((p) => p.nodes.filter((n) => n.state === state).map((n) => n.name));

type Outcome = 'complete' | 'no-nodes' | 'all-down' | 'timeout';

/**
 * Confirmed only when every registered node applied the purge or is known down (it applies what it
 * missed before serving again), and at least one applied: no nodes, or none up, confirm nothing.
 */
function outcomeOf(status: PurgeStatus, timedOut: boolean): Outcome | null {
  if (status.nodes.total === 0) return 'no-nodes';
  if (status.nodes.pending > 0) return timedOut ? 'timeout' : null;
  return status.nodes.applied === 0 ? 'all-down' : 'complete';
}

/** The last lines of --wait, and whether the purge is confirmed. */
function report(status: PurgeStatus, outcome: Outcome, elapsed: number, timeout: string): boolean {
  const down = namesIn(status, 'down');
  const downNote =
    down.length === 0 ? '' : `; down: ${down.join(', ')} (each applies it before it serves again)`;
  if (outcome === 'no-nodes') {
    process.stderr.write('not confirmed: no node is registered, so no node applied the purge\n');
    return false;
  }
  if (outcome === 'all-down') {
    process.stderr.write(
      `not confirmed: no node applied the purge, every registered node is down${downNote}\n`,
    );
    return false;
  }
  if (outcome === 'timeout') {
    process.stderr.write(
      `not complete after ${timeout}: pending: ${namesIn(status, 'pending').join(', ')}${downNote}\n`,
    );
    return false;
  }
  const last = lastApplication(status);
  const when =
    last === null
      ? ''
      : ` (the last, ${last.node}, applied it ${Math.max(0, last.afterMs)} ms after it was accepted, by its clock)`;
  const who =
    down.length === 0
      ? 'every node applied the purge'
      : `${status.nodes.applied} of ${status.nodes.total} nodes applied the purge${downNote}`;
  process.stdout.write(`complete: ${who} in ${elapsed} ms${when}\n`);
  return true;
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
  if (!values.json) process.stdout.write(`purge ${created.result.id} accepted\n`);
  if (!values.wait) return;

  const deadline = started + timeoutMs;
  let last = '';
  for (;;) {
    const status = (await callApi<PurgeStatus>(target, 'GET', `${path}/${created.result.id}`)).result;
    const elapsed = Math.round(performance.now() - started);
    const outcome = outcomeOf(status, performance.now() > deadline);
    const line = status.pops.map(popProgress).join('  ');
    if (!values.json && (line !== last || outcome !== null))
      process.stdout.write(`  ${String(elapsed).padStart(6)} ms  ${line === '' ? '(no nodes)' : line}\n`);
    last = line;
    if (outcome !== null) {
      const isConfirmed = values.json
        ? outcome === 'complete'
        : report(status, outcome, elapsed, values.timeout);
      if (values.json) printJson({ ...status, outcome, elapsed_ms: elapsed });
      if (!isConfirmed) process.exitCode = 1;
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
