// `meridian dns`: the authoritative GeoDNS server. UDP and TCP on one address; the control plane's
// zones, PoPs and nodes polled over its REST API; nodes probed; answers made by answer.ts.
//
// startDns() is the programmatic entry (the CLI and `meridian up` call it): options are a plain
// object, and it resolves once the server listens, after a first look at the control plane and a
// first round of probes (each bounded by its timeout, so a control plane that is away does not stop
// DNS from starting: names then get SERVFAIL until the data arrives).
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { once } from 'node:events';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import {
  createServer as createTcpServer,
  isIPv6,
  type AddressInfo,
  type Server as TcpServer,
  type Socket,
} from 'node:net';
import { createLogger, type Logger } from '../common/log.ts';
import { answerQuery, ZoneNames, type NameServer, type ServingData } from './answer.ts';
import { CapacityGate } from './capacity.ts';
import { parseIp } from './cidr.ts';
import { ControlSource } from './control-source.ts';
import {
  bundledGeoDatabasePaths,
  GeoLocator,
  openGeoDatabase,
  type Location,
  type SubnetLocation,
} from './geo.ts';
import { DEFAULT_PROBE, HealthChecker, type ProbeOptions } from './health.ts';
import { DnsMetrics } from './metrics.ts';
import { buildServingData, nextSerial, nodeAddress, type ControlData } from './state.ts';
import { EDNS_UDP_SIZE, encodeResponse, parseQuery, type ResponseSpec } from './wire.ts';

export interface DnsOptions {
  /** UDP and TCP listen on this one address (port 0: any free port, the same for both). */
  listen: { host: string; port: number };
  /** The control plane, a token with zones:read, and PEM CAs for its https:// (--control-ca). */
  control: {
    url: string;
    token: string;
    /** Every URL in failover order (url first); absent: url alone. */
    urls?: string[];
    ca?: string | null;
  };
  /** The CDN zone DNS is authoritative for, e.g. "cdn.example.net". */
  zone: string;
  /** NS records at the apex (default: ns1.<zone>, answered with the listen address when it is one). */
  nameServers?: { name: string; addresses?: string[] }[];
  /** SOA RNAME, as a mail address or a name (default hostmaster.<zone>). */
  hostmaster?: string;
  /** TTL of A/AAAA answers and of negative answers, seconds (default 30). */
  ttlSec?: number;
  /** TTL of SOA and NS records, seconds (default 3600). */
  apexTtlSec?: number;
  /** Addresses in one answer at most (default 8). */
  maxAddresses?: number;
  /** Client subnets with fixed locations, consulted first. */
  locations?: SubnetLocation[];
  /** Where private and loopback clients (and clients GeoIP does not know) are; null: nowhere. */
  defaultLocation?: Location | null;
  /** MaxMind-format databases; absent: the bundled DB-IP Lite database when installed; []: none. */
  geoip?: string[];
  probe?: Partial<ProbeOptions>;
  /** How often the control plane is polled (default 1000 ms). */
  pollIntervalMs?: number;
  /** /metrics and /healthz over HTTP (default: none). */
  adminListen?: { host: string; port: number } | null;
  tcp?: { maxConnections?: number; idleTimeoutMs?: number };
  /** How long a new user stays counted at a PoP for capacity (default 5 minutes). */
  capacityStickyMs?: number;
  logger?: Logger;
}

export interface DnsServer {
  readonly address: string;
  readonly port: number;
  /** The admin listener's port (null without one). */
  readonly adminPort: number | null;
  /** The SOA serial in force (moves when the data changes). */
  serial(): number;
  close(): Promise<void>;
}

/** An option value startDns cannot use (the message names the option). */
export class DnsConfigError extends Error {
  override name = 'DnsConfigError';
}

