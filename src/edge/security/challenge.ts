// The JavaScript proof-of-work challenge (no third-party service): the page hands the browser a
// signed, expiring challenge; its script searches a nonce whose SHA-256 over the challenge has
// `difficulty` leading zero bits (WebCrypto) and comes back to /.meridian/challenge with it; the
// node checks the signature, the time and the work, then sets a clearance cookie bound to the client
// address, the zone and an expiry (HMAC-SHA-256), and redirects to the page first asked for. A client
// that runs no JavaScript (curl) never gets past the page. The key is the cluster's hop key when the
// node has one (a clearance from one node of the PoP holds on the others), else the node's own.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const CLEARANCE_COOKIE = 'mrd_clearance';
export const CHALLENGE_PATH = '/.meridian/challenge';
/** How long a challenge page's puzzle may be solved in. */
const CHALLENGE_TTL_MS = 5 * 60_000;

export class ChallengeKeys {
  #key: Buffer;
  constructor(key: Buffer = randomBytes(32)) {
    this.#key = key;
  }
  set(key: Buffer): void {
    this.#key = key;
  }
  mac(text: string): string {
    return createHmac('sha256', this.#key).update(text).digest('base64url');
  }
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** `exp.mac` over zone, client address and exp. */
export function clearanceCookie(
  keys: ChallengeKeys,
  zoneId: string,
  ip: string,
  ttlSec: number,
  nowMs: number,
): string {
  const exp = Math.floor(nowMs / 1000) + ttlSec;
  return `${exp}.${keys.mac(`clearance\n${zoneId}\n${ip}\n${exp}`)}`;
}

export function hasClearance(
  keys: ChallengeKeys,
  cookieHeader: string,
  zoneId: string,
  ip: string,
  nowMs: number,
): boolean {
  const at = cookieHeader.indexOf(`${CLEARANCE_COOKIE}=`);
  if (at < 0) return false;
  const start = at + CLEARANCE_COOKIE.length + 1;
  const end = cookieHeader.indexOf(';', start);
  const value = cookieHeader.slice(start, end < 0 ? undefined : end).trim();
  const dot = value.indexOf('.');
  if (dot < 0) return false;
  const exp = Number(value.slice(0, dot));
  if (!Number.isInteger(exp) || exp * 1000 <= nowMs) return false;
  return safeEqual(value.slice(dot + 1), keys.mac(`clearance\n${zoneId}\n${ip}\n${exp}`));
}

/** A puzzle: `exp.salt.mac` over zone, client and the difficulty. */
export function newChallenge(
  keys: ChallengeKeys,
  zoneId: string,
  ip: string,
  difficulty: number,
  nowMs: number,
): string {
  const exp = nowMs + CHALLENGE_TTL_MS;
  const salt = randomBytes(12).toString('base64url');
  return `${exp}.${salt}.${difficulty}.${keys.mac(`challenge\n${zoneId}\n${ip}\n${exp}\n${salt}\n${difficulty}`)}`;
}

/** The challenge is ours, for this client and zone, unexpired, and the nonce does the work. */
export function verifySolution(
  keys: ChallengeKeys,
  challenge: string,
  nonce: string,
  zoneId: string,
  ip: string,
  nowMs: number,
): boolean {
  const parts = challenge.split('.');
  if (parts.length !== 4 || nonce.length === 0 || nonce.length > 32) return false;
  const [expText = '', salt = '', diffText = '', mac = ''] = parts;
  const exp = Number(expText);
  const difficulty = Number(diffText);
  if (
    !Number.isInteger(exp) ||
    exp <= nowMs ||
    !Number.isInteger(difficulty) ||
    difficulty < 1 ||
    difficulty > 32
  ) {
    return false;
  }
  if (!safeEqual(mac, keys.mac(`challenge\n${zoneId}\n${ip}\n${exp}\n${salt}\n${difficulty}`))) return false;
  return leadingZeroBits(createHash('sha256').update(`${challenge}:${nonce}`).digest()) >= difficulty;
}

export function leadingZeroBits(digest: Buffer): number {
  let bits = 0;
  for (const byte of digest) {
    if (byte === 0) {
      bits += 8;
      continue;
    }
    return bits + Math.clz32(byte) - 24;
  }
  return bits;
}

/** The page: no external resources; the script solves the puzzle and navigates back. */
export function challengePage(challenge: string, difficulty: number, returnTo: string): string {
  const data = JSON.stringify({ c: challenge, d: difficulty, r: returnTo }).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex">
<title>Checking your browser</title>
<style>body{font:16px system-ui,sans-serif;max-width:36em;margin:4em auto;padding:0 1em;color:#222}</style>
</head><body>
<h1>Checking your browser</h1>
<p id="status">This takes a moment and needs JavaScript.</p>
<noscript><p>Please enable JavaScript to continue.</p></noscript>
<script>
(async () => {
  const p = ${data};
  const enc = new TextEncoder();
  const zeros = (b) => { let n = 0; for (const x of b) { if (x === 0) { n += 8; continue; } return n + Math.clz32(x) - 24; } return n; };
  for (let i = 0; ; i++) {
    const h = new Uint8Array(await crypto.subtle.digest('SHA-256', enc.encode(p.c + ':' + i.toString(36))));
    if (zeros(h) >= p.d) {
      location.replace('${CHALLENGE_PATH}?c=' + encodeURIComponent(p.c) + '&n=' + i.toString(36) + '&r=' + encodeURIComponent(p.r));
      return;
    }
  }
})();
</script>
</body></html>
`;
}
