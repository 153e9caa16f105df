// A plain byte-bounded LRU: every new value is admitted and the least recently used values are evicted
// until the total fits. The baseline W-TinyLFU is measured against (bench/admission/hit-ratio.ts).
import type { ByteCache, EvictListener } from './byte-cache.ts';
import { validateMaxBytes, validateSizeBytes } from './byte-cache.ts';
import { CacheNode, NodeList } from './node-list.ts';

export interface LruOptions<V> {
  readonly maxBytes: number;
  readonly onEvict?: EvictListener<V>;
}

export class Lru<V> implements ByteCache<V> {
  readonly maxBytes: number;
  readonly #onEvict: EvictListener<V> | null;
  readonly #map = new Map<string, CacheNode<V>>();
  readonly #list = new NodeList<V>('protected');

  constructor(options: LruOptions<V>) {
    this.maxBytes = validateMaxBytes(options.maxBytes);
    this.#onEvict = options.onEvict ?? null;
  }

  get bytes(): number {
    return this.#list.bytes;
  }

  get count(): number {
    return this.#map.size;
  }

  get(key: string): V | undefined {
    const node = this.#map.get(key);
    if (node === undefined) return undefined;
    this.#list.touch(node);
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

  set(key: string, value: V, sizeBytes: number): boolean {
    validateSizeBytes(sizeBytes);
    let node = this.#map.get(key);
    if (sizeBytes > this.maxBytes) {
      if (node !== undefined) this.#remove(node);
      return false;
    }
    if (node === undefined) {
      node = new CacheNode(key, value, sizeBytes, 0);
      this.#map.set(key, node);
      this.#list.push(node);
    } else {
      node.value = value;
      this.#list.resize(node, sizeBytes);
      this.#list.touch(node);
    }
    // The new value is the most recent and fits alone, so it is never its own victim.
    while (this.#list.bytes > this.maxBytes && this.#list.head !== null) {
      const victim = this.#list.head;
      this.#remove(victim);
      this.#onEvict?.(victim.key, victim.value);
    }
    return true;
  }

  delete(key: string): boolean {
    const node = this.#map.get(key);
    if (node === undefined) return false;
    this.#remove(node);
    return true;
  }

  #remove(node: CacheNode<V>): void {
    this.#list.remove(node);
    this.#map.delete(node.key);
  }
}
