// One undici Pool per upstream (an origin, or a peer node on an internal hop) and TLS identity:
// keep-alive connections, pipelining off, HTTP/1.1, bounded size. The node's origin health records
// (health.ts) live beside the pools, and their checks use them.
//
// An https:// upstream's pool carries its TLS settings (upstream/origin-tls.ts) in its key: the same
// origin URL with another CA, server name, verification or client certificate gets its own pool, so
// no request ever rides a connection that another zone's settings authenticated. When a zone's client
// certificate changes (renewed in the certificate store), the pool made with the old one is closed
// once its requests end and the next request builds one with the new certificate.
import type { Socket } from 'node:net';
import { buildConnector, Pool } from 'undici';
import type { Dispatcher } from 'undici';
import type { MeridianError } from '../../common/errors.ts';
import type { Logger } from '../../common/log.ts';
import { OriginHealthRegistry } from './health.ts';
import type { UpstreamRequest, UpstreamResponse } from './origin-client.ts';
import { sendUpstream } from './origin-client.ts';
import type { ClientCertificate, ClientCertSource, UpstreamTls } from './origin-tls.ts';
import { poolKeyOf, sniOf, upstreamTlsOf } from './origin-tls.ts';

export interface PoolOptions {
  connectTimeoutMs: number;
  /** Connections per origin. */
  connections: number;
  /** The node's client certificate for a zone (authenticated origin pulls). Default: none. */
  clientCertFor?: ClientCertSource;
  /** PEM CAs that issued the cluster's node certificates, for peers at https:// URLs; null: the system's. */
  peerCa?: string | null;
  log?: Logger;
}

/** Where a request goes: the URL's scheme, host and port, and how to speak TLS to it. */
export interface UpstreamTarget {
  readonly url: URL;
  readonly tls: UpstreamTls | null;
}

/** TLS failures are logged at most this often per upstream (a broken origin fails every request). */
const FAILURE_LOG_MS = 10_000;

export class UpstreamPools {
  readonly #pools = new Map<string, { dispatcher: Dispatcher; pool: Pool }>();
  /** The pool key in use for an upstream's settings without the client certificate (rotation). */
  readonly #current = new Map<string, string>();
  readonly #peers = new Map<string, UpstreamTarget>();
  readonly #warned = new Set<string>();
  readonly #loggedAt = new Map<string, number>();
  readonly #options: PoolOptions;
  readonly #clientCertFor: ClientCertSource;
  /** Health of the origins this node sends to: active checks and circuit breakers. */
  readonly health: OriginHealthRegistry;

  constructor(options: PoolOptions) {
    this.#options = options;
    this.#clientCertFor = options.clientCertFor ?? (() => null);
    this.health = new OriginHealthRegistry({ poolOf: (target) => this.get(target) });
  }

  /** The pool for an upstream and its TLS settings, created on first use. */
  get(target: UpstreamTarget): Dispatcher {
    const tls = target.tls;
    if (tls === null) return this.#entry(target.url.origin, target, null).dispatcher;
    const cert = tls.clientCertZone === null ? null : this.#clientCertOf(tls.clientCertZone);
    const key = poolKeyOf(target.url, tls, cert);
    const found = this.#pools.get(key);
    if (found !== undefined) return found.dispatcher;
    this.#retire(`${target.url.origin} ${tls.id}`, key);
    return this.#entry(key, target, cert).dispatcher;
  }

