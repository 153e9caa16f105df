// The route step's ACME hook: GET/HEAD /.well-known/acme-challenge/{token} for a token this node
// knows is answered here, for any Host, on plain HTTP and HTTPS alike, before the zone's cache and
// its always_use_https redirect. RFC 8555 §8.3: the CA fetches http://{name}/.well-known/... on
// port 80 and may follow redirects, but answering directly saves it the hop and works before the
// zone has any certificate to redirect to.
//
// An unknown token is NOT answered here: the request goes on through the zone like any other, so
// a customer who runs their own ACME client at the origin (for names Meridian does not manage, or
// an origin certificate) keeps working, as on other CDNs. Tokens are unguessable (≥ 128 bits,
// RFC 8555 §8.1), so answering ours for every Host reveals nothing.
import type { RequestContext } from '../pipeline/context.ts';
import { challengeTokenOf } from './challenges.ts';

/** True when the request was a known challenge and has been answered. */
export function answerAcmeChallenge(ctx: RequestContext): boolean {
  const method = ctx.req.method;
  if (method !== 'GET' && method !== 'HEAD') return false;
  const token = challengeTokenOf(ctx.path);
  if (token === null) return false;
  const body = ctx.edge.acmeChallenges.answer(token, Date.now());
  if (body === undefined) return false;
  ctx.phase = 'synth';
  ctx.detail = 'acme-challenge';
  ctx.res.writeHead(200, [
    'content-type',
    'text/plain',
    'content-length',
    String(Buffer.byteLength(body)),
    'cache-control',
    'no-store',
    'via',
    ctx.edge.via,
  ]);
  ctx.bytesSent = method === 'HEAD' ? 0 : Buffer.byteLength(body);
  ctx.res.end(method === 'HEAD' ? undefined : body);
  return true;
}
