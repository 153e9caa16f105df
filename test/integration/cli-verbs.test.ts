// Issue 20: the CLI's list verbs print a header row (and --json the raw result); the verbs for PoPs,
// nodes, zone settings and the audit log; `rules add` flag errors. Against a real `meridian control`.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { api, CLI, removeDir, startControlProcess } from '../helpers/processes.ts';
import type { ControlProc } from '../helpers/processes.ts';

let control: ControlProc;

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const child = spawn(process.execPath, [CLI, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, MERIDIAN_API: control.url, MERIDIAN_TOKEN: control.adminToken },
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code: code ?? -1, out, err };
}

/** The first line of a table, its columns split on runs of spaces. */
const headerOf = (out: string): string[] => (out.split('\n')[0] ?? '').split(/ {2,}/);

before(async () => {
  // The node registered below never heart-beats: a long --node-stale keeps it up however slow the
  // machine is (at the default 10 s, a loaded run listed it down).
  control = await startControlProcess({ extra: ['--node-stale', '1h'] });
  const zone = await api(control.url, control.adminToken, 'POST', '/client/v4/zones', {
    name: 'cli',
    hostnames: ['cli.test'],
    origins: [{ url: 'http://127.0.0.1:9' }],
  });
  assert.equal(zone.status, 201);
  const node = await api(control.url, control.adminToken, 'POST', '/client/v4/tokens', {
    name: 'node',
    scopes: ['node'],
  });
  await api(control.url, control.adminToken, 'PUT', '/client/v4/pops/fra', { city: 'Frankfurt' });
  const registered = await api(control.url, node.body.result.value, 'POST', '/internal/v1/nodes/register', {
    name: 'fra-1',
    pop: 'fra',
    url: 'http://127.0.0.1:1',
  });
  assert.equal(registered.status, 200, JSON.stringify(registered.body));
});

after(async () => {
  await control.stop();
  await removeDir(control.dataDir);
});

describe('list verbs: a header row, and --json', () => {
  const cases: [string[], string[]][] = [
    [
      ['zones', 'list'],
      ['ID', 'NAME', 'HOSTNAMES'],
    ],
    [
      ['rules', 'list', '--zone', 'cli'],
      ['POSITION', 'ID', 'MATCH', 'ACTION', 'DESCRIPTION'],
    ],
    [
      ['tokens', 'list'],
      ['ID', 'NAME', 'SCOPES', 'ZONES'],
    ],
    [
      ['certs', 'list', '--zone', 'cli'],
      ['ID', 'TYPE', 'STATUS', 'EXPIRES', 'HOSTS', 'ISSUER'],
    ],
    [
      ['pops', 'list'],
      ['NAME', 'ROLE', 'CITY', 'LATITUDE', 'LONGITUDE', 'CAPACITY'],
    ],
    [
      ['nodes', 'list'],
      ['NAME', 'POP', 'STATUS', 'LAST HEARTBEAT', 'APPLIED SEQ', 'URL'],
    ],
    [['audit'], ['AT', 'TOKEN', 'IP', 'ACTION', 'RESOURCE']],
  ];
  for (const [args, header] of cases) {
    it(`meridian ${args.join(' ')}`, async () => {
      const table = await cli(...args);
      assert.equal(table.code, 0, table.err);
      assert.deepEqual(headerOf(table.out), header);
      const json = await cli(...args, '--json');
      assert.equal(json.code, 0, json.err);
      assert.ok(Array.isArray(JSON.parse(json.out)), json.out);
    });
  }

  it('rows line up under the header', async () => {
    const lines = (await cli('zones', 'list')).out.trimEnd().split('\n');
    assert.equal(lines.length, 2);
    assert.equal(lines[1]?.indexOf('cli'), lines[0]?.indexOf('NAME'));
  });
});

describe('meridian pops and nodes', () => {
  it('put with only a known city, get, list, delete', async () => {
    const put = await cli('pops', 'put', 'sin', '--city', 'Singapore', '--role', 'shield', '--json');
    assert.equal(put.code, 0, put.err);
    const pop = JSON.parse(put.out) as { name: string; latitude: number; role: string };
    assert.deepEqual([pop.name, pop.latitude, pop.role], ['sin', 1.35, 'shield']);
    const got = await cli('pops', 'get', 'sin');
    assert.match(got.out.split('\n')[1] ?? '', /^sin\s+shield\s+Singapore\s+1\.35\s+103\.82\s+unlimited$/);
    assert.match((await cli('pops', 'list')).out, /\nfra\s+edge\s+Frankfurt/);
    assert.equal((await cli('pops', 'delete', 'sin')).code, 0);
    assert.notEqual((await cli('pops', 'get', 'sin')).code, 0);
  });

  it('an unknown city without coordinates is refused, naming latitude', async () => {
    const res = await cli('pops', 'put', 'x1', '--city', 'Atlantis');
    assert.equal(res.code, 1);
    assert.match(res.err, /latitude: required/);
    const half = await cli('pops', 'put', 'x1', '--city', 'Atlantis', '--latitude', '10');
    assert.equal(half.code, 2);
    assert.match(half.err, /--latitude and --longitude/);
  });

  it('nodes list shows the registered node', async () => {
    assert.match((await cli('nodes', 'list')).out, /\nfra-1\s+fra\s+up\s/);
  });
});