  /** A peer node's target: TLS verified against the cluster CA when its URL is https://. */
  peer(url: string): UpstreamTarget {
    let target = this.#peers.get(url);
    if (target === undefined) {
      const parsed = new URL(url);
      const ca = this.#options.peerCa ?? null;
      target = {
        url: parsed,
        tls: upstreamTlsOf(parsed, ca === null ? undefined : { ca, verify: true }, null),
      };
      if (this.#peers.size > 10_000) this.#peers.clear();
      this.#peers.set(url, target);
    }
    return target;
  }

  /** Sends one request; a TLS failure is logged (naming the upstream and the reason) and rethrown. */
  async send(
    target: UpstreamTarget,
    req: UpstreamRequest,
    kind: 'origin' | 'peer',
  ): Promise<UpstreamResponse> {
    try {
      return await sendUpstream(this.get(target), req);
    } catch (err) {
      const error = err as MeridianError;
      if (error.code === 'ORIGIN_TLS_FAILED') this.#logFailure(target, error, kind);
      throw err;
    }
  }

  async close(): Promise<void> {
    this.health.close();
    await Promise.all([...this.#pools.values()].map((entry) => entry.pool.close()));
    this.#pools.clear();
    this.#current.clear();
  }

  #entry(key: string, target: UpstreamTarget, cert: ClientCertificate | null) {
    let entry = this.#pools.get(key);
    if (entry === undefined) {
      entry = this.#create(target, cert);
      this.#pools.set(key, entry);
    }
    return entry;
  }

  #create(target: UpstreamTarget, cert: ClientCertificate | null): { dispatcher: Dispatcher; pool: Pool } {
    const { url, tls } = target;
    const timeout = this.#options.connectTimeoutMs;
    const base = {
      connections: this.#options.connections,
      keepAliveTimeout: 4_000,
      pipelining: 1,
      // HTTP/1.1 upstream, as nginx's proxy: one request per connection at a time, the pool's model.
      allowH2: false,
    };
    if (tls === null) {
      const pool = new Pool(url.origin, { ...base, connect: { timeout } });
      return { dispatcher: pool, pool };
    }
    if (!tls.verify) this.#warnInsecure(url);
    const sni = sniOf(url, tls);
    const connector = buildConnector({
      timeout,
      rejectUnauthorized: tls.verify,
      ...(tls.ca === null ? {} : { ca: tls.ca }),
      ...(cert === null ? {} : { cert: cert.cert, key: cert.key }),
      allowH2: false,
    });
    // undici takes SNI from each request's Host header unless told otherwise, and reconnects when it
    // changes; a proxy forwards its clients' Host. The server name is the upstream's (RFC 6066 §3,
    // none for an IP address: the certificate is then checked against the IP), set on every connect,
    // and one fixed name on every request keeps the pool's connections from being torn down.
    const pool = new Pool(url.origin, {
      ...base,
      connect: (opts, callback) =>
        connector({ ...opts, servername: sni ?? '' }, (err, socket) => {
          if (socket != null) keepTlsAlert(socket);
          // The connector's callback is a union of (error, null) and (null, socket).
          (callback as (e: Error | null, s: typeof socket) => void)(err, socket);
        }),
    });
    const servername = sni ?? url.hostname;
    const dispatcher = pool.compose(
      (dispatch) => (opts, handler) =>
        dispatch({ ...opts, servername } as Dispatcher.DispatchOptions, handler),
    );
    return { dispatcher, pool };
  }

  #clientCertOf(zoneId: string): ClientCertificate | null {
    const cert = this.#clientCertFor(zoneId);
    if (cert === null && !this.#warned.has(`cert ${zoneId}`)) {
      this.#warned.add(`cert ${zoneId}`);
      this.#options.log?.warn('authenticated origin pulls: the zone has no origin_client certificate', {
        zone: zoneId,
      });
    }
    return cert;
  }

  /** A new client certificate for an upstream: the old pool finishes its requests and closes. */
  #retire(base: string, key: string): void {
    const previous = this.#current.get(base);
    this.#current.set(base, key);
    if (previous === undefined || previous === key) return;
    const old = this.#pools.get(previous);
    this.#pools.delete(previous);
    old?.pool.close().catch(() => undefined);
  }

  #warnInsecure(url: URL): void {
    if (this.#warned.has(url.origin)) return;
    this.#warned.add(url.origin);
    this.#options.log?.warn('origin certificate not verified (tls.verify is false)', { origin: url.origin });
  }

  #logFailure(target: UpstreamTarget, error: MeridianError, kind: 'origin' | 'peer'): void {
    const key = `${kind} ${target.url.origin}`;
    const now = Date.now();
    if (now - (this.#loggedAt.get(key) ?? -Infinity) < FAILURE_LOG_MS) return;
    if (this.#loggedAt.size > 10_000) this.#loggedAt.clear();
    this.#loggedAt.set(key, now);
    const reason = (error.cause as { code?: string; message?: string } | undefined) ?? {};
    this.#options.log?.warn(`${kind} TLS failed`, {
      [kind]: target.url.origin,
      servername: target.tls === null ? undefined : (sniOf(target.url, target.tls) ?? undefined),
      reason: reason.code ?? 'unknown',
      detail: reason.message ?? error.message,
    });
  }
}

/**
 * TLS 1.3 (RFC 8446 §4.4.2): a server that refuses the client's certificate says so with an alert
 * after the client finished its handshake, so the alert comes as a socket error followed by the
 * end of the stream, and undici reports the end ("other side closed") instead of the alert. Ending
 * the socket at once on such an alert keeps the alert as the request's error: the refusal is then
 * ORIGIN_TLS_FAILED, named in the log, not an anonymous dropped connection.
 */
function keepTlsAlert(socket: Socket): void {
  let alert: Error | null = null;
  socket.prependListener('error', (err: Error & { code?: string }) => {
    if (alert === null && (err.code ?? '').startsWith('ERR_SSL_')) alert = err;
  });
  socket.prependListener('end', () => {
    if (alert !== null) socket.destroy();
  });
}
