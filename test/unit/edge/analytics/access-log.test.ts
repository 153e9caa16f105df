import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  AccessLog,
  combinedLine,
  jsonLine,
  type AccessRecord,
} from '../../../../src/edge/analytics/access-log.ts';
import { createLogger } from '../../../../src/common/log.ts';

const record = (over: Partial<AccessRecord> = {}): AccessRecord => ({
  time: '2026-12-03T12:34:56.789Z',
  node: 'fra-1',
  pop: 'fra',
  zone: 'demo',
  zone_id: 'z1',
  client_ip: '192.0.2.7',
  country: null,
  method: 'GET',
  scheme: 'https',
  host: 'www.example.test',
  path: '/a?b=1',
  protocol: 'HTTP/2',
  status: 200,
  bytes: 1234,
  cache: 'hit',
  content_type: 'text/html',
  ttfb_ms: 0.123,
  origin_ms: null,
  duration_ms: 0.2,
  user_agent: 'curl/8',
  referrer: '',
  ...over,
});

describe('access log lines', () => {
  it('JSON lines are the record, field for field, also with hostile strings', () => {
    for (const r of [
      record(),
      record({
        path: '/"quoted"\\\n\u0000</script>',
        user_agent: 'a"b',
        referrer: 'x\ty',
        country: 'DE',
        origin_ms: 12.5,
      }),
    ]) {
      const line = jsonLine(r);
      assert.ok(line.endsWith('\n') && !line.slice(0, -1).includes('\n'));
      assert.deepEqual(JSON.parse(line), r);
      assert.deepEqual(Object.keys(JSON.parse(line)), Object.keys(r));
    }
  });

  it('combined lines follow Apache/nginx combined format', () => {
    assert.equal(
      combinedLine(record({ referrer: 'https://ref.test/', user_agent: 'Mozilla "x"' })),
      '192.0.2.7 - - [03/Dec/2026:12:34:56 +0000] "GET /a?b=1 HTTP/2" 200 1234 "https://ref.test/" "Mozilla \\"x\\""\n',
    );
    assert.match(combinedLine(record({ bytes: 0 })), /" 200 - "-" "curl\/8"\n$/);
  });

  it('a file past its size is rotated (FILE.1 ...), keeping the set number of files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'meridian-access-'));
    try {
      const path = join(dir, 'access.log');
      const log = await new AccessLog({
        destination: path,
        format: 'json',
        maxBytes: 2_000,
        keep: 2,
        log: createLogger('t'),
      }).open();
      for (let round = 0; round < 4; round++) {
        for (let i = 0; i < 6; i++) log.write(record({ path: `/r${round}-${i}` }));
        await new Promise((r) => setTimeout(r, 150));
      }
      log.close();
      await new Promise((r) => setTimeout(r, 100));
      const files = (await readdir(dir)).sort();
      assert.deepEqual(files, ['access.log', 'access.log.1', 'access.log.2']);
      const all = (await Promise.all(files.map((f) => readFile(join(dir, f), 'utf8')))).join('');
      const paths = all
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as AccessRecord).path);
      // The newest lines are all there; only files past `keep` are gone.
      assert.ok(paths.includes('/r3-5') && paths.includes('/r3-0'));
      assert.equal(log.lines, 24);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
