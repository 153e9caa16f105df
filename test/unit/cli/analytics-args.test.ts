import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { analyticsRetentionOf } from '../../../src/cli/commands/control.ts';
import { parseEdgeArgs } from '../../../src/cli/commands/edge.ts';
import { UsageError } from '../../../src/cli/args.ts';

describe('analytics flags', () => {
  it('--analytics-retention sets any subset and refuses what makes no sense', () => {
    const r = analyticsRetentionOf('minute=2d,day=400d');
    assert.equal(r.minuteMs, 2 * 86_400_000);
    assert.equal(r.hourMs, 90 * 86_400_000);
    assert.equal(r.dayMs, 400 * 86_400_000);
    assert.throws(() => analyticsRetentionOf('week=2d'), /--analytics-retention: expected minute=DUR/);
    assert.throws(() => analyticsRetentionOf('minute=100d'), /minutes cannot outlive hours/);
  });

  it('edge access log, GeoIP and analytics flags', () => {
    const base = ['--origin', 'http://127.0.0.1:9'];
    const config = parseEdgeArgs([
      ...base,
      '--access-log',
      'stdout',
      '--access-log-format',
      'combined',
      '--geoip',
      'a.mmdb,b.mmdb',
    ]);
    assert.ok(config !== 'help');
    assert.deepEqual(config.accessLog, {
      destination: 'stdout',
      format: 'combined',
      maxBytes: 100 * 1024 * 1024,
      keep: 5,
    });
    assert.deepEqual(config.geoipFiles, ['a.mmdb', 'b.mmdb']);
    assert.equal(config.analytics, true);
    const off = parseEdgeArgs([...base, '--analytics', 'off']);
    assert.ok(off !== 'help' && off.accessLog === null && off.analytics === false);
    assert.throws(() => parseEdgeArgs([...base, '--access-log-format', 'xml']), UsageError);
    assert.throws(() => parseEdgeArgs([...base, '--analytics', 'maybe']), /--analytics: expected on or off/);
    assert.throws(() => parseEdgeArgs([...base, '--access-log-keep', '0']), /--access-log-keep/);
  });
});
