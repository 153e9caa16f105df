// The node's certificate store: which certificate a TLS handshake gets, chosen by SNI.
//
// The listener (server/https.ts) hands `sniCallback` to the TLS server and calls `attach(server)`
// once, which puts the default certificate in the server's base context (what a ClientHello without
// SNI gets) and keeps it current across reloads. Certificates come from the standalone files
// (tls/standalone-source.ts) and the control plane (tls/managed-source.ts); every change is a Map
// update, so new handshakes see it at once and established connections keep what they negotiated.
import type { X509Certificate } from 'node:crypto';
import { createSecureContext, type SecureContext, type SecureContextOptions, type Server } from 'node:tls';
import type { CertificateUsage } from '../../common/config/certificate.ts';
import { loadCertificatePair, type CertificatePair } from '../tls/certificate-pair.ts';
import { SniIndex, type SniMatch } from '../tls/sni-index.ts';

export interface CertStoreOptions {
  /** A ClientHello for a name no certificate covers (or without SNI): the default certificate, or an alert. */
  unknownSni: 'default' | 'reject';
  /**
   * The listener's TLS settings (ciphers, groups, sigalgs, versions): every context is built with
   * them, since a handshake that switches context by SNI takes some of them from the new one.
   */
  contextOptions?: SecureContextOptions;
  /** Clock (tests). */
  now?: () => number;
}

/** One certificate the node can serve. */
export interface ServedCertificate {
  id: string;
  /** DNS names covered, lower case; "*.example.com" covers one label. */
  hosts: string[];
  notBeforeMs: number;
  notAfterMs: number;
  context: SecureContext;
  /** server (default): offered by SNI; origin_client: the zone's client certificate to its origins. */
  usage?: CertificateUsage;
  zoneId?: string;
  /** The leaf and its issuer (OCSP stapling, metrics); absent for contexts built elsewhere. */
  leaf?: X509Certificate;
  issuer?: X509Certificate | null;
  /** PEM chain and key: kept for origin_client certificates, which undici needs as PEM. */
  certPem?: string;
  keyPem?: string;
}

export const DEFAULT_CERTIFICATE_ID = 'default';

export type StoreChange =
  { kind: 'put'; cert: ServedCertificate } | { kind: 'delete'; cert: ServedCertificate };

/** What the store saw, for /metrics (plain numbers on the hot path). */
export interface SniCounts {
  exact: number;
  wildcard: number;
  default: number;
  rejected: number;
}

export class CertStore {
  readonly #options: CertStoreOptions;
  readonly #now: () => number;
  readonly #sni = new SniIndex<ServedCertificate>();
  /** origin_client certificates: zone id → id → certificate. */
  readonly #clientByZone = new Map<string, Map<string, ServedCertificate>>();
  readonly #listeners = new Set<(change: StoreChange) => void>();
  /** Attached servers and the TLS settings they were created with (kept across base-context rebuilds). */
  readonly #servers = new Map<Server, SecureContextOptions>();
  #default: ServedCertificate | null = null;
  /** Built once: a context with no certificate, so OpenSSL ends the handshake with an alert. */
  #refusal: SecureContext | null = null;
  readonly counts: SniCounts = { exact: 0, wildcard: 0, default: 0, rejected: 0 };

