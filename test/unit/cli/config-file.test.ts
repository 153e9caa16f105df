// `meridian edge|control|dns --config FILE`: the documented examples parse into the same settings as
// their flags would, unknown keys and wrong types are errors naming the key, a bad value names the
// file's key, and the command line overrides the file.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse, stringify } from 'smol-toml';
import { parseControlCommand } from '../../../src/cli/commands/control.ts';
import { parseDnsCommand } from '../../../src/cli/commands/dns.ts';
import { parseEdgeCommand } from '../../../src/cli/commands/edge.ts';
import { createCertificateAuthority } from '../../../src/common/tls/local-ca.ts';

const EXAMPLES = join(import.meta.dirname, '..', '..', '..', 'docs', 'deploy', 'config');

let dir: string;
/** Key → a file of this machine that stands in for the example's path (a CA, a pair, a token). */
let stand: Record<string, string>;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meridian-config-test-'));
  const ca = await createCertificateAuthority('Config test CA', { key: 'ecdsa-p256' });
  const leaf = await ca.issue({ hosts: ['localhost'] });
  const files = {
    ca: ca.certPem,
    cert: leaf.chainPem,
    key: leaf.keyPem,
    token: 'mrd_from_a_file\n',
  };
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  stand = {
    'control-ca': join(dir, 'ca'),
    'nats-ca': join(dir, 'ca'),
    'origin-ca': join(dir, 'ca'),
    'peer-ca': join(dir, 'ca'),
    'tls-cert': join(dir, 'cert'),
    'tls-key': join(dir, 'key'),
    'token-file': join(dir, 'token'),
    'admin-token-file': join(dir, 'token'),
  };
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The example with its file paths pointed at files that exist here (the keys and values are kept). */
async function localCopy(name: string): Promise<string> {
  const doc = parse(await readFile(join(EXAMPLES, name), 'utf8'));
  for (const key of Object.keys(doc)) if (stand[key] !== undefined) doc[key] = stand[key];
  const file = join(dir, name);
  await writeFile(file, stringify(doc));
  return file;
}

async function writeConfig(name: string, text: string): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, text);
  return file;
}

describe('config files: the documented examples', () => {
  it('docs/deploy/config has one example per process kind, and every one parses', async () => {
    const names = (await readdir(EXAMPLES)).filter((n) => n.endsWith('.toml')).sort();
    assert.deepEqual(names, ['control.toml', 'dns.toml', 'edge-standalone.toml', 'edge.toml']);
    for (const name of names) {
      const file = await localCopy(name);
      const kind = name.split(/[-.]/)[0];
      const parsed =
        kind === 'edge'
          ? parseEdgeCommand(['--config', file])
          : kind === 'control'
            ? parseControlCommand(['--config', file])
            : parseDnsCommand(['--config', file]);
      assert.notEqual(parsed, 'help', name);
    }
  });

  it('edge.toml means what its flags would', async () => {
    const parsed = parseEdgeCommand(['--config', await localCopy('edge.toml')]);
    assert.ok(parsed !== 'help');
    const { config } = parsed;
    assert.deepEqual(
      config.control?.urls?.map((u) => u.href),
      ['https://control-a.internal:8700/', 'https://control-b.internal:8700/'],
    );
    assert.equal(config.control?.token, 'mrd_from_a_file');
    assert.equal(config.memoryCacheBytes, 1024 ** 3);
    assert.equal(config.diskCacheBytes, 200 * 1024 ** 3);
    assert.deepEqual(config.listen, { host: '0.0.0.0', port: 8080 });
    assert.equal(config.tls.unknownSni, 'reject');
    assert.equal(parsed.logLevel, 'info');
  });

  it('control.toml and dns.toml: numbers where a flag takes one, lists as arrays, secrets from files', async () => {
    const control = parseControlCommand(['--config', await localCopy('control.toml')]);
    assert.ok(control !== 'help');
    assert.equal(control.config.eventRetention, 100000);
    assert.deepEqual(control.config.apiRate, { perSecond: 50, burst: 200 });
    assert.equal(control.config.adminToken, 'mrd_from_a_file');
    assert.ok(control.config.tls?.cert.includes('BEGIN CERTIFICATE'));
    const dns = parseDnsCommand(['--config', await localCopy('dns.toml')]);
    assert.ok(dns !== 'help');
    assert.equal(dns.config.maxAddresses, 8);
    assert.equal(dns.config.nameServers?.length, 2);
    assert.equal(dns.config.control.token, 'mrd_from_a_file');
  });
});