const ZONE_NAME =
  /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export async function startDns(options: DnsOptions): Promise<DnsServer> {
  const log = options.logger ?? createLogger('dns');
  const zone = options.zone.toLowerCase().replace(/\.$/, '');
  if (!ZONE_NAME.test(zone)) throw new DnsConfigError(`zone: "${options.zone}" is not a DNS name`);
  const names = new ZoneNames({
    origin: zone,
    nameServers: nameServersOf(options, zone),
    hostmaster: hostmasterName(options.hostmaster ?? `hostmaster.${zone}`),
    ttl: options.ttlSec ?? 30,
    apexTtl: options.apexTtlSec ?? 3600,
    maxAddresses: Math.max(1, options.maxAddresses ?? 8),
  });
  const geoPaths = options.geoip ?? bundledGeoDatabasePaths();
  const databases = await Promise.all(
    geoPaths.map((path) =>
      openGeoDatabase(path).catch((err: Error) => {
        throw new DnsConfigError(`geoip: cannot open ${path}: ${err.message}`);
      }),
    ),
  );
  let locator: GeoLocator;
  try {
    locator = new GeoLocator({
      subnets: options.locations ?? [],
      defaultLocation: options.defaultLocation ?? null,
      databases,
    });
  } catch (err) {
    throw new DnsConfigError(`locations: ${(err as Error).message}`);
  }
  const gate = new CapacityGate(
    options.capacityStickyMs === undefined ? {} : { stickyMs: options.capacityStickyMs },
  );
  const probe: ProbeOptions = { ...DEFAULT_PROBE, ...options.probe };

  let control: ControlData | null = null;
  let fingerprint = '';
  let serving: ServingData = {
    labels: new Map(),
    pops: [],
    loaded: false,
    serial: nextSerial(0, Date.now()),
  };
  const reported = new Set<string>();
  const rebuild = (): void => {
    const built = buildServingData(control, (node) => health.isHealthy(node.name));
    let serial = serving.serial;
    if (built.fingerprint !== fingerprint) {
      if (fingerprint !== '') serial = nextSerial(serial, Date.now());
      fingerprint = built.fingerprint;
    }
    serving = { ...built.data, serial };
    for (const problem of built.problems) {
      if (!reported.has(problem)) log.warn('dns data problem', { problem });
      reported.add(problem);
    }
  };
  const health = new HealthChecker(probe, log, rebuild);
  const source = new ControlSource({
    url: options.control.urls ?? options.control.url,
    token: options.control.token,
    ca: options.control.ca ?? null,
    intervalMs: options.pollIntervalMs ?? 1_000,
    timeoutMs: 2_000,
    log,
    onData(data) {
      control = data;
      health.setNodes(data.nodes);
      rebuild();
    },
    onPoll(ok) {
      if (!ok) metrics.pollFailures++;
    },
  });

  const connections = new Set<Socket>();
  const metrics = new DnsMetrics({
    serial: () => serving.serial,
    dataAgeSeconds: () => (source.lastSuccessAt === 0 ? -1 : (Date.now() - source.lastSuccessAt) / 1000),
    tcpConnections: () => connections.size,
    nodes: () =>
      (control?.nodes ?? []).map((n) => ({
        name: n.name,
        pop: n.pop,
        healthy: n.status === 'up' && health.isHealthy(n.name) && nodeAddress(n.url) !== null,
      })),
  });

  // Resolvers are few and ask often: their parsed addresses are kept (bounded; cleared when full).
  const peers = new Map<string, ReturnType<typeof parseIp>>();
  const peerIp = (text: string): ReturnType<typeof parseIp> => {
    let ip = peers.get(text);
    if (ip === undefined) {
      if (peers.size >= 4096) peers.clear();
      ip = parseIp(text);
      peers.set(text, ip);
    }
    return ip;
  };
  let rotation = 0;
  /** One message in, the bytes to send back out (null: send nothing). safeHandle catches what it throws. */
  const handle = (msg: Buffer, peer: string, transport: 'udp' | 'tcp'): Buffer | null => {
    const parsed = parseQuery(msg);
    if (parsed.kind === 'drop') {
      metrics.dropped++;
      return null;
    }
    let spec: ResponseSpec;
    if (parsed.kind === 'error') {
      spec = {
        id: parsed.id,
        opcode: parsed.opcode,
        aa: false,
        rd: parsed.rd,
        cd: parsed.cd,
        rcode: parsed.rcode,
        question: parsed.question,
        answers: [],
        authorities: [],
        additionals: [],
        edns: parsed.edns,
        clientSubnetOption: null,
      };
    } else {
      rotation = (rotation + 1) | 0;
      const answered = answerQuery(
        parsed.query,
        { resolver: peerIp(peer), resolverText: peer },
        { names, data: serving, locator, gate, now: Date.now(), rotation },
      );
      spec = answered.spec;
      if (answered.pop !== null) metrics.chosen(answered.pop);
      if (answered.failOpen) metrics.failOpen++;
    }
    let out = encodeResponse(spec);
    if (transport === 'udp') {
      const limit = spec.edns === null ? 512 : Math.min(spec.edns.udpSize, EDNS_UDP_SIZE);
      if (out.length > limit) {
        // RFC 2181 §9: an RRset is never cut in half; the client asks again over TCP.
        out = encodeResponse({ ...spec, tc: true, answers: [], authorities: [], additionals: [] });
        metrics.truncated++;
      }
    }
    metrics.query(transport, spec.rcode);
    return out;
  };
  const safeHandle = (msg: Buffer, peer: string, transport: 'udp' | 'tcp'): Buffer | null => {
    try {
      return handle(msg, peer, transport);
    } catch (err) {
      // A bug, not the client's fault; the packet is dropped and the server goes on.
      log.error('query failed', { err, peer, transport });
      metrics.dropped++;
      return null;
    }
  };

  await source.start();
  await health.start();
  rebuild();

  const tcpLimits = { maxConnections: 1_000, idleTimeoutMs: 10_000, ...options.tcp };
  const { tcp, udp } = await bindBoth(options.listen, (socket) => {
    if (connections.size >= tcpLimits.maxConnections) {
      socket.destroy();
      return;
    }
    connections.add(socket);
    socket.on('close', () => connections.delete(socket));
    serveTcp(socket, tcpLimits.idleTimeoutMs, (msg) => safeHandle(msg, socket.remoteAddress ?? '', 'tcp'));
  });
  udp.on('message', (msg, rinfo) => {
    const out = safeHandle(msg, rinfo.address, 'udp');
    // No callback: Node then tries a synchronous send first (uv_udp_try_send), which is several
    // times cheaper than the queued one; a failed send is reported as an 'error' event below.
    if (out !== null) udp.send(out, rinfo.port, rinfo.address);
  });
  let lastUdpErrorLog = 0;
  udp.on('error', (err) => {
    metrics.sendErrors++;
    if (Date.now() - lastUdpErrorLog < 10_000) return;
    lastUdpErrorLog = Date.now();
    log.warn('udp socket error (logged at most every 10 s)', { err });
  });
  const admin =
    options.adminListen === undefined || options.adminListen === null
      ? null
      : await startAdmin(options.adminListen, metrics, () => ({
          serial: serving.serial,
          loaded: serving.loaded,
        }));

  const address = tcp.address() as AddressInfo;
  const adminPort = admin === null ? null : (admin.address() as AddressInfo).port;
  log.info('dns listening', {
    address: `${address.address}:${address.port}`,
    admin: admin === null ? undefined : `${(admin.address() as AddressInfo).address}:${adminPort}`,
    zone,
    control: options.control.url,
    geoip: geoPaths,
    loaded: serving.loaded,
  });
  return {
    address: address.address,
    port: address.port,
    adminPort,
    serial: () => serving.serial,
    async close() {
      for (const socket of connections) socket.destroy();
      tcp.close();
      udp.close();
      admin?.closeAllConnections();
      admin?.close();
      await Promise.all([source.close(), health.close()]);
    },
  };
}

