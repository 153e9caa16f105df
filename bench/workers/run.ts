// Edge workers beside Cloudflare's workerd, the same script on the same core, in one run:
//
//   cold start   a new isolate, the module compiled, the first response.
//                Meridian: WorkerIsolate.create + handle in this process (no HTTP), N times.
//                workerd: its worker loader (env.LOADER.get with a new id) from a resident worker,
//                timed by the client, minus the same client's time for a request that makes no
//                isolate (so the HTTP round trip is not counted).
//   warm         per-request latency of a small worker answering itself, sequential keep-alive
//                requests: Meridian (`meridian workers dev`) and workerd; and Meridian's overhead
//                against the same response without a worker (a cache hit of the same bytes).
//   throughput   wrk -t1 -c16 for SECONDS against each.
//
// Servers run pinned to CPU 1 (taskset), this client and wrk on CPU 0. Run:
//   taskset -c 0 node bench/workers/run.ts [SECONDS]
// Prints a markdown table with the ratios. Only 127.0.0.1 is contacted; every process started is
// stopped by PID.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Agent, request } from 'undici';
import { DEFAULT_LIMITS, WorkerIsolate } from '../../src/edge/compute/isolate.ts';
import type { WorkerHost } from '../../src/edge/compute/host-functions.ts';

const SECONDS = Number(process.argv[2] ?? 5);
const ROOT = join(import.meta.dirname, '..', '..');
const WORKERD = join(ROOT, 'node_modules', '.bin', 'workerd');
const CLI = join(ROOT, 'src', 'cli', 'main.ts');
const SCRIPT = `export default { async fetch(request) { return new Response('hello from a worker', { headers: { 'content-type': 'text/plain' } }); } };`;
const run = promisify(execFile);
const children: ChildProcess[] = [];

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

function start(cmd: string, args: string[], cwd?: string): ChildProcess {
  const child = spawn('taskset', ['-c', '1', cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd });
  children.push(child);
  return child;
}

async function waitFor(url: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await request(url);
      await res.body.text();
      if (res.statusCode === 200) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const agent = new Agent({ connections: 1, pipelining: 1 });

async function timeOne(url: string): Promise<number> {
  const t0 = performance.now();
  const res = await request(url, { dispatcher: agent });
  await res.body.text();
  return performance.now() - t0;
}

/** Sequential keep-alive latencies (ms), sorted, after a warm-up. */
async function latencies(url: string, count: number): Promise<number[]> {
  for (let i = 0; i < 500; i++) await timeOne(url);
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(await timeOne(url));
  return out.sort((a, b) => a - b);
}

async function wrk(url: string): Promise<number> {
  const { stdout } = await run('taskset', ['-c', '0', 'wrk', '-t1', '-c16', `-d${SECONDS}s`, url]);
  return Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? 0);
}

const NULL_HOST: WorkerHost = {
  fetch: async () => 'no',
  kvGet: async () => null,
  kvPut: async () => null,
  kvDelete: async () => null,
  kvList: async () => ({ keys: [], cursor: null }),
  cacheMatch: async () => null,
  cachePut: async () => null,
  cacheDelete: async () => false,
  log: () => undefined,
};

async function meridianCold(count: number): Promise<number[]> {
  const out: number[] = [];
  const req = { method: 'GET', url: 'http://bench.example/', headers: [], body: null, cf: {} };
  for (let i = 0; i < count + 20; i++) {
    const t0 = performance.now();
    const isolate = await WorkerIsolate.create(SCRIPT, [], DEFAULT_LIMITS, NULL_HOST);
    const outcome = await isolate.handle(req, () => undefined);
    const ms = performance.now() - t0;
    if (outcome.kind !== 'response') throw new Error('cold start failed');
    isolate.dispose();
    if (i >= 20) out.push(ms);
  }
  return out.sort((a, b) => a - b);
}

const WORKERD_FRONT = `export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === '/cold') {
      const w = env.LOADER.get(url.searchParams.get('id'), () => ({
        compatibilityDate: '2024-09-23', mainModule: 'w.js', modules: { 'w.js': ${JSON.stringify(SCRIPT)} } }));
      const res = await w.getEntrypoint().fetch('http://bench.example/');
      return new Response(await res.text());
    }
    return new Response('hello from a worker', { headers: { 'content-type': 'text/plain' } });
  },
};`;

