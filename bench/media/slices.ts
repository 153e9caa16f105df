// Slice caching beside nginx's slice module (ngx_http_slice_module, Debian's nginx), same run, same
// origin: an nginx serving one large file (sparse: no disk blocks, page-cache speed) with
// Cache-Control and range support, logging the body bytes of every answer.
//
//   1. cold: a 1 MiB range at a slice boundary of an object nobody has fetched — origin bytes and
//      time to first byte (median of COLD_RUNS distinct objects);
//   2. warm: the whole object, after one warming download — throughput (median of WARM_RUNS).
//
// Both proxies use 1 MiB slices. Run: node bench/media/slices.ts  (env: SIZE_MIB 1024, COLD_RUNS 5,
// WARM_RUNS 3, RUN_DIR /tmp/meridian-bench-media,
// EDGE_NODE_ARGS, EDGE_WORKERS). Prints a table and the ratios; removes its files.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './ports.ts';

const SIZE_MIB = Number(process.env.SIZE_MIB ?? 1024);
const COLD_RUNS = Number(process.env.COLD_RUNS ?? 5);
const WARM_RUNS = Number(process.env.WARM_RUNS ?? 3);
const RUN_DIR = process.env.RUN_DIR ?? '/tmp/meridian-bench-media';
const ROOT = join(import.meta.dirname, '..', '..');
const MIB = 1024 * 1024;

