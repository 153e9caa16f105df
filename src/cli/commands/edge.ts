// meridian edge: one caching reverse proxy node (standalone: in front of one origin).
import cluster from 'node:cluster';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_EVENT_STREAM } from '../../common/events/nats-names.ts';
import type { AccessLogConfig, ControlLink, EdgeConfig, WorkerSettings } from '../../edge/config.ts';
import { parseControlUrls } from '../control-urls.ts';
import { natsCaOf, streamName } from './control.ts';
import { parseUpstreamTls, UPSTREAM_TLS_HELP, UPSTREAM_TLS_OPTIONS } from './edge-upstream-tls.ts';
import { startEdge, type EdgeNode } from '../../edge/edge.ts';
import { DEFAULT_POLICY_OPTIONS } from '../../lib/http-cache/policy.ts';
import { parseDuration, parseHttpUrl, parseListen, parseSize, parseToken, UsageError } from '../args.ts';
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
import { createLogger, setLogLevel, type Logger } from '../../common/log.ts';
import { Primary, pruneOtherLayouts } from '../../edge/multicore/primary.ts';
import { exposeMetricsToPrimary, workerRoleFromEnv } from '../../edge/multicore/worker.ts';

export const EDGE_HELP = `meridian edge — run an edge node (a caching reverse proxy)

Usage:
  meridian edge --origin URL [options]                                  standalone: one origin, no control plane
  meridian edge --control URL --pop NAME --node NAME --token TOKEN [options]   managed by a control plane

Options:
  --origin URL              origin every request is fetched from (standalone mode)
  --control URL[,URL...]    control plane to follow (managed mode): zones, rules, purges; several
                            replicas (comma separated or repeated) are failed over in order
  --pop NAME                this node's PoP (managed mode)
  --role edge|shield        the PoP's role, checked at registration (a shield PoP's nodes fetch from
                            origins for the edge PoPs of zones that name it)
  --node NAME               this node's name (managed mode; also the name in Via and Cache-Status)
  --token TOKEN             a token with the node scope (or MERIDIAN_NODE_TOKEN)
  --token-file FILE         read that token from the first line of FILE (a compose or systemd secret)
  --nats URL                follow the event log over NATS JetStream instead of the HTTP stream
  --nats-stream NAME        the control plane's JetStream stream (default MERIDIAN_EVENTS)
  --control-ca FILE         PEM CAs that verify an https:// --control (default: the system's and
                            NODE_EXTRA_CA_CERTS)
  --nats-ca FILE            PEM CAs that verify the NATS servers' TLS (tls://; a CA makes TLS required)
  --public-url URL          where other nodes reach this one (default: http://<listen address>)
  --listen HOST:PORT        client listener (default 127.0.0.1:8080)
  --listen-tls HOST:PORT    HTTPS listener: TLS 1.2/1.3, HTTP/2 and HTTP/1.1 (ALPN) on one port
  --tls-cert FILE           default TLS certificate: a PEM chain, leaf first; required standalone with
                            --listen-tls (reloaded on SIGHUP and when the file changes; a bad new
                            pair keeps the old one)
  --tls-key FILE            its private key (PEM); required with --tls-cert
  --tls-unknown-sni MODE    default (the --tls-cert certificate) or reject (handshake alert) for a
                            ClientHello naming no certificate's host, or without SNI (default: default)
  --admin-listen HOST:PORT  metrics (/metrics) and health (/healthz) listener (default: none)
  --cache-dir DIR           disk cache folder (default: $TMPDIR/meridian-cache-<port>)
  --memory-cache-size SIZE  memory tier capacity (default 256MB)
  --disk-cache-size SIZE    disk tier capacity (default 10GB)
  --max-object-size SIZE    largest body stored (default 1GB); larger ones stream through
  --host-header MODE        preserve (default): forward the client's Host; origin: send the origin's
  --hsts-max-age SECONDS    standalone: Strict-Transport-Security: max-age=SECONDS on HTTPS answers
  --node-name NAME          name in Via and Cache-Status (default meridian)
  --default-ttl DURATION    freshness when the origin gives none (default: RFC 9111 heuristic)
  --connect-timeout DUR     origin connect timeout (default 5s)
  --origin-timeout DUR      wait for the origin's response headers (default 30s)
  --body-timeout DUR        longest gap between origin body chunks (default 30s)
  --client-header-timeout DUR  a client must send its headers within this (default 10s; else 408)
  --disk-fsync              flush each stored object to disk before it becomes visible
  --workers N               worker processes serving as one node: one cache, one event-log follower,
                            one /metrics (default: the machine's available parallelism, ${availableParallelism()}
                            here, or MERIDIAN_EDGE_WORKERS; 1: a single process). SIGHUP reloads every
                            worker; SIGUSR2 replaces
                            them all with the code now on disk without closing a connection
  --slice-size SIZE         standalone: fetch and store objects as slices of SIZE by range requests
                            (4K to 64M; docs/media.md; default: off)
  --worker-memory SIZE      heap of one edge worker's isolate (default 128MB; docs/workers.md)
  --worker-cpu DUR          CPU time one worker request may use (default 50ms)
  --worker-wall DUR         wall time of one worker request, and of its waitUntil work (default 30s)
  --worker-country-header NAME  request header a trusted proxy sets to the client's country (request.cf.country)
  --access-log FILE|stdout  write an access log line per request (sampled per zone by the zone's
                            access_log_sample_rate); fields in docs/analytics.md (default: none)
  --access-log-format FMT   json (default) or combined (Apache/nginx combined log format)
  --access-log-max-size SIZE  rotate the file past this size (default 100MB): FILE.1 ... FILE.N
  --access-log-keep N       rotated files kept (default 5)
  --geoip FILE[,FILE]       MaxMind DB files (.mmdb: GeoLite2 Country/City, DB-IP lite) for the
                            client's country in analytics, the access log and rules' ip.src.country
                            (default: none)
  --analytics-interval DUR  managed mode: how often analytics batches go to the control plane (default 2s)
  --analytics on|off        managed mode: count per-zone analytics and ship them (default on)
  --redis URL               count rate limits across the PoP in this Redis (redis://host:port)
  --max-conns-per-ip N      open connections one client address may hold (default 0: no limit)
  --max-rps-per-ip N        requests per second one client address may send (default 0: no limit);
                            beyond it 429 before the pipeline
  --client-request-timeout DUR  a client must send its whole request, body included, within this
                            (default 5m; slow POST)
${CONFIG_HELP}  -h, --help                this help

${UPSTREAM_TLS_HELP}
SIGHUP re-reads --config and the certificates: the origin and its TLS flags, --host-header,
--default-ttl, --hsts-max-age, --origin-timeout, --body-timeout and --log-level apply at once; a
change to any other flag is logged as needing a restart. SIGTERM and SIGINT stop the node (logged).
`;

