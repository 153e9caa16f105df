// Origin offload of the topology (issue 5), on a local cluster of real processes:
//   node bench/topology/offload.ts [--requests 20000] [--objects 5000] [--zipf 1.0] [--stampede 1000]
// 1. Stampede: --stampede concurrent requests for one cold URL whose origin answers after 200 ms,
//    spread round-robin over every node of every PoP (3 edge PoPs of 2 nodes and a shield of 2);
//    prints the origin requests it cost (target: 1). Three URLs, one after the other.
// 2. Zipf: --requests requests over --objects URLs (Zipf --zipf), each to a random edge node,
//    32 at a time, in three layouts of the same 6 edge nodes: independent caches (each node its own
//    PoP, no shield: what a fleet of separate nginx or Varnish caches does), 3 PoPs of 2 with owner
//    hashing, and the same with the shield. Offload = origin requests / client requests (lower is
//    better) and each layout's ratio to the independent caches, all measured in the same run.
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import {
  api,
  originCount,
  removeDir,
  startControlProcess,
  startEdgeProcess,
  startTestOrigin,
} from '../../test/helpers/processes.ts';
import type { ControlProc, EdgeProc, Proc } from '../../test/helpers/processes.ts';
import { seededRandom } from '../../test/helpers/random.ts';
import { makeZipf } from '../lib/zipf.ts';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '20000' },
    objects: { type: 'string', default: '5000' },
    zipf: { type: 'string', default: '1.0' },
    stampede: { type: 'string', default: '1000' },
  },
});
const REQUESTS = Number(values.requests);
const OBJECTS = Number(values.objects);
const ZIPF = Number(values.zipf);
const STAMPEDE = Number(values.stampede);
const HOST = 'offload.test';
const agent = new Agent({ connections: 128, pipelining: 1 });

interface Layout {
  name: string;
  /** PoP of each edge node (6 nodes). */
  edgePops: string[];
  shield: boolean;
}

interface Cluster {
  origin: Proc;
  control: ControlProc;
  edges: EdgeProc[];
  all: EdgeProc[];
  stop(): Promise<void>;
}

async function startCluster(layout: Layout): Promise<Cluster> {
  const origin = await startTestOrigin();
  const control = await startControlProcess();
  const admin = (method: string, path: string, body?: unknown) =>
    api(control.url, control.adminToken, method, path, body);
  const token = (await admin('POST', '/client/v4/tokens', { name: 'nodes', scopes: ['node'] })).body.result
    .value as string;
  const pops = [...new Set(layout.edgePops)];
  for (const pop of [...pops, 'shield']) {
    await admin('PUT', `/client/v4/pops/${pop}`, {
      city: pop,
      latitude: 0,
      longitude: 0,
      role: pop === 'shield' ? 'shield' : 'edge',
    });
  }
  await admin('POST', '/client/v4/zones', {
    name: 'offload',
    hostnames: [HOST],
    origins: [{ url: origin.url }],
    shield_pop: layout.shield ? 'shield' : null,
  });
  const start = (pop: string, name: string) =>
    startEdgeProcess('', ['--control', control.url, '--pop', pop, '--node', name, '--token', token], {
      noOrigin: true,
    });
  // One at a time: eight processes starting together on two cores can miss the start timeout.
  const edges: EdgeProc[] = [];
  for (const [i, pop] of layout.edgePops.entries()) edges.push(await start(pop, `edge-${i}`));
  const shields: EdgeProc[] = [];
  if (layout.shield) for (const i of [0, 1]) shields.push(await start('shield', `shield-${i}`));
  const all = [...edges, ...shields];
  // Let every node hear of the last ones to register.
  await new Promise((r) => setTimeout(r, 1_000));
  return {
    origin,
    control,
    edges,
    all,
    async stop() {
      for (const edge of all) {
        await edge.stop();
        await removeDir(edge.cacheDir);
      }
      await control.stop();
      await removeDir(control.dataDir);
      await origin.stop();
    },
  };
}

async function get(edge: EdgeProc, path: string): Promise<number> {
  const res = await request(`${edge.url}${path}`, { headers: { host: HOST }, dispatcher: agent });
  await res.body.dump();
  return res.statusCode;
}

async function stampede(): Promise<void> {
  const cluster = await startCluster({
    name: 'stampede',
    edgePops: ['nyc', 'nyc', 'fra', 'fra', 'sin', 'sin'],
    shield: true,
  });
  try {
    for (let round = 0; round < 3; round++) {
      const path = `/stampede/${round}?cc=max-age%3D300&delay=200`;
      const started = performance.now();
      const statuses = await Promise.all(
        Array.from({ length: STAMPEDE }, (_, i) =>
          get(cluster.all[i % cluster.all.length] as EdgeProc, path),
        ),
      );
      const ms = performance.now() - started;
      const bad = statuses.filter((s) => s !== 200).length;
      const hits = await originCount(cluster.origin, `/stampede/${round}`);
      console.log(
        `stampede ${round}: ${STAMPEDE} concurrent requests over ${cluster.all.length} nodes, one cold 200 ms URL → origin requests ${hits}, non-200 ${bad}, all answered in ${ms.toFixed(0)} ms`,
      );
    }
  } finally {
    await cluster.stop();
  }
}

async function zipf(layout: Layout): Promise<number> {
  const cluster = await startCluster(layout);
  try {
    // The same seeds in every layout: each sees the same request sequence.
    const next = makeZipf(OBJECTS, ZIPF, seededRandom(42));
    const nodeRandom = seededRandom(7);
    const pick = (): number => Math.floor(nodeRandom() * cluster.edges.length);
    let sent = 0;
    let bad = 0;
    /** URLs requested at least once: the fewest origin requests any cache hierarchy can make. */
    const distinct = new Set<number>();
    const started = performance.now();
    const worker = async (): Promise<void> => {
      while (sent < REQUESTS && performance.now() - started < 120_000) {
        sent++;
        const edge = cluster.edges[pick()] as EdgeProc;
        const rank = next();
        distinct.add(rank);
        if ((await get(edge, `/z/${rank}?cc=max-age%3D3600&size=2048`)) !== 200) bad++;
      }
    };
    await Promise.all(Array.from({ length: 32 }, worker));
    const total = Number(await request(`${cluster.origin.url}/__total`).then((r) => r.body.text()));
    const offload = total / sent;
    console.log(
      `zipf ${layout.name}: ${sent} requests (${bad} non-200) in ${((performance.now() - started) / 1000).toFixed(1)} s → origin ${total} (distinct URLs ${distinct.size}), offload ${(offload * 100).toFixed(2)}%`,
    );
    return offload;
  } finally {
    await cluster.stop();
  }
}

await stampede();
const independent = await zipf({
  name: 'independent caches (6 PoPs of 1, no shield)',
  edgePops: ['a', 'b', 'c', 'd', 'e', 'f'],
  shield: false,
});
const hashed = await zipf({
  name: '3 PoPs of 2, owner hashing',
  edgePops: ['nyc', 'nyc', 'fra', 'fra', 'sin', 'sin'],
  shield: false,
});
const shielded = await zipf({
  name: '3 PoPs of 2, owner hashing + shield',
  edgePops: ['nyc', 'nyc', 'fra', 'fra', 'sin', 'sin'],
  shield: true,
});
console.log(
  `origin requests relative to independent caches: owner hashing ${(hashed / independent).toFixed(3)}, with shield ${(shielded / independent).toFixed(3)}`,
);
await agent.close();
