// Edge security costs, measured against a peer in the same run:
//  1. cache-hit requests/s for a zone with the managed rule set (paranoia 1) and three custom rules,
//     against a zone with none, on the same node, alternating rounds (wrk -t1 -c32);
//  2. a flood from one address (wrk, 10 s, 128 connections) while a second client (another
//     loopback address) sends one request every 20 ms: its p99, with the per-address caps on the
//     node and, as the peer, on a node without them.
//   node bench/security/edge-waf.ts [--seconds 5] [--rounds 3] [--part hits|flood|all]
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import {
  api,
  removeDir,
  startControlProcess,
  startEdgeProcess,
  startTestOrigin,
} from '../../test/helpers/processes.ts';

const run = promisify(execFile);
const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    part: { type: 'string', default: 'all' },
  },
});
const SECONDS = Number(values.seconds);
const ROUNDS = Number(values.rounds);
const TARGET = '/catalog/shoes?q=running+shoes&size=42&sort=price_asc&cc=max-age%3D3600';

/** A wrk script giving every request its own Cookie: cache hits still, but no two alike for the WAF. */
const UNIQUE_COOKIE = join(mkdtempSync(join(tmpdir(), 'meridian-bench-')), 'cookie.lua');
writeFileSync(
  UNIQUE_COOKIE,
  'local n = 0\nrequest = function()\n  n = n + 1\n  return wrk.format(nil, nil, { ["Host"] = wrk.headers["Host"], ["Cookie"] = "sid=" .. n .. "; theme=dark" })\nend\n',
);

async function wrk(
  url: string,
  host: string,
  seconds: number,
  connections: number,
  script?: string,
): Promise<number> {
  const scriptArgs = script === undefined ? [] : ['-s', script];
  const { stdout } = await run(
    'wrk',
    ['-t1', `-c${connections}`, `-d${seconds}s`, '-H', `Host: ${host}`, ...scriptArgs, url],
    {
      timeout: (seconds + 30) * 1000,
    },
  );
  const m = /Requests\/sec:\s+([\d.]+)/.exec(stdout);
  if (m === null) throw new Error(`wrk: ${stdout}`);
  return Number(m[1]);
}

