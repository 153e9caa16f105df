// Writes a node must see land before it records that it applied an event. The purger applies a
// purge in memory at once (lookups miss from that moment) and finishes its disk side in the
// background: the unlinks of purged objects, rewritten heads, purge-rules.json. Until those land, a
// crash would bring purged objects back from disk; so last-known-good.json (the seq the node resumes
// from: every purge after it is applied again at start) and the purge receipts wait for them.
//
// Keyed by the state folder (the node's cache folder): the purger and the follower of one node
// share it, and nodes in one process (tests) stay apart.
import { resolve } from 'node:path';

const pending = new Map<string, Set<Promise<void>>>();

/** Registers a write under way for `stateDir`; its failure is the writer's to report. */
export function trackStateWrite(stateDir: string, write: Promise<unknown>): void {
  const key = resolve(stateDir);
  let writes = pending.get(key);
  if (writes === undefined) pending.set(key, (writes = new Set()));
  const settled = write.then(
    () => undefined,
    () => undefined,
  );
  writes.add(settled);
  void settled.then(() => {
    writes.delete(settled);
    if (writes.size === 0 && pending.get(key) === writes) pending.delete(key);
  });
}

/** Resolves once every write registered for `stateDir` before this call has landed (or failed). */
export async function stateWritesSettled(stateDir: string): Promise<void> {
  const writes = pending.get(resolve(stateDir));
  if (writes === undefined || writes.size === 0) return;
  await Promise.all([...writes]);
}
