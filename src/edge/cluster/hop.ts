// The internal-hop header: what one Meridian node sends another when it fetches through it (a
// non-owner from its PoP's owner, an edge PoP from its shield). It records the path so far (PoP and
// node of each hop), the sender's applied event sequence, and a time, signed with the cluster's hop
// key (HMAC-SHA256 over the header and the request line, so it cannot be moved to another URL).
//
//   Meridian-Hop: v1;ts=1763900000000;seq=42;path=nyc/nyc-1+iad/iad-2;sig=<base64url>
//
// A receiver that cannot verify it (no key, bad signature, older than MAX_SKEW_MS) treats the
// request as any client's and forwards nothing of it: an outsider cannot make a node act as an
// owner or a shield, skip its PoP's routing, or wait on a sequence. Loops are refused when the
// path already holds the receiver. Hand-written: a few lines of HMAC, no library does this format.
import { createHmac, timingSafeEqual } from 'node:crypto';

export const HOP_HEADER = 'meridian-hop';
/** A signed header is accepted this long after (and before, for clock skew) its time. */
export const MAX_SKEW_MS = 30_000;
/** Hops a request may take (edge non-owner → owner → shield non-owner → owner is 3). */
export const MAX_HOPS = 4;

export interface HopStep {
  pop: string;
  node: string;
}

export interface Hop {
  /** The nodes the request went through, first (the client's) to last (the sender). */
  path: HopStep[];
  /** The sender's applied event sequence: a receiver answers from its cache only as of that. */
  seq: number;
  ts: number;
}

export interface HopRequest {
  method: string;
  host: string;
  target: string;
  /**
   * The scheme the first node received the request with (sent as X-Forwarded-Proto): signed, so that
   * no one on the way can make an https object be stored under http or back. Absent: http.
   */
  scheme?: 'http' | 'https';
}

const NAME = /^[a-z0-9][a-z0-9-]{0,63}$/;

function mac(key: Buffer, body: string, req: HopRequest): Buffer {
  const line = `${body}\n${req.method}\n${req.host}\n${req.target}`;
  // http keeps the original text: hops signed before schemes were keyed still verify.
  return createHmac('sha256', key)
    .update(req.scheme === 'https' ? `${line}\nhttps` : line)
    .digest();
}

function bodyOf(hop: Hop): string {
  return `v1;ts=${hop.ts};seq=${hop.seq};path=${hop.path.map((s) => `${s.pop}/${s.node}`).join('+')}`;
}

export function signHop(key: Buffer, hop: Hop, req: HopRequest): string {
  const body = bodyOf(hop);
  return `${body};sig=${mac(key, body, req).toString('base64url')}`;
}

/** The hop the header states, or null when it is malformed, unsigned, forged or too old. */
export function verifyHop(key: Buffer | null, value: string, req: HopRequest, nowMs: number): Hop | null {
  if (key === null || value.length > 1024) return null;
  const at = value.lastIndexOf(';sig=');
  if (at === -1) return null;
  const body = value.slice(0, at);
  const match = /^v1;ts=(\d{1,15});seq=(\d{1,15});path=([a-z0-9/+-]{3,600})$/.exec(body);
  if (match === null) return null;
  let given: Buffer;
  try {
    given = Buffer.from(value.slice(at + 5), 'base64url');
  } catch {
    return null;
  }
  const expected = mac(key, body, req);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  const ts = Number(match[1]);
  if (Math.abs(nowMs - ts) > MAX_SKEW_MS) return null;
  const path: HopStep[] = [];
  for (const step of (match[3] as string).split('+')) {
    const [pop, node, extra] = step.split('/');
    if (pop === undefined || node === undefined || extra !== undefined) return null;
    if (!NAME.test(pop) || !NAME.test(node)) return null;
    path.push({ pop, node });
  }
  return { path, seq: Number(match[2]), ts };
}
