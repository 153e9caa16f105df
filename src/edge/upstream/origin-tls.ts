// How the edge connects to an https:// upstream (an origin or a peer node): the CAs that verify its
// certificate, the name sent in SNI and checked against that certificate, and the client certificate
// presented for authenticated origin pulls. Computed once per origin when a zone is compiled; the
// client certificate itself is looked up per connection pool (it follows the node's certificate
// store, so a renewed certificate takes effect without recompiling the zone).
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import type { OriginTls } from '../../common/config/zone.ts';

export interface UpstreamTls {
  /** PEM CAs to verify with instead of the system's; null: the system's (Node's bundled Mozilla list). */
  readonly ca: string | null;
  /**
   * The name sent in SNI and verified against the certificate; null: the URL's host. RFC 6066 §3:
   * an IP address is never sent as a server name, and is verified against the IP SANs instead.
   */
  readonly servername: string | null;
  /** false: any certificate is accepted (testing only; logged once per origin). */
  readonly verify: boolean;
  /** The zone whose origin_client certificate is presented (authenticated origin pulls); null: none. */
  readonly clientCertZone: string | null;
  /** Identity of these settings, for pool and health keys: equal ids mean interchangeable connections. */
  readonly id: string;
}

/** A client certificate chain (leaf first) and its private key, PEM. */
export interface ClientCertificate {
  readonly cert: string;
  readonly key: string;
}

/** The node's client certificate for a zone (authenticated origin pulls); null when it has none. */
export type ClientCertSource = (zoneId: string) => ClientCertificate | null;

/** The TLS settings of an upstream URL; null for http:// (nothing to set up). */
export function upstreamTlsOf(
  url: URL,
  tls: OriginTls | undefined,
  clientCertZone: string | null,
): UpstreamTls | null {
  if (url.protocol !== 'https:') return null;
  const ca = tls?.ca ?? null;
  const servername = tls?.servername ?? null;
  const verify = tls?.verify ?? true;
  const id = [
    ca === null ? 'system' : sha256(ca).slice(0, 16),
    servername ?? '-',
    verify ? 'verify' : 'insecure',
    clientCertZone ?? '-',
  ].join('/');
  return Object.freeze({ ca, servername, verify, clientCertZone, id });
}

/** The server name sent in SNI for a URL with these settings; null: none (an IP address). */
export function sniOf(url: URL, tls: UpstreamTls): string | null {
  if (tls.servername !== null) return tls.servername;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return isIP(host) === 0 ? host : null;
}

/**
 * The pool that serves `url` with these settings and this client certificate. Two zones with the
 * same origin URL but another CA, server name, verification or client certificate never share a
 * connection: the connection's TLS session is what authenticated it.
 */
export function poolKeyOf(url: URL, tls: UpstreamTls | null, clientCert: ClientCertificate | null): string {
  if (tls === null) return url.origin;
  return `${url.origin} ${tls.id} ${clientCert === null ? '-' : clientCertIdOf(clientCert)}`;
}

const certIds = new WeakMap<ClientCertificate, string>();

/** The client certificate's SHA-256 fingerprint, remembered per object (the store hands out the same one). */
export function clientCertIdOf(cert: ClientCertificate): string {
  let id = certIds.get(cert);
  if (id === undefined) {
    // The key is hashed too: a certificate re-issued for a new key with the same leaf cannot occur,
    // but a store entry whose key changed must not reuse connections made with the old one.
    id = sha256(`${cert.cert}\n${cert.key}`).slice(0, 24);
    certIds.set(cert, id);
  }
  return id;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
