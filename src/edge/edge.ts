// Assembles one edge node: cache tiers, fetch machinery, the client listener and the admin listener.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createLogger, type Logger } from '../common/log.ts';
import { Cache } from './cache/cache.ts';
import { InFlight } from './cache/collapse.ts';
import { DiskStore } from './cache/disk/disk-store.ts';
import { MemoryStore } from './cache/memory/memory-tier.ts';
import type { EdgeConfig } from './config.ts';
import type { FetchDeps, FetchSpec, FetchTask } from './fetch/fetch-task.ts';
import { EdgeMetrics } from './metrics.ts';
import { RequestContext } from './pipeline/context.ts';
import { runRequest } from './pipeline/run.ts';
import type { EdgeRuntime } from './runtime.ts';
import { answerClientError } from './server/client-errors.ts';
import { sendUpstream } from './upstream/origin-client.ts';
import { UpstreamPools } from './upstream/pools.ts';
import { forwardHeaders } from './upstream/request-headers.ts';

export interface EdgeNode {
  readonly runtime: EdgeRuntime;
  /** Where clients connect (the port is resolved when 0 was asked for). */
  readonly address: AddressInfo;
  readonly adminAddress: AddressInfo | null;
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
  const runtime = createRuntime(config, cache, logger);
  const server = createServer(
    {
      maxHeaderSize: config.limits.maxHeaderBytes,
      headersTimeout: config.timeouts.clientHeadersMs,
      requestTimeout: 0,
      // How often Node checks for the headers timeout; its default (30 s) would delay the 408.
      connectionsCheckingInterval: Math.max(100, Math.min(1_000, config.timeouts.clientHeadersMs / 2)),
      keepAliveTimeout: config.timeouts.clientKeepAliveMs,
      requireHostHeader: true,
      insecureHTTPParser: false,
      joinDuplicateHeaders: false,
    },
    (req, res) => handle(runtime, req, res),
  );
  server.on('clientError', (err, socket) =>
    answerClientError(err, socket as Socket, config.nodeName, config.limits.maxUriBytes),
  );
  server.listen(config.listen.port, config.listen.host);
  await once(server, 'listening');
  const admin = config.adminListen === null ? null : await startAdmin(runtime, config.adminListen);
  const address = server.address() as AddressInfo;
  const adminAddress = admin === null ? null : (admin.address() as AddressInfo);
  logger.info('edge listening', {
    address: `${address.address}:${address.port}`,
    admin: adminAddress === null ? undefined : `${adminAddress.address}:${adminAddress.port}`,
    origin: config.origin.origin,
  });
  return {
    runtime,
    address,
    adminAddress,
    async close() {
      server.closeAllConnections();
      server.close();
      admin?.closeAllConnections();
      admin?.close();
      // Let fills that already have their bodies reach the disk (bounded: a hung origin cannot hold shutdown).
      for (const deadline = Date.now() + 5_000; runtime.inflight.size > 0 && Date.now() < deadline;) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await runtimeClose(runtime);
      await cache.disk.close();
    },
  };
}

const pools = new WeakMap<EdgeRuntime, UpstreamPools>();

async function runtimeClose(runtime: EdgeRuntime): Promise<void> {
  await pools.get(runtime)?.close();
}

function handle(runtime: EdgeRuntime, req: IncomingMessage, res: ServerResponse): void {
  const ctx = new RequestContext(req, res, runtime, Date.now());
  const done = runRequest(ctx);
  if (done !== undefined) done.catch(() => res.destroy());
}

function createRuntime(config: EdgeConfig, cache: Cache, logger: Logger): EdgeRuntime {
  const upstream = new UpstreamPools({ connectTimeoutMs: config.timeouts.connectMs, connections: 256 });
  const metrics = new EdgeMetrics(cache);
  const via = `1.1 ${config.nodeName}`;
  const origin = config.origin;
  const hostFor = (clientHost: string): string => (config.hostHeader === 'origin' ? origin.host : clientHost);
  const originPath = (path: string): string =>
    origin.pathname === '/' ? path : `${origin.pathname.replace(/\/$/, '')}${path}`;
  const fetchDeps: FetchDeps = {
    cache,
    inflight: new InFlight<FetchTask>(),
    policy: config.policy,
    maxObjectBytes: config.maxObjectBytes,
    hitForPassMs: config.hitForPassSec * 1000,
    send: (spec: FetchSpec, headers) =>
      sendUpstream(upstream.get(origin), {
        method: 'GET',
        path: originPath(spec.path),
        headers,
        body: null,
        headersTimeoutMs: config.timeouts.originHeadersMs,
        bodyTimeoutMs: config.timeouts.originBodyMs,
      }),
    observe: (outcome) => metrics.recordFetch(outcome),
    onStoreError: (err, meta) => logger.warn('object not stored', { url: meta.url, err }),
  };
  const runtime: EdgeRuntime = {
    config,
    cache,
    inflight: fetchDeps.inflight,
    fetchDeps,
    metrics,
    via,
    pass(req, path, host) {
      const hasBody =
        req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
      return sendUpstream(upstream.get(origin), {
        method: req.method ?? 'GET',
        path: originPath(path),
        headers: forwardHeaders(req, { host: hostFor(host), via, proto: 'http', forFill: false }),
        body: hasBody ? req : null,
        headersTimeoutMs: config.timeouts.originHeadersMs,
        bodyTimeoutMs: config.timeouts.originBodyMs,
      });
    },
    fillSpec(req, primaryKey, key, url, path) {
      return {
        primaryKey,
        key,
        url,
        path,
        upstreamHeaders: forwardHeaders(req, {
          host: hostFor(req.headers.host ?? origin.host),
          via,
          proto: 'http',
          forFill: true,
        }),
        clientHeaders: req.headers,
        stored: null,
        background: false,
      };
    },
  };
  pools.set(runtime, upstream);
  return runtime;
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
      res.end(JSON.stringify({ status: 'ok', node: runtime.config.nodeName }));
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found\n');
  });
  server.listen(listen.port, listen.host);
  await once(server, 'listening');
  return server;
}