function nameServersOf(options: DnsOptions, zone: string): NameServer[] {
  const unspecified = ['0.0.0.0', '::', ''].includes(options.listen.host);
  const given = options.nameServers ?? [
    { name: `ns1.${zone}`, addresses: unspecified ? [] : [options.listen.host] },
  ];
  if (given.length === 0)
    throw new DnsConfigError('nameServers: at least one is needed (it is the SOA MNAME)');
  return given.map((ns) => {
    const name = ns.name.toLowerCase().replace(/\.$/, '');
    if (!ZONE_NAME.test(name)) throw new DnsConfigError(`nameServers: "${ns.name}" is not a DNS name`);
    const v4: string[] = [];
    const v6: string[] = [];
    for (const address of ns.addresses ?? []) {
      const ip = parseIp(address);
      if (ip === null) throw new DnsConfigError(`nameServers: "${address}" is not an IP address`);
      (ip.family === 4 ? v4 : v6).push(address);
    }
    return { name, v4, v6 };
  });
}

/** "hostmaster@example.net" → "hostmaster.example.net" (a "." in the local part is escaped). */
export function hostmasterName(value: string): string {
  const at = value.lastIndexOf('@');
  if (at < 0) return value.toLowerCase().replace(/\.$/, '');
  return `${value.slice(0, at).replace(/\./g, '\\.')}.${value
    .slice(at + 1)
    .toLowerCase()
    .replace(/\.$/, '')}`;
}

