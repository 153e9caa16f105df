// A local cluster for benchmarks: the test origin, a control plane (SQLite; with --nats the events
// also go over NATS JetStream), and managed edge nodes spread over PoPs, all on loopback.
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import {
  api,
  removeDir,
  startControlProcess,
  startEdgeProcess,
  startTestOrigin,
} from '../../test/helpers/processes.ts';
import type { ControlProc, EdgeProc, Proc } from '../../test/helpers/processes.ts';

export interface ClusterOptions {
  transport: 'http' | 'nats';
  nodes: number;
  /** Nodes are dealt round-robin over this many PoPs (pop0, pop1, ...). */
  pops: number;
  natsUrl: string;
  /** Extra `meridian control` flags. */
  controlArgs?: string[];
}

export interface Cluster {
  readonly origin: Proc;
  readonly control: ControlProc;
  readonly edges: EdgeProc[];
  readonly zoneId: string;
  readonly host: string;
  admin(method: string, path: string, body?: unknown): ReturnType<typeof api>;
  stop(): Promise<void>;
}

export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const stream = `BENCH_${process.pid}_${Date.now()}`;
  const natsArgs = options.transport === 'nats' ? ['--nats', options.natsUrl, '--nats-stream', stream] : [];
  const origin = await startTestOrigin();
  const control = await startControlProcess({
    ...(options.transport === 'nats' ? { nats: options.natsUrl } : {}),
    extra: [
      ...(options.transport === 'nats' ? ['--nats-stream', stream] : []),
      ...(options.controlArgs ?? []),
    ],
  });
  const admin = (method: string, path: string, body?: unknown) =>
    api(control.url, control.adminToken, method, path, body);
  const nodeToken = (await admin('POST', '/client/v4/tokens', { name: 'nodes', scopes: ['node'] })).body
    .result.value as string;
  for (let p = 0; p < options.pops; p++) {
    await admin('PUT', `/client/v4/pops/pop${p}`, { city: `City ${p}`, latitude: p, longitude: p });
  }
  const host = 'bench.test';
  const zone = await admin('POST', '/client/v4/zones', {
    name: 'bench',
    hostnames: [host],
    origins: [{ url: origin.url }],
  });
  const edges: EdgeProc[] = [];
  const stop = async (): Promise<void> => {
    for (const edge of edges) {
      await edge.stop();
      await removeDir(edge.cacheDir);
    }
    await control.stop();
    await removeDir(control.dataDir);
    await origin.stop();
    if (options.transport === 'nats') {
      const nc = await connect({ servers: options.natsUrl });
      await (await jetstreamManager(nc)).streams.delete(stream).catch(() => false);
      await nc.close();
    }
  };
  try {
    for (let i = 0; i < options.nodes; i++) {
      const pop = `pop${i % options.pops}`;
      edges.push(
        await startEdgeProcess(
          '',
          ['--control', control.url, '--pop', pop, '--node', `n${i}`, '--token', nodeToken, ...natsArgs],
          { noOrigin: true },
        ),
      );
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { origin, control, edges, zoneId: zone.body.result.id as string, host, admin, stop };
}

export const quantile = (sorted: readonly number[], q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
