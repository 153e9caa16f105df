// Intrusive doubly linked LRU lists: each cache entry is one node that sits in at most one list, so
// moving an entry between the regions of a cache (window, probation, protected) is O(1) and allocates
// nothing. Head = least recently used, tail = most recently used. Each list keeps its byte total.

/** Which list a node is in. */
export type Region = 'window' | 'probation' | 'protected' | 'none';

export class CacheNode<V> {
  readonly key: string;
  value: V;
  sizeBytes: number;
  /** Sketch hash of key, computed once (0 where no sketch is used). */
  readonly hash: number;
  region: Region = 'none';
  prev: CacheNode<V> | null = null;
  next: CacheNode<V> | null = null;

  constructor(key: string, value: V, sizeBytes: number, hash: number) {
    this.key = key;
    this.value = value;
    this.sizeBytes = sizeBytes;
    this.hash = hash;
  }
}

export class NodeList<V> {
  readonly region: Region;
  head: CacheNode<V> | null = null;
  tail: CacheNode<V> | null = null;
  bytes = 0;

  constructor(region: Region) {
    this.region = region;
  }

  /** Appends a node that is in no list as the most recently used. */
  push(node: CacheNode<V>): void {
    node.region = this.region;
    node.prev = this.tail;
    node.next = null;
    if (this.tail === null) this.head = node;
    else this.tail.next = node;
    this.tail = node;
    this.bytes += node.sizeBytes;
  }

  /** Unlinks a node of this list; it is then in no list. */
  remove(node: CacheNode<V>): void {
    if (node.prev === null) this.head = node.next;
    else node.prev.next = node.next;
    if (node.next === null) this.tail = node.prev;
    else node.next.prev = node.prev;
    node.prev = null;
    node.next = null;
    node.region = 'none';
    this.bytes -= node.sizeBytes;
  }

  /** Makes a node of this list the most recently used. */
  touch(node: CacheNode<V>): void {
    if (node === this.tail) return;
    this.remove(node);
    this.push(node);
  }

  /** Changes the size of a node of this list, keeping the byte total right. */
  resize(node: CacheNode<V>, sizeBytes: number): void {
    this.bytes += sizeBytes - node.sizeBytes;
    node.sizeBytes = sizeBytes;
  }
}
