// compute: a zone's edge worker may answer the request itself. Runs after filter, before lookup.
//
//   By default (the node runs no workers, the zone has no routes, or none matches) → lookup, at the
//   cost of one Map miss.
//   A route matches → the script runs in its isolate (edge/compute/) with the request; its Response
//   → deliver (Cache-Status detail "worker"). A throw or a broken limit → synth with
//   WORKER_EXCEPTION (500) or WORKER_LIMIT (503), or → lookup when the route says fail_open and the
//   request had no body (a consumed body cannot be sent to the origin again).
//   The worker's own sub-requests to its zone come back through this node marked with the
//   process's secret token (edge/compute/node-host.ts): they skip compute and go to lookup, so they
//   are answered through the cache. An internal hop from another node also skips it (the first
//   node ran the worker).
import type { Readable } from 'node:stream';
import { MeridianError } from '../../common/errors.ts';
import type { WorkerRequest } from '../compute/isolate.ts';
import { SUBREQUEST_HEADER, SUBREQUEST_TOKEN } from '../compute/node-host.ts';
import { matchRoute, type CompiledRoute } from '../compute/routes.ts';
import type { WorkerRegistry } from '../compute/registry.ts';
import type { RequestContext } from './context.ts';
import { hostWithoutPort } from './https-zone.ts';
import type { Next } from './steps.ts';

export function compute(ctx: RequestContext): Next<'compute'> | Promise<Next<'compute'>> {
  const workers = ctx.edge.compute;
  if (workers === null) return 'lookup';
  const marker = ctx.req.headers[SUBREQUEST_HEADER];
  if (marker !== undefined) {
    delete ctx.req.headers[SUBREQUEST_HEADER];
    if (typeof marker === 'string' && isOwnSubrequest(ctx, marker)) return 'lookup';
  }
  if (ctx.hop !== null) return 'lookup';
  const zone = ctx.zone;
  if (zone === null) return 'lookup';
  const routes = workers.routesFor(zone.zone.id);
  if (routes === undefined) return 'lookup';
  const route = matchRoute(routes, hostWithoutPort(ctx.host), ctx.path);
  if (route === null) return 'lookup';
  return runWorker(ctx, workers, route);
}

/** "<token> <scheme>": the node's own sub-request; its scheme is the URL's the worker fetched. */
function isOwnSubrequest(ctx: RequestContext, marker: string): boolean {
  const space = marker.indexOf(' ');
  if (space < 0 || marker.slice(0, space) !== SUBREQUEST_TOKEN) return false;
  const scheme = marker.slice(space + 1) === 'https' ? 'https' : 'http';
  if (scheme !== ctx.scheme && ctx.zone !== null) {
    ctx.scheme = scheme;
    ctx.decision = ctx.zone.decide({
      method: ctx.req.method ?? 'GET',
      host: ctx.host,
      target: ctx.path,
      headers: ctx.req.headers,
      scheme,
    });
    ctx.primaryKey = ctx.decision.primaryKey;
  }
  return true;
}

async function runWorker(
  ctx: RequestContext,
  workers: WorkerRegistry,
  route: CompiledRoute,
): Promise<Next<'compute'>> {
  const req = ctx.req;
  const method = req.method ?? 'GET';
  // The body streams into the worker as it reads it (request.body, text(), …).
  const hasBody = method !== 'GET' && method !== 'HEAD';
  const body = hasBody ? (ctx.req as Readable) : null;
  const zone = ctx.zone as NonNullable<RequestContext['zone']>;
  const outcome = await workers.run(
    zone.zone.id,
    route.route.script,
    requestOf(ctx, method, body),
    (work) => {
      work.catch(() => undefined);
    },
  );
  if (outcome !== null && outcome.kind === 'response') {
    const res = outcome.response;
    ctx.phase = 'pass';
    ctx.detail = 'worker';
    const now = Date.now();
    ctx.delivery =
      res.stream !== null
        ? {
            kind: 'upstream',
            response: {
              status: res.status,
              headers: headerMapOf(res.headers),
              body: res.stream,
              requestTimeMs: now,
              responseTimeMs: now,
            },
          }
        : {
            kind: 'buffered',
            response: {
              status: res.status,
              headers: headerMapOf(res.headers),
              body: Buffer.from(res.body ?? new ArrayBuffer(0)),
            },
          };
    return 'deliver';
  }
  const why = outcome === null ? `no script "${route.route.script}" is deployed` : outcome.message;
  if (route.route.fail_open && !hasBody) {
    ctx.detail = 'worker-failed-open';
    return 'lookup';
  }
  const isLimit = outcome !== null && outcome.reason !== 'exception';
  ctx.fail(
    new MeridianError(isLimit ? 'WORKER_LIMIT' : 'WORKER_EXCEPTION', `worker ${route.route.script}: ${why}`),
  );
  return 'synth';
}

function requestOf(ctx: RequestContext, method: string, body: Readable | null): WorkerRequest {
  const raw = ctx.req.rawHeaders;
  const headers: [string, string][] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    if (name.charCodeAt(0) === 58 /* ':' */ || name === SUBREQUEST_HEADER) continue;
    headers.push([name, raw[i + 1] as string]);
  }
  const clientIp = ctx.req.socket.remoteAddress ?? '';
  headers.push(['cf-connecting-ip', clientIp]);
  const cluster = ctx.edge.cluster;
  return {
    method,
    url: ctx.url(),
    headers,
    body,
    cf: {
      colo: cluster?.self.pop ?? null,
      node: ctx.edge.config.nodeName,
      clientIp,
      country: countryOf(ctx),
      httpProtocol: ctx.h2 ? 'HTTP/2' : `HTTP/1.${ctx.req.httpVersionMinor}`,
      tlsVersion: ctx.secure ? 'TLS' : null,
    },
  };
}

/** The client's country, when a trusted geo header is configured for the node (none by default). */
function countryOf(ctx: RequestContext): string | null {
  const header = ctx.edge.config.compute?.countryHeader ?? null;
  if (header === null) return null;
  const value = ctx.req.headers[header];
  return typeof value === 'string' && /^[A-Z]{2}$/.test(value) ? value : null;
}

function headerMapOf(pairs: readonly [string, string][]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of pairs) {
    const prior = out[name];
    out[name] = prior === undefined ? value : Array.isArray(prior) ? [...prior, value] : [prior, value];
  }
  return out;
}