describe('meridian zones settings', () => {
  it('shows the settings, and --set changes them (durations, nested keys, JSON values)', async () => {
    const shown = await cli('zones', 'settings', 'cli');
    assert.deepEqual(headerOf(shown.out), ['SETTING', 'VALUE']);
    assert.match(shown.out, /\ndevelopment_mode\s+false\n/);
    const set = await cli(
      'zones',
      'settings',
      'cli',
      '--set',
      'default_ttl=1h',
      '--set',
      'hsts.enabled=true',
      '--set',
      'dns_pops=["fra"]',
      '--json',
    );
    assert.equal(set.code, 0, set.err);
    const settings = JSON.parse(set.out) as {
      default_ttl: number;
      hsts: { enabled: boolean; max_age: number };
      dns_pops: string[];
    };
    assert.equal(settings.default_ttl, 3600);
    assert.deepEqual(settings.hsts.enabled, true);
    assert.equal(settings.hsts.max_age, 31_536_000, 'the other hsts fields are kept');
    assert.deepEqual(settings.dns_pops, ['fra']);
  });

  it('zones create --default-ttl takes 1h', async () => {
    const res = await cli(
      'zones',
      'create',
      '--name',
      'ttl',
      '--hostname',
      'ttl.cli.test',
      '--origin',
      'http://127.0.0.1:9',
      '--default-ttl',
      '1h',
      '--json',
    );
    assert.equal(res.code, 0, res.err);
    assert.equal((JSON.parse(res.out) as { settings: { default_ttl: number } }).settings.default_ttl, 3600);
  });

  it('an unknown setting is refused, naming it', async () => {
    const res = await cli('zones', 'settings', 'cli', '--set', 'developmnt_mode=true');
    assert.equal(res.code, 1);
    assert.match(res.err, /settings\.developmnt_mode: unknown field/);
    const bad = await cli('zones', 'settings', 'cli', '--set', 'default_ttl=forever');
    assert.equal(bad.code, 2);
    assert.match(bad.err, /--set default_ttl: expected a duration/);
  });
});

describe('meridian rules add', () => {
  it('no match condition → exit 2 naming the flags; --all is the explicit catch-all', async () => {
    const res = await cli('rules', 'add', '--zone', 'cli', '--edge-ttl', '60');
    assert.equal(res.code, 2);
    assert.match(res.err, /no match condition: give --path, --ext or --method, or --all/);
    const all = await cli('rules', 'add', '--zone', 'cli', '--all', '--browser-ttl', '1h', '--json');
    assert.equal(all.code, 0, all.err);
    const rule = JSON.parse(all.out) as { match: unknown; action: { browser_ttl: number } };
    assert.deepEqual(rule.match, {});
    assert.equal(rule.action.browser_ttl, 3600);
  });

  it('--path without a leading slash and --edge-ttl 1x name the flag', async () => {
    const path = await cli('rules', 'add', '--zone', 'cli', '--path', 'static/**', '--bypass');
    assert.equal(path.code, 2);
    assert.match(path.err, /--path: must start with "\/"/);
    const ttl = await cli('rules', 'add', '--zone', 'cli', '--path', '/s/*', '--edge-ttl', '1x');
    assert.equal(ttl.code, 2);
    assert.match(ttl.err, /--edge-ttl: expected a duration/);
    const ok = await cli('rules', 'add', '--zone', 'cli', '--path', '/s/*', '--edge-ttl', '1d', '--json');
    assert.equal((JSON.parse(ok.out) as { action: { edge_ttl: number } }).action.edge_ttl, 86_400);
  });
});

describe('meridian audit', () => {
  it('--limit N prints N entries, newest first', async () => {
    const res = await cli('audit', '--limit', '2', '--json');
    assert.equal(res.code, 0, res.err);
    const entries = JSON.parse(res.out) as { id: number; action: string }[];
    assert.equal(entries.length, 2);
    assert.ok((entries[0]?.id ?? 0) > (entries[1]?.id ?? 0));
    const bad = await cli('audit', '--limit', 'lots');
    assert.equal(bad.code, 2);
    assert.match(bad.err, /--limit: expected an integer/);
  });
});
