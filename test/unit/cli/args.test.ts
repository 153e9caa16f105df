// Issue 20: sizes and durations as operators write them (nginx's K/M/G, 1h, 1d), every other value
// an error naming the flag; `rules add` flags checked before the control plane is asked.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDuration, parseSeconds, parseSize, UsageError } from '../../../src/cli/args.ts';
import { ruleBodyOf } from '../../../src/cli/commands/rules.ts';
import { parseEdgeArgs } from '../../../src/cli/commands/edge.ts';

const KiB = 1024;
const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const TiB = 1024 ** 4;

describe('parseSize', () => {
  const good: [string, number][] = [
    ['4096', 4096],
    ['512b', 512],
    ['256M', 256 * MiB],
    ['256m', 256 * MiB],
    ['256MB', 256 * MiB],
    ['256mb', 256 * MiB],
    ['256MiB', 256 * MiB],
    ['256mib', 256 * MiB],
    ['64k', 64 * KiB],
    ['64KB', 64 * KiB],
    ['64KiB', 64 * KiB],
    ['10G', 10 * GiB],
    ['10GB', 10 * GiB],
    ['10GiB', 10 * GiB],
    ['1T', TiB],
    ['2TB', 2 * TiB],
    ['1TiB', TiB],
    ['1.5G', 1.5 * GiB],
  ];
  for (const [text, bytes] of good)
    it(`"${text}" is ${bytes} bytes`, () => assert.equal(parseSize('memory-cache-size', text), bytes));

  for (const bad of ['1XB', '12 potatoes', '-1G', '', 'G', '1GG', '1 GB', '0', '1e3', '1Gi', '1P'])
    it(`"${bad}" is an error naming the flag`, () => {
      assert.throws(
        () => parseSize('memory-cache-size', bad),
        (err: Error) =>
          err instanceof UsageError &&
          err.message.startsWith('--memory-cache-size: expected a size') &&
          err.message.includes(`"${bad}"`),
      );
    });

  it('reaches every caller: meridian edge --memory-cache-size 256M is 256 MiB', () => {
    const config = parseEdgeArgs([
      '--origin',
      'http://127.0.0.1:9',
      '--memory-cache-size',
      '256M',
      '--disk-cache-size',
      '1g',
      '--max-object-size',
      '8MiB',
    ]);
    assert.notEqual(config, 'help');
    if (config === 'help') return;
    assert.equal(config.memoryCacheBytes, 256 * MiB);
    assert.equal(config.diskCacheBytes, GiB);
    assert.throws(
      () => parseEdgeArgs(['--origin', 'http://127.0.0.1:9', '--disk-cache-size', '1XB']),
      /--disk-cache-size/,
    );
  });
});

describe('parseDuration', () => {
  const good: [string, number][] = [
    ['30', 30_000],
    ['500ms', 500],
    ['30s', 30_000],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['1d', 86_400_000],
    ['1.5h', 5_400_000],
  ];
  for (const [text, ms] of good)
    it(`"${text}" is ${ms} ms`, () => assert.equal(parseDuration('timeout', text), ms));
  for (const bad of ['1w', '-1s', 'soon', '', '1 h', 'h'])
    it(`"${bad}" is an error naming the flag`, () =>
      assert.throws(() => parseDuration('timeout', bad), /^UsageError: --timeout: expected a duration/));

  it('reaches every caller: meridian edge --default-ttl 1h, --origin-timeout 1m', () => {
    const config = parseEdgeArgs([
      '--origin',
      'http://127.0.0.1:9',
      '--default-ttl',
      '1h',
      '--origin-timeout',
      '1m',
    ]);
    assert.notEqual(config, 'help');
    if (config === 'help') return;
    assert.equal(config.policy.defaultTtlSec, 3600);
    assert.equal(config.timeouts.originHeadersMs, 60_000);
  });

  it('parseSeconds: TTLs in whole seconds', () => {
    assert.equal(parseSeconds('edge-ttl', '1h'), 3600);
    assert.equal(parseSeconds('edge-ttl', '1d'), 86_400);
    assert.equal(parseSeconds('edge-ttl', '86400'), 86_400);
    assert.throws(() => parseSeconds('edge-ttl', '500ms'), /^UsageError: --edge-ttl: expected whole seconds/);
  });
});

describe('rules add flags', () => {
  const base = { all: false, bypass: false, 'override-origin': false };
  it('no match condition → an error naming the flags, and --all to mean every request', () => {
    assert.throws(
      () => ruleBodyOf({ ...base, 'edge-ttl': '60' }),
      /no match condition: give --path, --ext or --method, or --all/,
    );
    const all = ruleBodyOf({ ...base, all: true, bypass: true });
    assert.deepEqual(all.match, {});
    assert.throws(() => ruleBodyOf({ ...base, all: true, path: '/a' }), /^UsageError: --all: /);
  });

  it('--path without a leading slash → an error naming --path', () => {
    assert.throws(
      () => ruleBodyOf({ ...base, path: 'static/**' }),
      /^UsageError: --path: must start with "\/"/,
    );
    assert.deepEqual(ruleBodyOf({ ...base, path: '/static/**' }).match, { path: '/static/**' });
  });

  it('--edge-ttl 1h and 1d are seconds; a bad one names the flag', () => {
    assert.deepEqual(ruleBodyOf({ ...base, ext: ['.css'], 'edge-ttl': '1h', 'browser-ttl': '1d' }), {
      match: { extensions: ['css'] },
      action: { bypass: false, override_origin: false, edge_ttl: 3600, browser_ttl: 86_400 },
      description: '',
    });
    assert.throws(
      () => ruleBodyOf({ ...base, path: '/', 'edge-ttl': 'forever' }),
      /^UsageError: --edge-ttl: /,
    );
    assert.throws(() => ruleBodyOf({ ...base, path: '/', position: '-1' }), /^UsageError: --position: /);
  });
});
