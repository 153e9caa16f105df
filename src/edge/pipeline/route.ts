// route: strict checks on the request target and Host, then the cache key. Node's HTTP parser
// (llhttp, strict mode) has already refused framing attacks: Content-Length with
// Transfer-Encoding, bad or duplicate Content-Length, obsolete line folding, invalid field names
// and values (see server/client-errors.ts for the status each gets). HTTP/2 requests (node:http2's
// compatibility API) name their host in :authority (RFC 9113 §8.3.1). The request's scheme is the
// connection's, never a client's claim (:scheme, X-Forwarded-Proto), except on a verified internal hop.
import { MeridianError } from '../../common/errors.ts';
import { answerAcmeChallenge } from '../acme/answer.ts';
import { normalizeHost } from '../cache/key.ts';
import { HOP_HEADER, MAX_HOPS, type Hop } from '../cluster/hop.ts';
import { normalizeTarget } from '../security/poisoning.ts';
import type { RequestContext } from './context.ts';
import { hostWithoutPort, redirectsToHttps } from './https-zone.ts';
import type { Next } from './steps.ts';

/** reg-name / IPv4 / [IPv6] with an optional port (RFC 9110 §7.2, RFC 3986 §3.2.2). */
const HOST =
  /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.?|\[[0-9a-f:.]+\])(?::\d{1,5})?$/i;

export function route(ctx: RequestContext): Next<'route'> | Promise<Next<'route'>> {
  const req = ctx.req;
  const target = req.url ?? '';
  if (target.length > ctx.edge.config.limits.maxUriBytes) {
    ctx.fail(
      new MeridianError(
        'URI_TOO_LONG',
        `request target longer than ${ctx.edge.config.limits.maxUriBytes} bytes`,
      ),
    );
    return 'synth';
  }
  const host = hostOf(ctx);
  if (host === null) return 'synth';
  let path = target;
  if (target.charCodeAt(0) !== 47 /* '/' */) {
    path = pathOfAbsoluteForm(ctx, target, host) ?? '';
    if (path === '') return 'synth';
  }
  // Dot segments and needless escapes out of the key and the origin's path (security/poisoning.ts).
  const normalized = normalizeTarget(path);
  if (normalized === null) {
    ctx.fail(new MeridianError('BAD_REQUEST', 'an encoded slash next to a dot segment in the path'));
    return 'synth';
  }
  path = normalized;
  ctx.host = host;
  ctx.path = path;
  // Before the zone, its cache and its HTTPS redirect: the CA must get the answer itself (§8.3).
  if (path.charCodeAt(1) === 46 /* '.' */ && answerAcmeChallenge(ctx)) return 'log';
  if (ctx.sibling) {
    // A sibling worker's fill (its secret was checked on the sibling listener): the scheme the client
    // used is the sibling's to state, and the answer is an internal one (the head as stored).
    ctx.scheme = req.headers['x-forwarded-proto'] === 'https' ? 'https' : 'http';
    ctx.hop = SIBLING_HOP;
  }
  const cluster = ctx.edge.cluster;
  if (cluster !== null) {
    if (isLoop(ctx)) return 'synth';
    const raw = req.headers[HOP_HEADER];
    if (typeof raw === 'string') {
      // The first node's scheme travels as X-Forwarded-Proto, and the hop's signature covers it.
      const scheme = req.headers['x-forwarded-proto'] === 'https' ? 'https' : 'http';
      const hop = cluster.verify(raw, req.method ?? 'GET', host, path, scheme);
      if (hop !== null) {
        ctx.scheme = scheme;
        if (hop.path.length >= MAX_HOPS || hop.path.some((s) => s.node === cluster.self.name)) {
          ctx.fail(
            new MeridianError('LOOP_DETECTED', `the request already went through ${cluster.self.name}`),
          );
          return 'synth';
        }
        ctx.hop = hop;
        // The sender applied every purge up to hop.seq: answer from this cache only once this node has too.
        if (hop.seq > cluster.seq) {
          return cluster.waitForSeq(hop.seq, HOP_SEQ_WAIT_MS).then((caughtUp) => {
            if (!caughtUp) ctx.hopBehind = true;
            return zoneStep(ctx, host, path);
          });
        }
      }
    }
  }
  return zoneStep(ctx, host, path);
}