const OPTIONS = {
  origin: { type: 'string' },
  control: { type: 'string', multiple: true },
  pop: { type: 'string' },
  role: { type: 'string' },
  node: { type: 'string' },
  token: { type: 'string' },
  'token-file': { type: 'string' },
  nats: { type: 'string' },
  'nats-stream': { type: 'string', default: DEFAULT_EVENT_STREAM },
  'control-ca': { type: 'string' },
  'nats-ca': { type: 'string' },
  'public-url': { type: 'string' },
  listen: { type: 'string', default: '127.0.0.1:8080' },
  'listen-tls': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-unknown-sni': { type: 'string', default: 'default' },
  'admin-listen': { type: 'string' },
  'cache-dir': { type: 'string' },
  'memory-cache-size': { type: 'string', default: '256MB' },
  'disk-cache-size': { type: 'string', default: '10GB' },
  'max-object-size': { type: 'string', default: '1GB' },
  'host-header': { type: 'string', default: 'preserve' },
  'hsts-max-age': { type: 'string' },
  'node-name': { type: 'string', default: 'meridian' },
  'default-ttl': { type: 'string' },
  'connect-timeout': { type: 'string', default: '5s' },
  'origin-timeout': { type: 'string', default: '30s' },
  'body-timeout': { type: 'string', default: '30s' },
  'client-header-timeout': { type: 'string', default: '10s' },
  'disk-fsync': { type: 'boolean', default: false },
  workers: { type: 'string' },
  'slice-size': { type: 'string' },
  'worker-memory': { type: 'string', default: '128MB' },
  'worker-cpu': { type: 'string', default: '50ms' },
  'worker-wall': { type: 'string', default: '30s' },
  'worker-country-header': { type: 'string' },
  'access-log': { type: 'string' },
  'access-log-format': { type: 'string', default: 'json' },
  'access-log-max-size': { type: 'string', default: '100MB' },
  'access-log-keep': { type: 'string', default: '5' },
  geoip: { type: 'string' },
  'analytics-interval': { type: 'string', default: '2s' },
  analytics: { type: 'string', default: 'on' },
  redis: { type: 'string' },
  'max-conns-per-ip': { type: 'string', default: '0' },
  'max-rps-per-ip': { type: 'string', default: '0' },
  'client-request-timeout': { type: 'string', default: '5m' },
  help: { type: 'boolean', short: 'h', default: false },
  ...UPSTREAM_TLS_OPTIONS,
  ...CONFIG_OPTIONS,
} as const;

