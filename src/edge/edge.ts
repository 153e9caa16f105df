// Assembles one edge node: cache tiers, fetch machinery, zones (one fixed zone in standalone mode,
// or the control plane's, followed through the event log), the client and admin listeners.
// Longer than one concern's file: it is the one place where the parts meet, and splitting startEdge
// would scatter the order they start and stop in. A worker of a multi-process node (edge/multicore)
// differs only in where its state comes from and how it leaves.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { Http2ServerRequest } from 'node:http2';
import { Server as NetServer, type AddressInfo, type Socket } from 'node:net';
import { ZoneSettingsSchema, type Zone } from '../common/config/zone.ts';
import { MeridianError } from '../common/errors.ts';
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
import { compressing, compressionPlanOf } from './fetch/compression.ts';
import { prefetchSegments } from './fetch/prefetch.ts';
import { streaming, streamingPlanOf } from './fetch/streaming.ts';
import { EdgeMetrics } from './metrics.ts';
import { Prewarmer } from './prewarm/prewarmer.ts';
import { shipAnalytics, startAnalytics } from './analytics/start.ts';
import { Purger } from './purge/purger.ts';
import { RequestContext, type ClientRequest, type ClientResponse } from './pipeline/context.ts';
import { interimForwarder } from './pipeline/interim.ts';
import { runRequest } from './pipeline/run.ts';
import type { EdgeRuntime } from './runtime.ts';
import type { CertStore } from './server/cert-store.ts';
import { answerClientError } from './server/client-errors.ts';
import { startEdgeHttps, type HttpsListener } from './server/https.ts';
import { secureContextOptions } from './server/tls-policy.ts';
import { ControlClient } from './sync/control-client.ts';
import type { FollowerApply } from './sync/follower.ts';
import { nodeUrlOf, startNodeFollower } from './sync/node-follower.ts';
import { EdgeTls } from './tls/edge-tls.ts';
import { controlDispatcher } from '../common/tls/control-trust.ts';
import { failoverRuleFor, sendWithFailover, withHostFor } from './upstream/failover.ts';
import { upstreamPathOf } from './upstream/health-settings.ts';
import type { ClientCertSource } from './upstream/origin-tls.ts';
import { UpstreamPools } from './upstream/pools.ts';
import { forwardHeaders } from './upstream/request-headers.ts';
import type { ZoneRuntime } from './zones/types.ts';
import { applyLive, planReload, type ReloadPlan } from './reload.ts';
import { Redis } from 'ioredis';
import { createHmac } from 'node:crypto';
import { DEFAULT_SECURITY_CONFIG } from './config.ts';
import { EdgeSecurity } from './security/edge-security.ts';
import { FloodGuard } from './server/flood.ts';
import { openCountryLookup } from './security/geoip.ts';
import { CompiledZone } from './zones/zone-runtime.ts';
import { ZoneTable } from './zones/zone-table.ts';
import { linkToPrimary, sendToPrimary, shardDirOf, Siblings, type WorkerRole } from './multicore/worker.ts';
import {
  sendToSibling,
  siblingClientView,
  startSiblingListener,
  workerFillOf,
} from './multicore/siblings.ts';
import { startWorkers, type NodeWorkers } from './compute/start-workers.ts';

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
  /**
   * SIGHUP: applies what can change at run time from `next` (the re-read flags and config file), in
   * place; says what changed, and what only a restart applies (those keep their running values).
   */
  reload(next: EdgeConfig): ReloadPlan;
  /**
   * Stops accepting, lets the requests under way finish (at most `deadlineMs`), then closes: how a
   * worker leaves when the primary replaces it (SIGUSR2).
   */
  drain(deadlineMs?: number): Promise<void>;
  /** Edge workers (customer code in isolates): scripts, isolates, KV replica, console tail. */
  readonly compute: NodeWorkers;
  close(): Promise<void>;
}

/**
 * Starts one edge node, or, with `role`, one worker of a node that runs several
 * (edge/multicore/primary.ts forked it): the worker keeps its shard of the disk tier, takes its
 * state from the primary instead of following the event log, and answers its siblings' fills of the
 * keys it owns on a loopback listener.
 */
