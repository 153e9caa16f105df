// Assembles one edge node: cache tiers, fetch machinery, zones (one fixed zone in standalone mode,
// or the control plane's, followed through the event log), the client and admin listeners.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { Dispatcher } from 'undici';
import type { Http2ServerRequest } from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import { ZoneSettingsSchema, type Zone } from '../common/config/zone.ts';
import { MeridianError } from '../common/errors.ts';
import { eventSubjectOf } from '../common/events/nats-names.ts';
import { FailoverUrls } from '../common/http/failover-urls.ts';
import { createLogger, type Logger } from '../common/log.ts';
import { ChallengeTable } from './acme/challenges.ts';
import { Cache } from './cache/cache.ts';
import { Cluster } from './cluster/cluster.ts';
import { InFlight } from './cache/collapse.ts';
import { DiskStore } from './cache/disk/disk-store.ts';
import { MemoryStore } from './cache/memory/memory-tier.ts';
import type { EdgeConfig } from './config.ts';
import type { FetchDeps, FetchSpec, FetchTask } from './fetch/fetch-task.ts';
import { EdgeMetrics } from './metrics.ts';
import { Purger } from './purge/purger.ts';
import { RequestContext, type ClientRequest, type ClientResponse } from './pipeline/context.ts';
import { runRequest } from './pipeline/run.ts';
import type { EdgeRuntime } from './runtime.ts';
import type { CertStore } from './server/cert-store.ts';
import { answerClientError } from './server/client-errors.ts';
import { startEdgeHttps, type HttpsListener } from './server/https.ts';
import { secureContextOptions } from './server/tls-policy.ts';
import { ControlClient } from './sync/control-client.ts';
import { registeredAdminUrl } from './sync/admin-url.ts';
import { startFollower } from './sync/follower.ts';
import { EdgeTls } from './tls/edge-tls.ts';
import { controlDispatcher } from '../common/tls/control-trust.ts';
import { HttpStreamSource } from './sync/http-stream-source.ts';
import { NatsSource } from './sync/nats-source.ts';
import { failoverRuleFor, sendWithFailover, withHostFor } from './upstream/failover.ts';
import { upstreamPathOf } from './upstream/health-settings.ts';
import type { ClientCertSource } from './upstream/origin-tls.ts';
import { UpstreamPools } from './upstream/pools.ts';
import { forwardHeaders } from './upstream/request-headers.ts';
import type { ZoneRuntime } from './zones/types.ts';
import { Redis } from 'ioredis';
import { createHmac } from 'node:crypto';
import { DEFAULT_SECURITY_CONFIG } from './config.ts';
import { EdgeSecurity } from './security/edge-security.ts';
import { FloodGuard } from './server/flood.ts';
import { openCountryLookup } from './security/geoip.ts';
import { CompiledZone } from './zones/zone-runtime.ts';
import { ZoneTable } from './zones/zone-table.ts';

export interface EdgeNode {
  readonly runtime: EdgeRuntime;
  /** Where clients connect (the port is resolved when 0 was asked for). */
  readonly address: AddressInfo;
  readonly adminAddress: AddressInfo | null;
  /** Certificates (SNI store), OCSP staples and ticket keys; the TLS listener attaches to it. */
  readonly tls: EdgeTls;
  /** Where HTTPS clients connect (--listen-tls); null: no HTTPS listener. */
  readonly tlsAddress: AddressInfo | null;
  /** The HTTPS listener (h2 and http/1.1 over TLS); null without --listen-tls. */
  readonly https: HttpsListener | null;
  /** The event sequence applied (managed mode; 0 standalone). */
  appliedSeq(): number;
  close(): Promise<void>;
}

