// Purge propagation: from the purge call's answer until every node of a local cluster (20 nodes in
// 4 PoPs by default) answers a miss for the purged URL, over 200 purges, for both event transports.
//   node bench/purge/propagation.ts [--nodes 20] [--pops 4] [--purges 200] [--warmup 300]
//                                   [--transport http,nats] [--probe cached|get]
//
// The first --warmup purges are made and waited for but counted apart (their p50 / p99 / max are
// printed too): they hold each process's tier-up of the purge path. V8 compiles a function with
// TurboFan (a job on a V8 worker thread) once it has run enough; every node runs the same purges,
// so all 20 compile the same function at the same purge and, on 2 cores, hold up that purge for all
// (the 168th purge was slow in every run; `perf record -a` over it showed the V8 worker threads of
// all 20 nodes in OptimizedCompilationJob for about 90 ms). A node does this once in its life and,
// in production, on cores of its own; the counted purges measure the nodes after it.
// Each node is asked for a URL it holds itself. With PoP owners (docs/topology.md) a URL is stored
// by its owner in each PoP only, and the other nodes fetch it from the owner; so at the start the
// bench finds, for every node, a URL whose owner it is (/purge-bench/n<i>-<k>, the first k that
// node i fetches from the origin itself), and each purge names the 20 URLs (one `files` purge).
// Before each purge every node must answer its URL from its own cache (a hit).
//
// After the answer, each node is asked for its URL, one request at a time per node, until it
// answers a miss (bounded: 5 s per purge; after a hit the next request goes POLL_MS later, default
// 1 ms). How a node is asked (--probe):
//   cached  (default) `Cache-Control: only-if-cached`: the node answers from its cache or with a
//           504 miss at once, without fetching (RFC 9111 §5.2.1.7). The figure is the propagation:
//           when the node stops serving the purged copy.
//   get     a plain GET, done when the answer is a copy fetched after the purge (X-Origin-Count,
//           numbered by the test origin, other than the purged copy's): the propagation plus the miss's
//           refill from the origin, for 20 nodes at once on the same cores.
// Also printed: when the last node's receipt says it applied the purge (its own clock; same
// machine), from the purge's status, and the machine's load average before and after.
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { quantile, startCluster } from '../lib/cluster.ts';
import type { Cluster } from '../lib/cluster.ts';
import { HttpProbe } from '../lib/http-probe.ts';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '20' },
    pops: { type: 'string', default: '4' },
    purges: { type: 'string', default: '200' },
    warmup: { type: 'string', default: '300' },
    transport: { type: 'string', default: 'http,nats' },
    nats: { type: 'string', default: 'nats://127.0.0.1:4222' },
    probe: { type: 'string', default: 'cached' },
  },
});
const NODES = Number(values.nodes);
const POPS = Number(values.pops);
const PURGES = Number(values.purges);
const WARMUP = Number(values.warmup);
const PROBE = values.probe;
if (PROBE !== 'cached' && PROBE !== 'get') throw new Error(`--probe: cached or get, not ${PROBE}`);
const POLL_MS = Number(process.env.POLL_MS ?? 1);

interface Answer {
  status: number;
  /** This node's own Cache-Status entry says hit. */
  isHit: boolean;
  /** Cache-Status entries from other nodes (a peer or the shield served it). */
  peers: number;
  /** The test origin's number for the copy (X-Origin-Count). */
  copy: number;
}

/** One node as the bench asks it: its name, its URL, one keep-alive connection. */
interface Node {
  name: string;
  probe: HttpProbe;
  path: string;
}

async function ask(node: Node, host: string, path: string, cached: boolean): Promise<Answer> {
  const res = await node.probe.get(path, cached ? { host, 'cache-control': 'only-if-cached' } : { host });
  // Cache-Status lists every cache on the way, nearest the origin first; this node's entry is last.
  const entries = (res.fields.get('cache-status') ?? '').split(/,\s*/);
  const own = entries.at(-1) ?? '';
  return {
    status: res.status,
    isHit: own.startsWith(`${node.name};`) && /;\s*hit\b/.test(own),
    peers: entries.length - 1,
    copy: Number(res.fields.get('x-origin-count') ?? NaN),
  };
}

/** The nodes, each with a URL it owns in its PoP (it fetches it from the origin itself and stores it). */
async function nodesOf(cluster: Cluster): Promise<Node[]> {
  const nodes: Node[] = [];
  for (const [i, edge] of cluster.edges.entries()) {
    const node = {
      name: `n${i}`,
      probe: new HttpProbe(edge.url, ['cache-status', 'x-origin-count']),
      path: '',
    };
    for (let k = 0; node.path === ''; k++) {
      if (k === 200) throw new Error(`node ${node.name}: no owned URL among 200`);
      const path = `/purge-bench/n${i}-${k}?cc=max-age%3D3600`;
      const first = await ask(node, cluster.host, path, false);
      if (first.status !== 200) throw new Error(`node ${node.name}: ${path} answered ${first.status}`);
      if (first.peers > 0) continue; // another node of the PoP owns it
      if ((await ask(node, cluster.host, path, true)).isHit) node.path = path;
    }
    nodes.push(node);
  }
  return nodes;
}