export async function startEdge(
  config: EdgeConfig,
  logger: Logger = createLogger('edge'),
  role: WorkerRole | null = null,
): Promise<EdgeNode> {
  const siblings = role === null ? null : new Siblings(role);
  const stateDir = role === null ? config.cacheDir : shardDirOf(config.cacheDir, role);
  const diskBytes = role === null ? config.diskCacheBytes : Math.floor(config.diskCacheBytes / role.count);
  const cache = new Cache(
    new MemoryStore({ maxBytes: config.memoryCacheBytes }),
    new DiskStore({ dir: stateDir, maxBytes: diskBytes, fsync: config.diskFsync }),
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
  // Standalone: the one zone made from --origin, rebuilt when SIGHUP brings new origin settings.
  const standalone = { zone: standaloneZone(config) };
  const resolveZone =
    standalone.zone === null
      ? (host: string) => (readiness.ready ? zones.resolve(host) : undefined)
      : () => standalone.zone ?? undefined;
  const runtime = createRuntime(config, cache, upstream, resolveZone, logger, siblings);
  runtime.isReady = () => readiness.ready;
  const workers = startWorkers(
    runtime,
    config,
    stateDir,
    config.origin === null
      ? (id) => zones.get(id)
      : (id) => {
          const zone = runtime.resolveZone(config.origin?.hostname ?? '');
          return zone?.zone.id === id ? zone : undefined;
        },
    controlUrls === null || config.control === null
      ? null
      : {
          client: new ControlClient({
            controlUrl: controlUrls,
            token: config.control.token,
            ...viaCa(controlDispatcher(config.control.controlCa ?? null)),
          }),
        },
    logger,
  );
  runtime.analytics = await startAnalytics(config, logger);
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
      : new Purger({ cache, zoneOf: (id) => zones.get(id), stateDir, log: logger });
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
    siblings === null
      ? (req, res) => handle(runtime, req, res)
      : (req, res) => {
          // A draining worker tells each client to reconnect (to a live worker) after this answer.
          if (siblings.draining) res.shouldKeepAlive = false;
          handle(runtime, req, res);
        },
  );
  const clientSockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    clientSockets.add(socket);
    socket.once('close', () => clientSockets.delete(socket));
  });
  if (runtime.flood !== null) server.on('connection', (socket: Socket) => flood.admit(socket));
  server.on('clientError', (err, socket) =>
    answerClientError(err, socket as Socket, config.nodeName, config.limits.maxUriBytes),
  );
  // A deep accept queue: a burst of new connections (a stampede) must not overflow Node's default 511.
  server.listen({ port: config.listen.port, host: config.listen.host, backlog: 4096 });
  await once(server, 'listening');
  {
    const listening = server.address() as AddressInfo;
    workers.setSelfAddress({ host: listening.address, port: listening.port });
  }
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
  // A worker's metrics and health are the primary's admin listener's (summed over the workers).
  const admin =
    config.adminListen === null || role !== null
      ? null
      : await startAdmin(runtime, config.adminListen, workers);
  const address = server.address() as AddressInfo;
  const adminAddress = admin === null ? null : (admin.address() as AddressInfo);
  const cluster =
    purger === null || config.control === null
      ? null
      : new Cluster({
          self: { name: config.nodeName, pop: config.control.pop, url: nodeUrlOf(config, address) },
        });
  runtime.cluster = cluster;
  // Prewarm (edge/prewarm): one loader per node; with several workers, slot 0's (its fills reach
  // each key's owner worker like any other miss).
  const prewarmer =
    cluster === null || controlUrls === null || config.control === null || (role !== null && role.slot !== 0)
      ? null
      : prewarmerOf(runtime, controlUrls, config, logger);
  const apply =
    cluster === null || purger === null
      ? null
      : applierOf(runtime, zones, cluster, purger, tls, prewarmer, workers);
  const follower =
    apply === null || controlUrls === null || role !== null
      ? null
      : await startNodeFollower(config, controlUrls, address, adminAddress, apply, logger);
  const siblingServer =
    siblings === null
      ? null
      : await startSiblingListener(siblings, config, (req, res) => handle(runtime, req, res, false, true));
  // SIGHUP (cli/commands/edge.ts): what can change at run time is applied in place (reload.ts).
  const reload = (next: EdgeConfig): ReloadPlan => {
    const plan = planReload(config, next);
    if (plan.applied.length > 0) {
      applyLive(config, next);
      if (config.origin !== null) {
        standalone.zone = standaloneZone(config);
        runtime.defaultHost = config.origin.host;
      }
    }
    return plan;
  };
  // Declared before close: a worker of several returns before analytics shipping is set up (the
  // primary ships), and its close must still find null here rather than an uninitialised binding.
  let shipping: ReturnType<typeof shipAnalytics> | null = null;
  let draining: Promise<void> | null = null;
  const close = async (): Promise<void> => {
    server.closeAllConnections();
    server.close();
    await https?.close();
    admin?.closeAllConnections();
    admin?.close();
    await shipping?.close();
    runtime.analytics?.accessLog?.close();
    siblingServer?.closeAllConnections();
    siblingServer?.close();
    await follower?.close();
    await workers.close();
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
  };
  const drain = (deadlineMs = 10_000): Promise<void> => {
    draining ??= (async () => {
      if (siblings !== null) siblings.draining = true;
      // Closing a worker's listener takes it out of the primary's round robin: new connections go
      // to the other workers. net.Server's close, not http.Server's: the latter also closes idle
      // keep-alive connections at once, and a client that sends on one at that moment loses its
      // request. Each connection instead ends after its next answer (Connection: close, above), or
      // at its keep-alive timeout, which the client was told (Keep-Alive: timeout=5).
      netClose.call(server);
      const httpsDrained = https?.drain(deadlineMs);
      for (const deadline = Date.now() + deadlineMs; clientSockets.size > 0 && Date.now() < deadline;) {
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      await httpsDrained;
      await close();
    })();
    return draining;
  };
  if (siblings !== null && siblingServer !== null) {
    linkToPrimary({
      siblings,
      apply,
      stateDir,
      onReady: () => (readiness.ready = true),
      freeze: () => cache.drainWrites(10_000),
      drain: () => drain().then(() => process.exit(0)),
      log: logger,
    });
    sendToPrimary({
      t: 'listening',
      address: { address: address.address, port: address.port },
      tlsAddress: https === null ? null : { address: https.address.address, port: https.address.port },
      siblingPort: (siblingServer.address() as AddressInfo).port,
    });
    logger.info('worker listening', { slot: siblings.slot, workers: siblings.count, pid: process.pid });
    return nodeOf(runtime, address, null, tls, https, () => cluster?.seq ?? 0, reload, workers, drain, close);
  }
  const analytics = runtime.analytics;
  shipping =
    controlUrls === null || analytics === null || analytics.collector === null
      ? null
      : shipAnalytics(
          runtime.metrics.registry,
          analytics,
          config,
          controlUrls,
          (id) => zones.get(id) !== undefined,
          logger,
        );
  readiness.ready = true;
  logger.info('edge listening', {
    address: `${address.address}:${address.port}`,
    tls: https === null ? undefined : `${https.address.address}:${https.address.port}`,
    admin: adminAddress === null ? undefined : `${adminAddress.address}:${adminAddress.port}`,
    origin: config.origin?.origin,
    control: controlUrls?.urls.map((u) => u.origin).join(','),
    seq: follower?.appliedSeq,
  });
  return nodeOf(
    runtime,
    address,
    adminAddress,
    tls,
    https,
    () => follower?.appliedSeq ?? 0,
    reload,
    workers,
    drain,
    close,
  );
}

