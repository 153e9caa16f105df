// Weighted rendezvous hashing (highest random weight, Thaler & Ravishankar 1996), with the
// logarithmic method for weights (Schindelhauer & Schomaker, "Weighted Distributed Hash Tables",
// 2005): node i scores a key with -w_i / ln(u_i), where u_i in (0, 1) is a hash of (key, node). The
// largest score owns the key. Node i wins with probability w_i / Σw, and each node's score depends only
// on the key and that node, so adding a node moves only the keys it now wins (about w_new / Σw of
// them) and removing one moves only the keys it owned. The runners-up, in score order, are the next
// owners a request fails over to.
//
// The hash is hand-written: node:crypto costs a native call and a Buffer per digest, far too slow for
// up to 64 scores per request, and JavaScript has no 64-bit integer arithmetic outside BigInt (which
// allocates). A key is hashed once per call (two 32-bit lanes over its UTF-16 code units, folded by a
// 64-bit finaliser); each node's seed is hashed once when the node set is prepared; a (key, node) score
// is then one 64-bit finaliser of `keyHash ^ seed`: SplitMix64's (Stafford's variant 13), a bijection
// with full avalanche, computed on 32-bit halves with Math.imul. Its top 53 bits make u exactly.
// Pure, no I/O.

export interface RendezvousNode {
  readonly id: string;
  /** Relative share of keys; 0 (or less) never owns a key. */
  readonly weight: number;
}

// The result of the 64-bit helpers, as two unsigned 32-bit halves (no allocation per call).
let hi = 0;
let lo = 0;

/** hi:lo ← the low 64 bits of hi:lo × bHi:bLo. */
function mul64(bHi: number, bLo: number): void {
  const aHi = hi;
  const aLo = lo;
  // The high half of aLo × bLo needs the 32×32 → 64 product: 16-bit pieces keep every partial exact.
  const a0 = aLo & 0xffff;
  const a1 = aLo >>> 16;
  const b0 = bLo & 0xffff;
  const b1 = bLo >>> 16;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const mid = ((a0 * b0) >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  const carry = a1 * b1 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16);
  lo = Math.imul(aLo, bLo) >>> 0;
  hi = (carry + Math.imul(aHi, bLo) + Math.imul(aLo, bHi)) >>> 0;
}

/** hi:lo ← hi:lo ^ (hi:lo >>> shift), for 0 < shift < 32. */
function xorShift(shift: number): void {
  lo = (lo ^ ((lo >>> shift) | (hi << (32 - shift)))) >>> 0;
  hi = (hi ^ (hi >>> shift)) >>> 0;
}

/** SplitMix64's finaliser (Stafford variant 13) on hi:lo. */
function mix64(): void {
  xorShift(30);
  mul64(0xbf58476d, 0x1ce4e5b9);
  xorShift(27);
  mul64(0x94d049bb, 0x133111eb);
  xorShift(31);
}

/** hi:lo ← a 64-bit hash of `text`: FNV-1a and a murmur-style lane over the code units, then mix64. */
function hashText(text: string): void {
  let a = 0x811c9dc5;
  let b = 0x9747b28c ^ text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  hi = a >>> 0;
  lo = b >>> 0;
  mix64();
}

const TWO_POW_21 = 2 ** 21;
const TWO_POW_53 = 2 ** 53;

/** The 64-bit hash of a string as an unsigned 53-bit integer (its top bits); exported for tests. */
export function hash53(text: string): number {
  hashText(text);
  return hi * TWO_POW_21 + (lo >>> 11);
}

/** Score of the key hash kHi:kLo against a node seed: weight / -ln(u), u uniform in (0, 1). */
function scoreOf(kHi: number, kLo: number, seedHi: number, seedLo: number, weight: number): number {
  hi = (kHi ^ seedHi) >>> 0;
  lo = (kLo ^ seedLo) >>> 0;
  mix64();
  // The top 53 bits, centred in their interval: u is never 0 or 1, so ln(u) is finite and negative.
  const u = (hi * TWO_POW_21 + (lo >>> 11) + 0.5) / TWO_POW_53;
  return weight / -Math.log(u);
}

/**
 * A node set prepared for hashing: each node's seed is hashed once. Immutable; build a new one when
 * the membership or a weight changes. Nodes with weight <= 0 are kept but never rank.
 */
