// meridian dns: the authoritative GeoDNS server for the CDN's zone.
import { readFileSync } from 'node:fs';
import { parseLocationsFile, type Location } from '../../dns/geo.ts';
import { DnsConfigError, startDns, type DnsOptions } from '../../dns/server.ts';
import { parseDuration, parseListen, UsageError } from '../args.ts';
import { parseControlUrls } from '../control-urls.ts';
import { readCaFlag } from '../tls-files.ts';
import {
  CONFIG_HELP,
  CONFIG_OPTIONS,
  reloadLogLevel,
  type FlagValues,
  parseCommand,
  type Invocation,
} from '../config-file.ts';
import { readSecretFile } from '../secret-file.ts';
import { asStartFailure } from '../start-failure.ts';
import { stopOnSignals } from '../stop-signals.ts';
import { createLogger, setLogLevel } from '../../common/log.ts';

export const DNS_HELP = `meridian dns — authoritative GeoDNS for the CDN's hostnames

Usage:
  meridian dns --control URL --token TOKEN --zone cdn.example.net [options]

Answers A/AAAA for <label>.<zone> with the nodes of the nearest healthy edge PoP, where <label> is a
zone's hostname (or the zone's name) lower-cased with "." and "_" replaced by "-":
  www.customer.com  →  www-customer-com.cdn.example.net   (customers CNAME to this name)

Options:
  --listen HOST:PORT          UDP and TCP listener (default 127.0.0.1:5353)
  --control URL[,URL...]      the control plane (its REST API is polled); several replicas (comma
                              separated or repeated) are failed over in order
  --control-ca FILE           PEM CAs that verify an https:// --control (default: the system's and
                              NODE_EXTRA_CA_CERTS)
  --token TOKEN               an API token with zones:read (or MERIDIAN_TOKEN)
  --token-file FILE           read that token from the first line of FILE (a compose or systemd secret)
  --zone NAME                 the zone DNS is authoritative for, e.g. cdn.example.net
  --ns NAME[=IP,...]          an NS record at the apex; repeat for more (default ns1.<zone>=<listen host>);
                              addresses are answered for name servers inside the zone
  --hostmaster MAIL           the SOA contact (default hostmaster@<zone>)
  --ttl DURATION              TTL of A/AAAA and negative answers (default 30s)
  --max-addresses N           addresses in one answer at most (default 8)
  --locations FILE            JSON {"CIDR": {"city", "latitude", "longitude"}}: client subnets with fixed
                              locations, consulted before GeoIP
  --default-location LAT,LON  where private, loopback and unknown clients are (default: nowhere: PoPs by name)
  --geoip FILE.mmdb           a MaxMind-format city database; repeat for more; "none" for none
                              (default: the bundled DB-IP Lite database, CC BY 4.0, by DB-IP.com)
  --probe-interval DURATION   node health probe interval (default 1s)
  --probe-timeout DURATION    node health probe timeout (default 500ms)
  --poll-interval DURATION    how often the control plane is read (default 1s)
  --admin-listen HOST:PORT    /metrics (Prometheus) and /healthz listener (default: none)
  --tcp-idle-timeout DURATION close idle TCP connections after this (default 10s)
  --tcp-max-connections N     open TCP connections at most (default 1000)
${CONFIG_HELP}  -h, --help                  this help

SIGHUP re-reads --config and applies --log-level (logged); other changes need a restart.
SIGTERM and SIGINT stop the server (logged).
`;

const OPTIONS = {
  listen: { type: 'string', default: '127.0.0.1:5353' },
  control: { type: 'string', multiple: true },
  'control-ca': { type: 'string' },
  token: { type: 'string' },
  'token-file': { type: 'string' },
  zone: { type: 'string' },
  ns: { type: 'string', multiple: true },
  hostmaster: { type: 'string' },
  ttl: { type: 'string', default: '30s' },
  'max-addresses': { type: 'string', default: '8' },
  locations: { type: 'string' },
  'default-location': { type: 'string' },
  geoip: { type: 'string', multiple: true },
  'probe-interval': { type: 'string', default: '1s' },
  'probe-timeout': { type: 'string', default: '500ms' },
  'poll-interval': { type: 'string', default: '1s' },
  'admin-listen': { type: 'string' },
  'tcp-idle-timeout': { type: 'string', default: '10s' },
  'tcp-max-connections': { type: 'string', default: '1000' },
  help: { type: 'boolean', short: 'h', default: false },
  ...CONFIG_OPTIONS,
} as const;

function positiveInt(flag: string, value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1)
    throw new UsageError(`--${flag}: expected a positive integer, got "${value}"`);
  return Number(value);
}

function parseLocation(flag: string, value: string): Location {
  const match = /^\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*$/.exec(value);
  const latitude = Number(match?.[1]);
  const longitude = Number(match?.[2]);
  if (match === null || Math.abs(latitude) > 90 || Math.abs(longitude) > 180) {
    throw new UsageError(`--${flag}: expected LATITUDE,LONGITUDE such as 50.11,8.68, got "${value}"`);
  }
  return { latitude, longitude };
}

