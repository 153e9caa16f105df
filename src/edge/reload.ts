// SIGHUP on an edge node (as nginx's `-s reload`): the settings re-read from the command line and its
// --config file are compared with the running ones. What the node reads per request or per fetch
// (the standalone origin and its TLS, the Host it sends, the fallback TTL, HSTS, origin timeouts)
// changes in place; what is bound at start (listeners, cache tiers, the control-plane link, the
// node's name) is reported as needing a restart and keeps its running value, never half-applied.
import type { EdgeConfig } from './config.ts';

export interface ReloadPlan {
  /** Flags whose new values apply now. */
  applied: string[];
  /** Flags that changed but only take effect on a restart (the running value stays). */
  restart: string[];
}

type Field = (config: EdgeConfig) => unknown;

/** Flag name → where it lives in EdgeConfig: applied at once. */
const LIVE: Record<string, Field> = {
  origin: (c) => c.origin?.href ?? null,
  'host-header': (c) => c.hostHeader,
  'hsts-max-age': (c) => c.hstsMaxAgeSec,
  'default-ttl': (c) => c.policy.defaultTtlSec,
  'origin-tls': (c) => c.upstreamTls.origin,
  'origin-client-cert': (c) => c.upstreamTls.originClientCert,
  'origin-timeout': (c) => c.timeouts.originHeadersMs,
  'body-timeout': (c) => c.timeouts.originBodyMs,
};

/** Bound at start: a change is logged as needing a restart. */
const AT_START: Record<string, Field> = {
  node: (c) => c.nodeName,
  listen: (c) => c.listen,
  'listen-tls': (c) => c.tls.listen,
  'tls-cert': (c) => [c.tls.certFile, c.tls.keyFile],
  'tls-unknown-sni': (c) => c.tls.unknownSni,
  'admin-listen': (c) => c.adminListen,
  control: (c) =>
    c.control === null
      ? null
      : { ...c.control, url: c.control.url.href, urls: c.control.urls?.map((u) => u.href) },
  'peer-ca': (c) => c.upstreamTls.peerCa,
  'cache-dir': (c) => c.cacheDir,
  'memory-cache-size': (c) => c.memoryCacheBytes,
  'disk-cache-size': (c) => c.diskCacheBytes,
  'max-object-size': (c) => c.maxObjectBytes,
  'disk-fsync': (c) => c.diskFsync,
  'connect-timeout': (c) => c.timeouts.connectMs,
  'client-header-timeout': (c) => c.timeouts.clientHeadersMs,
};

export function planReload(running: EdgeConfig, next: EdgeConfig): ReloadPlan {
  const changed = (fields: Record<string, Field>): string[] =>
    Object.entries(fields)
      .filter(([, read]) => JSON.stringify(read(running)) !== JSON.stringify(read(next)))
      .map(([flag]) => flag);
  const restart = changed(AT_START);
  // Standalone and managed are different nodes: switching is a restart, and nothing applies.
  if ((running.origin === null) !== (next.origin === null))
    return { applied: [], restart: ['origin', ...restart] };
  return { applied: changed(LIVE), restart };
}

/** Copies the live settings of `next` into the running config object (read per request and fetch). */
export function applyLive(running: EdgeConfig, next: EdgeConfig): void {
  running.origin = next.origin;
  running.hostHeader = next.hostHeader;
  running.hstsMaxAgeSec = next.hstsMaxAgeSec;
  running.policy = next.policy;
  running.upstreamTls = {
    ...running.upstreamTls,
    origin: next.upstreamTls.origin,
    originClientCert: next.upstreamTls.originClientCert,
  };
  running.timeouts.originHeadersMs = next.timeouts.originHeadersMs;
  running.timeouts.originBodyMs = next.timeouts.originBodyMs;
}
