// meridian edge: one caching reverse proxy node (standalone: in front of one origin).
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_EVENT_STREAM } from '../../common/events/nats-names.ts';
import type { ControlLink, EdgeConfig } from '../../edge/config.ts';
import { parseControlUrls } from '../control-urls.ts';
import { natsCaOf, streamName } from './control.ts';
import { parseUpstreamTls, UPSTREAM_TLS_HELP, UPSTREAM_TLS_OPTIONS } from './edge-upstream-tls.ts';
import { startEdge, type EdgeNode } from '../../edge/edge.ts';
import { DEFAULT_POLICY_OPTIONS } from '../../lib/http-cache/policy.ts';
import { parseDuration, parseHttpUrl, parseListen, parseSize, parseToken, UsageError } from '../args.ts';
import { readCaFlag } from '../tls-files.ts';

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
  --geoip FILE.mmdb         a MaxMind-format database for ip.src.country in rules; repeat for more
  --redis URL               count rate limits across the PoP in this Redis (redis://host:port)
  --max-conns-per-ip N      open connections one client address may hold (default 0: no limit)
  --max-rps-per-ip N        requests per second one client address may send (default 0: no limit);
                            beyond it 429 before the pipeline
  --client-request-timeout DUR  a client must send its whole request, body included, within this
                            (default 5m; slow POST)
  -h, --help                this help

${UPSTREAM_TLS_HELP}`;

const OPTIONS = {
  origin: { type: 'string' },
  control: { type: 'string', multiple: true },
  pop: { type: 'string' },
  role: { type: 'string' },
  node: { type: 'string' },
  token: { type: 'string' },
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
  redis: { type: 'string' },
  geoip: { type: 'string', multiple: true },
  'max-conns-per-ip': { type: 'string', default: '0' },
  'max-rps-per-ip': { type: 'string', default: '0' },
  'client-request-timeout': { type: 'string', default: '5m' },
  help: { type: 'boolean', short: 'h', default: false },
  ...UPSTREAM_TLS_OPTIONS,
} as const;

export function parseEdgeArgs(argv: string[]): EdgeConfig | 'help' {
  const { values } = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false });
  if (values.help) return 'help';
  if ((values.origin === undefined) === (values.control === undefined)) {
    throw new UsageError(
      '--origin or --control: give exactly one (standalone in front of an origin, or managed by a control plane)',
    );
  }
  if (values.control === undefined) {
    const managedOnly = (['control-ca', 'nats-ca'] as const).find((flag) => values[flag] !== undefined);
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
    security: {
      redis: values.redis === undefined ? null : parseRedisUrl(values.redis),
      maxConnectionsPerIp: parseCount('max-conns-per-ip', values['max-conns-per-ip']),
      maxRequestsPerIpPerSec: parseCount('max-rps-per-ip', values['max-rps-per-ip']),
      clientRequestMs: parseDuration('client-request-timeout', values['client-request-timeout']),
      geoip: values.geoip ?? [],
    },
  };
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
}): ControlLink {
  const token = values.token ?? process.env.MERIDIAN_NODE_TOKEN;
  if (values.pop === undefined) throw new UsageError('--pop: required with --control');
  if (values.node === undefined) throw new UsageError('--node: required with --control');
  if (token === undefined || token === '')
    throw new UsageError('--token: required with --control (or MERIDIAN_NODE_TOKEN)');
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
  const config = parseEdgeArgs(argv);
  if (config === 'help') {
    process.stdout.write(EDGE_HELP);
    return;
  }
  // SIGHUP reloads the TLS certificate (--tls-cert/--tls-key) instead of ending the process. Set
  // before the start: until a listener exists the signal's default action would kill the process.
  // One during the start is moot (the files are being read anyway).
  let node: EdgeNode | null = null;
  process.on('SIGHUP', () => void node?.tls.reload('SIGHUP'));
  try {
    node = await startEdge(config);
  } catch (err) {
    // A node that cannot start (a certificate that does not load, a port in use) says why in one line.
    process.stderr.write(`meridian edge: ${(err as Error).message}\n`);
    process.exit(1);
  }
  const started = node;
  const stop = (): void => {
    started.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