export async function startEdge(
  config: EdgeConfig,
  logger: Logger = createLogger('edge'),
): Promise<EdgeNode> {
  const cache = new Cache(
    new MemoryStore({ maxBytes: config.memoryCacheBytes }),
    new DiskStore({ dir: config.cacheDir, maxBytes: config.diskCacheBytes, fsync: config.diskFsync }),
  );
  await cache.open();
  const zones = new ZoneTable();
  // Bound once the TLS state starts (it needs the runtime's metrics registry, the runtime needs the pools).
  let certStore: CertStore | null = null;
  const upstream = new UpstreamPools({
    connectTimeoutMs: config.timeouts.connectMs,
    connections: 256,
    // Managed: the zone's origin_client certificate from the node's certificate store.
    clientCertFor: clientCertsFor(config, {
      clientCertificateFor: (zoneId) => certStore?.clientCertificateFor(zoneId) ?? null,
    }),
    peerCa: config.upstreamTls.peerCa,
    log: logger,
  });
  const readiness = { ready: config.control === null };
  // One pool of control-plane URLs for every client of the node (follower, event stream, certificate
  // fetches): a failover is seen, used and logged once, by all of them.
  const controlUrls =
    config.control === null
      ? null
      : new FailoverUrls(config.control.urls ?? [config.control.url], { log: logger });
  const runtime = createRuntime(config, cache, upstream, resolverFor(config, zones, readiness), logger);
  runtime.isReady = () => readiness.ready;
  const securityConfig = config.security ?? DEFAULT_SECURITY_CONFIG;
  // Managed zones bring rulesets through the event log; a standalone node has none to run.
  runtime.security =
    config.control === null
      ? null
      : new EdgeSecurity({
          registry: runtime.metrics.registry,
          log: logger,
          redis: await connectRedis(securityConfig.redis, logger),
          country: await openCountryLookup(securityConfig.geoip ?? []),
        });
  const flood = new FloodGuard(securityConfig);
  runtime.flood = flood.enabled ? flood : null;
  // Before any listener: a standalone pair that does not load stops the start with a clear error.
  const tls = await new EdgeTls({
    config,
    log: logger,
    registry: runtime.metrics.registry,
    contextOptions: secureContextOptions(),
    ...(controlUrls === null || config.control === null
      ? {}
      : {
          fetcher: new ControlClient({
            controlUrl: controlUrls,
            token: config.control.token,
            ...viaCa(controlDispatcher(config.control.controlCa ?? null)),
          }),
        }),
  }).start();
  certStore = tls.store;
  const purger =
    config.control === null
      ? null
      : new Purger({ cache, zoneOf: (id) => zones.get(id), stateDir: config.cacheDir, log: logger });
  const server = createServer(
    {
      maxHeaderSize: config.limits.maxHeaderBytes,
      headersTimeout: config.timeouts.clientHeadersMs,
      // Slow POST: the whole request, body included, within this (Node answers 408 and closes).
      requestTimeout: Math.max(securityConfig.clientRequestMs, config.timeouts.clientHeadersMs),
      // How often Node checks for the headers timeout; its default (30 s) would delay the 408.
      connectionsCheckingInterval: Math.max(100, Math.min(1_000, config.timeouts.clientHeadersMs / 2)),
      keepAliveTimeout: config.timeouts.clientKeepAliveMs,
      requireHostHeader: true,
      insecureHTTPParser: false,
      joinDuplicateHeaders: false,
    },
    (req, res) => handle(runtime, req, res),
  );
  if (runtime.flood !== null) server.on('connection', (socket: Socket) => flood.admit(socket));
  server.on('clientError', (err, socket) =>
    answerClientError(err, socket as Socket, config.nodeName, config.limits.maxUriBytes),
  );
  // A deep accept queue: a burst of new connections (a stampede) must not overflow Node's default 511.
  server.listen({ port: config.listen.port, host: config.listen.host, backlog: 4096 });
  await once(server, 'listening');
  let https: HttpsListener | null = null;
  try {
    if (config.tls.listen !== null) {
      https = await startEdgeHttps(config, tls, logger, (req, res) => handle(runtime, req, res, true));
      // The same per-address cap and whole-request timeout as the plain listener (HTTP/1.1 over TLS
      // reads requestTimeout from the server object for each new connection).
      if (runtime.flood !== null) https.server.on('connection', (socket: Socket) => flood.admit(socket));
      Object.assign(https.server, {
        requestTimeout: Math.max(securityConfig.clientRequestMs, config.timeouts.clientHeadersMs),
      });
    }
  } catch (err) {
    server.close();
    await cache.disk.close();
    throw err;
  }
  const admin = config.adminListen === null ? null : await startAdmin(runtime, config.adminListen);
  const address = server.address() as AddressInfo;
  const adminAddress = admin === null ? null : (admin.address() as AddressInfo);
  const follower =
    purger === null || controlUrls === null
      ? null
      : await follow(runtime, config, controlUrls, zones, purger, tls, address, adminAddress, logger);
  readiness.ready = true;
  logger.info('edge listening', {
    address: `${address.address}:${address.port}`,
    tls: https === null ? undefined : `${https.address.address}:${https.address.port}`,
    admin: adminAddress === null ? undefined : `${adminAddress.address}:${adminAddress.port}`,
    origin: config.origin?.origin,
    control: controlUrls?.urls.map((u) => u.origin).join(','),
    seq: follower?.appliedSeq,
  });
  return {
    runtime,
    address,
    adminAddress,
    tls,
    tlsAddress: https?.address ?? null,
    https,
    appliedSeq: () => follower?.appliedSeq ?? 0,
    async close() {
      server.closeAllConnections();
      server.close();
      await https?.close();
      admin?.closeAllConnections();
      admin?.close();
      await follower?.close();
      await runtime.security?.close();
      tls.close();
      await purger?.close();
      // Let fills that already have their bodies reach the disk (bounded: a hung origin cannot hold shutdown).
      for (const deadline = Date.now() + 5_000; runtime.inflight.size > 0 && Date.now() < deadline;) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await cache.drainWrites(5_000);
      await upstream.close();
      await cache.disk.close();
    },
  };
}