function nodeOf(
  runtime: EdgeRuntime,
  address: AddressInfo,
  adminAddress: AddressInfo | null,
  tls: EdgeTls,
  https: HttpsListener | null,
  appliedSeq: () => number,
  reload: EdgeNode['reload'],
  compute: NodeWorkers,
  drain: EdgeNode['drain'],
  close: EdgeNode['close'],
): EdgeNode {
  return {
    runtime,
    address,
    adminAddress,
    tls,
    tlsAddress: https?.address ?? null,
    https,
    appliedSeq,
    reload,
    compute,
    drain,
    close,
  };
}

const netClose = NetServer.prototype.close;

/**
 * The client certificates for authenticated origin pulls: standalone, --origin-client-cert for its one
 * zone; managed, the zone's origin_client certificate from the node's certificate store.
 */
function clientCertsFor(
  config: EdgeConfig,
  store: Pick<CertStore, 'clientCertificateFor'> | null,
): ClientCertSource {
  // Read at each connection: SIGHUP may bring a new pair (reload.ts).
  if (config.origin !== null) return () => config.upstreamTls.originClientCert;
  return (zoneId) => store?.clientCertificateFor(zoneId) ?? null;
}

/** The node's prewarm loader; its progress goes to the control plane (--control-ca trusted). */
function prewarmerOf(
  runtime: EdgeRuntime,
  controlUrls: FailoverUrls,
  config: EdgeConfig,
  logger: Logger,
): Prewarmer {
  const link = config.control as NonNullable<EdgeConfig['control']>;
  const client = new ControlClient({
    controlUrl: controlUrls,
    token: link.token,
    ...viaCa(controlDispatcher(link.controlCa ?? null)),
  });
  return new Prewarmer({
    runtime,
    log: logger,
    report: (progress) => client.prewarmProgress(config.nodeName, progress),
  });
}

