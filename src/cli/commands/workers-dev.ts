// meridian workers dev FILE --origin URL: one standalone edge node, in this process, that runs FILE
// for every request (the same runtime, limits and cache as a deployed worker), with in-memory KV
// namespaces, and reloads FILE when it changes. A version that does not compile is reported with its
// line and column, and the previous one keeps serving.
import { mkdtemp, readFile, rm, watch } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Binding, WorkerRoute } from '../../common/config/worker.ts';
import { startEdge } from '../../edge/edge.ts';
import { ScriptError } from '../../edge/compute/isolate.ts';
import { UsageError } from '../args.ts';
import { parseEdgeArgs } from './edge.ts';

const ZONE = 'standalone';
const NAME = 'dev';

export async function runWorkersDev(
  positionals: string[],
  values: {
    origin?: string | undefined;
    listen?: string | undefined;
    var?: string[] | undefined;
    kv?: string[] | undefined;
  },
): Promise<void> {
  const file = positionals[0];
  if (file === undefined) throw new UsageError('workers dev: FILE is required');
  if (values.origin === undefined) throw new UsageError('--origin: required (the URL requests go to)');
  const cacheDir = await mkdtemp(join(tmpdir(), 'meridian-workers-dev-'));
  const config = parseEdgeArgs([
    '--origin',
    values.origin,
    '--listen',
    values.listen ?? '127.0.0.1:8787',
    '--cache-dir',
    cacheDir,
    '--node',
    'dev',
  ]);
  if (config === 'help') return;
  const bindings: Binding[] = [];
  for (const item of values.var ?? []) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new UsageError(`--var: expected NAME=VALUE, got "${item}"`);
    bindings.push({ type: 'plain_text', name: item.slice(0, eq), text: item.slice(eq + 1) });
  }
  const node = await startEdge(config);
  for (const name of values.kv ?? []) {
    node.compute.kv.upsertNamespace({ id: `dev-${name}`, zone_id: ZONE, title: name });
    bindings.push({ type: 'kv_namespace', name, namespace_id: `dev-${name}` });
  }
  let version = 0;
  const load = async (): Promise<void> => {
    const source = await readFile(file, 'utf8');
    try {
      await node.compute.registry.deploy({
        zone_id: ZONE,
        name: NAME,
        version: ++version,
        etag: createHash('sha256').update(source).digest('hex'),
        source,
        bindings,
        created_at: new Date().toISOString(),
      });
      process.stdout.write(`loaded ${file} (version ${version})\n`);
    } catch (err) {
      const where = err instanceof ScriptError && err.line !== null ? `:${err.line}:${err.column}` : '';
      process.stdout.write(
        `${file}${where}: ${(err as Error).message} (the previous version keeps serving)\n`,
      );
    }
  };
  await load();
  const route: WorkerRoute = {
    id: NAME,
    zone_id: ZONE,
    pattern: '*',
    script: NAME,
    fail_open: false,
    created_at: '',
  };
  node.compute.registry.setRoutes(ZONE, [route]);
  process.stdout.write(
    `listening on http://${node.address.address}:${node.address.port} -> ${values.origin}\n`,
  );
  const stop = new AbortController();
  const shutdown = (): void => stop.abort();
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
  try {
    for await (const _event of watch(file, { signal: stop.signal })) await load();
  } catch (err) {
    if ((err as { name?: string }).name !== 'AbortError') throw err;
  } finally {
    await node.close();
    await rm(cacheDir, { recursive: true, force: true });
  }
}
