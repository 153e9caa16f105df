// Worker routes of one zone, compiled once per change: "shop.example/api/*" sends every request for
// that host whose path starts with /api/ to the route's script. Patterns follow Cloudflare's: an
// optional leading "*." matches the host and its subdomains, a trailing "*" makes the path a prefix,
// no path means every path of the host; the query never takes part. The most specific route wins
// (exact host over wildcard, then the longest path), so the order routes were added does not matter.
import type { WorkerRoute } from '../../common/config/worker.ts';

export interface CompiledRoute {
  readonly route: WorkerRoute;
  readonly host: string;
  readonly isWildcardHost: boolean;
  /** The path part ("" when the pattern has none: every path). */
  readonly path: string;
  readonly isPathPrefix: boolean;
}

export function compileRoutes(routes: readonly WorkerRoute[]): readonly CompiledRoute[] | null {
  if (routes.length === 0) return null;
  const compiled = routes.map(compileRoute);
  compiled.sort((a, b) => specificity(b) - specificity(a));
  return compiled;
}

function compileRoute(route: WorkerRoute): CompiledRoute {
  // "*" alone (never from the API, whose patterns name a host): every request, `meridian workers dev`.
  if (route.pattern === '*') return { route, host: '', isWildcardHost: true, path: '', isPathPrefix: true };
  const slash = route.pattern.indexOf('/');
  let host = slash < 0 ? route.pattern : route.pattern.slice(0, slash);
  let path = slash < 0 ? '' : route.pattern.slice(slash);
  const isWildcardHost = host.startsWith('*.');
  if (isWildcardHost) host = host.slice(2);
  let isPathPrefix = slash < 0;
  if (path.endsWith('*')) {
    path = path.slice(0, -1);
    isPathPrefix = true;
  }
  return { route, host: host.toLowerCase(), isWildcardHost, path, isPathPrefix };
}

function specificity(r: CompiledRoute): number {
  return (
    (r.isWildcardHost ? 0 : 1_000_000) + r.host.length * 1000 + r.path.length * 2 + (r.isPathPrefix ? 0 : 1)
  );
}

/** The route for a request (host without port, lower case; path without the query), or null. */
export function matchRoute(
  routes: readonly CompiledRoute[],
  host: string,
  pathAndQuery: string,
): CompiledRoute | null {
  const q = pathAndQuery.indexOf('?');
  const path = q < 0 ? pathAndQuery : pathAndQuery.slice(0, q);
  for (const r of routes) {
    if (r.host === '') return r; // "*": every request
    if (r.isWildcardHost ? !(host === r.host || host.endsWith(`.${r.host}`)) : host !== r.host) continue;
    if (r.isPathPrefix ? path.startsWith(r.path) : path === r.path) return r;
  }
  return null;
}
