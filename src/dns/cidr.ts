// IP addresses and CIDR prefixes as bytes: parsing, masking, longest-prefix lookup. Pure; no I/O.
// Addresses are kept as bytes (4 for IPv4, 16 for IPv6) because EDNS Client Subnet carries them that
// way and because prefix arithmetic on bytes is exact for both families.
import { isIPv4, isIPv6 } from 'node:net';

export type Family = 4 | 6;

export interface IpBytes {
  readonly family: Family;
  /** 4 bytes (IPv4) or 16 bytes (IPv6). */
  readonly bytes: Uint8Array;
}

export interface Cidr extends IpBytes {
  /** 0..32 (IPv4) or 0..128 (IPv6); the bytes beyond it are zero. */
  readonly prefix: number;
}

const V4_MAPPED = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

/**
 * "192.0.2.1", "2001:db8::1", "::ffff:192.0.2.1" (an IPv4-mapped address counts as IPv4: that is
 * how a dual-stack socket reports an IPv4 client). Returns null for anything else.
 */
export function parseIp(text: string): IpBytes | null {
  if (isIPv4(text)) return { family: 4, bytes: Uint8Array.from(text.split('.').map(Number)) };
  if (!isIPv6(text)) return null;
  const bytes = parseIpv6(text.replace(/%.*$/, ''));
  if (bytes === null) return null;
  if (V4_MAPPED.every((b, i) => bytes[i] === b)) return { family: 4, bytes: bytes.slice(12) };
  return { family: 6, bytes };
}

function parseIpv6(text: string): Uint8Array | null {
  let head = text;
  const tailBytes: number[] = [];
  // An embedded dotted quad at the end (::ffff:1.2.3.4, 64:ff9b::1.2.3.4).
  const quad = /(?:^|:)(\d+\.\d+\.\d+\.\d+)$/.exec(head);
  if (quad !== null) {
    const v4 = quad[1] as string;
    if (!isIPv4(v4)) return null;
    tailBytes.push(...v4.split('.').map(Number));
    head = head.slice(0, head.length - v4.length);
    if (head.endsWith(':') && !head.endsWith('::')) head = head.slice(0, -1);
  }
  const halves = head.split('::');
  if (halves.length > 2) return null;
  const groups = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const left = groups(halves[0] as string);
  const right = halves.length === 2 ? groups(halves[1] as string) : [];
  const wanted = 8 - tailBytes.length / 2;
  const missing = wanted - left.length - right.length;
  if (halves.length === 1 ? missing !== 0 : missing < 0) return null;
  const words = [...left, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...right];
  if (words.some((w) => !Number.isInteger(w) || w < 0 || w > 0xffff)) return null;
  const out = new Uint8Array(16);
  words.forEach((w, i) => {
    out[i * 2] = w >> 8;
    out[i * 2 + 1] = w & 0xff;
  });
  out.set(tailBytes, 16 - tailBytes.length);
  return out;
}

/** "192.0.2.0/24", "2001:db8::/32"; a bare address is a /32 or /128. Throws on anything else. */
export function parseCidr(text: string): Cidr {
  const [addr, len, ...rest] = text.trim().split('/');
  const ip = parseIp(addr ?? '');
  const max = ip?.family === 4 ? 32 : 128;
  const given = len === undefined ? null : /^\d{1,3}$/.test(len) ? Number(len) : NaN;
  // An IPv4-mapped IPv6 prefix ("::ffff:10.0.0.0/104") is accepted as its IPv4 prefix.
  const mapped = given === null ? max : ip?.family === 4 && isIPv6(addr ?? '') ? given - 96 : given;
  if (ip === null || rest.length > 0 || !(mapped >= 0 && mapped <= max)) {
    throw new RangeError(`not an IP prefix: "${text}"`);
  }
  return { family: ip.family, bytes: maskBytes(ip.bytes, mapped), prefix: mapped };
}

/** A copy of bytes with every bit after the first `prefix` bits cleared. */
export function maskBytes(bytes: Uint8Array, prefix: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  for (let i = 0; i < out.length; i++) {
    const keep = Math.max(0, Math.min(8, prefix - i * 8));
    out[i] = (out[i] as number) & ((0xff << (8 - keep)) & 0xff);
  }
  return out;
}

/** Whether the first `prefix` bits of a and b agree (both of one family). */
export function samePrefix(a: Uint8Array, b: Uint8Array, prefix: number): boolean {
  const whole = prefix >> 3;
  for (let i = 0; i < whole; i++) if (a[i] !== b[i]) return false;
  const bits = prefix & 7;
  if (bits === 0) return true;
  const mask = (0xff << (8 - bits)) & 0xff;
  return (((a[whole] as number) ^ (b[whole] as number)) & mask) === 0;
}

/** Index of the first bit where a and b differ (their length in bits when equal). */
export function firstDifferentBit(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) {
    const x = (a[i] as number) ^ (b[i] as number);
    if (x !== 0) return i * 8 + Math.clz32(x) - 24;
  }
  return a.length * 8;
}

export function cidrContains(cidr: Cidr, ip: IpBytes): boolean {
  return cidr.family === ip.family && samePrefix(cidr.bytes, ip.bytes, cidr.prefix);
}

/** Text form: dotted quad, or RFC 5952-ish IPv6 (lower-case hex, longest zero run as "::"). */
export function formatIp(ip: IpBytes): string {
  if (ip.family === 4) return Array.from(ip.bytes).join('.');
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push(((ip.bytes[i] as number) << 8) | (ip.bytes[i + 1] as number));
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) [bestStart, bestLen] = [i, j - i];
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** CIDR → value, answered by longest prefix. Linear in the entries: meant for tens to thousands. */
export class CidrTable<T> {
  /** Sorted by prefix length, longest first, so the first match is the most specific. */
  #entries: { cidr: Cidr; value: T }[] = [];

  add(cidr: Cidr, value: T): void {
    this.#entries.push({ cidr, value });
    this.#entries.sort((a, b) => b.cidr.prefix - a.cidr.prefix);
  }

  get size(): number {
    return this.#entries.length;
  }

  cidrs(): Iterable<Cidr> {
    return this.#entries.map((e) => e.cidr);
  }

  /**
   * The prefix length an answer for ip at `prefix` bits must claim so that the network it names
   * holds no entry more specific than the one that decided it: an entry inside ip's /prefix that
   * does not contain ip forces the scope down to the first bit where the two differ (plus one).
   */
  refineScope(ip: IpBytes, prefix: number): number {
    let scope = prefix;
    for (const { cidr } of this.#entries) {
      if (cidr.family !== ip.family || cidr.prefix <= prefix || !samePrefix(cidr.bytes, ip.bytes, prefix))
        continue;
      scope = Math.max(scope, Math.min(cidr.prefix, firstDifferentBit(cidr.bytes, ip.bytes) + 1));
    }
    return scope;
  }

  /** The most specific entry containing ip, with its prefix length; null when none does. */
  lookup(ip: IpBytes): { value: T; prefix: number } | null {
    for (const { cidr, value } of this.#entries) {
      if (cidrContains(cidr, ip)) return { value, prefix: cidr.prefix };
    }
    return null;
  }
}