/** utime + stime of a process in seconds (/proc/<pid>/stat fields 14 and 15, clock ticks of 1/100 s). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** wrk against the edge: requests/s seen by the client, and requests per CPU-second of the edge. */
async function measure(
  pid: number,
  url: string,
  host: string,
  seconds: number,
  script?: string,
): Promise<{ rate: number; perCore: number }> {
  const before = cpuSeconds(pid);
  const rate = await wrk(url, host, seconds, 32, script);
  const used = cpuSeconds(pid) - before;
  return { rate, perCore: (rate * seconds) / Math.max(used, 0.01) };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function hitCost(): Promise<void> {
  const origin = await startTestOrigin();
  const control = await startControlProcess();
  const admin = (method: string, path: string, body?: unknown) =>
    api(control.url, control.adminToken, method, path, body);
  const nodeToken = (await admin('POST', '/client/v4/tokens', { name: 'n', scopes: ['node'] })).body.result
    .value as string;
  await admin('PUT', '/client/v4/pops/bench', { city: 'Bench', latitude: 0, longitude: 0 });
  const zone = async (name: string) =>
    (
      await admin('POST', '/client/v4/zones', {
        name,
        hostnames: [`${name}.test`],
        origins: [{ url: origin.url }],
      })
    ).body.result.id as string;
  await zone('off');
  const on = await zone('on');
  const put = async (phase: string, rules: unknown[]) => {
    const res = await admin('PUT', `/client/v4/zones/${on}/rulesets/phases/${phase}/entrypoint`, { rules });
    if (res.status !== 200) throw new Error(JSON.stringify(res.body.errors));
  };
  await put('http_request_firewall_managed', [
    {
      expression: 'true',
      action: 'execute',
      action_parameters: { id: 'meridian_managed', overrides: { paranoia_level: 1 } },
    },
  ]);
  await put('http_request_firewall_custom', [
    { expression: 'http.request.uri.path matches "^/admin"', action: 'block' },
    { expression: 'ip.src in {192.0.2.0/24 198.51.100.0/24}', action: 'block' },
    { expression: 'lower(http.user_agent) contains "badbot"', action: 'managed_challenge' },
  ]);
  const edge = await startEdgeProcess(
    '',
    ['--control', control.url, '--pop', 'bench', '--node', 'bench-1', '--token', nodeToken],
    {
      noOrigin: true,
    },
  );
  try {
    for (const host of ['off.test', 'on.test']) {
      for (let i = 0; i < 2; i++) {
        const r = await request(`${edge.url}${TARGET}`, { headers: { host } });
        await r.body.arrayBuffer();
        if (r.statusCode !== 200) throw new Error(`${host}: ${r.statusCode}`);
      }
    }
    await wrk(`${edge.url}${TARGET}`, 'off.test', 2, 32); // warm-up (JIT)
    await wrk(`${edge.url}${TARGET}`, 'on.test', 2, 32, UNIQUE_COOKIE);
    for (const [label, script] of [
      ['the same request repeated (managed verdicts remembered)', undefined],
      ['a new Cookie on every request (every request inspected)', UNIQUE_COOKIE],
    ] as const) {
      const pid = edge.child.pid as number;
      const off: { rate: number; perCore: number }[] = [];
      const onRates: { rate: number; perCore: number }[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        off.push(await measure(pid, `${edge.url}${TARGET}`, 'off.test', SECONDS, script));
        onRates.push(await measure(pid, `${edge.url}${TARGET}`, 'on.test', SECONDS, script));
      }
      const show = (xs: { rate: number; perCore: number }[]) =>
        `${median(xs.map((x) => x.rate)).toFixed(0)} req/s, ${median(xs.map((x) => x.perCore)).toFixed(0)} req per edge CPU-s  (per CPU-s: ${xs.map((x) => x.perCore.toFixed(0)).join(', ')})`;
      const ratio = median(onRates.map((x) => x.perCore)) / median(off.map((x) => x.perCore));
      const rateRatio = median(onRates.map((x) => x.rate)) / median(off.map((x) => x.rate));
      console.log(
        `cache hits, ${label}; wrk -t1 -c32 -d${SECONDS}s x ${ROUNDS} rounds, alternating (median):`,
      );
      console.log(`  no security:                 ${show(off)}`);
      console.log(`  managed p1 + 3 custom rules: ${show(onRates)}`);
      console.log(
        `  ratio per edge CPU-s ${ratio.toFixed(3)} (loss ${((1 - ratio) * 100).toFixed(1)}%); client req/s ratio ${rateRatio.toFixed(3)}`,
      );
    }
  } finally {
    await edge.stop();
    await removeDir(edge.cacheDir);
    await control.stop();
    await removeDir(control.dataDir);
    await origin.stop();
  }
}

async function floodCost(): Promise<void> {
  const origin = await startTestOrigin();
  const rows: string[] = [];
  for (const [label, flags] of [
    [
      'caps on (--max-rps-per-ip 200 --max-conns-per-ip 256)',
      ['--max-rps-per-ip', '200', '--max-conns-per-ip', '256'],
    ],
    ['no caps (peer)', []],
  ] as const) {
    const edge = await startEdgeProcess(origin.url, [...flags]);
    const agent = new Agent({ localAddress: '127.0.0.2', connections: 2 });
    try {
      const get = async () => {
        const start = performance.now();
        const r = await request(`${edge.url}${TARGET}`, {
          headers: { host: 'flood.test' },
          dispatcher: agent,
        });
        await r.body.arrayBuffer();
        if (r.statusCode !== 200) throw new Error(`second client got ${r.statusCode}`);
        return performance.now() - start;
      };
      await get();
      await get();
      const flood = wrk(`${edge.url}${TARGET}`, 'flood.test', 10, 128).catch(() => 0);
      await new Promise((r) => setTimeout(r, 500));
      const times: number[] = [];
      const until = Date.now() + 8_500;
      while (Date.now() < until) {
        times.push(await get());
        await new Promise((r) => setTimeout(r, 20));
      }
      const floodRate = await flood;
      times.sort((a, b) => a - b);
      const q = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))] as number;
      rows.push(
        `  ${label}: flood ${floodRate.toFixed(0)} req/s from 127.0.0.1; second client (127.0.0.2) ${times.length} requests, p50 ${q(0.5).toFixed(1)} ms, p99 ${q(0.99).toFixed(1)} ms, max ${(times.at(-1) ?? 0).toFixed(1)} ms`,
      );
    } finally {
      await agent.close();
      await edge.stop();
      await removeDir(edge.cacheDir);
    }
  }
  await origin.stop();
  console.log(
    'flood from one address (wrk -t1 -c128 -d10s) while a second client sends one request per 20 ms:',
  );
  for (const row of rows) console.log(row);
}

if (values.part !== 'flood') await hitCost();
if (values.part !== 'hits') await floodCost();
