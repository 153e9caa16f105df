// Issue 15 benchmarks, in one run on one control plane:
//  1. Edge cache-hit throughput with analytics and the access log on, against the same edge with
//     them off (--analytics off, no --access-log): two managed nodes, each in its own PoP (so
//     neither forwards to the other), both pinned to CPU 1, wrk -t1 -c64 on CPU 0, OFF and ON runs
//     alternating, medians. Target: ON costs < 5%.
//  2. The delay from a request to its appearance in the API: one request at a time to the ON node
//     (default 2 s shipping interval), then the dashboard API polled every 25 ms until the zone's
//     count has grown by one. Target: p99 < 5 s.
//
//   node bench/analytics/overhead.ts [--duration 10] [--reps 3] [--samples 40]
//
// Needs wrk and taskset. Only 127.0.0.1 is contacted; everything started is stopped on exit.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { request } from 'undici';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    reps: { type: 'string', default: '3' },
    samples: { type: 'string', default: '40' },
    conns: { type: 'string', default: '64' },
  },
});
const DURATION = Number(values.duration);
const REPS = Number(values.reps);
const SAMPLES = Number(values.samples);
const CLI = join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts');
const HOST = 'bench.analytics.test';
const BODY = Buffer.alloc(1024, 'x');
const children: ChildProcess[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function start(
  args: string[],
  ready: RegExp,
  env: Record<string, string> = {},
  cpu: string | null = null,
): Promise<{ value: string; pid: number }> {
  const argv =
    cpu === null ? [process.execPath, CLI, ...args] : ['taskset', '-c', cpu, process.execPath, CLI, ...args];
  const child = spawn(argv[0] as string, argv.slice(1), {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`not ready: ${args.join(' ')}\n${out}`)), 30_000);
    const check = (d: Buffer) => {
      out += d.toString();
      const m = ready.exec(out);
      if (m !== null) {
        clearTimeout(timer);
        resolve({ value: m[1] ?? '', pid: child.pid ?? 0 });
      }
    };
    child.stdout?.on('data', check);
    child.stderr?.on('data', check);
  });
}

async function call(base: string, token: string, method: string, path: string, body?: unknown) {
  const res = await request(`${base}${path}`, {
    method: method as 'GET',
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? null : JSON.stringify(body),
  });
  const json = (await res.body.json()) as { success: boolean; result: any; errors: unknown }; // eslint-disable-line @typescript-eslint/no-explicit-any
  if (!json.success) throw new Error(`${method} ${path}: ${JSON.stringify(json.errors)}`);
  return json.result;
}

/** utime + stime of a process, in seconds (/proc/<pid>/stat fields 14 and 15, clock ticks of 1/100 s). */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Requests per second (client side) and server CPU µs per request, from one wrk run. */
async function measure(url: string, pid: number): Promise<{ rate: number; cpuUs: number }> {
  const before = await cpuSeconds(pid);
  const { rate, requests } = await wrk(url);
  const cpu = (await cpuSeconds(pid)) - before;
  return { rate, cpuUs: (cpu * 1e6) / requests };
}

