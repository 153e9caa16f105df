// The control plane's HTTP server: REST API, internal node endpoints, OpenAPI, health, metrics.
import Fastify, { type FastifyInstance } from 'fastify';
import { acceptKvValueBodies, kvRoutes } from './kv.ts';
import { workerRoutes } from './workers.ts';
import { workerInternalRoutes } from './workers-internal.ts';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { ControlStore } from '../store/types.ts';
import { authenticate, requireScope } from './auth.ts';
import { auditRoutes } from './audit.ts';
import { analyticsRoutes } from './analytics.ts';
import { dashboardRoutes } from './dashboard.ts';
import type { TailHub } from '../analytics/tail-hub.ts';
import { certificateRoutes } from './certificates.ts';
import type { AcmeHook } from './certificates.ts';
import { ApiError, API_ERRORS, fail, validationErrors, type ApiErrorBody } from './envelope.ts';
import { internalRoutes } from './internal.ts';
import { buildOpenApi } from './openapi.ts';
import { purgeRoutes } from './purge.ts';
import { prewarmRoutes } from './prewarm.ts';
import type { PurgeRateLimit } from './purge.ts';
import type { BucketRate } from '../../lib/ratelimit/bucket.ts';
import { TokenRateLimit } from './limits.ts';
import { Router, ValidationFailure } from './router.ts';
import { ruleRoutes } from './rules.ts';
import { rulesetRoutes } from './rulesets.ts';
import { tokenRoutes } from './tokens.ts';
import { topologyRoutes } from './topology.ts';
import { zoneRoutes } from './zones.ts';

/** Largest request body (bytes): 1 MiB holds any zone, rule list or certificate chain. */
const BODY_LIMIT = 1024 * 1024;

export interface ApiOptions {
  store: ControlStore;
  version: string;
  /** Purge calls per zone (default DEFAULT_PURGE_RATE). */
  purgeRate?: PurgeRateLimit;
  /** API calls per token, node endpoints exempt (default DEFAULT_API_RATE). */
  apiRate?: BucketRate | undefined;
  /** Orders ACME certificates for POST .../custom_certificates {"type": "acme"}; absent: not configured. */
  acme?: AcmeHook | null;
  /** The registry /metrics serves (default: a new one); the ACME engine adds its metrics to it. */
  registry?: Registry;
  /** Serve HTTPS with this chain and key (PEM); absent or null: plain HTTP (behind a TLS proxy, or loopback). */
  https?: { cert: string; key: string } | null;
  /** Serve the dashboard (web/) at /dashboard/; default true. */
  dashboard?: boolean;
  /** Live tail subscribers (default: a new hub). */
  tailHub?: TailHub;
  /** Extra resources (purge, analytics) register here. */
  extend?: (router: Router) => void;
}

export function buildApi(options: ApiOptions): FastifyInstance {
  const { store } = options;
  // forceCloseConnections: event streams are endless; shutdown must not wait for them.
  const app = Fastify({
    logger: false,
    bodyLimit: BODY_LIMIT,
    trustProxy: false,
    forceCloseConnections: true,
    // RFC 8446 / 5246 only: the nodes and the CLI are ours, nothing older needs to connect.
    ...(options.https ? { https: { ...options.https, minVersion: 'TLSv1.2' as const } } : {}),
  }) as unknown as FastifyInstance;
  acceptJsonBodies(app);
  const router = new Router(app, store, new TokenRateLimit(options.apiRate));
  zoneRoutes(router, store, { onSaved: (zone) => options.acme?.zoneSaved?.(zone) });
  ruleRoutes(router, store);
  purgeRoutes(router, store, options.purgeRate);
  tokenRoutes(router, store);
  topologyRoutes(router, store);
  auditRoutes(router, store);
  certificateRoutes(router, store, { acme: options.acme ?? null });
  internalRoutes(router, store);
  prewarmRoutes(router, store);
  workerRoutes(router, store);
  acceptKvValueBodies(app);
  kvRoutes(router, store);
  workerInternalRoutes(router, store);
  analyticsRoutes(router, store, options.tailHub);
  rulesetRoutes(router, store);
  options.extend?.(router);

  const openapi = buildOpenApi(router.routes, options.version);
  app.get('/client/v4/openapi.json', async (_req, reply) => reply.send(openapi));
  app.get('/healthz', async (_req, reply) => reply.send({ status: 'ok' }));
  if (options.dashboard !== false) dashboardRoutes(app);

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
    const parser = parserError(err);
    if (parser !== null) return fail(reply, parser.status, [parser.body]);
    app.log.error(err);
    return fail(reply, 500, [{ code: API_ERRORS.internal, message: 'internal error' }]);
  });
  return app;
}

/**
 * application/json only (no text/plain), and an empty body is "no body": `curl -X DELETE -H
 * 'Content-Type: application/json'` (and clients that always send the header) must not fail where
 * the route takes no body. A route that needs one still answers "(body): expected a JSON object".
 */
function acceptJsonBodies(app: FastifyInstance): void {
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    if ((body as string).trim() === '') return done(null, undefined);
    json(req, body as string, done);
  });
}

/** Fastify's own client errors (before any route runs) in the envelope, each with its documented code. */
function parserError(err: unknown): { status: number; body: ApiErrorBody } | null {
  const { code, statusCode, message } = err as { code?: string; statusCode?: number; message?: string };
  const as = (status: number, apiCode: number, text: string) => ({
    status,
    body: { code: apiCode, message: `(body): ${text}` },
  });
  switch (code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return as(400, API_ERRORS.malformed_body, 'not valid JSON');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return as(415, API_ERRORS.unsupported_media_type, 'expected Content-Type: application/json');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return as(413, API_ERRORS.body_too_large, `larger than ${BODY_LIMIT} bytes`);
    default:
      if (statusCode !== undefined && statusCode >= 400 && statusCode < 500)
        return as(statusCode, API_ERRORS.validation, message ?? 'invalid');
      return null;
  }
}
