// KV consistency, measured: the delay from a write acknowledged by the control plane (PUT
// .../values/KEY answered 200) to every node's worker reading the new value. A control plane on
// SQLite (events streamed over HTTP) and three nodes in two PoPs on loopback; N writes, each read by
// polling all nodes at once (1 ms apart) until each returns the value written.
//   node bench/workers/kv-propagation.ts [WRITES]
// Prints p50/p99/max of the per-write delay to the last node, and of the per-node delay.
import {
  api,
  fetchReply,
  removeDir,
  startControlProcess,
  startEdgeProcess,
  startTestOrigin,
} from '../../test/helpers/processes.ts';
import type { EdgeProc } from '../../test/helpers/processes.ts';

const WRITES = Number(process.argv[2] ?? 100);
const HOST = 'kv.bench.test';
const quantile = (sorted: number[], q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;

const origin = await startTestOrigin();
const control = await startControlProcess();
const nodes: EdgeProc[] = [];
try {
  const admin = (method: string, path: string, body?: unknown) =>
    api(control.url, control.adminToken, method, path, body);
  const token = (await admin('POST', '/client/v4/tokens', { name: 'n', scopes: ['node'] })).body.result.value;
  await admin('PUT', '/client/v4/pops/ams', { city: 'Amsterdam', latitude: 52.4, longitude: 4.9 });
  await admin('PUT', '/client/v4/pops/sin', { city: 'Singapore', latitude: 1.3, longitude: 103.8 });
  const zone = (
    await admin('POST', '/client/v4/zones', {
      name: 'kvb',
      hostnames: [HOST],
      origins: [{ url: origin.url }],
    })
  ).body.result.id;
  for (const [name, pop] of [
    ['ams-1', 'ams'],
    ['ams-2', 'ams'],
    ['sin-1', 'sin'],
  ]) {
    nodes.push(
      await startEdgeProcess(
        '',
        ['--control', control.url, '--pop', pop as string, '--node', name as string, '--token', token],
        { noOrigin: true },
      ),
    );
  }
  const ns = (await admin('POST', `/client/v4/zones/${zone}/storage/kv/namespaces`, { title: 'b' })).body
    .result.id;
  await admin('PUT', `/client/v4/zones/${zone}/workers/scripts/r`, {
    script:
      'export default { async fetch(request, env) { return new Response((await env.NS.get("k")) ?? "none"); } };',
    bindings: [{ type: 'kv_namespace', name: 'NS', namespace_id: ns }],
  });
  await admin('POST', `/client/v4/zones/${zone}/workers/routes`, { pattern: `${HOST}/*`, script: 'r' });
  const read = async (edge: EdgeProc): Promise<string> =>
    (await fetchReply(`${edge.url}/`, { headers: { host: HOST } })).body.toString();
  for (const edge of nodes) while ((await read(edge)) !== 'none') await new Promise((r) => setTimeout(r, 20));

  const lastNode: number[] = [];
  const perNode: number[] = [];
  for (let i = 0; i < WRITES; i++) {
    const value = `v${i}`;
    const res = await fetchReply(
      `${control.url}/client/v4/zones/${zone}/storage/kv/namespaces/${ns}/values/k`,
      {
        method: 'PUT',
        headers: { authorization: `Bearer ${control.adminToken}`, 'content-type': 'text/plain' },
        body: value,
      },
    );
    if (res.status !== 200) throw new Error(res.body.toString());
    const acked = performance.now();
    const delays = await Promise.all(
      nodes.map(async (edge) => {
        for (;;) {
          if ((await read(edge)) === value) return performance.now() - acked;
          await new Promise((r) => setTimeout(r, 1));
        }
      }),
    );
    perNode.push(...delays);
    lastNode.push(Math.max(...delays));
  }
  lastNode.sort((a, b) => a - b);
  perNode.sort((a, b) => a - b);
  const f = (n: number) => n.toFixed(1);
  process.stdout.write(
    `| delay after the write is acknowledged | p50 (ms) | p99 (ms) | max (ms) |\n|---|---|---|---|\n` +
      `| every node reads it (${WRITES} writes, 3 nodes, 2 PoPs) | ${f(quantile(lastNode, 0.5))} | ${f(quantile(lastNode, 0.99))} | ${f(lastNode[lastNode.length - 1] as number)} |\n` +
      `| one node reads it | ${f(quantile(perNode, 0.5))} | ${f(quantile(perNode, 0.99))} | ${f(perNode[perNode.length - 1] as number)} |\n`,
  );
} finally {
  for (const edge of nodes) {
    await edge.stop();
    await removeDir(edge.cacheDir);
  }
  await control.stop();
  await removeDir(control.dataDir);
  await origin.stop();
}
