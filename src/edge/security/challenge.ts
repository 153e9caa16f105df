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

/** SHA-256's round constants (FIPS 180-4 §4.2.2), for the page's script. */
const SHA256_K = [
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
].join(',');

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
(() => {
  const p = ${data};
  // SHA-256 written out: WebCrypto (crypto.subtle) exists only in secure contexts, and a zone may be
  // served over plain HTTP.
  const K = new Uint32Array([${SHA256_K}]);
  const W = new Uint32Array(64);
  const sha256 = (bytes) => {
    const n = ((bytes.length + 9 + 63) >> 6) << 6;
    const m = new Uint8Array(n);
    m.set(bytes);
    m[bytes.length] = 0x80;
    new DataView(m.buffer).setUint32(n - 4, bytes.length * 8);
    const h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
    const dv = new DataView(m.buffer);
    const r = (x, k) => (x >>> k) | (x << (32 - k));
    for (let o = 0; o < n; o += 64) {
      for (let i = 0; i < 16; i++) W[i] = dv.getUint32(o + i * 4);
      for (let i = 16; i < 64; i++) {
        const a = W[i - 15], b = W[i - 2];
        W[i] = W[i - 16] + (r(a, 7) ^ r(a, 18) ^ (a >>> 3)) + W[i - 7] + (r(b, 17) ^ r(b, 19) ^ (b >>> 10));
      }
      let [a, b, c, d, e, f, g, hh] = h;
      for (let i = 0; i < 64; i++) {
        const t1 = (hh + (r(e, 6) ^ r(e, 11) ^ r(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + W[i]) >>> 0;
        const t2 = ((r(a, 2) ^ r(a, 13) ^ r(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) >>> 0;
        hh = g; g = f; f = e; e = (d + t1) >>> 0; d = c; c = b; b = a; a = (t1 + t2) >>> 0;
      }
      h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
    }
    return h;
  };
  const zeros = (h) => { let n = 0; for (const w of h) { if (w === 0) { n += 32; continue; } return n + Math.clz32(w); } return n; };
  const enc = new TextEncoder();
  for (let i = 0; ; i++) {
    if (zeros(sha256(enc.encode(p.c + ':' + i.toString(36)))) >= p.d) {
      location.replace('${CHALLENGE_PATH}?c=' + encodeURIComponent(p.c) + '&n=' + i.toString(36) + '&r=' + encodeURIComponent(p.r));
      return;
    }
  }
})();
</script>
</body></html>
`;
}
