// One ACME order for a zone's hostnames (RFC 8555 §7.4), answered by HTTP-01 (§8.3) on every edge
// node: new order, one http-01 challenge per pending authorization, published to the nodes and
// confirmed visible before the CA is asked to validate, then finalize with a CSR for a fresh ECDSA
// P-256 key and download the chain. The challenges are withdrawn at the end, also on failure.
import * as acme from 'acme-client';
import type { AcmeChallenge } from '../../common/config/certificate.ts';
import type { AcmeDeps } from './types.ts';

/** Nodes stop answering a challenge after this long even if its withdrawal never arrives. */
const CHALLENGE_LIFETIME_MS = 3_600_000;

export interface OrderTimings {
  pollMs: number;
  propagationTimeoutMs: number;
}

export interface OrderResult {
  certificate: string;
  privateKey: string;
}

export async function runOrder(
  client: acme.Client,
  hosts: readonly string[],
  deps: AcmeDeps,
  timings: OrderTimings,
): Promise<OrderResult> {
  const order = await client.createOrder({ identifiers: hosts.map((value) => ({ type: 'dns', value })) });
  const authorizations = await client.getAuthorizations(order);
  const published: AcmeChallenge[] = [];
  try {
    const pending: { authz: acme.Authorization; challenge: { url: string; type: string } }[] = [];
    for (const authz of authorizations) {
      // RFC 8555 §7.1.4: a CA may reuse a valid authorization; nothing to prove for it.
      if (authz.status === 'valid') continue;
      const challenge = authz.challenges.find((c) => c.type === 'http-01');
      if (challenge === undefined) {
        throw new Error(`the CA offers no http-01 challenge for ${authz.identifier.value}`);
      }
      const keyAuthorization = await client.getChallengeKeyAuthorization(challenge);
      const published1: AcmeChallenge = {
        token: (challenge as { token: string }).token,
        key_authorization: keyAuthorization,
        expires_at: new Date(deps.now().getTime() + CHALLENGE_LIFETIME_MS).toISOString(),
      };
      await deps.publishChallenge(published1);
      published.push(published1);
      pending.push({ authz, challenge });
    }
    if (published.length > 0) await waitVisible(deps, published, timings);
    for (const { challenge } of pending) await client.completeChallenge(challenge as never);
    // The authorization, not the challenge, says whether the name is proven (§7.1.6).
    for (const { authz } of pending) await client.waitForValidStatus(authz).catch(rethrowProblem);
    const privateKey = await acme.crypto.createPrivateEcdsaKey('P-256');
    const [, csr] = await acme.crypto.createCsr(
      { commonName: hosts[0] ?? '', altNames: [...hosts] },
      privateKey,
    );
    const finalized = await client.finalizeOrder(order, csr);
    const certificate = await client.getCertificate(finalized);
    return { certificate, privateKey: privateKey.toString() };
  } finally {
    for (const challenge of published) {
      await deps.withdrawChallenge(challenge.token).catch(() => undefined);
    }
  }
}

/**
 * acme-client reports an invalid authorization as its whole JSON; the CA's problem document
 * (RFC 8555 §6.7, RFC 7807) in the failed challenge says what went wrong in one line, which is what
 * the API and the log show.
 */
function rethrowProblem(err: unknown): never {
  if (!(err instanceof Error)) throw err;
  let authz: unknown;
  try {
    authz = JSON.parse(err.message);
  } catch {
    throw err;
  }
  const a = authz as {
    identifier?: { value?: string };
    challenges?: { error?: { type?: string; detail?: string } }[];
  };
  const problem = a.challenges?.find((c) => c.error !== undefined)?.error;
  if (problem === undefined) throw err;
  const type = (problem.type ?? '').replace('urn:ietf:params:acme:error:', '');
  throw new Error(`${a.identifier?.value ?? '?'}: ${type}: ${problem.detail ?? 'validation failed'}`, {
    cause: err,
  });
}

/** Polls deps.challengesVisible until the nodes answer, or fails after the propagation timeout. */
async function waitVisible(
  deps: AcmeDeps,
  challenges: readonly AcmeChallenge[],
  timings: OrderTimings,
): Promise<void> {
  const deadline = Date.now() + timings.propagationTimeoutMs;
  for (;;) {
    if (await deps.challengesVisible(challenges)) return;
    if (Date.now() >= deadline) {
      throw new Error(
        `the edge nodes did not answer the challenges within ${timings.propagationTimeoutMs} ms`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, timings.pollMs));
  }
}