/** TCP first (it picks the port when 0 was asked for), then UDP on the same port; retried on a clash. */
async function bindBoth(
  listen: { host: string; port: number },
  onConnection: (socket: Socket) => void,
): Promise<{ tcp: TcpServer; udp: UdpSocket }> {
  for (let attempt = 0; ; attempt++) {
    const tcp = createTcpServer({ noDelay: true }, onConnection);
    tcp.listen({ host: listen.host, port: listen.port, backlog: 1024 });
    await Promise.race([
      once(tcp, 'listening'),
      once(tcp, 'error').then(([err]) => Promise.reject(err as Error)),
    ]);
    const port = (tcp.address() as AddressInfo).port;
    const family = isIPv6(listen.host) ? 6 : 4;
    const udp = createSocket({
      type: family === 6 ? 'udp6' : 'udp4',
      recvBufferSize: 4 << 20,
      // Answers go to the address a query came from, always an IP literal: no resolver call, and
      // no deferral to the next tick per datagram (dns.lookup's way with literals).
      lookup: (host, _options, callback) =>
        (callback as (err: Error | null, address: string, family: number) => void)(null, host, family),
    });
    try {
      // Listen first: with the synchronous lookup above, bind may finish before it returns.
      const bound = Promise.race([
        once(udp, 'listening'),
        once(udp, 'error').then(([err]) => Promise.reject(err as Error)),
      ]);
      udp.bind({ address: listen.host, port, exclusive: true });
      await bound;
      return { tcp, udp };
    } catch (err) {
      tcp.close();
      udp.close();
      if (listen.port !== 0 || attempt >= 20 || (err as { code?: string }).code !== 'EADDRINUSE') throw err;
    }
  }
}

/** RFC 1035 §4.2.2 / RFC 7766: two-byte length, then the message; queries may be pipelined. */
function serveTcp(socket: Socket, idleTimeoutMs: number, handle: (msg: Buffer) => Buffer | null): void {
  let pending: Buffer = Buffer.alloc(0);
  socket.setTimeout(idleTimeoutMs, () => socket.destroy());
  socket.on('error', () => undefined);
  socket.on('data', (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 2) {
      const length = pending.readUInt16BE(0);
      if (length < 12) {
        // Not even a header: nothing sensible can follow on this stream.
        socket.destroy();
        return;
      }
      if (pending.length < 2 + length) break;
      const out = handle(pending.subarray(2, 2 + length));
      pending = pending.subarray(2 + length);
      if (out !== null) {
        const frame = Buffer.allocUnsafe(2 + out.length);
        frame.writeUInt16BE(out.length, 0);
        out.copy(frame, 2);
        socket.write(frame);
      }
      // A client that sends and never reads would make us buffer without bound.
      if (socket.writableLength > 1 << 20) {
        socket.destroy();
        return;
      }
    }
  });
}

async function startAdmin(
  listen: { host: string; port: number },
  metrics: DnsMetrics,
  status: () => { serial: number; loaded: boolean },
): Promise<HttpServer> {
  const server = createHttpServer((req, res) => {
    if (req.url === '/metrics') {
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
      return;
    }
    if (req.url === '/healthz') {
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ status: 'ok', ...status() }));
      return;
    }
    res.writeHead(404).end();
  });
  server.listen({ host: listen.host, port: listen.port });
  await once(server, 'listening');
  return server;
}
