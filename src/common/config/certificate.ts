// TLS certificates: what the control plane stores (a chain and a private key, the key encrypted at
// rest) and what every node learns of them through the event log. Events and snapshots carry only
// this metadata; a node fetches the key material itself over its authenticated internal link
// (GET /internal/v1/certificates/{id}), which the control plane answers only for zones the node
// serves. So no private key ever sits in the event log (NATS keeps it on disk) or an event stream.

/** server: presented to clients by SNI. origin_client: the zone's client certificate to origins (mTLS). */
export type CertificateUsage = 'server' | 'origin_client';

/** custom: uploaded by the customer. acme: issued and renewed by the control plane. */
export type CertificateType = 'custom' | 'acme';

/** Shaped like Cloudflare's custom_certificates result (plus Meridian's own fields). */
export interface CertificateMeta {
  id: string;
  zone_id: string;
  usage: CertificateUsage;
  type: CertificateType;
  /** The DNS names the leaf certificate covers (subjectAltName DNS entries, lower case; may start "*."). */
  hosts: string[];
  /** The leaf's issuer (its distinguished name, one line). */
  issuer: string;
  /** "ECDSA" | "RSA" | "Ed25519" … (the leaf key's type). */
  signature: string;
  serial_number: string;
  /** SHA-256 fingerprint of the leaf (hex, colon-separated, like X509Certificate.fingerprint256). */
  fingerprint_sha256: string;
  /** ISO times of the leaf's validity. */
  not_before: string;
  expires_on: string;
  /** active: served; pending: ACME order in progress; expired; error (ACME failed; see message). */
  status: 'active' | 'pending' | 'expired' | 'error';
  uploaded_on: string;
  modified_on: string;
}

/** What a node fetches for a certificate it will use: the PEM chain (leaf first) and key. */
export interface CertificateMaterial {
  id: string;
  /** PEM, leaf first, then intermediates. */
  certificate: string;
  /** PEM (PKCS#8 or traditional). */
  private_key: string;
  /** ISO time the material was last changed (a node refetches when modified_on moves). */
  modified_on: string;
}

/** An ACME HTTP-01 challenge every edge node answers at /.well-known/acme-challenge/{token}. */
export interface AcmeChallenge {
  token: string;
  /** The body to answer with (token + "." + account key thumbprint). */
  key_authorization: string;
  /** ISO time after which nodes stop answering it. */
  expires_at: string;
}