async function run(
  transport: 'http' | 'nats',
): Promise<{ miss: number[]; applied: number[]; warmupMiss: number[] }> {
  const cluster = await startCluster({
    transport,
    nodes: NODES,
    pops: POPS,
    natsUrl: values.nats,
    controlArgs: [
      '--purge-rate',
      '1000',
      '--purge-burst',
      '1000',
      '--api-rate',
      '1000',
      '--api-burst',
      '1000',
    ],
  });
  const { host } = cluster;
  const miss: number[] = [];
  const applied: number[] = [];
  const warmupMiss: number[] = [];
  let nodes: Node[] = [];
  try {
    nodes = await nodesOf(cluster);
    const files = nodes.map((node) => `http://${host}${node.path}`);
    for (let i = 0; i < WARMUP + PURGES; i++) {
      // Every node holds its URL (the previous round's miss refilled it; a refill is asked for here).
      const held = await Promise.all(
        nodes.map(async (node) => {
          let answer = await ask(node, host, node.path, true);
          if (!answer.isHit) {
            await ask(node, host, node.path, false);
            answer = await ask(node, host, node.path, true);
          }
          if (!answer.isHit) throw new Error(`round ${i}: ${node.name} does not hold ${node.path}`);
          return answer.copy;
        }),
      );
      const res = await cluster.admin('POST', `/client/v4/zones/${cluster.zoneId}/purge_cache`, { files });
      const answeredAt = performance.now();
      const answeredEpochMs = Date.now();
      if (res.status !== 200) throw new Error(`purge failed: ${JSON.stringify(res.body.errors)}`);
      await Promise.all(
        nodes.map(async (node, n) => {
          for (;;) {
            const answer = await ask(node, host, node.path, PROBE === 'cached');
            const isPurged =
              PROBE === 'cached'
                ? answer.status === 504 && !answer.isHit
                : answer.status === 200 && answer.copy !== held[n];
            if (isPurged) return;
            if (performance.now() - answeredAt > 5_000)
              throw new Error(`node ${node.name}: purge ${i} not applied in 5 s`);
            await new Promise((resolve) => setTimeout(resolve, POLL_MS));
          }
        }),
      );
      const counted = i >= WARMUP;
      (counted ? miss : warmupMiss).push(performance.now() - answeredAt);
      // The receipts (each node's time of application), once all are in.
      for (let tries = 0; tries < 100; tries++) {
        const status = (
          await cluster.admin('GET', `/client/v4/zones/${cluster.zoneId}/purge_cache/${res.body.result.id}`)
        ).body.result as { complete: boolean; pops: { nodes: { applied_at: string | null }[] }[] };
        const times = status.pops.flatMap((p) => p.nodes.map((n) => n.applied_at));
        if (times.length === NODES && times.every((t) => t !== null)) {
          if (counted) applied.push(Math.max(...times.map((t) => Date.parse(t as string))) - answeredEpochMs);
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
  } finally {
    for (const node of nodes) node.probe.close();
    await cluster.stop();
  }
  return { miss, applied, warmupMiss };
}

const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
const rows: string[] = [];
const loadBefore = load();
/** The quantiles `qs` of a list in ms, ' / ' between them (q = 1: its max); '-' when empty. */
const quantiles = (list: number[], qs: number[]): string => {
  const sorted = [...list].sort((a, b) => a - b);
  return qs.map((q) => (sorted.length === 0 ? '-' : quantile(sorted, q).toFixed(1))).join(' / ');
};
for (const transport of values.transport.split(',') as ('http' | 'nats')[]) {
  const { miss, applied, warmupMiss } = await run(transport);
  rows.push(
    `| ${transport} | ${PROBE} | ${NODES} / ${POPS} | ${miss.length} | ${quantiles(miss, [0.5, 0.99, 1])} | ${quantiles(applied, [0.5, 0.99])} | ${warmupMiss.length} | ${quantiles(warmupMiss, [0.5, 0.99, 1])} |`,
  );
}
process.stdout.write(
  `| transport | probe | nodes / PoPs | purges | miss p50 / p99 / max ms | last receipt p50 / p99 ms | warm-up purges | their miss p50 / p99 / max ms |\n|---|---|---|---|---|---|---|---|\n${rows.join('\n')}\n` +
    `load average (1, 5, 15 min) before: ${loadBefore}; after: ${load()}\n`,
);
