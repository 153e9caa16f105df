// Hot key detection: is this key requested so often, right now, that every node should serve it from
// its own memory instead of forwarding to the key's owner? One owner per key (rendezvous.ts) caches
// each object once per PoP, but a key at thousands of requests per second would pin one node.
//
// The rate estimate is a sliding window over two count-min sketches (Cormode & Muthukrishnan 2005),
// the approximation Cloudflare's rate limiter uses: `current` counts this window, `previous` the last
// one, and the rate is (current + previous × the part of the previous window still inside the sliding
// window) / window. The previous window's weight falls linearly to 0 as the current one fills, so the
// estimate decays smoothly: a key that stops being requested is no longer hot after two windows at
// most. Sketch rows use conservative update; an estimate is never below the true count and is above
// it by about (requests in the window) / width per row, at worst, from colliding keys. Memory is
// 2 × depth × width × 4 bytes (256 KiB at the defaults). Pure: the clock is injected.
//
// The 4-bit sketch of lib/admission/count-min.ts saturates at 15, too small to count requests per
// second, so the counters here are 32-bit; its string hash is reused.
import { hashKey } from '../admission/count-min.ts';

export interface HotKeysOptions {
  /** A key is hot at or above this many requests per second. */
  readonly thresholdPerSec: number;
  /** Length of the sliding window (ms). Longer: steadier, slower to react. Default 1000. */
  readonly windowMs?: number;
  /** Counters per sketch row, rounded up to a power of two. Default 8192. */
  readonly width?: number;
  /** Hash seed; vary it per process so that nobody can craft keys colliding in every row. Default 0. */
  readonly seed?: number;
  /** Milliseconds clock. Default Date.now. */
  readonly now?: () => number;
}

const DEPTH = 4;

export class HotKeys {
  readonly thresholdPerSec: number;
  readonly windowMs: number;
  readonly #mask: number;
  readonly #seed: number;
  readonly #now: () => number;
  #current: Uint32Array;
  #previous: Uint32Array;
  /** Start of the current window (ms). */
  #windowStartMs: number;
  /** The count (in one window) at which a key is hot: thresholdPerSec × windowMs / 1000. */
  readonly #hotCount: number;

  constructor(options: HotKeysOptions) {
    if (!(options.thresholdPerSec > 0)) {
      throw new RangeError(`thresholdPerSec must be positive, got ${String(options.thresholdPerSec)}`);
    }
    const windowMs = options.windowMs ?? 1000;
    if (!(windowMs > 0)) throw new RangeError(`windowMs must be positive, got ${String(windowMs)}`);
    const width = 2 ** Math.ceil(Math.log2(Math.max(16, options.width ?? 8192)));
    this.thresholdPerSec = options.thresholdPerSec;
    this.windowMs = windowMs;
    this.#mask = width - 1;
    this.#seed = options.seed ?? 0;
    this.#now = options.now ?? Date.now;
    this.#current = new Uint32Array(DEPTH * width);
    this.#previous = new Uint32Array(DEPTH * width);
    this.#windowStartMs = this.#now();
    this.#hotCount = (options.thresholdPerSec * windowMs) / 1000;
  }

  /** Counts one request for `key` and tells whether the key is hot now (this request included). */
  record(key: string): boolean {
    const weight = this.#advance();
    const h1 = hashKey(key, this.#seed);
    const h2 = rehash(h1);
    const current = this.#current;
    const width = this.#mask + 1;
    // Conservative update: only the rows at the key's minimum grow, which keeps collisions' error low.
    let min = Infinity;
    for (let row = 0; row < DEPTH; row++) {
      const count = current[row * width + ((h1 + row * h2) & this.#mask)] as number;
      if (count < min) min = count;
    }
    let estimate = Infinity;
    for (let row = 0; row < DEPTH; row++) {
      const at = row * width + ((h1 + row * h2) & this.#mask);
      if (current[at] === min) current[at] = min + 1;
      const rowEstimate = (current[at] as number) + (this.#previous[at] as number) * weight;
      if (rowEstimate < estimate) estimate = rowEstimate;
    }
    return estimate >= this.#hotCount;
  }

  /** Estimated requests per second for `key` (without counting one). */
  rateOf(key: string): number {
    const weight = this.#advance();
    const h1 = hashKey(key, this.#seed);
    const h2 = rehash(h1);
    const width = this.#mask + 1;
    let estimate = Infinity;
    for (let row = 0; row < DEPTH; row++) {
      const at = row * width + ((h1 + row * h2) & this.#mask);
      const rowEstimate = (this.#current[at] as number) + (this.#previous[at] as number) * weight;
      if (rowEstimate < estimate) estimate = rowEstimate;
    }
    return (estimate * 1000) / this.windowMs;
  }

  /** Is `key` hot now, without counting a request? */
  isHot(key: string): boolean {
    return this.rateOf(key) >= this.thresholdPerSec;
  }

  /**
   * Rolls the windows forward to now and returns the weight of the previous window in the sliding
   * estimate: the part of it that the window ending now still covers.
   */
  #advance(): number {
    const now = this.#now();
    let elapsed = now - this.#windowStartMs;
    if (elapsed >= this.windowMs) {
      const windows = Math.floor(elapsed / this.windowMs);
      const spare = this.#previous;
      this.#previous = this.#current;
      this.#current = spare;
      this.#current.fill(0);
      // Two windows or more without a request: the previous window is empty too.
      if (windows >= 2) this.#previous.fill(0);
      this.#windowStartMs += windows * this.windowMs;
      elapsed = now - this.#windowStartMs;
    } else if (elapsed < 0) {
      // The clock went back: start over from now rather than count into the future.
      this.#windowStartMs = now;
      elapsed = 0;
    }
    return 1 - elapsed / this.windowMs;
  }
}

/** A second, independent hash for double hashing (Kirsch & Mitzenmacher): odd, so rows differ. */
function rehash(hash: number): number {
  let h = Math.imul(hash ^ (hash >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return ((h ^ (h >>> 16)) | 1) >>> 0;
}