/**
 * The client certificates for authenticated origin pulls: standalone, --origin-client-cert for its one
 * zone; managed, the zone's origin_client certificate from the node's certificate store.
 */
function clientCertsFor(
  config: EdgeConfig,
  store: Pick<CertStore, 'clientCertificateFor'> | null,
): ClientCertSource {
  if (config.origin !== null) {
    const standalone = config.upstreamTls.originClientCert;
    return () => standalone;
  }
  return (zoneId) => store?.clientCertificateFor(zoneId) ?? null;
}

/** The dispatcher option for a control-plane client that trusts --control-ca (none: the default). */
function viaCa(dispatcher: Dispatcher | undefined): { dispatcher?: Dispatcher } {
  return dispatcher === undefined ? {} : { dispatcher };
}

/** Standalone: every Host is served by one zone made from --origin. Managed: the control plane's zones. */
function resolverFor(
  config: EdgeConfig,
  zones: ZoneTable,
  readiness: { ready: boolean },
): (host: string) => ZoneRuntime | undefined {
  if (config.origin === null) return (host) => (readiness.ready ? zones.resolve(host) : undefined);
  const now = new Date().toISOString();
  const zone: Zone = {
    id: 'standalone',
    name: 'standalone',
    hostnames: [config.origin.hostname],
    origins: [
      {
        url: config.origin.href,
        weight: 1,
        ...(config.hostHeader === 'origin' ? { host_header: config.origin.host } : {}),
        ...(config.upstreamTls.origin === null ? {} : { tls: config.upstreamTls.origin }),
      },
    ],
    shield_pop: null,
    settings: {
      ...ZoneSettingsSchema.parse({}),
      default_ttl: config.policy.defaultTtlSec,
      authenticated_origin_pulls: config.upstreamTls.originClientCert !== null,
      ...(config.hstsMaxAgeSec === null
        ? {}
        : {
            hsts: { enabled: true, max_age: config.hstsMaxAgeSec, include_subdomains: false, preload: false },
          }),
    },
    created_at: now,
    updated_at: now,
  };
  const standalone = new CompiledZone(zone, null);
  return () => standalone;
}

async function follow(
  runtime: EdgeRuntime,
  config: EdgeConfig,
  controlUrls: FailoverUrls,
  zones: ZoneTable,
  purger: Purger,
  tls: EdgeTls,
  address: AddressInfo,
  adminAddress: AddressInfo | null,
  logger: Logger,
): Promise<{ appliedSeq: number | null; close(): Promise<void> }> {
  const link = config.control as NonNullable<EdgeConfig['control']>;
  const nodeUrl = link.publicUrl ?? `http://${address.address}:${address.port}`;
  // --control-ca: the control plane's HTTPS is verified against the cluster CA, for these calls only.
  const dispatcher = controlDispatcher(link.controlCa ?? null);
  const viaDispatcher = dispatcher === undefined ? {} : { dispatcher };
  const source =
    link.nats === null
      ? new HttpStreamSource({ controlUrl: controlUrls, token: link.token, log: logger, ...viaDispatcher })
      : new NatsSource({
          servers: link.nats,
          nodeName: config.nodeName,
          stream: link.natsStream,
          subject: eventSubjectOf(link.natsStream),
          tlsCa: link.natsCa ?? null,
          log: logger,
        });
  const cluster = new Cluster({ self: { name: config.nodeName, pop: link.pop, url: nodeUrl } });
  runtime.cluster = cluster;
  const follower = startFollower({
    controlUrl: controlUrls,
    token: link.token,
    node: {
      name: config.nodeName,
      pop: link.pop,
      url: nodeUrl,
      ...(link.role === null ? {} : { role: link.role }),
      admin_url: adminAddress === null ? null : registeredAdminUrl(adminAddress, nodeUrl),
    },
    source,
    ...viaDispatcher,
    stateDir: config.cacheDir,
    apply: {
      applySnapshot(snapshot) {
        zones.applySnapshot(snapshot);
        runtime.security?.table.applySnapshot(snapshot);
        // Clearance cookies are signed with a key every node of the cluster derives alike.
        if (snapshot.hop_key !== undefined) {
          runtime.security?.keys.set(
            createHmac('sha256', snapshot.hop_key).update('meridian challenge').digest(),
          );
        }
        cluster.applySnapshot(snapshot);
        runtime.acmeChallenges.applySnapshot(snapshot);
        tls.applySnapshot(snapshot);
      },
      async applyEvent(event) {
        if (event.type === 'purge') await purger.apply(event.purge);
        zones.applyEvent(event);
        runtime.security?.table.applyEvent(event);
        cluster.applyEvent(event);
        runtime.acmeChallenges.applyEvent(event);
        tls.applyEvent(event);
      },
      async applyMissedPurges(missed) {
        if (missed === 'unknown') purger.purgeEverything('missed-purges');
        else for (const purge of missed) await purger.apply(purge);
      },
    },
    log: logger,
  });
  await follower.ready;
  return {
    get appliedSeq() {
      return follower.appliedSeq;
    },
    async close() {
      await follower.close();
      await source.close();
      await dispatcher?.close();
    },
  };
}