/** The dispatcher option for a control-plane client that trusts --control-ca (none: the default). */
function viaCa(dispatcher: Dispatcher | undefined): { dispatcher?: Dispatcher } {
  return dispatcher === undefined ? {} : { dispatcher };
}

/** Standalone: every Host is served by one zone made from --origin (managed: the control plane's zones). */
function standaloneZone(config: EdgeConfig): CompiledZone | null {
  if (config.origin === null) return null;
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
      slice_size: config.sliceBytes ?? null,
      ...(config.hstsMaxAgeSec === null
        ? {}
        : {
            hsts: { enabled: true, max_age: config.hstsMaxAgeSec, include_subdomains: false, preload: false },
          }),
    },
    created_at: now,
    updated_at: now,
  };
  return new CompiledZone(zone, null);
}

/** How a node applies the event log's state: zones, the cluster, ACME challenges, TLS, purges. */
function applierOf(
  runtime: EdgeRuntime,
  zones: ZoneTable,
  cluster: Cluster,
  purger: Purger,
  tls: EdgeTls,
  prewarmer: Prewarmer | null,
  workers: NodeWorkers,
): FollowerApply {
  return {
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
      workers.applySnapshot(snapshot);
    },
    async applyEvent(event) {
      if (event.type === 'purge') await purger.apply(event.purge);
      if (event.type === 'prewarm') prewarmer?.apply(event.prewarm);
      zones.applyEvent(event);
      runtime.security?.table.applyEvent(event);
      cluster.applyEvent(event);
      runtime.acmeChallenges.applyEvent(event);
      tls.applyEvent(event);
      await workers.applyEvent(event);
    },
    async applyMissedPurges(missed) {
      if (missed === 'unknown') purger.purgeEverything('missed-purges');
      else for (const purge of missed) await purger.apply(purge);
    },
  };
}

