// Purge propagation: from the purge call's answer until every node of a local cluster (20 nodes in
// 4 PoPs by default) answers a miss for the purged URL, over 200 purges, for both event transports.
//   node bench/purge/propagation.ts [--nodes 20] [--pops 4] [--purges 200] [--transport http,nats]
// Before each purge the URL is cached on every node (the previous round's miss refilled it). After
// the answer, each node is asked for the URL until it answers a miss (bounded: 5 s per purge; a
// poll that still hits waits POLL_MS, default 1 ms). Also printed: when the last node's receipt
// says it applied the purge (its own clock; same machine), from the purge's status.
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import type { EdgeProc } from '../../test/helpers/processes.ts';
import { quantile, startCluster } from '../lib/cluster.ts';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '20' },
    pops: { type: 'string', default: '4' },
    purges: { type: 'string', default: '200' },
    transport: { type: 'string', default: 'http,nats' },
    nats: { type: 'string', default: 'nats://127.0.0.1:4222' },
  },
});
const NODES = Number(values.nodes);
const POPS = Number(values.pops);
const PURGES = Number(values.purges);
const POLL_MS = Number(process.env.POLL_MS ?? 1);
const agent = new Agent({ connections: 2 });
const PATH = '/purge-bench/object?cc=max-age%3D3600';

async function isHit(edge: EdgeProc, host: string): Promise<boolean> {
  const res = await request(`${edge.url}${PATH}`, { headers: { host }, dispatcher: agent });
  await res.body.dump();
  return /; hit/.test(String(res.headers['cache-status']));
}

async function run(transport: 'http' | 'nats'): Promise<{ miss: number[]; applied: number[] }> {
  const cluster = await startCluster({
    transport,
    nodes: NODES,
    pops: POPS,
    natsUrl: values.nats,
    controlArgs: ['--purge-rate', '1000', '--purge-burst', '1000'],
  });
  const { edges, host } = cluster;
  const miss: number[] = [];
  const applied: number[] = [];
  try {
    await Promise.all(edges.map((edge) => isHit(edge, host)));
    for (let i = 0; i < PURGES; i++) {
      const cold = await Promise.all(edges.map(async (edge) => !(await isHit(edge, host))));
      if (cold.some(Boolean)) throw new Error(`round ${i}: the object was not cached on every node`);
      const res = await cluster.admin('POST', `/client/v4/zones/${cluster.zoneId}/purge_cache`, {
        files: [`http://${host}${PATH}`],
      });
      const answeredAt = performance.now();
      const answeredEpochMs = Date.now();
      if (res.status !== 200) throw new Error(`purge failed: ${JSON.stringify(res.body.errors)}`);
      await Promise.all(
        edges.map(async (edge) => {
          while (await isHit(edge, host)) {
            if (performance.now() - answeredAt > 5_000)
              throw new Error(`node ${edge.port}: purge ${i} not applied in 5 s`);
            await new Promise((resolve) => setTimeout(resolve, POLL_MS));
          }
        }),
      );
      miss.push(performance.now() - answeredAt);
      // The receipts (each node's time of application), once all are in.
      for (let tries = 0; tries < 100; tries++) {
        const status = (
          await cluster.admin('GET', `/client/v4/zones/${cluster.zoneId}/purge_cache/${res.body.result.id}`)
        ).body.result as { complete: boolean; pops: { nodes: { applied_at: string | null }[] }[] };
        const times = status.pops.flatMap((p) => p.nodes.map((n) => n.applied_at));
        if (times.length === NODES && times.every((t) => t !== null)) {
          applied.push(Math.max(...times.map((t) => Date.parse(t as string))) - answeredEpochMs);
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
  } finally {
    await cluster.stop();
  }
  return { miss, applied };
}

const rows: string[] = [];
for (const transport of values.transport.split(',') as ('http' | 'nats')[]) {
  const { miss, applied } = await run(transport);
  miss.sort((a, b) => a - b);
  applied.sort((a, b) => a - b);
  rows.push(
    `| ${transport} | ${NODES} / ${POPS} | ${miss.length} | ${quantile(miss, 0.5).toFixed(1)} | ${quantile(miss, 0.99).toFixed(1)} | ${(miss.at(-1) as number).toFixed(1)} | ${quantile(applied, 0.5).toFixed(0)} / ${quantile(applied, 0.99).toFixed(0)} |`,
  );
}
await agent.close();
process.stdout.write(
  `| transport | nodes / PoPs | purges | miss p50 ms | miss p99 ms | miss max ms | last receipt p50 / p99 ms |\n|---|---|---|---|---|---|---|\n${rows.join('\n')}\n`,
);
