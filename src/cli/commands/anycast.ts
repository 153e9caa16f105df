// meridian anycast: the per-PoP BGP announcement agent (src/anycast/), run next to BIRD.
import { isIPv4, isIPv6 } from 'node:net';
import { parseArgs } from 'node:util';
import { AnycastAgent } from '../../anycast/agent.ts';
import { createLogger } from '../../common/log.ts';
import { parseDuration, parseHttpUrl, UsageError } from '../args.ts';

export const ANYCAST_HELP = `meridian anycast — announce a PoP's anycast prefixes through BIRD while the PoP is healthy

Usage:
  meridian anycast --pop NAME --control URL --token TOKEN --prefix 198.19.0.0/24 \\
                   --bird-socket /run/bird/bird.ctl --include /etc/bird/meridian-anycast.conf [options]

The agent watches the PoP's nodes (their /healthz on the admin URL each registered, and the control
plane's view: their status and whether the PoP is drained) and keeps the BIRD static protocol in
--include holding the prefixes while the PoP is healthy and empty while it is not; BIRD's own
configuration includes that file and exports the protocol to its BGP sessions (docs/anycast.md).
It starts withdrawn, announces once it has verified the PoP, and withdraws on exit.

Options:
  --pop NAME                the PoP this agent speaks for
  --control URL             the control plane (its REST API is polled)
  --token TOKEN             an API token with zones:read (or MERIDIAN_TOKEN)
  --prefix CIDR             an anycast prefix to announce; repeat for more
  --bird-socket PATH        BIRD's control socket (bird -s PATH)            (default /run/bird/bird.ctl)
  --include FILE            the file BIRD includes; the agent owns it
  --protocol NAME           the static protocol's name in that file       (default meridian_anycast)
  --nexthop NODE=IP         route the prefixes via the healthy nodes' next hops (ECMP inside the PoP);
                            repeat per node. Without any: blackhole routes (BIRD on each node's host)
  --community ASN:VALUE     a BGP community on the announcement; repeat for more
  --floor N                 healthy nodes the PoP needs to announce       (default 1)
  --fall N / --rise N       failed / good probes in a row that change a node's health (default 2 / 2)
  --announce-delay DURATION healthy this long without a break before (re)announcing (default 3s)
  --probe-interval DURATION how often nodes are probed                    (default 250ms)
  --probe-timeout DURATION  probe timeout                                 (default 400ms)
  --poll-interval DURATION  how often the control plane is read           (default 1s)
  --control-stale DURATION  after this without an answer, the control plane's node status is
                            ignored and probes alone decide                (default 5s)
  -h, --help                this help
`;

const OPTIONS = {
  pop: { type: 'string' },
  control: { type: 'string' },
  token: { type: 'string' },
  prefix: { type: 'string', multiple: true },
  'bird-socket': { type: 'string', default: '/run/bird/bird.ctl' },
  include: { type: 'string' },
  protocol: { type: 'string', default: 'meridian_anycast' },
  nexthop: { type: 'string', multiple: true },
  community: { type: 'string', multiple: true },
  floor: { type: 'string', default: '1' },
  fall: { type: 'string', default: '2' },
  rise: { type: 'string', default: '2' },
  'announce-delay': { type: 'string', default: '3s' },
  'probe-interval': { type: 'string', default: '250ms' },
  'probe-timeout': { type: 'string', default: '400ms' },
  'poll-interval': { type: 'string', default: '1s' },
  'control-stale': { type: 'string', default: '5s' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

function count(flag: string, value: string, min: number): number {
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > 10_000)
    throw new UsageError(`--${flag}: expected a whole number from ${min}, got "${value}"`);
  return Number(value);
}

function parsePrefix(value: string): string {
  const [address, length, ...rest] = value.split('/');
  const bits = Number(length);
  const ok = address !== undefined && rest.length === 0 && /^\d{1,3}$/.test(length ?? '');
  if (ok && isIPv4(address) && bits <= 32) return value;
  if (ok && isIPv6(address))
    throw new UsageError(`--prefix: IPv6 prefixes are not supported yet, got "${value}"`);
  throw new UsageError(`--prefix: expected an IPv4 CIDR such as 198.19.0.0/24, got "${value}"`);
}

export async function runAnycast(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: OPTIONS, strict: true });
  if (values.help) {
    process.stdout.write(ANYCAST_HELP);
    return;
  }
  if (values.pop === undefined || !/^[a-z0-9][a-z0-9-]*$/.test(values.pop))
    throw new UsageError('--pop: required, the PoP name (lower-case letters, digits, "-")');
  if (values.control === undefined) throw new UsageError('--control: required, the control plane URL');
  const controlUrl = parseHttpUrl('control', values.control).toString();
  const token = values.token ?? process.env.MERIDIAN_TOKEN;
  if (token === undefined || token === '') throw new UsageError('--token: required (or MERIDIAN_TOKEN)');
  const prefixes = (values.prefix ?? []).map(parsePrefix);
  if (prefixes.length === 0) throw new UsageError('--prefix: at least one anycast prefix is required');
  if (values.include === undefined) throw new UsageError('--include: required, the file BIRD includes');
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(values.protocol))
    throw new UsageError(`--protocol: expected a BIRD symbol name, got "${values.protocol}"`);
  let nexthops: Map<string, string> | null = null;
  for (const entry of values.nexthop ?? []) {
    const [node, ip] = entry.split('=');
    if (node === undefined || ip === undefined || node === '' || !isIPv4(ip))
      throw new UsageError(`--nexthop: expected NODE=IPv4, got "${entry}"`);
    (nexthops ??= new Map()).set(node, ip);
  }
  const communities = (values.community ?? []).map((c): [number, number] => {
    const m = /^(\d{1,5}):(\d{1,5})$/.exec(c);
    if (m === null || Number(m[1]) > 65535 || Number(m[2]) > 65535)
      throw new UsageError(`--community: expected ASN:VALUE (each 0–65535), got "${c}"`);
    return [Number(m[1]), Number(m[2])];
  });
  const log = createLogger('anycast');
  const agent = new AnycastAgent({
    pop: values.pop,
    controlUrl,
    token,
    birdSocket: values['bird-socket'],
    includeFile: values.include,
    protocol: values.protocol,
    prefixes,
    nexthops,
    communities,
    floor: count('floor', values.floor, 1),
    fall: count('fall', values.fall, 1),
    rise: count('rise', values.rise, 1),
    announceDelayMs: parseDuration('announce-delay', values['announce-delay']),
    tickMs: Math.max(50, parseDuration('probe-interval', values['probe-interval'])),
    probeTimeoutMs: Math.max(50, parseDuration('probe-timeout', values['probe-timeout'])),
    controlIntervalMs: parseDuration('poll-interval', values['poll-interval']),
    controlStaleMs: parseDuration('control-stale', values['control-stale']),
    log,
  });
  await agent.start();
  log.info('anycast agent running', { pop: values.pop, prefixes, bird: values['bird-socket'] });
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      void agent.close().then(resolve);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