/** Every client request, HTTP/1.x or HTTP/2, plain or TLS, enters the one pipeline here. */
export function handle(runtime: EdgeRuntime, req: ClientRequest, res: ClientResponse, secure = false): void {
  const flood = runtime.flood;
  if (flood !== null && !flood.allowRequest(req.socket.remoteAddress ?? '', Date.now())) {
    res.writeHead(429, [
      'content-type',
      'text/plain',
      'content-length',
      '18',
      'retry-after',
      '1',
      'cache-control',
      'no-store',
    ]);
    res.end('429 slow down now\n');
    return;
  }
  const ctx = new RequestContext(req, res, runtime, Date.now(), secure);
  const done = runRequest(ctx);
  if (done !== undefined) done.catch(() => res.destroy());
}

function createRuntime(
  config: EdgeConfig,
  cache: Cache,
  upstream: UpstreamPools,
  resolveZone: (host: string) => ZoneRuntime | undefined,
  logger: Logger,
): EdgeRuntime {
  const metrics = new EdgeMetrics(cache);
  const via = `1.1 ${config.nodeName}`;
  // RFC 9110 §7.6.3: a request's Via entry names the protocol it was received with.
  const viaOf = (ctx: RequestContext): string => (ctx.h2 ? `2 ${config.nodeName}` : via);
  const health = upstream.health;
  metrics.trackOrigins(health);
  health.observe((event) => logger.warn(`origin ${event.transition}`, { ...event }));
  const fillFailover = failoverRuleFor('GET', false);
  const fetchDeps: FetchDeps = {
    cache,
    inflight: new InFlight<FetchTask>(),
    hitForPassMs: config.hitForPassSec * 1000,
    // Through the PoP's owner and the shield when the route says so (cluster/cluster.ts); then the
    // picked origin, or the next usable ones when it is down or fails before answering.
    send: async (spec: FetchSpec, headers) => {
      if (spec.route !== null && runtime.cluster !== null) {
        // A peer at an https:// URL is reached over TLS, verified against the cluster CA (--peer-ca);
        // a peer that fails the handshake is skipped like one that refuses the connection.
        const viaPeer = await runtime.cluster.sendAlong(spec.route, headers, (peer, hopHeaders) =>
          upstream.send(
            upstream.peer(peer.url),
            {
              method: 'GET',
              path: spec.path,
              headers: hopHeaders,
              body: null,
              headersTimeoutMs: config.timeouts.originHeadersMs,
              bodyTimeoutMs: config.timeouts.originBodyMs,
            },
            'peer',
          ),
        );
        if (viaPeer !== null) return viaPeer;
      }
      return sendWithFailover(health, spec.origin, {
        send: (origin) =>
          upstream.send(
            origin,
            {
              method: 'GET',
              path: upstreamPathOf(origin.url, spec.path),
              headers: origin === spec.origin ? headers : withHostFor(origin, spec.origin, headers, spec.url),
              body: null,
              headersTimeoutMs: config.timeouts.originHeadersMs,
              bodyTimeoutMs: config.timeouts.originBodyMs,
            },
            'origin',
          ),
        mayFailover: fillFailover,
      });
    },
    observe: (outcome) => metrics.recordFetch(outcome),
    onStoreError: (err, meta) => logger.warn('object not stored', { url: meta.url, err }),
  };
  // The weighted choice, health unseen: sendWithFailover checks the chosen origin (one Map lookup)
  // and only then, if it is down, picks again among the usable ones.
  const originOf = (ctx: RequestContext) => {
    const origin = ctx.zone?.pickOrigin();
    if (origin === undefined) {
      const name = ctx.zone?.zone.name ?? '?';
      throw new MeridianError('ORIGIN_ALL_DOWN', `zone ${name} has no origin with weight > 0`);
    }
    return origin;
  };
  const runtime: EdgeRuntime = {
    config,
    cache,
    cluster: null,
    security: null,
    flood: null,
    inflight: fetchDeps.inflight,
    fetchDeps,
    metrics,
    acmeChallenges: new ChallengeTable(),
    via,
    defaultHost: config.origin?.host ?? 'localhost',
    resolveZone,
    isReady: () => true,
    pass(ctx) {
      const req = ctx.req;
      const method = req.method ?? 'GET';
      const hasBody = hasRequestBody(ctx);
      return sendWithFailover(health, originOf(ctx), {
        send: (origin) =>
          upstream.send(
            origin,
            {
              method,
              path: upstreamPathOf(origin.url, ctx.path),
              headers: forwardHeaders(req, {
                host: origin.hostHeader ?? ctx.host,
                via: viaOf(ctx),
                proto: ctx.scheme,
                forFill: false,
              }),
              body: hasBody ? req : null,
              headersTimeoutMs: config.timeouts.originHeadersMs,
              bodyTimeoutMs: config.timeouts.originBodyMs,
            },
            'origin',
          ),
        mayFailover: failoverRuleFor(method, hasBody),
      });
    },
    fillSpec(ctx, key) {
      const origin = originOf(ctx);
      return {
        primaryKey: ctx.primaryKey,
        key,
        keyExtra: ctx.decision?.keyExtra ?? '',
        policy: ctx.zone?.policy ?? config.policy,
        rules: ctx.decision,
        origin,
        maxObjectBytes: Math.min(config.maxObjectBytes, ctx.zone?.zone.settings.max_object_size ?? Infinity),
        url: ctx.url(),
        path: ctx.path,
        upstreamHeaders: forwardHeaders(ctx.req, {
          host: origin.hostHeader ?? ctx.host,
          via: viaOf(ctx),
          proto: ctx.scheme,
          forFill: true,
        }),
        clientHeaders: ctx.req.headers,
        stored: null,
        background: false,
        route:
          runtime.cluster?.plan(
            ctx.zone?.zone.shield_pop ?? null,
            ctx.primaryKey,
            ctx.hop,
            ctx.host,
            ctx.path,
            ctx.scheme,
          ) ?? null,
      };
    },
  };
  return runtime;
}