function wrk(url: string): Promise<{ rate: number; requests: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn('taskset', [
      '-c',
      '0',
      'wrk',
      '-t1',
      `-c${values.conns}`,
      `-d${DURATION}s`,
      '-H',
      `Host: ${HOST}`,
      url,
    ]);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', () => {
      const m = /Requests\/sec:\s+([\d.]+)/.exec(out);
      const n = /(\d+) requests in/.exec(out);
      if (m === null || n === null) reject(new Error(`wrk: ${out}`));
      else resolve({ rate: Number(m[1]), requests: Number(n[1]) });
    });
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const quantile = (xs: number[], q: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(q * xs.length) - 1)] as number;

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'meridian-bench-analytics-'));
  const origin = createServer((_req, res) => {
    res.writeHead(200, {
      'content-type': 'text/plain',
      'cache-control': 'public, max-age=3600',
      'content-length': BODY.length,
    });
    res.end(BODY);
  });
  origin.listen(0, '127.0.0.1');
  await new Promise((r) => origin.once('listening', r));
  const originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
  const token = `mrd_bench_${Math.random().toString(36).slice(2)}`;
  try {
    const control = (
      await start(
        ['control', '--listen', '127.0.0.1:0', '--db', `sqlite:${join(dir, 'm.db')}`],
        /control plane: (http:\/\/127\.0\.0\.1:\d+)/,
        { MERIDIAN_ADMIN_TOKEN: token },
      )
    ).value;
    for (const pop of ['off', 'counters', 'on'])
      await call(control, token, 'PUT', `/client/v4/pops/${pop}`, { city: pop, latitude: 0, longitude: 0 });
    const zone = await call(control, token, 'POST', '/client/v4/zones', {
      name: 'bench',
      hostnames: [HOST],
      origins: [{ url: originUrl }],
    });
    const nodeToken = (
      await call(control, token, 'POST', '/client/v4/tokens', { name: 'n', scopes: ['node'] })
    ).value as string;
    const edge = async (pop: string, extra: string[]) => {
      const started = await start(
        [
          'edge',
          '--control',
          control,
          '--pop',
          pop,
          '--node',
          `${pop}-1`,
          '--token',
          nodeToken,
          '--listen',
          '127.0.0.1:0',
          '--cache-dir',
          join(dir, pop),
          ...extra,
        ],
        /"edge listening".*?"address":"([^"]+)"/,
        {},
        '1',
      );
      return { url: `http://${started.value}`, pid: started.pid };
    };
    const off = await edge('off', ['--analytics', 'off']);
    const counters = await edge('counters', []);
    const on = await edge('on', ['--access-log', join(dir, 'access.log')]);
    const edges = { off, counters, on };
    const names = ['off', 'counters', 'on'] as const;
    for (const e of Object.values(edges))
      for (let i = 0; i < 3; i++)
        await request(`${e.url}/obj`, { headers: { host: HOST } }).then((r) => r.body.dump());
    for (const name of names) await wrk(`${edges[name].url}/obj`); // warm-up, unrecorded
    const runs: Record<(typeof names)[number], { rate: number; cpuUs: number }[]> = {
      off: [],
      counters: [],
      on: [],
    };
    for (let i = 0; i < REPS; i++) {
      for (const name of names) runs[name].push(await measure(`${edges[name].url}/obj`, edges[name].pid));
    }
    const label = {
      off: 'analytics and access log off (--analytics off)',
      counters: 'analytics counters on, no access log',
      on: 'analytics counters and JSON access log (every request) on',
    };
    const rate = (n: (typeof names)[number]) => median(runs[n].map((r) => r.rate));
    const cpu = (n: (typeof names)[number]) => median(runs[n].map((r) => r.cpuUs));
    process.stdout.write(
      `\n| edge, 1 KiB memory hits, wrk -t1 -c${values.conns}, ${DURATION} s x ${REPS}, interleaved | req/s (median) | server CPU µs / request (median) | CPU ratio to off |\n|---|---|---|---|\n`,
    );
    for (const n of names) {
      process.stdout.write(
        `| ${label[n]} | ${rate(n).toFixed(0)} | ${cpu(n).toFixed(1)} | ${(cpu(n) / cpu('off')).toFixed(3)} |\n`,
      );
    }
    process.stdout.write(
      `\nthroughput on / off = ${(rate('on') / rate('off')).toFixed(3)}; CPU per request on / off = ${(cpu('on') / cpu('off')).toFixed(3)} (cost ${((cpu('on') / cpu('off') - 1) * 100).toFixed(1)}%; target < 5%)\n`,
    );
    const onUrl = edges.on.url;

    // Delay from a request to the API.
    await sleep(3_000); // the benchmark's own traffic shipped
    const count = async () =>
      (
        await call(
          control,
          token,
          'GET',
          `/client/v4/zones/${zone.id}/analytics/dashboard?since=-60&resolution=minute`,
        )
      ).totals.requests.all as number;
    const delays: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      const before = await count();
      const t0 = performance.now();
      await request(`${onUrl}/obj?i=${i}`, { headers: { host: HOST } }).then((r) => r.body.dump());
      while ((await count()) <= before) await sleep(25);
      delays.push(performance.now() - t0);
      await sleep(Math.random() * 500); // requests at random phases of the shipping interval
    }
    process.stdout.write(
      `\nrequest → API delay over ${SAMPLES} requests (2 s shipping interval): p50 ${quantile(delays, 0.5).toFixed(0)} ms, p90 ${quantile(delays, 0.9).toFixed(0)} ms, p99 ${quantile(delays, 0.99).toFixed(0)} ms, max ${Math.max(...delays).toFixed(0)} ms (target p99 < 5000 ms)\n`,
    );
  } finally {
    for (const child of children) child.kill('SIGTERM');
    origin.close();
    await sleep(500);
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