/** Every client request, HTTP/1.x or HTTP/2, plain or TLS, enters the one pipeline here. */
export function handle(
  runtime: EdgeRuntime,
  req: ClientRequest,
  res: ClientResponse,
  secure = false,
  sibling = false,
): void {
  const flood = runtime.flood;
  // A sibling worker's fill (loopback) was admitted where the client connected.
  if (!sibling && flood !== null && !flood.allowRequest(req.socket.remoteAddress ?? '', Date.now())) {
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
  if (sibling) ctx.sibling = true;
  const done = runRequest(ctx);
  if (done !== undefined) done.catch(() => res.destroy());
}

function createRuntime(
  config: EdgeConfig,
  cache: Cache,
  upstream: UpstreamPools,
  resolveZone: (host: string) => ZoneRuntime | undefined,
  logger: Logger,
  siblings: Siblings | null,
): EdgeRuntime {
  const metrics = new EdgeMetrics(cache);
  const via = `1.1 ${config.nodeName}`;
  // RFC 9110 §7.6.3: a request's Via entry names the protocol it was received with.
  const viaOf = (ctx: RequestContext): string => (ctx.h2 ? `2 ${config.nodeName}` : via);
  const health = upstream.health;
  metrics.trackOrigins(health);
  health.observe((event) => logger.warn(`origin ${event.transition}`, { ...event }));
  const fillFailover = failoverRuleFor('GET', false);
  /** Fills answered by the key's owner worker (edge/multicore). */
  const viaSibling = new WeakSet<FetchSpec>();
  const fetchDeps: FetchDeps = {
    cache,
    inflight: new InFlight<FetchTask>(),
    hitForPassMs: config.hitForPassSec * 1000,
    // Through the PoP's owner and the shield when the route says so (cluster/cluster.ts); then the
    // picked origin, or the next usable ones when it is down or fails before answering.
    send: async (spec: FetchSpec, headers, onInfo) => {
      // Another worker owns the key: it makes the node's one fetch (its collapsing covers every worker).
      if (spec.sibling !== undefined && siblings !== null) {
        const answer = await sendToSibling(siblings, upstream, spec, spec.sibling, headers, config);
        if (answer !== null) {
          viaSibling.add(spec);
          return answer;
        }
      }
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
              onInfo,
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
              onInfo,
            },
            'origin',
          ),
        mayFailover: fillFailover,
      });
    },
    // A fill that went to the owner worker is counted there, where it reached upstream.
    observe: (outcome, spec) => {
      if (!viaSibling.has(spec)) metrics.recordFetch(outcome);
    },
    onStoreError: (err, meta) => logger.warn('object not stored', { url: meta.url, err }),
  };
  // HLS/DASH lifetimes and segment prefetch read the origin's playlist (fetch/streaming.ts); then the
  // answer is compressed for the client's Accept-Encoding class where the zone says (compression.ts).
  const prefetch = (spec: FetchSpec, paths: readonly string[]): void =>
    void prefetchSegments(runtime, spec, paths);
  fetchDeps.send = compressing(streaming(fetchDeps.send, prefetch));
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
    workers: siblings,
    compute: null,
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
    analytics: null,
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
              headers: forwardHeaders(ctx.sibling ? siblingClientView(req) : req, {
                host: origin.hostHeader ?? ctx.host,
                via: viaOf(ctx),
                proto: ctx.scheme,
                forFill: false,
              }),
              body: hasBody ? req : null,
              headersTimeoutMs: config.timeouts.originHeadersMs,
              bodyTimeoutMs: config.timeouts.originBodyMs,
              onInfo: interimForwarder(ctx),
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
        upstreamHeaders: forwardHeaders(ctx.sibling ? siblingClientView(ctx.req) : ctx.req, {
          host: origin.hostHeader ?? ctx.host,
          via: viaOf(ctx),
          proto: ctx.scheme,
          forFill: true,
        }),
        clientHeaders: ctx.req.headers,
        stored: null,
        background: false,
        range: null,
        route:
          runtime.cluster?.plan(
            ctx.zone?.zone.shield_pop ?? null,
            ctx.primaryKey,
            ctx.hop,
            ctx.host,
            ctx.path,
            ctx.scheme,
          ) ?? null,
        compression: compressionPlanOf(ctx.zone?.zone.settings),
        streaming: streamingPlanOf(ctx.zone?.zone.settings),
        ...(siblings === null ? null : workerFillOf(siblings, ctx)),
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

async function startAdmin(
  runtime: EdgeRuntime,
  listen: EdgeConfig['listen'],
  workers: NodeWorkers,
): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url?.startsWith('/workers/tail?') === true) return streamTail(workers, req, res);
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

/**
 * GET /workers/tail?zone_id=&script= on the admin listener: the script's console lines on this node
 * as NDJSON, until the client goes (`meridian workers tail`). Operators keep the admin listener
 * private (it also serves /metrics); console lines may carry customer data.
 */
function streamTail(workers: NodeWorkers, req: IncomingMessage, res: ServerResponse): void {
  const query = new URL(req.url ?? '/', 'http://admin').searchParams;
  const zoneId = query.get('zone_id');
  const script = query.get('script');
  if (zoneId === null || script === null) {
    res.writeHead(400, { 'content-type': 'text/plain' });
    res.end('zone_id and script are required\n');
    return;
  }
  res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
  res.flushHeaders();
  const stop = workers.tail.subscribe(zoneId, script, (line) => res.write(`${JSON.stringify(line)}\n`));
  res.on('close', stop);
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
    // Reported by the rate counter when a command fails (src/lib/ratelimit/window.ts); reconnects are ioredis's.
  });
  try {
    await redis.connect();
  } catch (err) {
    logger.warn('rate limits: Redis unreachable at start, counting on this node until it answers', { err });
  }
  return redis;
}
