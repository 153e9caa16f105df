// Segment prefetch (fetch/streaming.ts, docs/media.md): background fills of the segments a playlist
// names, so that the players' next requests are hits. Each is an ordinary fetch task in the
// in-flight table (a player asking meanwhile joins it), keyed and routed as a client's request for
// the segment would be: the zone's key rules, the segment's owner in the PoP, the shield. Segments
// already stored or in flight are skipped; nothing waits for these fills.
import type { EdgeRuntime } from '../runtime.ts';
import { primaryKeyOf } from '../cache/key.ts';
import type { FetchSpec } from './fetch-task.ts';
import { FetchTask } from './fetch-task.ts';

/** Starts the fills; returns how many were started. */
export function prefetchSegments(
  runtime: EdgeRuntime,
  playlist: FetchSpec,
  paths: readonly string[],
): number {
  let url: URL;
  try {
    url = new URL(playlist.url);
  } catch {
    return 0;
  }
  const scheme = url.protocol === 'https:' ? 'https' : 'http';
  const host = url.host;
  const zone = runtime.resolveZone(url.hostname.replace(/^\[|\]$/g, ''));
  if (zone === undefined) return 0;
  const headers = playlist.clientHeaders;
  let started = 0;
  for (const path of paths) {
    const decision = zone.decide({ method: 'GET', host, target: path, headers, scheme });
    if (decision.bypass) continue;
    const found = runtime.cache.lookup(decision.primaryKey, headers, decision.keyExtra);
    if (found.kind === 'found') continue;
    const key = runtime.cache.variantKeyFor(decision.primaryKey, headers, decision.keyExtra);
    if (runtime.inflight.get(key) !== undefined) continue;
    const spec: FetchSpec = {
      ...playlist,
      primaryKey: decision.primaryKey,
      key,
      keyExtra: decision.keyExtra,
      rules: decision,
      url: primaryKeyOf(scheme, host, path),
      path,
      stored: null,
      background: true,
      route:
        runtime.cluster?.plan(zone.zone.shield_pop, decision.primaryKey, null, host, path, scheme) ?? null,
    };
    runtime.inflight.join(key, () => new FetchTask(runtime.fetchDeps, spec));
    started++;
  }
  return started;
}