function parseNs(value: string): { name: string; addresses: string[] } {
  const [name, list] = value.split('=', 2);
  if (name === undefined || name === '')
    throw new UsageError(`--ns: expected NAME or NAME=IP,IP, got "${value}"`);
  return { name, addresses: list === undefined || list === '' ? [] : list.split(',') };
}

/** What `meridian dns ARGV` runs (cli/config-file.ts parseCommand). */
export type DnsInvocation = Invocation<DnsOptions>;

export function parseDnsArgs(argv: string[]): DnsOptions | 'help' {
  const parsed = parseDnsCommand(argv);
  return parsed === 'help' ? parsed : parsed.config;
}

/** The command line and its --config file, validated: a UsageError names the flag or the file's key. */
export function parseDnsCommand(argv: string[]): DnsInvocation | 'help' {
  return parseCommand(argv, OPTIONS, dnsOptionsOf);
}

function dnsOptionsOf(values: FlagValues<typeof OPTIONS>): DnsOptions {
  if (values.control === undefined) throw new UsageError('--control: required (the control plane URL)');
  if (values.zone === undefined) throw new UsageError('--zone: required (e.g. cdn.example.net)');
  if (values.token !== undefined && values['token-file'] !== undefined)
    throw new UsageError('--token and --token-file: give one');
  const token =
    values.token ?? readSecretFile('token-file', values['token-file']) ?? process.env.MERIDIAN_TOKEN;
  if (token === undefined || token === '')
    throw new UsageError('--token: required (or --token-file, or MERIDIAN_TOKEN)');
  const options: DnsOptions = {
    listen: parseListen('listen', values.listen),
    control: { ...controlUrlsOf(values.control), token, ca: readCaFlag('control-ca', values['control-ca']) },
    zone: values.zone,
    ttlSec: parseDuration('ttl', values.ttl) / 1000,
    maxAddresses: positiveInt('max-addresses', values['max-addresses']),
    probe: {
      intervalMs: parseDuration('probe-interval', values['probe-interval']),
      timeoutMs: parseDuration('probe-timeout', values['probe-timeout']),
    },
    pollIntervalMs: parseDuration('poll-interval', values['poll-interval']),
    tcp: {
      idleTimeoutMs: parseDuration('tcp-idle-timeout', values['tcp-idle-timeout']),
      maxConnections: positiveInt('tcp-max-connections', values['tcp-max-connections']),
    },
    adminListen:
      values['admin-listen'] === undefined ? null : parseListen('admin-listen', values['admin-listen']),
  };
  if (!Number.isInteger(options.ttlSec))
    throw new UsageError(`--ttl: expected whole seconds, got "${values.ttl}"`);
  if (values.ns !== undefined) options.nameServers = values.ns.map(parseNs);
  if (values.hostmaster !== undefined) options.hostmaster = values.hostmaster;
  if (values['default-location'] !== undefined) {
    options.defaultLocation = parseLocation('default-location', values['default-location']);
  }
  if (values.geoip !== undefined) options.geoip = values.geoip.includes('none') ? [] : values.geoip;
  if (values.locations !== undefined) {
    let text: string;
    try {
      text = readFileSync(values.locations, 'utf8');
    } catch (err) {
      throw new UsageError(`--locations: cannot read ${values.locations}: ${(err as Error).message}`);
    }
    try {
      options.locations = parseLocationsFile(text);
    } catch (err) {
      throw new UsageError(`--locations: ${values.locations}: ${(err as Error).message}`);
    }
  }
  return options;
}

export async function runDns(argv: string[]): Promise<void> {
  const parsed = parseDnsCommand(argv);
  if (parsed === 'help') {
    process.stdout.write(DNS_HELP);
    return;
  }
  setLogLevel(parsed.logLevel);
  const log = createLogger('dns');
  // SIGHUP before the start: its default action would end the process.
  process.on('SIGHUP', () => {
    let next: DnsInvocation | 'help';
    try {
      next = parseDnsCommand(argv);
    } catch (err) {
      log.error('SIGHUP: reload refused, the running configuration stays', { error: (err as Error).message });
      return;
    }
    if (next === 'help') return;
    const fields = { config: next.file ?? undefined, log_level: next.logLevel };
    reloadLogLevel(next.logLevel, () => log.info('SIGHUP: reloaded', fields));
  });
  let server;
  try {
    server = await startDns({ ...parsed.config, logger: log });
  } catch (err) {
    // Option values that only startDns can judge (zone, name servers, a GeoIP file) are usage errors.
    if (err instanceof DnsConfigError) throw new UsageError(err.message);
    throw asStartFailure(err, {
      listens: { listen: parsed.config.listen, 'admin-listen': parsed.config.adminListen },
    });
  }
  const started = server;
  stopOnSignals(() => started.close(), log);
}

function controlUrlsOf(values: readonly string[]): { url: string; urls: string[] } {
  const urls = parseControlUrls('control', values).map((u) => u.href);
  return { url: urls[0] as string, urls };
}