const children: ChildProcess[] = [];
function start(cmd: string, args: string[]): ChildProcess {
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr?.on('data', (d: Buffer) => process.stderr.write(`[${cmd}] ${d.toString()}`));
  children.push(child);
  return child;
}
async function waitFor(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      const res = await fetch(url, { method: 'HEAD' });
      await res.arrayBuffer();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${url} did not answer`);
}

/** curl: time to first byte and total, seconds; bytes received. */
function curl(
  url: string,
  range: string | null,
): { ttfb: number; total: number; bytes: number; speed: number } {
  const args = [
    '-s',
    '-o',
    '/dev/null',
    '-w',
    '%{time_starttransfer} %{time_total} %{size_download} %{speed_download}',
  ];
  if (range !== null) args.push('-H', `Range: bytes=${range}`);
  const out = execFileSync('curl', [...args, url], { encoding: 'utf8' })
    .trim()
    .split(' ')
    .map(Number);
  return { ttfb: out[0] ?? NaN, total: out[1] ?? NaN, bytes: out[2] ?? NaN, speed: out[3] ?? NaN };
}

/** CPU seconds (user + system) a process used so far, from /proc (Linux). */
function cpuSec(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

/** CPU seconds of a process and its children (a `meridian edge` of several workers: the primary and its workers). */
function treeCpuSec(pid: number): number {
  let children: string[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ');
  } catch {
    // No children file (older kernel): the process alone.
  }
  return children.filter((c) => c !== '').reduce((sum, c) => sum + treeCpuSec(Number(c)), cpuSec(pid));
}

/** The nginx worker (the master's one child) serving `nginx.pid`'s proxy. */
function nginxWorker(): number {
  const master = readFileSync(join(RUN_DIR, 'nginx.pid'), 'utf8').trim();
  return Number(execFileSync('pgrep', ['-P', master], { encoding: 'utf8' }).trim().split('\n')[0]);
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

/** Body bytes the origin sent since `from` lines of its log. */
function originBytes(log: string, from: number): { bytes: number; requests: number; lines: number } {
  const lines = readFileSync(log, 'utf8').split('\n').filter(Boolean);
  let bytes = 0;
  for (const line of lines.slice(from)) bytes += Number(line.split(' ')[0]);
  return { bytes, requests: lines.length - from, lines: lines.length };
}

async function main(): Promise<void> {
  rmSync(RUN_DIR, { recursive: true, force: true });
  for (const d of ['www', 'ngx-cache', 'meridian-cache', 'logs', 'tmp'])
    mkdirSync(join(RUN_DIR, d), { recursive: true });
  for (let i = 0; i < COLD_RUNS + 1; i++)
    execFileSync('truncate', ['-s', `${SIZE_MIB}M`, join(RUN_DIR, 'www', `big${i}.bin`)]);
  const [originPort, nginxPort, meridianPort] = [await freePort(), await freePort(), await freePort()];
  const originLog = join(RUN_DIR, 'logs', 'origin.log');
  const conf = `
worker_processes 1;
daemon off;
error_log ${RUN_DIR}/logs/error.log warn;
pid ${RUN_DIR}/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  client_body_temp_path ${RUN_DIR}/tmp; proxy_temp_path ${RUN_DIR}/tmp; fastcgi_temp_path ${RUN_DIR}/tmp;
  uwsgi_temp_path ${RUN_DIR}/tmp; scgi_temp_path ${RUN_DIR}/tmp;
  log_format bytes '$body_bytes_sent $status $http_range';
  proxy_cache_path ${RUN_DIR}/ngx-cache levels=1:2 keys_zone=media:32m max_size=${SIZE_MIB * 2}m inactive=1h use_temp_path=off;
  server {
    listen 127.0.0.1:${originPort};
    root ${RUN_DIR}/www;
    access_log ${originLog} bytes;
    add_header Cache-Control "max-age=3600";
  }
  server {
    listen 127.0.0.1:${nginxPort};
    location / {
      slice 1m;
      proxy_cache media;
      proxy_cache_key $uri$is_args$args$slice_range;
      proxy_set_header Range $slice_range;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache_valid 200 206 1h;
      proxy_pass http://127.0.0.1:${originPort};
    }
  }
}`;
  writeFileSync(join(RUN_DIR, 'nginx.conf'), conf);
  start('nginx', ['-c', join(RUN_DIR, 'nginx.conf'), '-p', RUN_DIR]);
  const meridian = start(process.execPath, [
    // EDGE_NODE_ARGS: flags for the edge's node, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
    ...(process.env.EDGE_NODE_ARGS ?? '').split(' ').filter((arg) => arg !== ''),
    join(ROOT, 'src', 'cli', 'main.ts'),
    'edge',
    '--origin',
    `http://127.0.0.1:${originPort}`,
    '--listen',
    `127.0.0.1:${meridianPort}`,
    '--cache-dir',
    join(RUN_DIR, 'meridian-cache'),
    '--slice-size',
    '1M',
    '--disk-cache-size',
    `${SIZE_MIB * 2}M`,
    // EDGE_WORKERS: the edge's --workers (default: the edge's own default, the cores it may use).
    ...(process.env.EDGE_WORKERS === undefined ? [] : ['--workers', process.env.EDGE_WORKERS]),
  ]);
  await waitFor(`http://127.0.0.1:${originPort}/big0.bin`);
  await waitFor(`http://127.0.0.1:${nginxPort}/`);
  await waitFor(`http://127.0.0.1:${meridianPort}/`);
  const peers = [
    ['meridian', meridianPort],
    ['nginx-slice', nginxPort],
  ] as const;
  const results: Record<string, { coldBytes: number[]; coldTtfb: number[]; warm: number[]; cpu: number[] }> =
    {};
  for (const [name] of peers) results[name] = { coldBytes: [], coldTtfb: [], warm: [], cpu: [] };
  // One nginx worker serves both nginx servers (the origin too): its CPU during a warm download is
  // the proxy's (the origin is not asked). Meridian: the edge process.
  const pidOf = (name: string): number => (name === 'meridian' ? (meridian.pid ?? 0) : nginxWorker());
  const start1MiB = (SIZE_MIB / 2) * MIB;
  const range = `${start1MiB}-${start1MiB + MIB - 1}`;
  for (let i = 1; i <= COLD_RUNS; i++) {
    for (const [name, port] of peers) {
      const before = originBytes(originLog, 0).lines;
      const r = curl(`http://127.0.0.1:${port}/big${i}.bin`, range);
      if (r.bytes !== MIB) throw new Error(`${name}: ${r.bytes} bytes for a 1 MiB range`);
      await new Promise((resolve) => setTimeout(resolve, 200)); // the origin's log line lands
      results[name]?.coldBytes.push(originBytes(originLog, before).bytes);
      results[name]?.coldTtfb.push(r.ttfb * 1000);
    }
  }
  for (const [name, port] of peers) {
    const warmUp = curl(`http://127.0.0.1:${port}/big0.bin`, null);
    if (warmUp.bytes !== SIZE_MIB * MIB) throw new Error(`${name}: warming got ${warmUp.bytes} bytes`);
  }
  await new Promise((resolve) => setTimeout(resolve, 2_000)); // disk commits of the last slices
  for (let run = 0; run < WARM_RUNS; run++) {
    for (const [name, port] of peers) {
      const before = originBytes(originLog, 0).lines;
      const cpuBefore = treeCpuSec(pidOf(name));
      const r = curl(`http://127.0.0.1:${port}/big0.bin`, null);
      results[name]?.cpu.push(((treeCpuSec(pidOf(name)) - cpuBefore) / SIZE_MIB) * 1024);
      if (r.bytes !== SIZE_MIB * MIB) throw new Error(`${name}: ${r.bytes} bytes`);
      const fromOrigin = originBytes(originLog, before).bytes;
      if (fromOrigin > 0) console.error(`${name}: warm run ${run} took ${fromOrigin} bytes from the origin`);
      results[name]?.warm.push(r.speed / MIB);
    }
  }
  const m = results.meridian as (typeof results)[string];
  const n = results['nginx-slice'] as (typeof results)[string];
  console.log(
    `object ${SIZE_MIB} MiB, 1 MiB slices; cold: 1 MiB range at ${SIZE_MIB / 2} MiB, median of ${COLD_RUNS}; warm: whole object, median of ${WARM_RUNS}`,
  );
  console.log(
    '| | origin bytes (cold 1 MiB range) | TTFB cold (ms) | warm download (MiB/s) | proxy CPU per warm GiB (s) |',
  );
  console.log('| --- | --- | --- | --- | --- |');
  for (const [name, r] of [
    ['Meridian', m],
    ['nginx slice', n],
  ] as const) {
    console.log(
      `| ${name} | ${median(r.coldBytes)} | ${median(r.coldTtfb).toFixed(1)} | ${median(r.warm).toFixed(0)} | ${median(r.cpu).toFixed(2)} |`,
    );
  }
  console.log(
    `ratios Meridian/nginx: origin bytes ${(median(m.coldBytes) / median(n.coldBytes)).toFixed(2)}x, TTFB ${(median(m.coldTtfb) / median(n.coldTtfb)).toFixed(2)}x, warm throughput ${(median(m.warm) / median(n.warm)).toFixed(2)}x, CPU per GiB ${(median(m.cpu) / median(n.cpu)).toFixed(2)}x`,
  );
}

try {
  await main();
} finally {
  for (const child of children) child.kill('SIGTERM');
  await new Promise((resolve) => setTimeout(resolve, 500));
  rmSync(RUN_DIR, { recursive: true, force: true });
}