/** What `meridian edge ARGV` runs (cli/config-file.ts parseCommand). */
export type EdgeInvocation = Invocation<EdgeConfig>;

export function parseEdgeArgs(argv: string[]): EdgeConfig | 'help' {
  const parsed = parseEdgeCommand(argv);
  return parsed === 'help' ? parsed : parsed.config;
}

/** The command line and its --config file, validated: a UsageError names the flag or the file's key. */
export function parseEdgeCommand(argv: string[]): EdgeInvocation | 'help' {
  return parseCommand(argv, OPTIONS, edgeConfigOf);
}

function edgeConfigOf(values: FlagValues<typeof OPTIONS>): EdgeConfig {
  if ((values.origin === undefined) === (values.control === undefined)) {
    throw new UsageError(
      '--origin or --control: give exactly one (standalone in front of an origin, or managed by a control plane)',
    );
  }
  if (values.control === undefined) {
    const managedOnly = (['control-ca', 'nats-ca', 'token-file'] as const).find(
      (flag) => values[flag] !== undefined,
    );
    if (managedOnly !== undefined) throw new UsageError(`--${managedOnly}: needs --control (managed mode)`);
  }
  const control = values.control === undefined ? null : controlLink(values);
  const listen = parseListen('listen', values.listen);
  const hostHeader = values['host-header'];
  if (hostHeader !== 'preserve' && hostHeader !== 'origin') {
    throw new UsageError(`--host-header: expected preserve or origin, got "${hostHeader}"`);
  }
  const defaultTtl = values['default-ttl'];
  const origin = values.origin === undefined ? null : parseHttpUrl('origin', values.origin);
  return {
    nodeName:
      values.node === undefined
        ? parseToken('node-name', values['node-name'])
        : parseToken('node', values.node),
    listen,
    tls: tlsConfig(values, control === null),
    adminListen:
      values['admin-listen'] === undefined ? null : parseListen('admin-listen', values['admin-listen']),
    origin,
    upstreamTls: parseUpstreamTls(values, origin),
    control,
    hostHeader,
    hstsMaxAgeSec: hstsMaxAgeOf(values['hsts-max-age'], control === null),
    cacheDir: values['cache-dir'] ?? join(tmpdir(), `meridian-cache-${values.node ?? listen.port}`),
    memoryCacheBytes: parseSize('memory-cache-size', values['memory-cache-size']),
    diskCacheBytes: parseSize('disk-cache-size', values['disk-cache-size']),
    // An object must fit the disk tier (it is its capacity tier).
    maxObjectBytes: Math.min(
      parseSize('max-object-size', values['max-object-size']),
      parseSize('disk-cache-size', values['disk-cache-size']),
    ),
    diskFsync: values['disk-fsync'],
    timeouts: {
      connectMs: parseDuration('connect-timeout', values['connect-timeout']),
      originHeadersMs: parseDuration('origin-timeout', values['origin-timeout']),
      originBodyMs: parseDuration('body-timeout', values['body-timeout']),
      clientHeadersMs: parseDuration('client-header-timeout', values['client-header-timeout']),
      clientKeepAliveMs: 5_000,
    },
    limits: { maxHeaderBytes: 16 * 1024, maxUriBytes: 8 * 1024 },
    policy: {
      ...DEFAULT_POLICY_OPTIONS,
      defaultTtlSec: defaultTtl === undefined ? null : parseDuration('default-ttl', defaultTtl) / 1000,
    },
    hitForPassSec: 120,
    workers: workersOf(values.workers),
    sliceBytes: sliceSizeOf(values['slice-size'], control === null),
    compute: workerSettingsOf(values),
    accessLog: accessLogOf(values),
    geoipFiles: geoipFilesOf(values.geoip),
    analyticsIntervalMs: parseDuration('analytics-interval', values['analytics-interval']),
    analytics: onOff('analytics', values.analytics),
    security: {
      redis: values.redis === undefined ? null : parseRedisUrl(values.redis),
      maxConnectionsPerIp: parseCount('max-conns-per-ip', values['max-conns-per-ip']),
      maxRequestsPerIpPerSec: parseCount('max-rps-per-ip', values['max-rps-per-ip']),
      clientRequestMs: parseDuration('client-request-timeout', values['client-request-timeout']),
      geoip: geoipFilesOf(values.geoip),
    },
  };
}

