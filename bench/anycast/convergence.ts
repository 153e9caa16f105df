// Failover convergence on the anycast lab (issue 19), BGP anycast beside GeoDNS, measured in the
// same run on the same cluster (`meridian up --anycast`, real BIRD routers, one agent per PoP):
//   node bench/anycast/convergence.ts [--trials 20] [--region nyc]
// Each trial: a probe in the region's client namespace opens a new connection to the anycast
// address every 20 ms; every node of the region's PoP is killed (SIGKILL) at T0.
//   anycast: T0 → the first answer from the next PoP (agent probe fall + BIRD reconfigure + BGP
//            UPDATE + the routers' best-path change, with the lab's timers: probes every 200 ms,
//            fall 2).
//   GeoDNS:  T0 → the first DNS answer for the region's subnet without the dead PoP's nodes
//            (meridian dns's own probes, every 1 s, fall 2), polled every 50 ms with kdig; a client
//            whose resolver cached the old answer waits out the TTL on top (30 s, up's default):
//            reported as detection + TTL (worst case) and detection + TTL/2 (mean over cache ages).
// Then the nodes are started again and the region is back on its PoP before the next trial.
import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import {
  curlIn,
  killNodes,
  labUnavailable,
  popOf,
  removeLeftoverLab,
  restartNodes,
} from '../../test/helpers/anycast.ts';
import { eventually } from '../../test/helpers/dns.ts';
import { startUp } from '../../test/helpers/up.ts';

const run = promisify(execFile);
const { values } = parseArgs({
  options: { trials: { type: 'string', default: '20' }, region: { type: 'string', default: 'nyc' } },
});
const TRIALS = Number(values.trials);
const REGION = values.region;
const DNS_TTL_MS = 30_000;

const why = await labUnavailable();
if (why !== null) {
  process.stdout.write(`anycast convergence: cannot build the lab here: ${why}\n`);
  process.exit(0);
}

const up = await startUp(['--anycast', '--pops', 'nyc,fra,sin', '--nodes', '2', '--shield', 'none'], 180_000);
const anycast = up.cluster.anycast;
if (anycast === undefined) throw new Error('no anycast in the description');
const url = `http://${anycast.address}:${up.ports.http}/static/app.js`;
const host = up.cluster.zone.hostname;
const next = anycast.next[REGION] as string;
const nodes = Object.keys(anycast.nodes).filter((n) => popOf(n) === REGION);
const namespaces = nodes.map((n) => anycast.nodes[n] as string);
const deadAddresses =
  up.cluster.pops.find((p) => p.name === REGION)?.nodes.map((n) => new URL(n.url).hostname) ?? [];
const [dnsHost, dnsPort] = (up.cluster.dns?.address ?? '').split(':') as [string, string];

const probe = spawn(
  'ip',
  [
    'netns',
    'exec',
    anycast.clients[REGION] as string,
    process.execPath,
    join(import.meta.dirname, 'probe.ts'),
    url,
    host,
    '20',
  ],
  { stdio: ['pipe', 'pipe', 'inherit'] },
);
let waiter: ((t: number) => void) | null = null;
createInterface({ input: probe.stdout }).on('line', (line) => {
  const [t, node] = line.split(' ');
  if (waiter !== null && popOf(node ?? null) === next) waiter(Number(t));
});

async function dnsWithoutDeadPop(): Promise<boolean> {
  const { stdout } = await run('kdig', [
    `@${dnsHost}`,
    '-p',
    dnsPort,
    '+short',
    '+retry=0',
    '+time=1',
    `+subnet=${up.cluster.dns?.subnets[REGION]}`,
    up.cluster.dns?.name as string,
    'A',
  ]);
  const addresses = stdout.split('\n').filter((l) => /^\d+\./.test(l));
  return addresses.length > 0 && addresses.every((a) => !deadAddresses.includes(a));
}

const anycastMs: number[] = [];
const dnsMs: number[] = [];
try {
  for (let trial = 1; trial <= TRIALS; trial++) {
    await eventually(
      async () => popOf((await curlIn(anycast.clients[REGION] as string, url, host)).node) === REGION,
      60_000,
      `${REGION} back on its PoP`,
    );
    await eventually(async () => !(await dnsWithoutDeadPop()), 60_000, 'DNS answers with the PoP again');
    const landed = new Promise<number>((resolve) => (waiter = resolve));
    const t0 = Date.now();
    const killed = await killNodes(namespaces);
    const dnsDone = eventually(dnsWithoutDeadPop, 60_000, 'DNS fails over').then(() => Date.now() - t0);
    const a = (await landed) - t0;
    waiter = null;
    const d = await dnsDone;
    anycastMs.push(a);
    dnsMs.push(d);
    process.stdout.write(`trial ${trial}: anycast ${a} ms, GeoDNS detection ${d} ms\n`);
    restartNodes(killed);
  }
} finally {
  probe.stdin.end();
  probe.kill();
  up.child.kill('SIGTERM');
  await new Promise((r) => up.child.once('exit', r));
  await up.cleanup();
  await removeLeftoverLab();
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] as number;
};
const row = (name: string, xs: number[], plus = 0): string =>
  `| ${name} | ${pct(xs, 50) + plus} | ${pct(xs, 99) + plus} | ${((pct(xs, 50) + plus) / pct(anycastMs, 50)).toFixed(1)}× |`;
process.stdout.write(
  [
    '',
    `${TRIALS} trials, region ${REGION}: its PoP's ${nodes.length} nodes killed, clients move to ${next}`,
    '| failover | p50 ms | p99 ms | p50 / anycast p50 |',
    '|---|---|---|---|',
    row('BGP anycast (first answer from the next PoP)', anycastMs),
    row('GeoDNS: the answer changes (detection)', dnsMs),
    row(
      `GeoDNS: a client with a cached answer, mean (detection + TTL/2, TTL ${DNS_TTL_MS / 1000} s)`,
      dnsMs,
      DNS_TTL_MS / 2,
    ),
    row('GeoDNS: a client with a cached answer, worst (detection + TTL)', dnsMs, DNS_TTL_MS),
    '',
  ].join('\n'),
);
