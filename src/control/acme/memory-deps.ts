// AcmeDeps kept in memory: the reference implementation of the contract (types.ts) and what the
// tests run the engine with. Only the storage is in memory; the challenges go wherever `challenges`
// says (by default nowhere but this object: pass the control store's or an edge's), and visibility
// is checked by fetching the challenge URLs through real edge nodes (visibleThrough).
import { randomUUID, X509Certificate } from 'node:crypto';
import type { AcmeChallenge, CertificateMeta } from '../../common/config/certificate.ts';
import type { Zone } from '../../common/config/zone.ts';
import type { AcmeDeps, IssuedCertificate, ManagedZone } from './types.ts';

export interface ChallengeSink {
  publish(challenge: AcmeChallenge): Promise<void>;
  withdraw(token: string): Promise<void>;
  visible(challenges: readonly AcmeChallenge[]): Promise<boolean>;
}

export interface MemoryAcmeDepsOptions {
  zones: Zone[];
  challenges?: ChallengeSink;
  now?: () => Date;
}

/** A stored certificate: its metadata and material (what the certificate store would hold). */
export interface StoredCertificate {
  meta: CertificateMeta;
  certificate: string;
  privateKey: string;
}

export class MemoryAcmeDeps implements AcmeDeps {
  readonly zones: Zone[];
  accountKey: string | null = null;
  /** Every certificate saved, oldest first (replaced ones included, status expired). */
  readonly certificates: StoredCertificate[] = [];
  /** Every challenge published and every token withdrawn, in order (for tests). */
  readonly published: AcmeChallenge[] = [];
  readonly withdrawn: string[] = [];
  readonly failures: { zoneId: string; message: string; at: Date }[] = [];
  readonly #challenges: ChallengeSink | null;
  readonly #now: () => Date;

  constructor(options: MemoryAcmeDepsOptions) {
    this.zones = options.zones;
    this.#challenges = options.challenges ?? null;
    this.#now = options.now ?? (() => new Date());
  }

  now(): Date {
    return this.#now();
  }

  loadAccountKey(): Promise<string | null> {
    return Promise.resolve(this.accountKey);
  }

  saveAccountKey(pem: string): Promise<void> {
    this.accountKey = pem;
    return Promise.resolve();
  }

  async publishChallenge(challenge: AcmeChallenge): Promise<void> {
    this.published.push(challenge);
    await this.#challenges?.publish(challenge);
  }

  async withdrawChallenge(token: string): Promise<void> {
    this.withdrawn.push(token);
    await this.#challenges?.withdraw(token);
  }

  challengesVisible(challenges: readonly AcmeChallenge[]): Promise<boolean> {
    return this.#challenges?.visible(challenges) ?? Promise.resolve(true);
  }

  saveCertificate(issued: IssuedCertificate): Promise<CertificateMeta> {
    const at = this.#now().toISOString();
    const meta: CertificateMeta = {
      ...describeCertificate(issued.certificate),
      id: randomUUID(),
      zone_id: issued.zoneId,
      usage: 'server',
      type: 'acme',
      status: 'active',
      uploaded_on: at,
      modified_on: at,
    };
    for (const old of this.certificates) {
      if (old.meta.id === issued.replaces) old.meta = { ...old.meta, status: 'expired', modified_on: at };
    }
    this.certificates.push({ meta, certificate: issued.certificate, privateKey: issued.privateKey });
    return Promise.resolve(meta);
  }

  markFailed(zoneId: string, message: string): Promise<void> {
    this.failures.push({ zoneId, message, at: this.#now() });
    return Promise.resolve();
  }

  managed(): Promise<ManagedZone[]> {
    return Promise.resolve(
      this.zones.map((zone) => ({ zone, current: this.current(zone.id)?.meta ?? null })),
    );
  }

  /** The zone's newest active certificate. */
  current(zoneId: string): StoredCertificate | undefined {
    return this.certificates.findLast((c) => c.meta.zone_id === zoneId && c.meta.status === 'active');
  }
}

/** The metadata fields a PEM chain's leaf gives (the certificate store computes the same). */
export function describeCertificate(
  chainPem: string,
): Pick<
  CertificateMeta,
  'hosts' | 'issuer' | 'signature' | 'serial_number' | 'fingerprint_sha256' | 'not_before' | 'expires_on'
> {
  const leaf = new X509Certificate(chainPem);
  const hosts = (leaf.subjectAltName ?? '')
    .split(', ')
    .filter((entry) => entry.startsWith('DNS:'))
    .map((entry) => entry.slice(4).toLowerCase());
  return {
    hosts,
    issuer: leaf.issuer.replaceAll('\n', ', '),
    signature: (leaf.publicKey.asymmetricKeyType ?? 'unknown') === 'ec' ? 'ECDSA' : 'RSA',
    serial_number: leaf.serialNumber,
    fingerprint_sha256: leaf.fingerprint256,
    not_before: new Date(leaf.validFrom).toISOString(),
    expires_on: new Date(leaf.validTo).toISOString(),
  };
}

/**
 * Visibility by HTTP: true once every edge URL answers every challenge with its key authorization
 * (GET /.well-known/acme-challenge/{token}, as the CA will). What an operator without heartbeats
 * (standalone edges) can use, and what the tests check the real nodes with.
 */
export function visibleThrough(
  edgeUrls: readonly string[],
): (challenges: readonly AcmeChallenge[]) => Promise<boolean> {
  return async (challenges) => {
    for (const base of edgeUrls) {
      for (const c of challenges) {
        const url = new URL(`/.well-known/acme-challenge/${encodeURIComponent(c.token)}`, base);
        try {
          const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
          if (res.status !== 200 || (await res.text()) !== c.key_authorization) return false;
        } catch {
          return false;
        }
      }
    }
    return true;
  };
}