/** --geoip FILE[,FILE]: MaxMind-format databases (analytics, the access log, rules' ip.src.country). */
function geoipFilesOf(value: string | undefined): string[] {
  return value === undefined ? [] : value.split(',').filter((f) => f !== '');
}

function onOff(flag: string, value: string): boolean {
  if (value !== 'on' && value !== 'off')
    throw new UsageError(`--${flag}: expected on or off, got "${value}"`);
  return value === 'on';
}

function accessLogOf(values: {
  'access-log'?: string;
  'access-log-format'?: string;
  'access-log-max-size'?: string;
  'access-log-keep'?: string;
}): AccessLogConfig | null {
  const format = values['access-log-format'];
  if (format !== 'json' && format !== 'combined')
    throw new UsageError(`--access-log-format: expected json or combined, got "${format}"`);
  const keep = values['access-log-keep'] ?? '5';
  if (!/^\d{1,3}$/.test(keep) || Number(keep) < 1)
    throw new UsageError(`--access-log-keep: expected 1 to 999 files, got "${keep}"`);
  const destination = values['access-log'];
  if (destination === undefined) return null;
  if (destination === '') throw new UsageError('--access-log: expected a file path or stdout');
  return {
    destination,
    format,
    maxBytes: parseSize('access-log-max-size', values['access-log-max-size'] ?? '100MB'),
    keep: Number(keep),
  };
}

/** --workers: 1 to 1024; default MERIDIAN_EDGE_WORKERS, else the cores this process may use. */
function workersOf(flag: string | undefined): number {
  // MERIDIAN_EDGE_WORKERS: the default for hosts (and test runs) that want another one.
  const value = flag ?? process.env.MERIDIAN_EDGE_WORKERS;
  if (value === undefined || value === '') return availableParallelism();
  if (!/^\d{1,4}$/.test(value) || Number(value) < 1 || Number(value) > 1024)
    throw new UsageError(`--workers: expected a number of processes from 1 to 1024, got "${value}"`);
  return Number(value);
}

/** Standalone: the one zone's slice_size (managed zones set settings.slice_size instead). */
function sliceSizeOf(value: string | undefined, standalone: boolean): number | null {
  if (value === undefined) return null;
  if (!standalone)
    throw new UsageError('--slice-size: standalone only; a managed zone sets settings.slice_size');
  const bytes = parseSize('slice-size', value);
  if (bytes < 4096 || bytes > 64 * 1024 * 1024)
    throw new UsageError(`--slice-size: expected 4K to 64M, got "${value}"`);
  return bytes;
}

