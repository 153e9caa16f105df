// A Count-Min sketch of 4-bit counters: the frequency history TinyLFU admits by (Einziger, Friedman &
// Manes, "TinyLFU: A Highly Efficient Cache Admission Policy", 2017). Pure, no I/O.
//
// Layout (Caffeine's FrequencySketch): counters are packed 8 per Uint32 word in 64-byte blocks of
// 16 words. A key's low hash bits pick one block; inside it, each of the 4 rows owns 4 words (32
// counters) and a second hash, derived from the first, picks the key's counter in each row. All four
// counters of a key share one cache line, so an increment costs one memory miss, not four. Memory is
// 8 bytes per unit of `capacity` (16 counters per expected entry).
//
// Increments use the conservative update (only the counters equal to the key's minimum grow), which
// lowers over-estimation for the same memory. Counters saturate at 15; after `sampleSize` increments
// every counter is halved (the "reset" of the paper), so history fades and recent popularity wins.

/** Largest value a 4-bit counter holds. */
const MAX_COUNT = 15;
const ROWS = 4;
/** Words per block: 64 bytes, one cache line. */
const BLOCK_WORDS = 16;
/** Words per entry of capacity: 16 counters. */
const WORDS_PER_ENTRY = 2;
/** Capacity never goes below one block. */
const MIN_CAPACITY = BLOCK_WORDS / WORDS_PER_ENTRY;
/** Caffeine's sample size: ten times the expected number of entries. */
const SAMPLE_FACTOR = 10;
/** Halves every nibble of a word: shift right, then drop the bit each nibble received from the next. */
const HALVE_MASK = 0x77777777;

export interface CountMinSketchOptions {
  /** Expected number of distinct entries held by the cache this sketch serves (grows with ensureCapacity). */
  readonly capacity: number;
  /** Hash seed. Vary it per process so that nobody can craft keys colliding in every row. Default 0. */
  readonly seed?: number;
}

/**
 * 32-bit FNV-1a over the UTF-16 code units of `key`, the basis offset mixed with `seed`, then
 * finalised with MurmurHash3's fmix32 so that the low bits used as columns are well mixed.
 */
export function hashKey(key: string, seed = 0): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The in-block hash: a remix of all 32 bits, so it does not depend on the low bits that pick the
 * block (ensureCapacity relies on that). Byte r of it places the key in row r.
 */
function counterHashOf(hash: number): number {
  let h = Math.imul(hash ^ (hash >>> 15), 0x2c1b3c6d);
  h = Math.imul(h ^ (h >>> 12), 0x297a2d39);
  return (h ^ (h >>> 15)) >>> 0;
}

/** Word of row `row`'s counter for a key: block + 4 words per row + 2 bits of the row's byte. */
function wordOf(block: number, counterHash: number, row: number): number {
  return block + (row << 2) + ((counterHash >>> (row << 3)) & 3);
}

/** Bit offset of row `row`'s counter in its word: 3 more bits of the row's byte pick 1 of 8 nibbles. */
function shiftOf(counterHash: number, row: number): number {
  return ((counterHash >>> ((row << 3) + 2)) & 7) << 2;
}

function ceilPowerOfTwo(n: number): number {
  return n <= 1 ? 1 : 2 ** Math.ceil(Math.log2(n));
}

function validCapacity(capacity: number): number {
  if (!Number.isSafeInteger(capacity) || capacity < 1) {
    throw new RangeError(`capacity must be a positive integer, got ${String(capacity)}`);
  }
  return capacity;
}

export class CountMinSketch {
  readonly #seed: number;
  #table: Uint32Array;
  /** Blocks - 1 (a power of two minus one): the low hash bits that pick a key's block. */
  #blockMask: number;
  #capacity: number;
  #sampleSize: number;
  /** Increments since the last aging (halved by it). */
  #additions = 0;

  constructor(options: CountMinSketchOptions) {
    this.#seed = options.seed ?? 0;
    this.#capacity = ceilPowerOfTwo(Math.max(MIN_CAPACITY, validCapacity(options.capacity)));
    this.#table = new Uint32Array(this.#capacity * WORDS_PER_ENTRY);
    this.#blockMask = this.#table.length / BLOCK_WORDS - 1;
    this.#sampleSize = SAMPLE_FACTOR * this.#capacity;
  }

  /** Expected entries the sketch is sized for (a power of two). */
  get capacity(): number {
    return this.#capacity;
  }

  /** Increments between two agings. */
  get sampleSize(): number {
    return this.#sampleSize;
  }

  /** Increments counted since the last aging. */
  get additions(): number {
    return this.#additions;
  }

  /** The hash the *Hash methods take; compute it once per key and keep it. */
  hash(key: string): number {
    return hashKey(key, this.#seed);
  }

  /** Estimated accesses of `key` since history began fading (0–15; never below the true count, until aging). */
  frequency(key: string): number {
    return this.frequencyHash(hashKey(key, this.#seed));
  }

  increment(key: string): void {
    this.incrementHash(hashKey(key, this.#seed));
  }

  frequencyHash(hash: number): number {
    const block = (hash & this.#blockMask) * BLOCK_WORDS;
    const counterHash = counterHashOf(hash);
    let min = MAX_COUNT;
    for (let row = 0; row < ROWS; row++) {
      const count = this.#counterAt(wordOf(block, counterHash, row), shiftOf(counterHash, row));
      if (count < min) min = count;
    }
    return min;
  }

  /** Conservative update: grows only the counters at the key's current minimum. Allocation-free. */
  incrementHash(hash: number): void {
    const block = (hash & this.#blockMask) * BLOCK_WORDS;
    const counterHash = counterHashOf(hash);
    const min = this.frequencyHash(hash);
    if (min === MAX_COUNT) return;
    for (let row = 0; row < ROWS; row++) {
      const word = wordOf(block, counterHash, row);
      const shift = shiftOf(counterHash, row);
      // Below 15 here, so adding one to the nibble cannot carry into the next.
      if (this.#counterAt(word, shift) === min) this.#table[word] = (this.#table[word] ?? 0) + (1 << shift);
    }
    if (++this.#additions >= this.#sampleSize) this.age();
  }

  /**
   * Grows the sketch to serve `entries` entries (no-op when already large enough). History is kept:
   * block counts are powers of two and a key's place inside its block does not depend on the block
   * count, so a key's new block is a copy of its old one when the old table is tiled across the new.
   */
  ensureCapacity(entries: number): void {
    if (entries <= this.#capacity) return;
    const capacity = ceilPowerOfTwo(entries);
    const table = new Uint32Array(capacity * WORDS_PER_ENTRY);
    for (let at = 0; at < table.length; at += this.#table.length) table.set(this.#table, at);
    this.#table = table;
    this.#blockMask = table.length / BLOCK_WORDS - 1;
    this.#capacity = capacity;
    this.#sampleSize = SAMPLE_FACTOR * capacity;
  }

  /** Halves every counter and the addition count (TinyLFU's reset). Runs by itself every sampleSize increments. */
  age(): void {
    const table = this.#table;
    for (let i = 0; i < table.length; i++) table[i] = ((table[i] ?? 0) >>> 1) & HALVE_MASK;
    this.#additions >>>= 1;
  }

  /** Forgets all history. */
  clear(): void {
    this.#table.fill(0);
    this.#additions = 0;
  }

  #counterAt(word: number, shift: number): number {
    return ((this.#table[word] ?? 0) >>> shift) & MAX_COUNT;
  }
}
