// Issue 2, point 2: strict parsing. Malformed and smuggling-shaped requests get the right 4xx over a
// raw socket, and the edge keeps serving afterwards (never crashes).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  fetchReply,
  originCount,
  rawExchange,
  removeDir,
  startEdgeProcess,
  startTestOrigin,
  statusOf,
} from '../helpers/processes.ts';
import type { EdgeProc, Proc } from '../helpers/processes.ts';

let origin: Proc;
let edge: EdgeProc;

before(async () => {
  origin = await startTestOrigin();
  edge = await startEdgeProcess(origin.url, ['--client-header-timeout', '1s']);
});

after(async () => {
  await edge.stop();
  await origin.stop();
  await removeDir(edge.cacheDir);
});

const CASES: [string, string, number][] = [
  [
    'Content-Length with Transfer-Encoding',
    'POST /p1 HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    400,
  ],
  [
    'duplicate differing Content-Length',
    'POST /p2 HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde',
    400,
  ],
  ['invalid Content-Length', 'POST /p3 HTTP/1.1\r\nHost: a\r\nContent-Length: 4x\r\n\r\nabcd', 400],
  ['obsolete line folding', 'GET /p4 HTTP/1.1\r\nHost: a\r\nX-Folded: one\r\n two\r\n\r\n', 400],
  ['invalid header name', 'GET /p5 HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n', 400],
  ['control character in a header value', 'GET /p6 HTTP/1.1\r\nHost: a\r\nX-A: a\x01b\r\n\r\n', 400],
  ['missing Host on HTTP/1.1', 'GET /p7 HTTP/1.1\r\n\r\n', 400],
  ['two Host headers', 'GET /p8 HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 400],
  ['invalid Host', 'GET /p9 HTTP/1.1\r\nHost: a b/c\r\n\r\n', 400],
  ['absolute-form target for another host', 'GET http://evil.example/p10 HTTP/1.1\r\nHost: a\r\n\r\n', 400],
  ['garbage request line', 'HELLO\r\n\r\n', 400],
  [
    'invalid chunk size',
    'POST /p11 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n',
    400,
  ],
  ['unknown transfer coding', 'POST /p12 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n', 400],
  ['oversized header section', `GET /p13 HTTP/1.1\r\nHost: a\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431],
  ['oversized URI within the header limit', `GET /${'u'.repeat(9_000)} HTTP/1.1\r\nHost: a\r\n\r\n`, 414],
  ['oversized URI beyond the header limit', `GET /${'u'.repeat(20_000)} HTTP/1.1\r\nHost: a\r\n\r\n`, 414],
];

describe('strict request parsing', () => {
  for (const [name, payload, status] of CASES) {
    it(`${name} → ${status}`, async () => {
      const raw = await rawExchange(edge.port, payload);
      assert.equal(statusOf(raw), status, raw.slice(0, 200));
    });
  }

  it('a client that does not finish its headers gets 408', async () => {
    const raw = await rawExchange(edge.port, 'GET /slowloris HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n', 4_000);
    assert.equal(statusOf(raw), 408, raw.slice(0, 200));
  });

  it('absolute-form for the same host is accepted', async () => {
    const raw = await rawExchange(
      edge.port,
      `GET http://a/abs?cc=max-age%3D60 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n`,
    );
    assert.equal(statusOf(raw), 200, raw.slice(0, 200));
  });

  it('no malformed request reached the origin, and the edge still serves', async () => {
    for (const path of ['/p1', '/p2', '/p3', '/p4', '/p5', '/p8', '/p10'])
      assert.equal(await originCount(origin, path), 0, path);
    const reply = await fetchReply(`${edge.url}/alive?cc=max-age%3D60`);
    assert.equal(reply.status, 200);
    assert.equal(edge.child.exitCode, null);
  });
});