function workerSettingsOf(values: {
  'worker-memory': string;
  'worker-cpu': string;
  'worker-wall': string;
  'worker-country-header'?: string | undefined;
}): WorkerSettings {
  const memoryMb = Math.floor(parseSize('worker-memory', values['worker-memory']) / (1024 * 1024));
  if (memoryMb < 8) throw new UsageError(`--worker-memory: at least 8MB, got "${values['worker-memory']}"`);
  const cpuMs = parseDuration('worker-cpu', values['worker-cpu']);
  const wallMs = parseDuration('worker-wall', values['worker-wall']);
  if (cpuMs < 1 || wallMs < 1) throw new UsageError('--worker-cpu, --worker-wall: at least 1ms');
  const header = values['worker-country-header']?.toLowerCase() ?? null;
  if (header !== null && !/^[a-z0-9-]+$/.test(header))
    throw new UsageError(`--worker-country-header: a header name, got "${values['worker-country-header']}"`);
  return { memoryMb, cpuMs, wallMs, countryHeader: header };
}

function parseRedisUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`--redis: expected redis://host:port, got "${value}"`);
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new UsageError(`--redis: expected a redis:// or rediss:// URL, got "${value}"`);
  }
  return value;
}

function parseCount(flag: string, value: string): number {
  if (!/^\d{1,9}$/.test(value)) throw new UsageError(`--${flag}: expected a whole number, got "${value}"`);
  return Number(value);
}

/** Standalone: Strict-Transport-Security on HTTPS answers (managed zones set settings.hsts instead). */
function hstsMaxAgeOf(value: string | undefined, standalone: boolean): number | null {
  if (value === undefined) return null;
  if (!standalone) throw new UsageError('--hsts-max-age: standalone only; a managed zone sets settings.hsts');
  if (!/^\d{1,9}$/.test(value) || Number(value) > 63_072_000)
    throw new UsageError(`--hsts-max-age: expected seconds from 0 to 63072000 (2 years), got "${value}"`);
  return Number(value);
}

function tlsConfig(
  values: {
    'listen-tls'?: string;
    'tls-cert'?: string;
    'tls-key'?: string;
    'tls-unknown-sni'?: string;
  },
  standalone: boolean,
): EdgeConfig['tls'] {
  const listen = values['listen-tls'] === undefined ? null : parseListen('listen-tls', values['listen-tls']);
  const certFile = values['tls-cert'] ?? null;
  const keyFile = values['tls-key'] ?? null;
  const unknownSni = values['tls-unknown-sni'];
  if (unknownSni !== 'default' && unknownSni !== 'reject')
    throw new UsageError(`--tls-unknown-sni: expected default or reject, got "${unknownSni}"`);
  if ((certFile === null) !== (keyFile === null))
    throw new UsageError(
      '--tls-cert and --tls-key: give both (a certificate chain and its private key) or neither',
    );
  if (certFile !== null && listen === null) throw new UsageError('--tls-cert: needs --listen-tls');
  if (listen !== null && standalone && certFile === null)
    throw new UsageError('--listen-tls: needs --tls-cert and --tls-key in standalone mode');
  return { listen, certFile, keyFile, unknownSni };
}