  constructor(options: CertStoreOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  get unknownSni(): 'default' | 'reject' {
    return this.#options.unknownSni;
  }

  /** Checks a PEM chain (leaf first) and key and builds the context; throws CertificatePairError. */
  load(certPem: string, keyPem: string): CertificatePair {
    return loadCertificatePair(certPem, keyPem, this.#options.contextOptions);
  }

  /** Sets the default certificate (standalone --tls-cert/--tls-key); throws and keeps the old one on a bad pair. */
  setDefault(certPem: string, keyPem: string): CertificatePair {
    const pair = this.load(certPem, keyPem);
    const served = servedOf(DEFAULT_CERTIFICATE_ID, pair, 'server', undefined);
    const old = this.#default;
    this.#default = served;
    for (const server of this.#servers.keys()) this.#applyBase(server);
    if (old !== null) this.#emit({ kind: 'delete', cert: old });
    this.#emit({ kind: 'put', cert: served });
    return pair;
  }

  defaultContext(): SecureContext | null {
    return this.#default?.context ?? null;
  }

  /** Adds or replaces (by id) a certificate built from PEM; throws CertificatePairError on a bad pair. */
  putPem(
    meta: { id: string; usage: CertificateUsage; zoneId?: string },
    certPem: string,
    keyPem: string,
  ): ServedCertificate {
    const served = servedOf(meta.id, this.load(certPem, keyPem), meta.usage, meta.zoneId);
    this.put(served);
    return served;
  }

  /** Adds or replaces (by id) a certificate: new handshakes get it from now on. */
  put(cert: ServedCertificate): void {
    const old = this.#remove(cert.id);
    if (cert.usage === 'origin_client') {
      const zone = cert.zoneId ?? '';
      let certs = this.#clientByZone.get(zone);
      if (certs === undefined) this.#clientByZone.set(zone, (certs = new Map()));
      certs.set(cert.id, cert);
    } else {
      this.#sni.put(cert);
    }
    if (old !== null) this.#emit({ kind: 'delete', cert: old });
    this.#emit({ kind: 'put', cert });
  }

  delete(id: string): void {
    const old = this.#remove(id);
    if (old !== null) this.#emit({ kind: 'delete', cert: old });
  }

  get(id: string): ServedCertificate | undefined {
    if (id === DEFAULT_CERTIFICATE_ID) return this.#default ?? undefined;
    if (this.#sni.get(id) !== undefined) return this.#sni.get(id);
    for (const certs of this.#clientByZone.values()) if (certs.has(id)) return certs.get(id);
    return undefined;
  }

  /** Every certificate held (the default first), for metrics and OCSP. */
  *all(): Generator<ServedCertificate> {
    if (this.#default !== null) yield this.#default;
    yield* this.#sni.values();
    for (const certs of this.#clientByZone.values()) yield* certs.values();
  }

  /** The zone's client certificate for authenticated origin pulls (mTLS), or null. */
  readonly #clientPairs = new WeakMap<ServedCertificate, { cert: string; key: string }>();

  clientCertificateFor(zoneId: string): { cert: string; key: string } | null {
    // Few per zone (one, two while it is renewed): the valid one expiring last.
    let c: ServedCertificate | null = null;
    const now = this.#now();
    for (const x of this.#clientByZone.get(zoneId)?.values() ?? []) {
      if (x.notBeforeMs <= now && now < x.notAfterMs && (c === null || x.notAfterMs > c.notAfterMs)) c = x;
    }
    if (c?.certPem === undefined || c.keyPem === undefined) return null;
    // The same object until the certificate changes: the upstream pools key connections by it.
    let pair = this.#clientPairs.get(c);
    if (pair === undefined) {
      pair = { cert: c.certPem, key: c.keyPem };
      this.#clientPairs.set(c, pair);
    }
    return pair;
  }

  /** Calls `listener` on every later change (the returned function stops it). */
  subscribe(listener: (change: StoreChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** What a handshake for `servername` gets: a context, or null (refused). */
  contextFor(servername: string): { context: SecureContext; match: SniMatch | 'default' } | null {
    const choice = this.#sni.select(servername, this.#now());
    if (choice !== null) return { context: choice.candidate.context, match: choice.match };
    if (this.#options.unknownSni === 'default' && this.#default !== null)
      return { context: this.#default.context, match: 'default' };
    return null;
  }

  /** For tls.createServer's SNICallback (called only when the ClientHello carries SNI). */
  readonly sniCallback = (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void): void => {
    const found = this.contextFor(servername);
    if (found !== null) {
      this.counts[found.match]++;
      cb(null, found.context);
      return;
    }
    this.counts.rejected++;
    // Node destroys the socket without any alert when SNICallback gives an error (the client sees a
    // reset). A context without a certificate makes OpenSSL end the handshake properly, with a fatal
    // handshake_failure alert (40); Node offers no way to send unrecognized_name (112, RFC 6066 §3).
    cb(null, this.#refusalContext());
  };

  /**
   * Makes `server`'s base context (used when the ClientHello has no SNI) serve the default
   * certificate — or none, so the handshake is refused, in reject mode or without a default — and
   * keeps it so when the default is reloaded.
   */
  attach(server: Server): void {
    this.#servers.set(server, settingsOf(server));
    server.once('close', () => this.#servers.delete(server));
    this.#applyBase(server);
  }

  #applyBase(server: Server): void {
    const d = this.#options.unknownSni === 'default' ? this.#default : null;
    // setSecureContext builds a new base context: the ticket keys live there, so carry them over.
    const ticketKeys = server.getTicketKeys();
    server.setSecureContext({
      ...this.#servers.get(server),
      ...this.#options.contextOptions,
      ...(d?.certPem === undefined || d.keyPem === undefined ? {} : { cert: d.certPem, key: d.keyPem }),
    });
    server.setTicketKeys(ticketKeys);
  }

  #refusalContext(): SecureContext {
    this.#refusal ??= createSecureContext({ ...this.#options.contextOptions });
    return this.#refusal;
  }

  #remove(id: string): ServedCertificate | null {
    const fromSni = this.#sni.delete(id);
    if (fromSni !== undefined) return fromSni;
    for (const [zone, certs] of this.#clientByZone) {
      const c = certs.get(id);
      if (c === undefined) continue;
      certs.delete(id);
      if (certs.size === 0) this.#clientByZone.delete(zone);
      return c;
    }
    return null;
  }

  #emit(change: StoreChange): void {
    for (const listener of this.#listeners) listener(change);
  }
}

/** Settings a TLS server keeps from its creation options (Server.setSecureContext stores them on it). */
const SERVER_SETTINGS = [
  'ca',
  'ciphers',
  'sigalgs',
  'ecdhCurve',
  'dhparam',
  'minVersion',
  'maxVersion',
  'secureOptions',
  'secureProtocol',
  'honorCipherOrder',
  'sessionIdContext',
  'sessionTimeout',
  'crl',
] as const;

/**
 * The listener's own TLS settings, read back from the server: setSecureContext replaces all of them,
 * so rebuilding the base context with only a certificate would drop its ciphers and versions.
 */
function settingsOf(server: Server): SecureContextOptions {
  const fields = server as unknown as Record<string, unknown>;
  const settings: Record<string, unknown> = {};
  for (const name of SERVER_SETTINGS) if (fields[name] !== undefined) settings[name] = fields[name];
  return settings as SecureContextOptions;
}

function servedOf(
  id: string,
  pair: CertificatePair,
  usage: CertificateUsage,
  zoneId: string | undefined,
): ServedCertificate {
  return {
    id,
    hosts: pair.hosts,
    notBeforeMs: pair.notBeforeMs,
    notAfterMs: pair.notAfterMs,
    context: pair.context,
    usage,
    ...(zoneId === undefined ? {} : { zoneId }),
    leaf: pair.leaf,
    issuer: pair.issuer,
    certPem: pair.certPem,
    keyPem: pair.keyPem,
  };
}
