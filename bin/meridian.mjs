#!/usr/bin/env node
// The `meridian` bin for npx. Plain JavaScript so that it starts on any Node: where the running Node
// is older than 24 it re-executes itself under Node 24 (installed by scripts/node24.sh), then runs
// the TypeScript CLI with Node's type stripping.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  const script = `. "${join(root, 'scripts', 'node24.sh')}" && exec node "$@"`;
  const args = ['-c', script, 'meridian', fileURLToPath(import.meta.url), ...process.argv.slice(2)];
  const child = spawnSync('bash', args, { stdio: 'inherit' });
  process.exit(child.status ?? 1);
}
await import(join(root, 'src', 'cli', 'main.ts'));