function controlLink(values: {
  control?: string[];
  pop?: string;
  role?: string;
  node?: string;
  token?: string;
  nats?: string;
  'nats-stream'?: string;
  'public-url'?: string;
  'control-ca'?: string;
  'nats-ca'?: string;
  'token-file'?: string;
}): ControlLink {
  if (values.token !== undefined && values['token-file'] !== undefined)
    throw new UsageError('--token and --token-file: give one');
  const token =
    values.token ?? readSecretFile('token-file', values['token-file']) ?? process.env.MERIDIAN_NODE_TOKEN;
  if (values.pop === undefined) throw new UsageError('--pop: required with --control');
  if (values.node === undefined) throw new UsageError('--node: required with --control');
  if (token === undefined || token === '')
    throw new UsageError('--token: required with --control (or --token-file, or MERIDIAN_NODE_TOKEN)');
  if (values.role !== undefined && values.role !== 'edge' && values.role !== 'shield')
    throw new UsageError(`--role: expected edge or shield, got "${values.role}"`);
  if (values.nats !== undefined && !/^(nats|tls):\/\//.test(values.nats))
    throw new UsageError(`--nats: expected nats://HOST:PORT, got "${values.nats}"`);
  const urls = parseControlUrls('control', values.control ?? []);
  return {
    url: urls[0] as URL,
    urls,
    token,
    pop: parseToken('pop', values.pop),
    publicUrl:
      values['public-url'] === undefined
        ? null
        : parseHttpUrl('public-url', values['public-url']).href.replace(/\/$/, ''),
    nats: values.nats ?? null,
    natsStream: streamName(values['nats-stream'] ?? DEFAULT_EVENT_STREAM),
    role: (values.role as 'edge' | 'shield' | undefined) ?? null,
    controlCa: readCaFlag('control-ca', values['control-ca']),
    natsCa: natsCaOf(values['nats-ca'], values.nats),
  };
}

export async function runEdge(argv: string[]): Promise<void> {
  const parsed = parseEdgeCommand(argv);
  if (parsed === 'help') {
    process.stdout.write(EDGE_HELP);
    return;
  }
  setLogLevel(parsed.logLevel);
  const log = createLogger('edge');
  const { config } = parsed;
  const workers = config.workers ?? 1;
  if (workers > 1 && cluster.isPrimary) return runPrimary(config, workers, log);
  // SIGHUP reloads (the config file, the flags that can change at run time, the TLS certificate)
  // instead of ending the process. Set before the start: until a listener exists the signal's
  // default action would kill the process. One during the start is moot (the files are being read).
  // A worker gets SIGHUP from its primary (edge/multicore/primary.ts) and re-reads the same argv.
  let node: EdgeNode | null = null;
  process.on('SIGHUP', () => {
    if (node !== null) void reloadEdge(node, argv, log);
  });
  const role = workerRoleFromEnv();
  try {
    if (role === null) await pruneOtherLayouts(config.cacheDir, 1);
    node = await startEdge(config, log, role);
    if (role !== null) exposeMetricsToPrimary(node.runtime.metrics.registry);
  } catch (err) {
    throw asStartFailure(err, {
      listens: { listen: config.listen, 'listen-tls': config.tls.listen, 'admin-listen': config.adminListen },
      nats: config.control?.nats ?? null,
    });
  }
  const started = node;
  stopOnSignals(() => started.close(), log);
}

/** SIGHUP: the command line and --config re-read; what changed applied, or named as needing a restart. */
async function reloadEdge(node: EdgeNode, argv: string[], log: Logger): Promise<void> {
  let next: EdgeInvocation | 'help';
  try {
    next = parseEdgeCommand(argv);
  } catch (err) {
    // A bad edit keeps the running configuration (nginx -s reload does the same).
    log.error('SIGHUP: reload refused, the running configuration stays', { error: (err as Error).message });
    return;
  }
  if (next === 'help') return;
  const plan = node.reload(next.config);
  const fields = { config: next.file ?? undefined, log_level: next.logLevel, applied: plan.applied };
  reloadLogLevel(next.logLevel, () => {
    if (plan.restart.length > 0)
      log.warn('SIGHUP: reloaded; some changes need a restart', { ...fields, restart_needed: plan.restart });
    else log.info('SIGHUP: reloaded', fields);
  });
  await node.tls.reload('SIGHUP');
}

/** --workers N > 1: this process supervises N workers (edge/multicore/primary.ts) and serves no client. */
async function runPrimary(config: EdgeConfig, workers: number, log: Logger): Promise<void> {
  // Until the primary's own handler is set, a SIGHUP or SIGUSR2 must not end the node.
  process.on('SIGHUP', () => undefined);
  process.on('SIGUSR2', () => undefined);
  const primary = new Primary(config, workers, log);
  try {
    await primary.start();
  } catch (err) {
    throw asStartFailure(err, {
      listens: { listen: config.listen, 'listen-tls': config.tls.listen, 'admin-listen': config.adminListen },
      nats: config.control?.nats ?? null,
    });
  }
  stopOnSignals(() => primary.close(), log);
}
