// Config propagation: from the API call's answer to every node of a 10-node local cluster serving
// the new rule, over 100 changes, for both event transports. Prints p50 / p99 / max.
//   node bench/control/propagation.ts [--nodes 10] [--changes 100] [--transport http,nats]
// Each change adds a bypass rule for /p/<i>/**; a node "serves it" when a request for
// /p/<i>/x (cached on every node beforehand, so polls cost a memory hit) answers fwd=bypass. Every node is polled in a tight loop (bounded:
// 5 s per change, 2 ms between polls), so a figure may be up to ~3 ms late.
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import type { EdgeProc } from '../../test/helpers/processes.ts';
import { quantile, startCluster } from '../lib/cluster.ts';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '10' },
    changes: { type: 'string', default: '100' },
    transport: { type: 'string', default: 'http,nats' },
    nats: { type: 'string', default: 'nats://127.0.0.1:4222' },
  },
});
const NODES = Number(values.nodes);
const CHANGES = Number(values.changes);
const POLL_MS = Number(process.env.POLL_MS ?? 2);
const agent = new Agent({ connections: 4 });

async function bypassed(edge: EdgeProc, path: string, host: string): Promise<boolean> {
  const res = await request(`${edge.url}${path}`, { headers: { host }, dispatcher: agent });
  await res.body.dump();
  return /fwd=bypass/.test(String(res.headers['cache-status']));
}

async function run(transport: 'http' | 'nats'): Promise<number[]> {
  // Each node its own PoP: with PoP owners, a node stores only the keys it owns, and a poll of a
  // non-owner would be an internal hop (two processes' work) instead of a memory hit.
  const cluster = await startCluster({ transport, nodes: NODES, pops: NODES, natsUrl: values.nats });
  const { edges, host } = cluster;
  const samples: number[] = [];
  try {
    for (let i = 0; i < CHANGES; i++) {
      // Warm the object on every node: until the rule arrives, each poll is a cheap memory hit.
      await Promise.all(edges.map((edge) => bypassed(edge, `/p/${i}/x?cc=max-age%3D600`, host)));
      const res = await cluster.admin('POST', `/client/v4/zones/${cluster.zoneId}/rules`, {
        match: { path: `/p/${i}/**` },
        action: { bypass: true },
      });
      const answered = performance.now();
      if (res.status !== 201) throw new Error(`rule create failed: ${JSON.stringify(res.body.errors)}`);
      await Promise.all(
        edges.map(async (edge) => {
          while (!(await bypassed(edge, `/p/${i}/x?cc=max-age%3D600`, host))) {
            if (performance.now() - answered > 5_000)
              throw new Error(`node ${edge.port} did not apply change ${i} in 5 s`);
            // A short pause between polls: ten tight loops would starve the 12 processes being measured.
            await new Promise((resolve) => setTimeout(resolve, POLL_MS));
          }
        }),
      );
      samples.push(performance.now() - answered);
    }
  } finally {
    await cluster.stop();
  }
  return samples;
}

const rows: string[] = [];
for (const transport of values.transport.split(',') as ('http' | 'nats')[]) {
  const samples = (await run(transport)).sort((a, b) => a - b);
  rows.push(
    `| ${transport} | ${NODES} | ${samples.length} | ${quantile(samples, 0.5).toFixed(1)} | ${quantile(samples, 0.99).toFixed(1)} | ${(samples.at(-1) as number).toFixed(1)} |`,
  );
}
await agent.close();
process.stdout.write(
  `| transport | nodes | changes | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|---|\n${rows.join('\n')}\n`,
);
