// purge-rules.json in the node's state directory: the purge rules still active, so that objects on
// disk stored before a prefix / host / tag / everything purge stay purged after a restart, also when
// the sweeper had not reached them yet. Written whole (temporary file, fsync, rename, fsync of the
// directory) on every change: a crash leaves the old file or the new one, never half of one.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileDurably } from '../../common/fs/durable-write.ts';
import type { InvalidationRule, RuleKind } from '../cache/invalidation.ts';

const FILE = 'purge-rules.json';
const KINDS: readonly RuleKind[] = ['prefix', 'host', 'tag', 'everything'];

export function loadRules(stateDir: string): InvalidationRule[] {
  let text: string;
  try {
    text = readFileSync(join(stateDir, FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const parsed = JSON.parse(text) as { rules?: unknown };
  if (!Array.isArray(parsed.rules)) throw new Error(`${FILE}: "rules" is not a list`);
  return parsed.rules.filter(isRule);
}

/**
 * Writes the rules durably. Off the event loop: the purger has already put the rules in effect in
 * memory, and the node records the purge as applied (last-known-good.json, receipts) only once this
 * write has landed (edge/sync/state-writes.ts).
 */
export async function saveRules(stateDir: string, rules: readonly InvalidationRule[]): Promise<void> {
  await writeFileDurably(join(stateDir, FILE), JSON.stringify({ rules }));
}

function isRule(value: unknown): value is InvalidationRule {
  if (typeof value !== 'object' || value === null) return false;
  const r = value as Record<string, unknown>;
  return (
    typeof r.id === 'string' &&
    KINDS.includes(r.kind as RuleKind) &&
    typeof r.value === 'string' &&
    (r.hosts === null || (Array.isArray(r.hosts) && r.hosts.every((h) => typeof h === 'string'))) &&
    typeof r.soft === 'boolean' &&
    typeof r.atMs === 'number'
  );
}
