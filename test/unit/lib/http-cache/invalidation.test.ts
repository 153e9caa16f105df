import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Headers } from '../../../../src/lib/http-cache/headers.ts';
import { invalidatedUrls } from '../../../../src/lib/http-cache/policy.ts';

const TARGET = 'https://example.com/items/1?x=1';

type Row = [name: string, method: string, status: number, res: Headers, expected: string[]];

describe('invalidatedUrls (RFC 9111 §4.4)', () => {
  const rows: Row[] = [
    ['POST 200: the target', 'POST', 200, {}, [TARGET]],
    ['PUT 204', 'PUT', 204, {}, [TARGET]],
    ['DELETE 202', 'DELETE', 202, {}, [TARGET]],
    ['PATCH 303 (3xx is a non-error status)', 'PATCH', 303, {}, [TARGET]],
    ['unknown method counts as unsafe', 'PURGEX', 200, {}, [TARGET]],
    ['lower-case "get" is an unknown method', 'get', 200, {}, [TARGET]],
    ['GET is safe', 'GET', 200, {}, []],
    ['HEAD is safe', 'HEAD', 200, {}, []],
    ['OPTIONS is safe', 'OPTIONS', 200, {}, []],
    ['TRACE is safe', 'TRACE', 200, {}, []],
    ['error status 400', 'POST', 400, {}, []],
    ['error status 500', 'POST', 500, {}, []],
    ['informational 100', 'POST', 100, {}, []],
    [
      'same-origin Location',
      'POST',
      201,
      { location: 'https://example.com/items/2' },
      [TARGET, 'https://example.com/items/2'],
    ],
    [
      'relative Location is resolved',
      'POST',
      201,
      { location: '/items/3' },
      [TARGET, 'https://example.com/items/3'],
    ],
    [
      'path-relative Location is resolved',
      'POST',
      201,
      { location: '4' },
      [TARGET, 'https://example.com/items/4'],
    ],
    [
      'same-origin Content-Location',
      'PUT',
      200,
      { 'content-location': '/items/1.json' },
      [TARGET, 'https://example.com/items/1.json'],
    ],
    [
      'both, deduplicated',
      'POST',
      200,
      { location: '/a', 'content-location': 'https://example.com/a' },
      [TARGET, 'https://example.com/a'],
    ],
    ['Location equal to the target is not repeated', 'POST', 200, { location: TARGET }, [TARGET]],
    ['cross-origin host: MUST NOT', 'POST', 201, { location: 'https://evil.example/items/2' }, [TARGET]],
    ['cross-origin scheme', 'POST', 201, { location: 'http://example.com/items/2' }, [TARGET]],
    ['cross-origin port', 'POST', 201, { location: 'https://example.com:8443/items/2' }, [TARGET]],
    [
      'explicit default port is the same origin',
      'POST',
      201,
      { location: 'https://example.com:443/b' },
      [TARGET, 'https://example.com/b'],
    ],
    ['protocol-relative to another host', 'POST', 201, { location: '//evil.example/x' }, [TARGET]],
    ['opaque URL ignored', 'POST', 201, { location: 'data:text/plain,hi' }, [TARGET]],
    ['unparseable Location ignored', 'POST', 201, { location: 'http://[::1' }, [TARGET]],
    ['fragments are dropped', 'POST', 201, { location: '/c#top' }, [TARGET, 'https://example.com/c']],
    [
      'array Location: the first line',
      'POST',
      201,
      { location: ['/d', '/e'] },
      [TARGET, 'https://example.com/d'],
    ],
  ];
  for (const [name, method, status, res, expected] of rows) {
    test(name, () => assert.deepEqual(invalidatedUrls(method, status, TARGET, res), expected));
  }
  test('the target is normalised to an absolute URL without fragment', () => {
    assert.deepEqual(invalidatedUrls('POST', 200, 'HTTPS://Example.COM/a#frag', {}), [
      'https://example.com/a',
    ]);
  });
  test('a target that is not an absolute URL is returned as given', () => {
    assert.deepEqual(invalidatedUrls('POST', 200, '/relative', { location: '/x' }), ['/relative']);
  });
});
