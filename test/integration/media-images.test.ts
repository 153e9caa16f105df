// Issue 18, images: /cdn-cgi/image/<options>/<path> through a standalone edge in front of a real
// origin. Resizing by width, format negotiation by Accept, variants cached (one origin fetch of the
// source for all of them), bounds on options (400), non-images untouched, corrupt images and
// decompression bombs refused (502) without storing anything.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { fetchReply, removeDir, startEdgeProcess } from '../helpers/processes.ts';
import type { EdgeProc, Reply } from '../helpers/processes.ts';

/** A PNG whose header claims width × height pixels, with almost no data (a decompression bomb's head). */
function bombPng(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer): Buffer => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 0, 0, 0, 0], 8); // 8-bit greyscale
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.alloc(1024))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

let server: Server;
let edge: EdgeProc;
const counts = new Map<string, number>();
let photo: Buffer;

before(async () => {
  photo = await sharp({
    create: { width: 800, height: 600, channels: 3, background: { r: 200, g: 60, b: 20 } },
  })
    .jpeg({ quality: 90 })
    .toBuffer();
  const files: Record<string, [string, Buffer]> = {
    '/photo.jpg': ['image/jpeg', photo],
    '/notes.txt': ['text/plain', Buffer.from('not an image at all\n')],
    '/broken.jpg': ['image/jpeg', Buffer.concat([photo.subarray(0, 200), Buffer.alloc(500, 7)])],
    '/bomb.png': ['image/png', bombPng(30_000, 30_000)],
  };
  server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] as string;
    counts.set(path, (counts.get(path) ?? 0) + 1);
    const file = files[path];
    if (file === undefined) {
      res.writeHead(404, { 'cache-control': 'max-age=60', 'content-type': 'text/plain' });
      res.end('no such file\n');
      return;
    }
    res.writeHead(200, {
      'content-type': file[0],
      'content-length': String(file[1].length),
      'cache-control': 'max-age=600',
      etag: `"${path}"`,
    });
    res.end(file[1]);
  });
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  edge = await startEdgeProcess(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, [
    '--node-name',
    'pix',
  ]);
});

after(async () => {
  await edge.stop();
  server.closeAllConnections();
  server.close();
  await removeDir(edge.cacheDir);
});

const get = (path: string, headers: Record<string, string> = {}): Promise<Reply> =>
  fetchReply(`${edge.url}${path}`, { headers });
const status = (reply: Reply): string => String(reply.headers['cache-status']);

describe('image resizing', () => {
  it('resizes by width and negotiates the format by Accept; variants are cached, the source fetched once', async () => {
    const webp = await get('/cdn-cgi/image/width=200,format=auto/photo.jpg', { accept: 'image/webp,*/*' });
    assert.equal(webp.status, 200);
    assert.equal(webp.headers['content-type'], 'image/webp');
    const meta = await sharp(webp.body).metadata();
    assert.equal(meta.format, 'webp');
    assert.equal(meta.width, 200);
    assert.equal(meta.height, 150);
    const avif = await get('/cdn-cgi/image/width=200,format=auto/photo.jpg', {
      accept: 'image/avif,image/webp',
    });
    assert.equal((await sharp(avif.body).metadata()).format, 'heif');
    assert.equal(avif.headers['content-type'], 'image/avif');
    const legacy = await get('/cdn-cgi/image/w=100,q=60/photo.jpg');
    assert.equal(legacy.headers['content-type'], 'image/jpeg');
    assert.equal((await sharp(legacy.body).metadata()).width, 100);
    const png = await get('/cdn-cgi/image/width=50,height=50,fit=cover,format=png/photo.jpg');
    const pngMeta = await sharp(png.body).metadata();
    assert.deepEqual([pngMeta.format, pngMeta.width, pngMeta.height], ['png', 50, 50]);
    const again = await get('/cdn-cgi/image/width=200,format=auto/photo.jpg', { accept: 'image/webp,*/*' });
    assert.match(status(again), /^pix; hit/);
    assert.ok(again.body.equals(webp.body));
    assert.equal(counts.get('/photo.jpg'), 1, 'the source came through the cache once');
    const original = await get('/photo.jpg');
    assert.match(status(original), /hit/, 'the source is stored as itself too');
    assert.ok(original.body.equals(photo));
  });

  it('scale-down never enlarges', async () => {
    const reply = await get('/cdn-cgi/image/width=4000/photo.jpg');
    assert.equal((await sharp(reply.body).metadata()).width, 800);
  });

  it('options out of bounds, unknown or repeated: 400 naming the option', async () => {
    const bad: [string, RegExp][] = [
      ['width=0', /width/],
      ['width=99999', /width/],
      ['quality=101', /quality/],
      ['fit=stretch', /fit/],
      ['format=bmp', /format/],
      ['blur=5', /blur/],
      ['width=10,w=20', /twice/],
    ];
    for (const [options, message] of bad) {
      const reply = await get(`/cdn-cgi/image/${options}/photo.jpg`);
      assert.equal(reply.status, 400, options);
      assert.match(status(reply), /image-bad-options/);
      assert.match(reply.body.toString(), message, options);
    }
    assert.equal((await get('/cdn-cgi/image/width=10')).status, 400, 'no source path');
  });

  it('a source that is not an image is answered untouched; a missing one keeps its status', async () => {
    const text = await get('/cdn-cgi/image/width=100/notes.txt');
    assert.equal(text.status, 200);
    assert.equal(text.body.toString(), 'not an image at all\n');
    assert.equal(text.headers['content-type'], 'text/plain');
    const missing = await get('/cdn-cgi/image/width=100/nope.jpg');
    assert.equal(missing.status, 404);
  });

  it('a corrupt image and a decompression bomb: 502, nothing stored', async () => {
    for (const path of ['/broken.jpg', '/bomb.png']) {
      for (let i = 0; i < 2; i++) {
        const reply = await get(`/cdn-cgi/image/width=100${path}`);
        assert.equal(reply.status, 502, path);
        assert.match(status(reply), /image-failed/);
      }
    }
    const bomb = await get('/cdn-cgi/image/width=100/bomb.png');
    assert.match(bomb.body.toString(), /pixel|limit/i);
  });
});