/** A hop inside the node (worker to worker): no path yet, so the PoP routing still applies. */
const SIBLING_HOP: Hop = Object.freeze({ path: [], seq: 0, ts: 0 }) as Hop;

/** How long a hop waits for this node to apply the sender's sequence before bypassing its cache. */
const HOP_SEQ_WAIT_MS = 2_000;

/**
 * Managed mode: a request whose Via already names this node came back through an origin that
 * points at the CDN itself (node names are unique in a cluster); refused with 508 instead of
 * looping until sockets run out. A client forging such a Via only refuses its own request.
 */
function isLoop(ctx: RequestContext): boolean {
  const via = ctx.req.headers.via;
  if (via === undefined) return false;
  const name = ctx.edge.cluster?.self.name;
  for (const entry of via.split(',')) {
    const parts = entry.trim().split(/\s+/);
    if (parts[1] === name) {
      ctx.fail(new MeridianError('LOOP_DETECTED', `the request already went through ${name} (Via)`));
      return true;
    }
  }
  return false;
}

function zoneStep(ctx: RequestContext, host: string, path: string): Next<'route'> {
  const req = ctx.req;
  const zone = ctx.edge.resolveZone(hostWithoutPort(host));
  if (zone === undefined) {
    ctx.fail(
      ctx.edge.isReady()
        ? new MeridianError('MISDIRECTED', `no zone serves ${host} here`)
        : new MeridianError('NOT_READY', 'this node is still loading its configuration'),
    );
    return 'synth';
  }
  const decision = zone.decide({
    method: req.method ?? 'GET',
    host,
    target: path,
    headers: req.headers,
    scheme: ctx.scheme,
  });
  ctx.zone = zone;
  ctx.decision = decision;
  ctx.primaryKey = decision.primaryKey;
  // After the zone is known, before the cache: a redirected request never reads or fills it.
  if (redirectsToHttps(ctx)) return 'synth';
  return 'filter';
}

/** RFC 9112 §3.2: exactly one valid Host; HTTP/1.0 without Host falls back to the origin's. */
function hostOf(ctx: RequestContext): string | null {
  if (ctx.h2) return authorityOf(ctx);
  const raw = ctx.req.rawHeaders;
  let host: string | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length !== 4 || name.toLowerCase() !== 'host') continue;
    if (host !== null) {
      ctx.fail(new MeridianError('BAD_REQUEST', 'more than one Host header'));
      return null;
    }
    host = raw[i + 1] as string;
  }
  if (host === null) return ctx.edge.defaultHost;
  if (!HOST.test(host)) {
    ctx.fail(new MeridianError('BAD_REQUEST', 'invalid Host header'));
    return null;
  }
  return normalizeHost(host, ctx.scheme);
}

/**
 * RFC 9113 §8.3.1: the host is :authority, or Host when a client sends no :authority; a request with
 * both must name the same authority (else it is malformed), and one with neither names no host.
 */
function authorityOf(ctx: RequestContext): string | null {
  const headers = ctx.req.headers;
  const authority = headers[':authority'];
  const host = headers.host;
  if (Array.isArray(host) || Array.isArray(authority)) {
    ctx.fail(new MeridianError('BAD_REQUEST', 'more than one Host header'));
    return null;
  }
  const value = authority ?? host;
  if (value === undefined || !HOST.test(value)) {
    ctx.fail(
      new MeridianError('BAD_REQUEST', value === undefined ? 'no :authority or Host' : 'invalid :authority'),
    );
    return null;
  }
  const normalized = normalizeHost(value, ctx.scheme);
  if (authority !== undefined && host !== undefined && normalizeHost(host, ctx.scheme) !== normalized) {
    ctx.fail(new MeridianError('BAD_REQUEST', ':authority and Host name different hosts'));
    return null;
  }
  return normalized;
}

/** RFC 9112 §3.2.2: an absolute-form target is accepted only for the host the request names. */
function pathOfAbsoluteForm(ctx: RequestContext, target: string, host: string): string | null {
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    ctx.fail(new MeridianError('BAD_REQUEST', 'invalid request target'));
    return null;
  }
  if (
    (url.protocol !== 'http:' && url.protocol !== 'https:') ||
    normalizeHost(url.host, ctx.scheme) !== host
  ) {
    ctx.fail(new MeridianError('BAD_REQUEST', 'absolute-form target for another host'));
    return null;
  }
  return `${url.pathname}${url.search}`;
}
