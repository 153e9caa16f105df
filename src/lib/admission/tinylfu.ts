// W-TinyLFU, byte-bounded (Einziger, Friedman & Manes 2017; Caffeine's design without its hill climber).
//
//   set ──▶ window LRU (windowRatio of maxBytes) ──overflow──▶ candidate ──admit?──▶ probation ──hit──▶ protected
//                                                                  │ rejected            ▲   (80% of main) │
//                                                                  ▼                     └──── demoted ◀───┘
//                                                               evicted
//
// The window lets recent bursts in; the main area (a segmented LRU) keeps what the sketch says is used
// often. A count-min sketch (count-min.ts) records every get, hits and misses alike, so a key asked for
// often is admitted even while it keeps missing. A window victim (the candidate) enters the main area
// only if it is more frequent than what it would displace.
//
// Variable sizes: making room for a candidate may take several main victims (probation LRU first, then
// protected LRU). The candidate must be strictly more frequent than EACH of them; if any victim has
// greater or equal frequency, the candidate is rejected and no victim is touched. Comparing one victim
// at a time (Caffeine's loop) can evict a popular victim and then reject the candidate on the next
// one; all-or-nothing avoids that, and a large candidate has to beat every byte it displaces.
//
// HashDoS (as in Caffeine): colliding keys can pin a victim's estimate high so nothing is ever admitted;
// a candidate of frequency >= 6 that loses is still admitted with probability 1/128, and the sketch
// hash is seeded per instance.
import type { ByteCache, EvictListener } from './byte-cache.ts';
import { validateMaxBytes, validateSizeBytes } from './byte-cache.ts';
import { CountMinSketch } from './count-min.ts';
import { CacheNode, NodeList } from './node-list.ts';

const DEFAULT_WINDOW_RATIO = 0.01;
const PROTECTED_RATIO = 0.8;
/** Initial sketch size in entries; it grows with the entry count (ensureCapacity keeps history). */
const INITIAL_SKETCH_ENTRIES = 64;
const HASHDOS_THRESHOLD = 6;

export interface WTinyLfuOptions<V> {
  readonly maxBytes: number;
  /** Share of maxBytes for the admission window, in [0, 1). Default 0.01 (Caffeine's initial 1%). */
  readonly windowRatio?: number;
  readonly onEvict?: EvictListener<V>;
  /** Sketch hash seed and admission randomness. Default: random per instance. Fix it for repeatable tests. */
  readonly seed?: number;
}

export class WTinyLfu<V> implements ByteCache<V> {
  readonly maxBytes: number;
  readonly #windowMaxBytes: number;
  readonly #protectedMaxBytes: number;
  readonly #onEvict: EvictListener<V> | null;
  readonly #map = new Map<string, CacheNode<V>>();
  readonly #window = new NodeList<V>('window');
  readonly #probation = new NodeList<V>('probation');
  readonly #protected = new NodeList<V>('protected');
  readonly #sketch: CountMinSketch;
  /** The node of the set() in progress: its eviction is reported by set's result, not onEvict. */
  #inserting: CacheNode<V> | null = null;
  /** xorshift32 state for HashDoS admission. */
  #random: number;

  constructor(options: WTinyLfuOptions<V>) {
    this.maxBytes = validateMaxBytes(options.maxBytes);
    const windowRatio = options.windowRatio ?? DEFAULT_WINDOW_RATIO;
    if (!(windowRatio >= 0 && windowRatio < 1)) {
      throw new RangeError(`windowRatio must be in [0, 1), got ${String(windowRatio)}`);
    }
    this.#windowMaxBytes = Math.floor(this.maxBytes * windowRatio);
    this.#protectedMaxBytes = Math.floor((this.maxBytes - this.#windowMaxBytes) * PROTECTED_RATIO);
    this.#onEvict = options.onEvict ?? null;
    const seed = options.seed ?? Math.floor(Math.random() * 2 ** 32);
    this.#sketch = new CountMinSketch({ capacity: INITIAL_SKETCH_ENTRIES, seed });
    this.#random = seed >>> 0 || 0x9e3779b9;
  }

  get bytes(): number {
    return this.#window.bytes + this.#probation.bytes + this.#protected.bytes;
  }

  get count(): number {
    return this.#map.size;
  }

  /** Records the access (hit or miss) and, on a hit, promotes the entry. Allocation-free on a hit. */
  get(key: string): V | undefined {
    const node = this.#map.get(key);
    if (node === undefined) {
      this.#sketch.increment(key);
      return undefined;
    }
    this.#sketch.incrementHash(node.hash);
    this.#promote(node);
    return node.value;
  }

  peek(key: string): V | undefined {
    return this.#map.get(key)?.value;
  }

  has(key: string): boolean {
    return this.#map.has(key);
  }

  keys(): IterableIterator<string> {
    return this.#map.keys();
  }

  /** The sketch's estimate for key (0–15), for diagnostics and tests. */
  frequency(key: string): number {
    return this.#sketch.frequency(key);
  }

