// The ACME engine's view of the rest of the control plane. The engine (acme-manager.ts) speaks ACME
// (RFC 8555) to the CA; everything it keeps or announces goes through AcmeDeps, which the control
// plane backs with its store: the account key sealed as a cluster key, challenges as
// acme.challenge.upsert/delete events in the log (every edge node answers them), certificates in the
// certificate store (certificate.upsert). memory-deps.ts is the in-memory reference implementation.
import type { AcmeChallenge, CertificateMeta } from '../../common/config/certificate.ts';
import type { Zone } from '../../common/config/zone.ts';

/** A zone whose certificate the engine keeps (settings.acme, or an acme order through the API). */
export interface ManagedZone {
  zone: Zone;
  /** The zone's current ACME certificate (the newest; null: none yet, issue now). */
  current: CertificateMeta | null;
}

/** What an order produced, for the store to keep (the key encrypted at rest, never logged). */
export interface IssuedCertificate {
  zoneId: string;
  /** The DNS names the order covered (the zone's non-wildcard hostnames, lower case). */
  hosts: string[];
  /** PEM chain, leaf first. */
  certificate: string;
  /** PEM (PKCS#8), ECDSA P-256. */
  privateKey: string;
  /**
   * The id of the zone's `current` certificate as managed() gave it (the one renewed, or a pending
   * or failed placeholder): the store replaces it. Null for a first issue.
   */
  replaces: string | null;
}

export interface AcmeDeps {
  /** The ACME account key (PEM), or null before the first start: the engine makes one and saves it. */
  loadAccountKey(): Promise<string | null>;
  saveAccountKey(pem: string): Promise<void>;

  /** Makes the challenge answerable by every edge node (appends acme.challenge.upsert). */
  publishChallenge(challenge: AcmeChallenge): Promise<void>;
  /** Stops the nodes answering it (appends acme.challenge.delete); also after a failed order. */
  withdrawChallenge(token: string): Promise<void>;
  /**
   * True once the nodes answer these challenges, so the CA is told to validate only then (a CA that
   * finds no answer marks the authorization invalid and the order is lost). The control store answers
   * from the nodes' heartbeats (every node that is up has applied the events' seq); the in-memory
   * implementation fetches the challenge URLs through an edge. Polled until true or the
   * propagation timeout, which fails the attempt (and retries later) without asking the CA.
   */
  challengesVisible(challenges: readonly AcmeChallenge[]): Promise<boolean>;

  /** Stores an issued certificate (certificate.upsert; the old one, when replaced, goes). */
  saveCertificate(issued: IssuedCertificate): Promise<CertificateMeta>;
  /**
   * Records that the zone's order failed (the API shows status error and this message). A
   * certificate that is still valid keeps serving and stays `current` with status active: the
   * engine renews it (replaces = its id) when a retry succeeds.
   */
  markFailed(zoneId: string, message: string): Promise<void>;

  /**
   * Every zone the engine keeps a certificate for (settings.acme, or an acme order through the
   * API), with its current ACME certificate: the newest active one, else a pending or error
   * placeholder, else null. A saved certificate must show here on the next call.
   */
  managed(): Promise<ManagedZone[]>;

  /**
   * Optional: the zone's order lock across control-plane replicas (several on one PostgreSQL).
   * Resolves with its release, or null when another replica is ordering for the zone (this one
   * then looks again at the next rescan, when it will usually find the new certificate). Without
   * it, orders are one at a time per zone within this process only.
   */
  lockZone?(zoneId: string): Promise<(() => Promise<void>) | null>;

  now(): Date;
}

export interface AcmeManagerOptions {
  /** The CA's directory, e.g. pebble's https://127.0.0.1:14000/dir. Never the real Let's Encrypt in tests. */
  directoryUrl: string;
  /** PEM of the root that signs the directory's HTTPS certificate (pebble's own), when not a public one. */
  directoryCa?: string;
  /** Account contact (mailto:). */
  email?: string;
  deps: AcmeDeps;
  /** First retry delay after a failed order (default 60 s); doubles per failure up to retryMaxMs. */
  retryBaseMs?: number;
  /** Longest retry delay (default 6 h). */
  retryMaxMs?: number;
  /** How often the list of managed zones is read again (default 60 s). */
  rescanMs?: number;
  /** How long the engine waits for the nodes to answer a challenge (default 60 s). */
  propagationTimeoutMs?: number;
  /** How often it polls the CA and challengesVisible (default 1 s). */
  pollMs?: number;
}

/** What the engine knows about one zone (for /metrics, logs and tests). */
export interface ZoneAcmeState {
  zoneId: string;
  zoneName: string;
  /** When the next order runs (ISO): the renewal time, a retry, or now. */
  nextAttemptAt: string;
  /** Why it runs then. */
  reason: 'issue' | 'renew' | 'retry' | 'hosts-changed' | 'busy-elsewhere';
  /** Failures in a row since the last success (reset by an issue). */
  failures: number;
  /** The delay before the current retry (ms; 0 when not retrying). */
  retryDelayMs: number;
  lastError: string | null;
  /** The order in progress, if any. */
  ordering: boolean;
}
