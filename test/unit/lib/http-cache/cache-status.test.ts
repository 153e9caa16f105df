import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatCacheStatus } from '../../../../src/lib/http-cache/cache-status.ts';
import type { CacheStatusEntry } from '../../../../src/lib/http-cache/cache-status.ts';

describe('formatCacheStatus (RFC 9211)', () => {
  const rows: [string, CacheStatusEntry, string][] = [
    ['name only', { cache: 'Meridian' }, 'Meridian'],
    ['hit with ttl', { cache: 'Meridian', hit: true, ttl: 300 }, 'Meridian; hit; ttl=300'],
    [
      'miss, stored, collapsed',
      { cache: 'Meridian', fwd: 'miss', fwdStatus: 200, stored: true, collapsed: true },
      'Meridian; fwd=miss; fwd-status=200; stored; collapsed',
    ],
    [
      'false booleans are left out',
      { cache: 'Meridian', hit: false, stored: false, collapsed: false },
      'Meridian',
    ],
    ['negative ttl (stale)', { cache: 'Meridian', hit: true, ttl: -12 }, 'Meridian; hit; ttl=-12'],
    ['ttl 0', { cache: 'Meridian', hit: true, ttl: 0 }, 'Meridian; hit; ttl=0'],
    [
      'fractional numbers are truncated',
      { cache: 'Meridian', ttl: 2.9, fwdStatus: 200.5 },
      'Meridian; fwd-status=200; ttl=2',
    ],
    ['non-finite numbers are left out', { cache: 'Meridian', ttl: NaN, fwdStatus: Infinity }, 'Meridian'],
    ['too-large integers are left out', { cache: 'Meridian', ttl: 1e16 }, 'Meridian'],
    [
      'every parameter, in RFC order',
      {
        cache: 'Meridian',
        detail: 'd',
        key: 'k',
        collapsed: true,
        stored: true,
        ttl: 1,
        fwdStatus: 304,
        fwd: 'stale',
        hit: true,
      },
      'Meridian; hit; fwd=stale; fwd-status=304; ttl=1; stored; collapsed; key="k"; detail="d"',
    ],
    ['key is an sf-string', { cache: 'Meridian', key: 'https://a/b?c=1' }, 'Meridian; key="https://a/b?c=1"'],
    [
      'quotes and backslashes are escaped',
      { cache: 'Meridian', detail: 'a "b" \\c' },
      'Meridian; detail="a \\"b\\" \\\\c"',
    ],
    [
      'non-ASCII and control characters become "?"',
      { cache: 'Meridian', detail: 'café\n€😀' },
      'Meridian; detail="caf????"',
    ],
    ['empty detail', { cache: 'Meridian', detail: '' }, 'Meridian; detail=""'],
    ['a cache name that is a token', { cache: 'edge-1.fra:x/y' }, 'edge-1.fra:x/y'],
    ['a cache name that is not a token is a string', { cache: 'Meridian FRA' }, '"Meridian FRA"'],
    ['a cache name starting with a digit is a string', { cache: '1edge' }, '"1edge"'],
    ...(['bypass', 'method', 'uri-miss', 'vary-miss', 'miss', 'request', 'stale', 'partial'] as const).map(
      (fwd): [string, CacheStatusEntry, string] => [`fwd=${fwd}`, { cache: 'M', fwd }, `M; fwd=${fwd}`],
    ),
  ];
  for (const [name, entry, expected] of rows) {
    test(name, () => assert.equal(formatCacheStatus(entry), expected));
  }
});
