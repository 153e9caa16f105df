// The control plane's HTTP server: REST API, internal node endpoints, OpenAPI, health, metrics.
import Fastify, { type FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { ControlStore } from '../store/types.ts';
import { authenticate, requireScope } from './auth.ts';
import { auditRoutes } from './audit.ts';
import { certificateRoutes } from './certificates.ts';
import type { AcmeHook } from './certificates.ts';
import { ApiError, API_ERRORS, fail, validationErrors } from './envelope.ts';
import { internalRoutes } from './internal.ts';
import { buildOpenApi } from './openapi.ts';
import { purgeRoutes } from './purge.ts';
import type { PurgeRateLimit } from './purge.ts';
import { Router, ValidationFailure } from './router.ts';
import { ruleRoutes } from './rules.ts';
import { tokenRoutes } from './tokens.ts';
import { topologyRoutes } from './topology.ts';
import { zoneRoutes } from './zones.ts';

export interface ApiOptions {
  store: ControlStore;
  version: string;
  /** Purge calls per zone (default DEFAULT_PURGE_RATE). */
  purgeRate?: PurgeRateLimit;
  /** Orders ACME certificates for POST .../custom_certificates {"type": "acme"}; absent: not configured. */
  acme?: AcmeHook | null;
  /** The registry /metrics serves (default: a new one); the ACME engine adds its metrics to it. */
  registry?: Registry;
  /** Serve HTTPS with this chain and key (PEM); absent or null: plain HTTP (behind a TLS proxy, or loopback). */
  https?: { cert: string; key: string } | null;
  /** Extra resources (purge, analytics) register here. */
  extend?: (router: Router) => void;
}

export function buildApi(options: ApiOptions): FastifyInstance {
  const { store } = options;
  // forceCloseConnections: event streams are endless; shutdown must not wait for them.
  const app = Fastify({
    logger: false,
    bodyLimit: 1024 * 1024,
    trustProxy: false,
    forceCloseConnections: true,
    // RFC 8446 / 5246 only: the nodes and the CLI are ours, nothing older needs to connect.
    ...(options.https ? { https: { ...options.https, minVersion: 'TLSv1.2' as const } } : {}),
  }) as unknown as FastifyInstance;
  const router = new Router(app, store);
  zoneRoutes(router, store, { onSaved: (zone) => options.acme?.zoneSaved?.(zone) });
  ruleRoutes(router, store);
  purgeRoutes(router, store, options.purgeRate);
  tokenRoutes(router, store);
  topologyRoutes(router, store);
  auditRoutes(router, store);
  certificateRoutes(router, store, { acme: options.acme ?? null });
  internalRoutes(router, store);
  options.extend?.(router);

  const openapi = buildOpenApi(router.routes, options.version);
  app.get('/client/v4/openapi.json', async (_req, reply) => reply.send(openapi));
  app.get('/healthz', async (_req, reply) => reply.send({ status: 'ok' }));

  const registry = options.registry ?? new Registry();
  collectDefaultMetrics({
    register: registry,
    prefix: 'meridian_control_',
    eventLoopMonitoringPrecision: 100,
  });
  app.get('/metrics', async (req, reply) => {
    const token = await authenticate(store, req);
    requireScope(token, 'node');
    return reply.type(registry.contentType).send(await registry.metrics());
  });

  app.setNotFoundHandler((req, reply) =>
    fail(reply, 404, [
      { code: API_ERRORS.not_found, message: `no route for ${req.method} ${req.url.split('?')[0]}` },
    ]),
  );
  app.setErrorHandler((err, _req, reply) => {
    if (err instanceof ValidationFailure) return fail(reply, 400, validationErrors(err.error));
    if (err instanceof ApiError) return fail(reply, err.status, [{ code: err.code, message: err.message }]);
    const status = (err as { statusCode?: number }).statusCode;
    // Fastify's own client errors: malformed JSON, unsupported media type, body too large.
    if (status !== undefined && status >= 400 && status < 500) {
      return fail(reply, status, [
        { code: API_ERRORS.validation, message: `(body): ${(err as Error).message}` },
      ]);
    }
    app.log.error(err);
    return fail(reply, 500, [{ code: API_ERRORS.internal, message: 'internal error' }]);
  });
  return app;
}
