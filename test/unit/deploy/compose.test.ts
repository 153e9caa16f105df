// compose.yaml and docs/deploy/topology.json describe the same processes: each Meridian service's
// `command:` (one argument a line) and `environment:` in compose.yaml are topology.json's, line by
// line. No YAML parser is installed, so the comparison is textual, on the exact lines compose.yaml
// is written with; test/integration/deploy-topology.test.ts runs topology.json's commands.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const compose = readFileSync(join(ROOT, 'compose.yaml'), 'utf8');
const topology = JSON.parse(readFileSync(join(ROOT, 'docs', 'deploy', 'topology.json'), 'utf8')) as {
  services: Record<string, { address: string; command: string[]; environment: Record<string, string> }>;
};

/**
 * A YAML single-quoted scalar (prettier's style for compose.yaml): no escapes but '' for ', so the
 * same text means the same value.
 */
function quoted(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** The lines of one service's block: from `  name:` to the next service or top-level key. */
function serviceBlock(name: string): string[] {
  const lines = compose.split('\n');
  const start = lines.indexOf(`  ${name}:`);
  assert.notEqual(start, -1, `compose.yaml has a service ${name}`);
  const end = lines.findIndex((line, i) => i > start && /^( {2})?\S/.test(line));
  return lines.slice(start + 1, end === -1 ? undefined : end);
}

/** The item lines under `    key:` in a block (until the indentation falls back). */
function section(block: string[], key: string): string[] {
  const start = block.indexOf(`    ${key}:`);
  assert.notEqual(start, -1, `${key}: present`);
  const items: string[] = [];
  for (const line of block.slice(start + 1)) {
    if (!line.startsWith('      ')) break;
    items.push(line);
  }
  return items;
}

describe('compose.yaml and docs/deploy/topology.json', () => {
  for (const [name, service] of Object.entries(topology.services)) {
    it(`${name}: the same command, environment and address`, () => {
      const block = serviceBlock(name);
      assert.deepEqual(
        section(block, 'command'),
        service.command.map((arg) => `      - ${quoted(arg)}`),
      );
      assert.deepEqual(
        section(block, 'environment'),
        Object.entries(service.environment).map(([k, v]) => `      ${k}: ${quoted(v)}`),
      );
      assert.ok(block.includes(`        ipv4_address: ${service.address}`), `${name} at ${service.address}`);
      assert.ok(block.includes('    <<: *meridian'), `${name} runs the Meridian image`);
    });
  }

  it('every service that runs the Meridian image is in topology.json, and compose points to it', () => {
    const lines = compose.split('\n');
    const meridian = lines
      .map((line, i) => (line === '    <<: *meridian' ? (lines[i - 1] ?? '').trim().replace(/:$/, '') : null))
      .filter((name): name is string => name !== null);
    assert.deepEqual(meridian.sort(), Object.keys(topology.services).sort());
    assert.match(compose, /docs\/deploy\/topology\.json/);
  });

  it('the master key is a secret file and the admin token comes from the environment', () => {
    assert.match(compose, /master_key:\n {4}file: \.\/secrets\/master\.key/);
    for (const name of ['control-a', 'control-b']) {
      const command = topology.services[name]?.command ?? [];
      assert.equal(command[command.indexOf('--master-key-file') + 1], '/run/secrets/master_key');
      assert.match(
        topology.services[name]?.environment.MERIDIAN_ADMIN_TOKEN ?? '',
        /^\$\{MERIDIAN_ADMIN_TOKEN/,
      );
    }
  });
});

describe('compose.yaml read by a real YAML parser (PyYAML, where python3 has it)', () => {
  it('gives every Meridian service topology.json’s command and environment', async (t) => {
    const { spawnSync } = await import('node:child_process');
    const script =
      'import json, sys, yaml\n' +
      'd = yaml.safe_load(open(sys.argv[1]))\n' +
      'print(json.dumps({k: {"command": v.get("command"), "environment": v.get("environment"), "read_only": v.get("read_only")} for k, v in d["services"].items()}))\n';
    const run = spawnSync('python3', ['-c', script, join(ROOT, 'compose.yaml')], { encoding: 'utf8' });
    if (run.status !== 0) {
      t.skip(`no YAML parser: ${(run.stderr || String(run.error)).trim().split('\n').at(-1)}`);
      return;
    }
    const parsed = JSON.parse(run.stdout) as Record<
      string,
      { command: string[]; environment: Record<string, string>; read_only: boolean }
    >;
    for (const [name, service] of Object.entries(topology.services)) {
      assert.deepEqual(parsed[name]?.command, service.command, name);
      assert.deepEqual(parsed[name]?.environment, service.environment, name);
      assert.equal(parsed[name]?.read_only, true, `${name} inherits the x-meridian settings`);
    }
  });
});