  /**
   * A new key enters the window (the access was counted by the get that missed; set counts nothing).
   * A replaced value keeps its region and becomes its most recent entry. Either may then lose to the
   * admission policy, and set returns false.
   */
  set(key: string, value: V, sizeBytes: number): boolean {
    validateSizeBytes(sizeBytes);
    let node = this.#map.get(key);
    if (sizeBytes > this.maxBytes) {
      if (node !== undefined) this.#remove(node);
      return false;
    }
    if (node === undefined) {
      node = new CacheNode(key, value, sizeBytes, this.#sketch.hash(key));
      this.#map.set(key, node);
      this.#window.push(node);
      this.#sketch.ensureCapacity(this.#map.size);
    } else {
      node.value = value;
      const list = this.#listOf(node);
      list.resize(node, sizeBytes);
      list.touch(node);
    }
    this.#inserting = node;
    this.#maintain();
    this.#inserting = null;
    return node.region !== 'none';
  }

  delete(key: string): boolean {
    const node = this.#map.get(key);
    if (node === undefined) return false;
    this.#remove(node);
    return true;
  }

  #promote(node: CacheNode<V>): void {
    switch (node.region) {
      case 'window':
        this.#window.touch(node);
        return;
      case 'probation':
        this.#probation.remove(node);
        this.#protected.push(node);
        this.#demoteProtectedOverflow();
        return;
      case 'protected':
        this.#protected.touch(node);
        return;
      case 'none':
        return;
    }
  }

  #listOf(node: CacheNode<V>): NodeList<V> {
    if (node.region === 'window') return this.#window;
    return node.region === 'protected' ? this.#protected : this.#probation;
  }

  /** Restores the bounds after a set: window overflow goes through admission, then the total is enforced. */
  #maintain(): void {
    while (this.#window.bytes > this.#windowMaxBytes && this.#window.head !== null) {
      const candidate = this.#window.head;
      this.#window.remove(candidate);
      this.#admit(candidate);
    }
    this.#demoteProtectedOverflow();
    // The main area may have grown into window space left unused, or a replaced value may have grown:
    // then the least recently used main entries leave without a contest (as in Caffeine).
    while (this.bytes > this.maxBytes) {
      const victim = this.#plainVictim();
      if (victim === null) break;
      this.#evict(victim);
    }
  }

  /** The candidate (in no list) joins probation if it beats every victim needed to make room. */
  #admit(candidate: CacheNode<V>): void {
    const excess = this.bytes + candidate.sizeBytes - this.maxBytes;
    if (excess > 0) {
      if (!this.#beatsVictims(candidate, excess)) {
        this.#evict(candidate);
        return;
      }
      for (let freed = 0; freed < excess;) {
        const victim = this.#probation.head ?? this.#protected.head;
        if (victim === null) break; // unreachable: #beatsVictims saw enough bytes
        freed += victim.sizeBytes;
        this.#evict(victim);
      }
    }
    this.#probation.push(candidate);
  }

  /** Walks main victims in eviction order (probation LRU, then protected LRU) until excess bytes are covered. */
  #beatsVictims(candidate: CacheNode<V>, excess: number): boolean {
    const frequency = this.#sketch.frequencyHash(candidate.hash);
    let isLucky = false;
    let freed = 0;
    let victim = this.#probation.head;
    let isInProtected = false;
    while (freed < excess) {
      if (victim === null) {
        if (isInProtected) return false; // the main area cannot make room
        victim = this.#protected.head;
        isInProtected = true;
        continue;
      }
      if (!isLucky && this.#sketch.frequencyHash(victim.hash) >= frequency) {
        if (frequency < HASHDOS_THRESHOLD || (this.#nextRandom() & 127) !== 0) return false;
        isLucky = true;
      }
      freed += victim.sizeBytes;
      victim = victim.next;
    }
    return true;
  }

  /** Least recently used entry, main area first; never the value being set (it fits alone). */
  #plainVictim(): CacheNode<V> | null {
    return this.#headOf(this.#probation) ?? this.#headOf(this.#protected) ?? this.#headOf(this.#window);
  }

  #headOf(list: NodeList<V>): CacheNode<V> | null {
    const head = list.head;
    return head === this.#inserting ? (head?.next ?? null) : head;
  }

  #demoteProtectedOverflow(): void {
    while (this.#protected.bytes > this.#protectedMaxBytes && this.#protected.head !== null) {
      const node = this.#protected.head;
      this.#protected.remove(node);
      this.#probation.push(node);
    }
  }

  #evict(node: CacheNode<V>): void {
    this.#remove(node);
    if (node !== this.#inserting) this.#onEvict?.(node.key, node.value);
  }

  #remove(node: CacheNode<V>): void {
    if (node.region !== 'none') this.#listOf(node).remove(node);
    this.#map.delete(node.key);
  }

  #nextRandom(): number {
    let x = this.#random;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#random = x >>> 0;
    return this.#random;
  }
}
