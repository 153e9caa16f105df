// The upstream request head: end-to-end fields only, no HTTP/2 pseudo-headers, X-Forwarded-Proto
// from the scheme the pipeline decided (never the client's), Via and X-Forwarded-For appended.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { forwardHeaders } from '../../../../src/edge/upstream/request-headers.ts';

const h2Request = {
  headers: {
    ':method': 'GET',
    ':path': '/a?b=1',
    ':authority': 'site.test',
    ':scheme': 'https',
    accept: 'text/html',
    te: 'trailers',
    'x-forwarded-proto': 'http',
    via: '2 client-proxy',
  },
  socket: { remoteAddress: '192.0.2.7' },
};

describe('forwardHeaders', () => {
  it('drops pseudo-headers and hop-by-hop fields, keeps end-to-end ones', () => {
    const out = forwardHeaders(h2Request, {
      host: 'site.test',
      via: '2 edge-1',
      proto: 'https',
      forFill: false,
    });
    assert.deepEqual(
      Object.keys(out).filter((n) => n.startsWith(':') || n === 'te'),
      [],
    );
    assert.equal(out.accept, 'text/html');
    assert.equal(out.host, 'site.test');
  });

  it("X-Forwarded-Proto is the pipeline's scheme, whatever the client sent", () => {
    const out = forwardHeaders(h2Request, {
      host: 'site.test',
      via: '2 edge-1',
      proto: 'https',
      forFill: true,
    });
    assert.equal(out['x-forwarded-proto'], 'https');
    const plain = forwardHeaders(
      { headers: { 'x-forwarded-proto': 'https' }, socket: { remoteAddress: '192.0.2.8' } },
      { host: 'site.test', via: '1.1 edge-1', proto: 'http', forFill: true },
    );
    assert.equal(plain['x-forwarded-proto'], 'http');
    assert.equal(plain['x-forwarded-for'], '192.0.2.8');
  });

  it('appends this hop to Via and the client to X-Forwarded-For', () => {
    const out = forwardHeaders(h2Request, {
      host: 'site.test',
      via: '2 edge-1',
      proto: 'https',
      forFill: false,
    });
    assert.equal(out.via, '2 client-proxy, 2 edge-1');
    assert.equal(out['x-forwarded-for'], '192.0.2.7');
  });
});
