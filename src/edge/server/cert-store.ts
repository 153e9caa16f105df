// The node's certificate store: which certificate a TLS handshake gets, chosen by SNI.
// CONTRACT (skeleton): the listener (server/https.ts) uses only `sniCallback` and `defaultContext()`;
// the full store (exact beats wildcard, expired never chosen while a valid one exists, managed
// certificates followed through the event log, OCSP stapling, shared ticket keys) replaces this body.
import { createSecureContext, type SecureContext } from 'node:tls';

export interface CertStoreOptions {
  /** A ClientHello for a name no certificate covers (or without SNI): the default certificate, or an alert. */
  unknownSni: 'default' | 'reject';
}

/** One certificate the node can serve. */
export interface ServedCertificate {
  id: string;
  /** DNS names covered, lower case; "*.example.com" covers one label. */
  hosts: string[];
  notBeforeMs: number;
  notAfterMs: number;
  context: SecureContext;
}

export class CertStore {
  readonly #options: CertStoreOptions;
  readonly #byId = new Map<string, ServedCertificate>();
  #default: SecureContext | null = null;

  constructor(options: CertStoreOptions) {
    this.#options = options;
  }

  /** Sets the default certificate (standalone --tls-cert/--tls-key, or a node's own). */
  setDefault(certPem: string, keyPem: string): void {
    this.#default = createSecureContext({ cert: certPem, key: keyPem });
  }

  defaultContext(): SecureContext | null {
    return this.#default;
  }

  put(cert: ServedCertificate): void {
    this.#byId.set(cert.id, cert);
  }

  delete(id: string): void {
    this.#byId.delete(id);
  }

  /**
   * The zone's origin_client certificate (authenticated origin pulls), chain and key PEM; null when
   * it has none. Skeleton: none yet. The upstream pools key their connections by the returned
   * object's content (remembered per object), so return the same object until the certificate changes.
   */
  clientCertificateFor(_zoneId: string): { cert: string; key: string } | null {
    return null;
  }

  /** For tls.createServer's SNICallback. */
  readonly sniCallback = (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void): void => {
    const name = servername.toLowerCase();
    for (const cert of this.#byId.values()) {
      if (cert.hosts.includes(name)) return cb(null, cert.context);
    }
    if (this.#options.unknownSni === 'default' && this.#default !== null) return cb(null, this.#default);
    cb(new Error(`no certificate for ${servername}`));
  };
}
