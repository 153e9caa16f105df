// When the engine orders: pure functions of a zone, its certificate and its failures (no I/O), so the
// schedule is recomputed from stored certificates after every restart.
import type { CertificateMeta } from '../../common/config/certificate.ts';
import type { Zone } from '../../common/config/zone.ts';

/**
 * Renewal at two thirds of the lifetime: not_before + 2/3 × (expires_on − not_before). Let's Encrypt
 * recommends renewing 30 days before expiry of a 90-day certificate, which is the same point; a
 * fraction (not a fixed 30 days) also suits the short lifetimes CAs are moving to (RFC 8555 §7.4
 * leaves validity to the CA; CA/B Forum ballot SC-081 shortens it step by step to 47 days).
 */
export function renewalTime(cert: Pick<CertificateMeta, 'not_before' | 'expires_on'>): Date {
  const from = Date.parse(cert.not_before);
  const to = Date.parse(cert.expires_on);
  return new Date(from + Math.floor(((to - from) * 2) / 3));
}

/** Exponential backoff after `failures` failures in a row (≥ 1): base, 2·base, 4·base … capped. */
export function retryDelay(failures: number, baseMs: number, maxMs: number): number {
  const exponent = Math.min(Math.max(failures - 1, 0), 30);
  return Math.min(maxMs, baseMs * 2 ** exponent);
}

/**
 * The names an HTTP-01 order can cover: the zone's hostnames without wildcards (RFC 8555 §8.3:
 * http-01 proves control of one name; a wildcard needs dns-01, which Meridian does not run),
 * lower case, sorted, without duplicates.
 */
export function orderableHosts(zone: Pick<Zone, 'hostnames'>): string[] {
  const hosts = new Set<string>();
  for (const host of zone.hostnames) {
    const name = host.toLowerCase().replace(/\.$/, '');
    if (!name.startsWith('*.')) hosts.add(name);
  }
  return [...hosts].sort();
}

/** Does the certificate still cover every name the zone wants (hostnames may have been added)? */
export function coversHosts(cert: Pick<CertificateMeta, 'hosts'>, hosts: readonly string[]): boolean {
  const have = new Set(cert.hosts.map((h) => h.toLowerCase()));
  return hosts.every((h) => have.has(h));
}

export type DueReason = 'issue' | 'renew' | 'hosts-changed';

/** When the zone's next order is due, and why, ignoring failures (see retryDelay). */
export function dueFor(
  current: CertificateMeta | null,
  hosts: readonly string[],
  now: Date,
): { at: Date; reason: DueReason } {
  if (current === null || current.status === 'error' || current.status === 'pending') {
    return { at: now, reason: 'issue' };
  }
  if (!coversHosts(current, hosts)) return { at: now, reason: 'hosts-changed' };
  return { at: renewalTime(current), reason: 'renew' };
}