describe('config files: errors name the key', () => {
  it('an unknown key, with the near miss', async () => {
    const file = await writeConfig('typo.toml', 'origin = "http://127.0.0.1:9"\nmemory-cach-size = "1G"\n');
    assert.throws(
      () => parseEdgeCommand(['--config', file]),
      /typo\.toml: unknown key "memory-cach-size" \(did you mean "memory-cache-size"\?\)/,
    );
    const other = await writeConfig('other.toml', 'listen = "127.0.0.1:8700"\nwhatever = 1\n');
    assert.throws(() => parseControlCommand(['--config', other]), /other\.toml: unknown key "whatever"$/);
    // Another kind's flag is unknown too: `origin` is an edge flag.
    const dns = await writeConfig('dns-origin.toml', 'origin = "http://x"\n');
    assert.throws(() => parseDnsCommand(['--config', dns]), /unknown key "origin"/);
    // `config` and `help` are command-line only.
    const nested = await writeConfig('nested.toml', 'config = "other.toml"\n');
    assert.throws(() => parseEdgeCommand(['--config', nested]), /unknown key "config"/);
  });

  it('a wrong type: a string for a switch, a table, an array for a single value', async () => {
    const cases: [string, RegExp][] = [
      ['disk-fsync = "yes"', /key "disk-fsync": expected true or false, got string "yes"/],
      ['listen = { host = "x" }', /key "listen": expected a string, got a table/],
      ['origin-timeout = ["1s", "2s"]', /key "origin-timeout": expected a string, got an array/],
      ['control = [1, { a = 1 }]', /key "control": expected a string or an array of strings, got an array/],
      ['cache-dir = 1979-05-27', /key "cache-dir": expected a string, got a date/],
    ];
    for (const [line, expected] of cases) {
      const file = await writeConfig('wrong.toml', `origin = "http://127.0.0.1:9"\n${line}\n`);
      assert.throws(() => parseEdgeCommand(['--config', file]), expected, line);
    }
  });

  it("a bad value names the file's key; bad TOML names the line; a missing file names --config", async () => {
    const size = await writeConfig('size.toml', 'origin = "http://127.0.0.1:9"\nmemory-cache-size = "1XB"\n');
    assert.throws(
      () => parseEdgeCommand(['--config', size]),
      /size\.toml: key "memory-cache-size": expected a size such as 256M.*got "1XB"/,
    );
    const level = await writeConfig('level.toml', 'origin = "http://127.0.0.1:9"\nlog-level = "loud"\n');
    assert.throws(
      () => parseEdgeCommand(['--config', level]),
      /level\.toml: key "log-level": expected debug, info/,
    );
    const broken = await writeConfig('broken.toml', 'origin = "http://127.0.0.1:9"\nlisten =\n');
    assert.throws(
      () => parseEdgeCommand(['--config', broken]),
      /broken\.toml: line 2, column \d+: .*expected TOML/,
    );
    assert.throws(
      () => parseEdgeCommand(['--config', join(dir, 'absent.toml')]),
      /--config: cannot read .*absent\.toml \(ENOENT\)/,
    );
  });

  it('a value given on the command line is named as the flag, not as the key', async () => {
    const file = await writeConfig('fine.toml', 'origin = "http://127.0.0.1:9"\n');
    assert.throws(
      () => parseEdgeCommand(['--config', file, '--memory-cache-size', '1XB']),
      /^UsageError: --memory-cache-size: expected a size/,
    );
  });
});

describe('config files: the command line overrides the file', () => {
  it('a single value, a list and a switch', async () => {
    const file = await writeConfig(
      'base.toml',
      [
        'control = ["http://a:8700", "http://b:8700"]',
        'pop = "fra"',
        'node = "fra-1"',
        'token = "t"',
        'listen = "127.0.0.1:8080"',
        'disk-fsync = true',
        'log-level = "debug"',
      ].join('\n'),
    );
    const fileOnly = parseEdgeCommand(['--config', file]);
    assert.ok(fileOnly !== 'help');
    assert.equal(fileOnly.config.diskFsync, true);
    assert.equal(fileOnly.logLevel, 'debug');
    assert.equal(fileOnly.config.control?.urls?.length, 2);
    const both = parseEdgeCommand([
      '--listen',
      '127.0.0.1:9999',
      '--config',
      file,
      '--control',
      'http://c:8700',
    ]);
    assert.ok(both !== 'help');
    assert.deepEqual(both.config.listen, { host: '127.0.0.1', port: 9999 });
    assert.deepEqual(
      both.config.control?.urls?.map((u) => u.host),
      ['c:8700'],
      'a list flag on the command line replaces the file list',
    );
    assert.equal(both.config.control?.pop, 'fra', 'keys not on the command line still apply');
    const off = parseEdgeCommand(['--config', file, '--no-disk-fsync']);
    assert.ok(off !== 'help');
    assert.equal(off.config.diskFsync, false, '--no-SWITCH turns off what the file turns on');
  });
});
