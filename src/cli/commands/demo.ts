// meridian demo: the quickstart on embedded defaults — the demo origin and one edge node in front
// of it, on loopback, with example commands. (`meridian up` will start a whole local cluster.)
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startDemoOrigin } from '../../demo/origin.ts';
import { startEdge, type EdgeNode } from '../../edge/edge.ts';
import { asStartFailure } from '../start-failure.ts';
import { parseEdgeArgs } from './edge.ts';
import { parseListen } from '../args.ts';

export const DEMO_HELP = `meridian demo — a demo origin and an edge node in front of it, on loopback

Usage:
  meridian demo [--listen 127.0.0.1:8080] [--origin-listen 127.0.0.1:9080] [--admin-listen 127.0.0.1:8180]
`;

export async function runDemo(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      listen: { type: 'string', default: '127.0.0.1:8080' },
      'origin-listen': { type: 'string', default: '127.0.0.1:9080' },
      'admin-listen': { type: 'string', default: '127.0.0.1:8180' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(DEMO_HELP);
    return;
  }
  const originAt = parseListen('origin-listen', values['origin-listen']);
  const listens = {
    listen: parseListen('listen', values.listen),
    'origin-listen': originAt,
    'admin-listen': parseListen('admin-listen', values['admin-listen']),
  };
  const origin = await startDemoOrigin(originAt.host, originAt.port).catch((err: unknown) => {
    throw asStartFailure(err, { listens: { 'origin-listen': originAt } });
  });
  // The demo's cache is a temporary folder: removed when the demo stops (or fails to start).
  const cacheDir = await mkdtemp(join(tmpdir(), 'meridian-demo-'));
  const removeCache = () => rm(cacheDir, { recursive: true, force: true });
  const config = parseEdgeArgs([
    '--origin',
    origin.url,
    '--listen',
    values.listen,
    '--admin-listen',
    values['admin-listen'],
    '--cache-dir',
    cacheDir,
  ]);
  if (config === 'help') return;
  let edge: EdgeNode;
  try {
    edge = await startEdge(config);
  } catch (err) {
    await origin.close();
    await removeCache();
    throw asStartFailure(err, { listens });
  }
  // Handlers first: a signal that arrives right after the banner still stops cleanly.
  const stop = (): void => {
    void Promise.all([edge.close(), origin.close()])
      .then(removeCache)
      .then(
        () => process.exit(0),
        () => process.exit(1),
      );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const url = `http://${values.listen}`;
  process.stdout.write(`
Meridian demo is running.
  edge     ${url}   (cache in ${cacheDir})
  origin   ${origin.url}
  metrics  http://${values['admin-listen']}/metrics

Try:
  curl -si ${url}/static/app.js | grep -i -E 'cache-status|age'     # twice: miss, then hit
  curl -si ${url}/slow                                               # 200 ms origin, then instant
  curl -si -H 'Range: bytes=0-9' ${url}/static/app.js                 # 206 from cache
  curl -si ${url}/api/time                                           # no-store: never cached
  curl -s ${origin.url}/__stats                                      # what reached the origin

Ctrl-C stops everything.
`);
}