export class Rendezvous<N extends RendezvousNode = RendezvousNode> {
  readonly nodes: readonly N[];
  readonly #seeds: Uint32Array;
  readonly #weights: Float64Array;
  /** Scores of the last `rank` call, reused between calls (N ≤ a few hundred). */
  readonly #scores: Float64Array;

  constructor(nodes: readonly N[]) {
    this.nodes = Object.freeze([...nodes]);
    this.#seeds = new Uint32Array(nodes.length * 2);
    this.#weights = new Float64Array(nodes.length);
    this.#scores = new Float64Array(nodes.length);
    nodes.forEach((node, i) => {
      hashText(`\u0000rendezvous-node\u0000${node.id}`);
      this.#seeds[2 * i] = hi;
      this.#seeds[2 * i + 1] = lo;
      this.#weights[i] = Number.isFinite(node.weight) && node.weight > 0 ? node.weight : 0;
    });
  }

  /** The node that owns `key` (highest score; ties go to the smaller id); undefined when none has weight. */
  ownerOf(key: string): N | undefined {
    hashText(key);
    const kHi = hi;
    const kLo = lo;
    const seeds = this.#seeds;
    let best = -1;
    let bestScore = 0;
    for (let i = 0; i < this.nodes.length; i++) {
      const weight = this.#weights[i] as number;
      if (weight === 0) continue;
      const score = scoreOf(kHi, kLo, seeds[2 * i] as number, seeds[2 * i + 1] as number, weight);
      if (best === -1 || score > bestScore || (score === bestScore && this.#idAt(i) < this.#idAt(best))) {
        best = i;
        bestScore = score;
      }
    }
    return best === -1 ? undefined : this.nodes[best];
  }

  /**
   * Nodes with weight > 0 in preference order for `key`: the owner, then the node that would own it
   * without the owner, and so on. `limit` keeps only the first ones (failover rarely needs more than
   * two or three).
   */
  rank(key: string, limit = Infinity): N[] {
    hashText(key);
    const kHi = hi;
    const kLo = lo;
    const seeds = this.#seeds;
    const scores = this.#scores;
    const order: number[] = [];
    for (let i = 0; i < this.nodes.length; i++) {
      const weight = this.#weights[i] as number;
      if (weight === 0) continue;
      scores[i] = scoreOf(kHi, kLo, seeds[2 * i] as number, seeds[2 * i + 1] as number, weight);
      order.push(i);
    }
    order.sort(
      (a, b) => (scores[b] as number) - (scores[a] as number) || (this.#idAt(a) < this.#idAt(b) ? -1 : 1),
    );
    const out: N[] = [];
    for (let i = 0; i < order.length && i < limit; i++) out.push(this.nodes[order[i] as number] as N);
    return out;
  }

  #idAt(i: number): string {
    return (this.nodes[i] as N).id;
  }
}

/**
 * Prepared sets by the array passed in, so the one-shot functions below hash node seeds once per
 * array. An entry is checked against the array on every use (same length, same node objects with the
 * same ids and weights), so an array changed in place is prepared again rather than served stale.
 */
const prepared = new WeakMap<
  readonly RendezvousNode[],
  { set: Rendezvous; ids: string[]; weights: number[] }
>();

function preparedFor<N extends RendezvousNode>(nodes: readonly N[]): Rendezvous<N> {
  const entry = prepared.get(nodes);
  if (entry !== undefined && isSame(entry, nodes)) return entry.set as Rendezvous<N>;
  const set = new Rendezvous(nodes);
  prepared.set(nodes, { set, ids: nodes.map((n) => n.id), weights: nodes.map((n) => n.weight) });
  return set;
}

function isSame(
  entry: { set: Rendezvous; ids: string[]; weights: number[] },
  nodes: readonly RendezvousNode[],
): boolean {
  if (entry.set.nodes.length !== nodes.length) return false;
  for (let i = 0; i < nodes.length; i++) {
    const node = nodes[i] as RendezvousNode;
    if (entry.set.nodes[i] !== node || entry.ids[i] !== node.id || entry.weights[i] !== node.weight) {
      return false;
    }
  }
  return true;
}

/** `nodes` in preference order for `key` (see Rendezvous.rank). */
export function rank<N extends RendezvousNode>(key: string, nodes: readonly N[], limit = Infinity): N[] {
  return preparedFor(nodes).rank(key, limit);
}

/** The owner of `key` among `nodes` (see Rendezvous.ownerOf). */
export function ownerOf<N extends RendezvousNode>(key: string, nodes: readonly N[]): N | undefined {
  return preparedFor(nodes).ownerOf(key);
}
