// purge-rules.json in the node's state directory: the purge rules still active, so that objects on
// disk stored before a prefix / host / tag / everything purge stay purged after a restart, also when
// the sweeper had not reached them yet. Written whole (write, then rename) on every change: a crash
// leaves the old file or the new one, never half of one.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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

/** Synchronous on purpose: the rule must be on disk before the purge is acknowledged. */
export function saveRules(stateDir: string, rules: readonly InvalidationRule[]): void {
  const path = join(stateDir, FILE);
  writeFileSync(`${path}.tmp`, JSON.stringify({ rules }));
  renameSync(`${path}.tmp`, path);
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
