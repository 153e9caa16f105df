// The control store's side of the challenge contract (AcmeDeps' publishChallenge, withdrawChallenge
// and challengesVisible): challenges travel to every node as acme.challenge.upsert/delete events,
// and they are visible once every node that is up has applied the upsert's seq, which each node
// reports in its heartbeat (applied_seq, every 2 s by default). No node up: not visible (the CA
// would find nobody to answer), so the attempt fails and retries later instead of burning an order.
import { randomUUID } from 'node:crypto';
import type { AcmeChallenge } from '../../common/config/certificate.ts';
import type { ControlStore } from '../store/types.ts';
import type { ChallengeSink } from './memory-deps.ts';
import type { AcmeDeps } from './types.ts';

export function storeChallenges(store: ControlStore): ChallengeSink {
  const seqs = new Map<string, number>();
  return {
    async publish(challenge) {
      seqs.set(challenge.token, await store.putAcmeChallenge(challenge));
    },
    async withdraw(token) {
      seqs.delete(token);
      await store.deleteAcmeChallenge(token);
    },
    async visible(challenges: readonly AcmeChallenge[]) {
      let needed = 0;
      for (const c of challenges) needed = Math.max(needed, seqs.get(c.token) ?? Infinity);
      if (!Number.isFinite(needed)) return false;
      const up = (await store.listNodes()).filter((n) => n.status === 'up');
      return up.length > 0 && up.every((n) => n.applied_seq >= needed);
    },
  };
}

/** What the certificate store provides (account key, certificates, the managed zones). */
export type AcmeCertificateStore = Pick<
  AcmeDeps,
  'loadAccountKey' | 'saveAccountKey' | 'saveCertificate' | 'markFailed' | 'managed'
>;

/**
 * How long a replica's order lease lasts: longer than any order (propagation wait, CA polling),
 * short enough that a replica that died mid-order delays the zone's next attempt only this much.
 */
const LEASE_MS = 15 * 60_000;

/**
 * AcmeDeps over the control store: challenges by the event log, the order lock by a lease row,
 * the rest by the certificate store.
 */
export function storeAcmeDeps(
  store: ControlStore,
  certificates: AcmeCertificateStore,
  now: () => Date = () => new Date(),
): AcmeDeps {
  const challenges = storeChallenges(store);
  const holder = randomUUID();
  return {
    loadAccountKey: () => certificates.loadAccountKey(),
    saveAccountKey: (pem) => certificates.saveAccountKey(pem),
    saveCertificate: (issued) => certificates.saveCertificate(issued),
    markFailed: (zoneId, message) => certificates.markFailed(zoneId, message),
    managed: () => certificates.managed(),
    publishChallenge: (c) => challenges.publish(c),
    withdrawChallenge: (token) => challenges.withdraw(token),
    challengesVisible: (cs) => challenges.visible(cs),
    async lockZone(zoneId) {
      if (!(await store.acquireAcmeLease(zoneId, holder, LEASE_MS))) return null;
      return () => store.releaseAcmeLease(zoneId, holder);
    },
    now,
  };
}
