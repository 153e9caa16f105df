// meridian prewarm: POST /client/v4/zones/{id}/prewarm with the URLs of a file (one a line) or an HLS
// manifest, and with --wait a live progress bar per PoP from GET .../prewarm/{id} until every live
// node of the chosen PoPs loaded its part.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { parseDuration, UsageError } from '../args.ts';
import { API_CLIENT_OPTIONS, apiTarget, callApi, printJson, zoneIdOf } from '../api-client.ts';

export const PREWARM_HELP = `meridian prewarm — load URLs into the caches of chosen PoPs ahead of an event

Usage:
  meridian prewarm --zone ZONE (--file LIST | --url URL... | --manifest URL) [--pops a,b] [--wait]

Options:
  --zone ZONE      zone id or name
  --file LIST      a file of URLs, one a line ("#" comments and blank lines skipped; up to 10000)
  --url URL        a URL to load; repeat for more
  --manifest URL   an HLS playlist: it and every segment it names (variant playlists too)
  --pops LIST      only these PoPs (default: every edge PoP)
  --wait           show the progress per PoP until every live node loaded its part; exit 1 when
                   some URLs failed or the timeout passed
  --timeout D      give up waiting after D (default 10m)
  --json           print the API's results (with --wait: the final status)

Common options: --api URL (or MERIDIAN_API), --token TOKEN (or MERIDIAN_TOKEN).
`;

interface PrewarmStatus {
  complete: boolean;
  files: number;
  pops: {
    name: string;
    total: number;
    done: number;
    failed: number;
    nodes: { name: string; state: string; total: number; done: number; failed: number }[];
  }[];
}

/** `nyc [##########----------] 50/100 (2 failed)`: one PoP's progress as a bar. */
export function popBar(pop: PrewarmStatus['pops'][number], width = 20): string {
  const finished = pop.done + pop.failed;
  const filled = pop.total === 0 ? width : Math.round((finished / pop.total) * width);
  const waiting = pop.nodes.filter((n) => n.state === 'pending').length;
  const notes = [
    ...(pop.failed > 0 ? [`${pop.failed} failed`] : []),
    ...(waiting > 0 ? [`${waiting} node${waiting === 1 ? '' : 's'} not started`] : []),
  ];
  const bar = `${'#'.repeat(filled)}${'-'.repeat(width - filled)}`;
  return `${pop.name} [${bar}] ${finished}/${pop.total}${notes.length === 0 ? '' : ` (${notes.join(', ')})`}`;
}

async function urlsOf(file: string): Promise<string[]> {
  const text = await readFile(file, 'utf8').catch((err: Error) => {
    throw new UsageError(`--file: cannot read ${file}: ${err.message}`);
  });
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

export async function runPrewarm(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...API_CLIENT_OPTIONS,
      zone: { type: 'string' },
      file: { type: 'string' },
      url: { type: 'string', multiple: true },
      manifest: { type: 'string' },
      pops: { type: 'string' },
      wait: { type: 'boolean', default: false },
      timeout: { type: 'string', default: '10m' },
    },
  });
  if (values.help) {
    process.stdout.write(PREWARM_HELP);
    return;
  }
  if (values.zone === undefined) throw new UsageError('--zone is required');
  const sources = [values.file, values.url, values.manifest].filter((v) => v !== undefined).length;
  if (sources !== 1) throw new UsageError('give exactly one of --file, --url or --manifest');
  const body: Record<string, unknown> = {};
  if (values.manifest !== undefined) body.manifest = values.manifest;
  else body.files = values.file === undefined ? values.url : await urlsOf(values.file);
  if (Array.isArray(body.files) && body.files.length === 0)
    throw new UsageError('--file: no URLs in the file');
  if (values.pops !== undefined) body.pops = values.pops.split(',').map((p) => p.trim());
  const timeoutMs = parseDuration('timeout', values.timeout);
  const target = apiTarget(values);
  const zoneId = await zoneIdOf(target, values.zone);
  const path = `/client/v4/zones/${zoneId}/prewarm`;
  const started = performance.now();
  const created = await callApi<{ id: string; files: number }>(target, 'POST', path, body);
  if (values.json && !values.wait) {
    printJson(created.result);
    return;
  }
  if (!values.json)
    process.stdout.write(`prewarm ${created.result.id} accepted: ${created.result.files} URLs\n`);
  if (!values.wait) return;
  let last = '';
  for (;;) {
    const status = (await callApi<PrewarmStatus>(target, 'GET', `${path}/${created.result.id}`)).result;
    const elapsed = Math.round(performance.now() - started);
    const timedOut = performance.now() - started > timeoutMs;
    const line = status.pops.map((p) => popBar(p)).join('  ');
    if (!values.json && line !== last)
      process.stdout.write(`  ${String(elapsed).padStart(6)} ms  ${line === '' ? '(no nodes)' : line}\n`);
    last = line;
    if (status.complete || timedOut) {
      const failed = status.pops.reduce((n, p) => n + p.failed, 0);
      if (values.json) printJson({ ...status, elapsed_ms: elapsed });
      else if (!status.complete) process.stderr.write(`not complete after ${values.timeout}\n`);
      else process.stdout.write(`complete in ${elapsed} ms${failed > 0 ? `: ${failed} URLs failed` : ''}\n`);
      if (!status.complete || failed > 0 || status.pops.length === 0) process.exitCode = 1;
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