/**
 * HTTP/1.1 frames a body with Content-Length or Transfer-Encoding; HTTP/2 with DATA frames, and a
 * request without one ends its stream with the HEADERS frame (RFC 9113 §8.1).
 */
function hasRequestBody(ctx: RequestContext): boolean {
  const req = ctx.req;
  if (ctx.h2) return !(req as Http2ServerRequest).stream.endAfterHeaders;
  return req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
}

async function startAdmin(runtime: EdgeRuntime, listen: EdgeConfig['listen']): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url === '/metrics') {
      runtime.metrics.registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': runtime.metrics.registry.contentType });
          res.end(text);
        },
        () => {
          res.writeHead(500);
          res.end();
        },
      );
      return;
    }
    if (req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' });
      const cluster = runtime.cluster;
      res.end(
        JSON.stringify({
          status: 'ok',
          node: runtime.config.nodeName,
          ...(cluster === null ? {} : { pop: cluster.self.pop, seq: cluster.seq }),
          ...securityErrorsOf(runtime),
        }),
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found\n');
  });
  server.listen(listen.port, listen.host);
  await once(server, 'listening');
  return server;
}

/** /healthz names the zones whose security did not compile here (they run their last good rules). */
function securityErrorsOf(runtime: EdgeRuntime): { security_errors?: Record<string, string> } {
  const errors = runtime.security?.table.errors();
  return errors === undefined || errors.size === 0 ? {} : { security_errors: Object.fromEntries(errors) };
}

/** --redis: connected before the node serves; one that cannot be reached leaves each node counting alone. */
async function connectRedis(url: string | null, logger: Logger): Promise<Redis | null> {
  if (url === null) return null;
  const redis = new Redis(url, {
    lazyConnect: true,
    enableAutoPipelining: true,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    connectTimeout: 2_000,
  });
  redis.on('error', () => {
    // Reported by the rate counter when a command fails (ratelimit.ts); reconnects are ioredis's.
  });
  try {
    await redis.connect();
  } catch (err) {
    logger.warn('rate limits: Redis unreachable at start, counting on this node until it answers', { err });
  }
  return redis;
}
