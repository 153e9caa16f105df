// Which worker of a node owns a key: it keeps the key's disk copy and makes the node's one upstream
// fetch for it. The worker count is fixed while the node runs, so a plain hash modulo the count is
// enough (rendezvous hashing is for sets that change). FNV-1a over the UTF-16 code units, written by
// hand: node:crypto would cost a native call and a Buffer per miss. Pure.

export function ownerOf(primaryKey: string, workers: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < primaryKey.length; i++) {
    hash ^= primaryKey.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % workers;
}
