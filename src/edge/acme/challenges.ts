// The ACME HTTP-01 challenges this node answers (RFC 8555 §8.3), learned from the snapshot's
// acme_challenges and the acme.challenge.upsert/delete events. The control plane's ACME engine
// publishes a challenge before it asks the CA to validate, so whichever node the CA reaches (any
// node of any PoP the name resolves to) has the answer. Pure: no I/O; the clock is passed in.
import type { AcmeChallenge } from '../../common/config/certificate.ts';
import type { ControlEvent, Snapshot } from '../../common/events/types.ts';

/** The path prefix the CA fetches (RFC 8555 §8.3). */
export const ACME_CHALLENGE_PREFIX = '/.well-known/acme-challenge/';

/**
 * RFC 8555 §8.1: a token is base64url with at least 128 bits of entropy (22+ characters); longer
 * than any real token is refused before a lookup.
 */
const TOKEN = /^[A-Za-z0-9_-]{1,256}$/;

export class ChallengeTable {
  readonly #byToken = new Map<string, { keyAuthorization: string; expiresAtMs: number }>();

  get size(): number {
    return this.#byToken.size;
  }

  applySnapshot(snapshot: Pick<Snapshot, 'acme_challenges'>): void {
    this.#byToken.clear();
    for (const challenge of snapshot.acme_challenges ?? []) this.put(challenge);
  }

  applyEvent(event: ControlEvent): void {
    if (event.type === 'acme.challenge.upsert') this.put(event.challenge);
    else if (event.type === 'acme.challenge.delete') this.#byToken.delete(event.token);
  }

  put(challenge: AcmeChallenge): void {
    const expiresAtMs = Date.parse(challenge.expires_at);
    if (!TOKEN.test(challenge.token) || Number.isNaN(expiresAtMs)) return;
    this.#byToken.set(challenge.token, { keyAuthorization: challenge.key_authorization, expiresAtMs });
  }

  /**
   * The key authorization to answer for `token`, or undefined when the node does not know it or it
   * has expired (an expired entry is dropped: its delete event may have been lost to a restart
   * between snapshot and event, and the table must not grow forever).
   */
  answer(token: string, nowMs: number): string | undefined {
    const entry = this.#byToken.get(token);
    if (entry === undefined) return undefined;
    if (entry.expiresAtMs <= nowMs) {
      this.#byToken.delete(token);
      return undefined;
    }
    return entry.keyAuthorization;
  }
}

/** The token of a challenge path ("/.well-known/acme-challenge/TOKEN", no query), or null. */
export function challengeTokenOf(path: string): string | null {
  if (!path.startsWith(ACME_CHALLENGE_PREFIX)) return null;
  const token = path.slice(ACME_CHALLENGE_PREFIX.length);
  return TOKEN.test(token) ? token : null;
}
