// Config propagation: from the API call's answer to every node of a 10-node local cluster serving
// the new rule, over 100 changes, for both event transports. Prints p50 / p99 / max.
//   node bench/control/propagation.ts [--nodes 10] [--changes 100] [--warmup 5]
//                                     [--transport http,nats] [--rule ttl|bypass]
//
// Change i adds a rule for /p/<i>/**. Before it, every node holds /p/<i>/x in memory (fetched once),
// so a poll is a memory hit until the rule arrives. A node "serves it" when its answer shows the
// rule (--rule):
//   ttl     (default) browser_ttl 1000+i: the hit's Cache-Control becomes max-age=1000+i. The
//           answer stays a memory hit, so the figure is the propagation alone.
//   bypass  a bypass rule: the answer says fwd=bypass. The first such answer is an origin fetch, for
//           all nodes at once on the same cores, so the figure adds that fetch to the propagation.
// Each node is polled over its own keep-alive connection (bench/lib/http-probe.ts), one request
// at a time, POLL_MS (default 2) after the previous answer; bounded at 5 s per change. A figure is
// late by at most one poll. The first --warmup changes are made and waited for but not counted:
// they measure each process's first run of the code on that path (JIT warm-up), not propagation.
import { parseArgs } from 'node:util';
import { HttpProbe } from '../lib/http-probe.ts';
import { quantile, startCluster } from '../lib/cluster.ts';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '10' },
    changes: { type: 'string', default: '100' },
    warmup: { type: 'string', default: '5' },
    transport: { type: 'string', default: 'http,nats' },
    nats: { type: 'string', default: 'nats://127.0.0.1:4222' },
    rule: { type: 'string', default: 'ttl' },
  },
});
const NODES = Number(values.nodes);
const CHANGES = Number(values.changes);
const WARMUP = Number(values.warmup);
const RULE = values.rule;
if (RULE !== 'ttl' && RULE !== 'bypass') throw new Error(`--rule: ttl or bypass, not ${RULE}`);
const POLL_MS = Number(process.env.POLL_MS ?? 2);

/** Whether a node's answer shows change i's rule. */
async function applied(probe: HttpProbe, i: number, host: string): Promise<boolean> {
  const res = await probe.get(`/p/${i}/x?cc=max-age%3D600`, { host });
  if (RULE === 'bypass') return /fwd=bypass/.test(res.fields.get('cache-status') ?? '');
  return new RegExp(`max-age=${1000 + i}\\b`).test(res.fields.get('cache-control') ?? '');
}

async function run(transport: 'http' | 'nats'): Promise<number[]> {
  // Each node its own PoP: with PoP owners, a node stores only the keys it owns, and a poll of a
  // non-owner would be an internal hop (two processes' work) instead of a memory hit.
  const cluster = await startCluster({ transport, nodes: NODES, pops: NODES, natsUrl: values.nats });
  const { edges, host } = cluster;
  const probes = edges.map((edge) => new HttpProbe(edge.url, ['cache-status', 'cache-control']));
  const samples: number[] = [];
  try {
    for (let i = 0; i < WARMUP + CHANGES; i++) {
      // Warm the object on every node: until the rule arrives, each poll is a cheap memory hit.
      await Promise.all(probes.map((probe) => applied(probe, i, host)));
      const res = await cluster.admin('POST', `/client/v4/zones/${cluster.zoneId}/rules`, {
        match: { path: `/p/${i}/**` },
        action: RULE === 'bypass' ? { bypass: true } : { browser_ttl: 1000 + i },
      });
      const answered = performance.now();
      if (res.status !== 201) throw new Error(`rule create failed: ${JSON.stringify(res.body.errors)}`);
      await Promise.all(
        probes.map(async (probe, n) => {
          while (!(await applied(probe, i, host))) {
            if (performance.now() - answered > 5_000)
              throw new Error(`node ${n} did not apply change ${i} in 5 s`);
            await new Promise((resolve) => setTimeout(resolve, POLL_MS));
          }
        }),
      );
      if (i >= WARMUP) samples.push(performance.now() - answered);
    }
  } finally {
    for (const probe of probes) probe.close();
    await cluster.stop();
  }
  return samples;
}

const rows: string[] = [];
for (const transport of values.transport.split(',') as ('http' | 'nats')[]) {
  const samples = (await run(transport)).sort((a, b) => a - b);
  rows.push(
    `| ${transport} | ${RULE} | ${NODES} | ${samples.length} | ${quantile(samples, 0.5).toFixed(1)} | ${quantile(samples, 0.99).toFixed(1)} | ${(samples.at(-1) as number).toFixed(1)} |`,
  );
}
process.stdout.write(
  `| transport | rule | nodes | changes | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|---|---|\n${rows.join('\n')}\n`,
);