function workerdConfig(port: number, name: string): string {
  return `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "main", worker = .w) ],
  sockets = [ ( name = "http", address = "127.0.0.1:${port}", http = (), service = "main" ) ]
);
const w :Workerd.Worker = (
  modules = [ (name = "worker", esModule = embed "${name}") ],
  compatibilityDate = "2024-09-23",
  compatibilityFlags = ["experimental"],
  bindings = [ (name = "LOADER", workerLoader = ()) ],
);
`;
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const port = (server.address() as AddressInfo).port;
  server.close();
  return port;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'meridian-bench-workers-'));
  try {
    // An origin for Meridian's no-worker baseline: the same body, cacheable.
    const origin = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=3600' });
      res.end('hello from a worker');
    });
    origin.listen(0, '127.0.0.1');
    await new Promise((r) => origin.once('listening', r));
    const originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;

    await writeFile(join(dir, 'worker.js'), SCRIPT);
    await writeFile(join(dir, 'front.js'), WORKERD_FRONT);
    const [mPort, ePort, wPort] = [await freePort(), await freePort(), await freePort()];
    await writeFile(join(dir, 'config.capnp'), workerdConfig(wPort, 'front.js'));
    start(process.execPath, [
      CLI,
      'workers',
      'dev',
      join(dir, 'worker.js'),
      '--origin',
      originUrl,
      '--listen',
      `127.0.0.1:${mPort}`,
    ]);
    start(process.execPath, [
      CLI,
      'edge',
      '--origin',
      originUrl,
      '--listen',
      `127.0.0.1:${ePort}`,
      '--cache-dir',
      join(dir, 'edge-cache'),
    ]);
    start(WORKERD, ['serve', '--experimental', join(dir, 'config.capnp')], dir);
    const meridian = `http://127.0.0.1:${mPort}/`;
    const plainEdge = `http://127.0.0.1:${ePort}/`;
    const workerd = `http://127.0.0.1:${wPort}/`;
    await Promise.all([waitFor(meridian), waitFor(plainEdge), waitFor(workerd)]);

    // Cold starts.
    const COLD = 200;
    const mCold = await meridianCold(COLD);
    const wBase = await latencies(workerd, 1000);
    const wColdRaw: number[] = [];
    for (let i = 0; i < 20; i++) await timeOne(`${workerd}cold?id=warmup-${i}`);
    for (let i = 0; i < COLD; i++) wColdRaw.push(await timeOne(`${workerd}cold?id=cold-${i}`));
    wColdRaw.sort((a, b) => a - b);
    const wCold = wColdRaw.map((ms) => Math.max(0, ms - quantile(wBase, 0.5)));

    // Warm latency, then throughput.
    const N = 5000;
    const mWarm = await latencies(meridian, N);
    const eWarm = await latencies(plainEdge, N);
    const wWarm = await latencies(workerd, N);
    const mRps = await wrk(meridian);
    const eRps = await wrk(plainEdge);
    const wRps = await wrk(workerd);

    const f = (n: number) => n.toFixed(3);
    const rows = [
      [
        'cold start p50 (ms)',
        f(quantile(mCold, 0.5)),
        f(quantile(wCold, 0.5)),
        (quantile(mCold, 0.5) / quantile(wCold, 0.5)).toFixed(2),
      ],
      [
        'cold start p99 (ms)',
        f(quantile(mCold, 0.99)),
        f(quantile(wCold, 0.99)),
        (quantile(mCold, 0.99) / quantile(wCold, 0.99)).toFixed(2),
      ],
      [
        'warm request p50 (ms)',
        f(quantile(mWarm, 0.5)),
        f(quantile(wWarm, 0.5)),
        (quantile(mWarm, 0.5) / quantile(wWarm, 0.5)).toFixed(2),
      ],
      [
        'warm request p99 (ms)',
        f(quantile(mWarm, 0.99)),
        f(quantile(wWarm, 0.99)),
        (quantile(mWarm, 0.99) / quantile(wWarm, 0.99)).toFixed(2),
      ],
      ['requests/s (wrk -t1 -c16)', mRps.toFixed(0), wRps.toFixed(0), (mRps / wRps).toFixed(2)],
    ];
    process.stdout.write('| measure | Meridian | workerd | Meridian / workerd |\n|---|---|---|---|\n');
    for (const r of rows) process.stdout.write(`| ${r.join(' | ')} |\n`);
    process.stdout.write(
      `\nMeridian without a worker (a cache hit of the same bytes): p50 ${f(quantile(eWarm, 0.5))} ms, p99 ${f(quantile(eWarm, 0.99))} ms, ${eRps.toFixed(0)} req/s\n` +
        `Meridian worker overhead: p50 ${f(quantile(mWarm, 0.5) - quantile(eWarm, 0.5))} ms, p99 ${f(quantile(mWarm, 0.99) - quantile(eWarm, 0.99))} ms; ` +
        `req/s ratio with/without worker ${(mRps / eRps).toFixed(2)}\n` +
        `workerd HTTP baseline subtracted from its cold starts: p50 ${f(quantile(wBase, 0.5))} ms\n`,
    );
    origin.close();
  } finally {
    for (const child of children)
      if (child.pid !== undefined && child.exitCode === null) child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    await rm(dir, { recursive: true, force: true });
    await agent.close();
  }
}

await main();
