// Failover within one request: try the chosen origin and, when it cannot be used or fails before
// answering, the next usable origin of the zone (its weighted pick with the tried ones excluded),
// each origin at most once. An answer, whatever its status, ends the request: a 5xx is forwarded
// (and counted against its origin), never replayed elsewhere, as nginx's default
// `proxy_next_upstream error timeout`.
//
// An origin is skipped without a connection attempt while its checks say down or its circuit is
// open, so when every origin is down the request fails at once with ORIGIN_ALL_DOWN (503) and the
// fetch task can serve stale-if-error without waiting for a connect timeout.
import { MeridianError } from '../../common/errors.ts';
import type { OriginChoice } from '../zones/types.ts';
import type { OriginHealthRegistry } from './health.ts';
import type { UpstreamResponse } from './origin-client.ts';
import { CERT_VERIFY_CODES, IDEMPOTENT_METHODS, classify } from './origin-client.ts';

/** May a request whose attempt failed with this error be sent to another origin? */
export type MayFailover = (error: MeridianError) => boolean;

/**
 * Failures that happen before the request left: no origin saw it, so any request may go elsewhere
 * (a certificate the node refused too: CERT_VERIFY_CODES).
 */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

function wasNotSent(error: MeridianError): boolean {
  const code = (error.cause as { code?: string } | undefined)?.code ?? '';
  return NOT_SENT_CODES.has(code) || CERT_VERIFY_CODES.has(code);
}

const anyFailure: MayFailover = (error) => error.source === 'upstream';
const neverAgain: MayFailover = () => false;
const onlyUnsent: MayFailover = wasNotSent;

/**
 * The failover rule for a request: an idempotent request without a body goes to the next origin on
 * any failure before the response (refused, reset, timeout); another method only when the request
 * was never sent (refused, connect timeout, no route). A request with a body never does once an
 * attempt started: undici consumes and destroys the client's body stream on failure, so there is
 * nothing left to send (origins skipped as down cost no attempt and are still passed over).
 */
export function failoverRuleFor(method: string, hasBody: boolean): MayFailover {
  if (hasBody) return neverAgain;
  return IDEMPOTENT_METHODS.has(method) ? anyFailure : onlyUnsent;
}

export interface FailoverAttempt {
  /** Sends the request to one origin. */
  send(origin: OriginChoice): Promise<UpstreamResponse>;
  mayFailover: MayFailover;
}

/**
 * Sends to `first` or the origins after it. Costs one Map lookup (the origin's health record) and no
 * clock read when the first origin is up and its circuit closed.
 */
export async function sendWithFailover(
  health: OriginHealthRegistry,
  first: OriginChoice,
  attempt: FailoverAttempt,
): Promise<UpstreamResponse> {
  let origin = first;
  let tried: Set<number> | null = null;
  let lastError: MeridianError | null = null;
  for (;;) {
    const state = health.stateOf(origin);
    if (state.acquire()) {
      if (origin !== first) health.failovers++;
      try {
        const res = await attempt.send(origin);
        state.onAnswer(res.status);
        return res;
      } catch (err) {
        const error = classify(err);
        state.onFailure();
        if (!attempt.mayFailover(error)) throw error;
        lastError = error;
      }
    }
    (tried ??= new Set()).add(origin.index);
    const next = origin.group.pick(tried, health.isUsable);
    if (next === undefined) throw lastError ?? allDown(first);
    origin = next;
  }
}

function allDown(first: OriginChoice): MeridianError {
  const count = first.group.size;
  return new MeridianError(
    'ORIGIN_ALL_DOWN',
    count === 1 ? `origin ${first.url.origin} is down` : `all ${count} origins are down`,
  );
}

/**
 * The fill's request headers for another origin than the first: the Host that origin wants (its
 * host_header, else the client's, which the first origin's headers carry unless it had its own).
 */
export function withHostFor(
  origin: OriginChoice,
  first: OriginChoice,
  headers: Record<string, string | string[]>,
  clientUrl: string,
): Record<string, string | string[]> {
  const host = origin.hostHeader ?? (first.hostHeader === null ? headers.host : new URL(clientUrl).host);
  return host === undefined || host === headers.host ? headers : { ...headers, host };
}
