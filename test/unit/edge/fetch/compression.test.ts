// Issue 18: the zone's compression settings (types, min_size, enabled) and what they compress.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { ZoneSettingsSchema } from '../../../../src/common/config/zone.ts';
import { compressed, compressionPlanOf } from '../../../../src/edge/fetch/compression.ts';
import type { UpstreamResponse } from '../../../../src/edge/upstream/origin-client.ts';

const body = Buffer.from('x'.repeat(5000));
const response = (headers: Record<string, string>, status = 200): UpstreamResponse => ({
  status,
  headers: { 'content-length': String(body.length), ...headers },
  body: Readable.from([body]),
  requestTimeMs: 0,
  responseTimeMs: 0,
});
const read = async (res: UpstreamResponse): Promise<Buffer> => {
  const chunks: Buffer[] = [];
  for await (const chunk of res.body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
};

test('defaults: text and JSON-like types above 1 KiB', async () => {
  const plan = compressionPlanOf(ZoneSettingsSchema.parse({}));
  assert.ok(plan !== null);
  for (const type of ['text/html', 'application/json', 'application/problem+json', 'image/svg+xml']) {
    const res = compressed(response({ 'content-type': `${type}; charset=utf-8` }), plan, 'gzip');
    assert.equal(res.headers['content-encoding'], 'gzip', type);
    assert.equal(res.headers['content-length'], undefined);
    assert.ok(gunzipSync(await read(res)).equals(body));
  }
  for (const type of ['image/png', 'video/mp4', 'application/octet-stream']) {
    assert.equal(
      compressed(response({ 'content-type': type }), plan, 'gzip').headers['content-encoding'],
      undefined,
    );
  }
  const partial = compressed(response({ 'content-type': 'text/html' }, 206), plan, 'gzip');
  assert.equal(partial.headers['content-encoding'], undefined, 'only whole 200 answers');
});

test('zone settings: own types, min_size, off', () => {
  const settings = ZoneSettingsSchema.parse({
    compression: { types: ['application/x-custom'], min_size: 10_000 },
  });
  const plan = compressionPlanOf(settings);
  assert.ok(plan !== null);
  assert.equal(
    compressed(response({ 'content-type': 'application/x-custom' }), plan, 'br').headers['content-encoding'],
    undefined,
    'below min_size',
  );
  const big = {
    ...response({ 'content-type': 'application/x-custom' }),
    headers: { 'content-type': 'application/x-custom', 'content-length': '20000' },
  };
  assert.equal(compressed(big, plan, 'br').headers['content-encoding'], 'br');
  assert.equal(
    compressed(response({ 'content-type': 'text/html' }), plan, 'br').headers['content-encoding'],
    undefined,
  );
  assert.equal(compressionPlanOf(ZoneSettingsSchema.parse({ compression: { enabled: false } })), null);
  assert.throws(() => ZoneSettingsSchema.parse({ compression: { types: ['not a type'] } }), /media type/);
  assert.throws(() => ZoneSettingsSchema.parse({ compression: { level: 3 } }));
});

test('Vary and ETag: identity answers vary too; a strong tag is weakened', () => {
  const plan = compressionPlanOf(ZoneSettingsSchema.parse({}));
  assert.ok(plan !== null);
  const plain = compressed(
    response({ 'content-type': 'text/css', vary: 'Origin', etag: '"a"' }),
    plan,
    undefined,
  );
  assert.equal(plain.headers.vary, 'Origin, Accept-Encoding');
  assert.equal(plain.headers.etag, '"a"');
  const br = compressed(response({ 'content-type': 'text/css', etag: '"a"' }), plan, 'br;q=1, gzip');
  assert.equal(br.headers.etag, 'W/"a"');
  assert.equal(br.headers.vary, 'Accept-Encoding');
  br.body.resume();
});
