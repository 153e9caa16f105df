// Issue 18, streaming formats: a managed edge (zone settings through the API) in front of a live HLS
// origin whose playlist advances when the test says. A live playlist lives half its target duration,
// the storm of players at a segment boundary costs the origin one fetch, prefetch turns the next
// segment into a hit, VOD playlists, segments and DASH get their defaults, and the origin's own
// Cache-Control wins.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { api, fetchReply, removeDir, startControlProcess, startEdgeProcess } from '../helpers/processes.ts';
import type { ControlProc, EdgeProc, Reply } from '../helpers/processes.ts';

const HOST = 'live.streaming.test';
let server: Server;
let control: ControlProc;
let edge: EdgeProc;
/** The live stream's newest segment number; the playlist names the last five. */
let newest = 10;
const counts = new Map<string, number>();
const count = (path: string): number => counts.get(path) ?? 0;

function livePlaylist(): string {
  const lines = [
    '#EXTM3U',
    '#EXT-X-VERSION:3',
    '#EXT-X-TARGETDURATION:2',
    `#EXT-X-MEDIA-SEQUENCE:${newest - 4}`,
  ];
  for (let n = newest - 4; n <= newest; n++) lines.push('#EXTINF:2.000,', `seg${n}.ts`);
  return `${lines.join('\n')}\n`;
}

before(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://o');
    counts.set(url.pathname, count(url.pathname) + 1);
    const send = (type: string, body: string | Buffer, extra: Record<string, string> = {}): void => {
      res.writeHead(200, {
        'content-type': type,
        'content-length': String(Buffer.byteLength(body)),
        ...extra,
      });
      res.end(body);
    };
    if (url.pathname === '/live/index.m3u8') return send('application/vnd.apple.mpegurl', livePlaylist());
    if (url.pathname === '/live/told.m3u8')
      return send('application/vnd.apple.mpegurl', livePlaylist(), { 'cache-control': 'max-age=10' });
    if (url.pathname === '/vod/index.m3u8')
      return send(
        'application/vnd.apple.mpegurl',
        '#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\na.ts\n#EXT-X-ENDLIST\n',
      );
    if (url.pathname === '/dash/live.mpd')
      return send(
        'application/dash+xml',
        '<?xml version="1.0"?>\n<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="dynamic" minimumUpdatePeriod="PT4S"></MPD>\n',
      );
    if (url.pathname.endsWith('.ts')) return send('video/mp2t', Buffer.alloc(2000, url.pathname.length));
    res.writeHead(404, { 'content-length': '0' });
    res.end();
  });
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  control = await startControlProcess();
  const admin = (method: string, path: string, body?: unknown) =>
    api(control.url, control.adminToken, method, path, body);
  const token = (await admin('POST', '/client/v4/tokens', { name: 'n', scopes: ['node'] })).body.result
    .value as string;
  await admin('PUT', '/client/v4/pops/ams', { city: 'Amsterdam', latitude: 52.4, longitude: 4.9 });
  const zone = await admin('POST', '/client/v4/zones', {
    name: 'live',
    hostnames: [HOST],
    origins: [{ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }],
    settings: { streaming: { prefetch_segments: 2 } },
  });
  assert.equal(zone.status, 201, JSON.stringify(zone.body.errors));
  edge = await startEdgeProcess(
    '',
    ['--control', control.url, '--pop', 'ams', '--node', 'ams-1', '--token', token],
    { noOrigin: true },
  );
});

after(async () => {
  await edge.stop();
  await control.stop();
  server.closeAllConnections();
  server.close();
  await removeDir(edge.cacheDir);
  await removeDir(control.dataDir);
});

const get = (path: string): Promise<Reply> => fetchReply(`${edge.url}${path}`, { headers: { host: HOST } });
const status = (reply: Reply): string => String(reply.headers['cache-status']);
const ttlOf = (reply: Reply): number => Number(/ttl=(-?\d+)/.exec(status(reply))?.[1]);

describe('HLS and DASH', () => {
  it('a live playlist lives half its target duration; the boundary storm is one origin fetch', async () => {
    // Start just after a whole second: the origin's Date (one-second precision) then gives the
    // playlist an age of ~0, so the burst below lands inside its 1 s lifetime on a loaded machine too.
    await sleep(1_000 - (Date.now() % 1_000) + 20);
    const first = await get('/live/index.m3u8');
    assert.equal(first.status, 200);
    // max-age=1 (half of EXT-X-TARGETDURATION:2); the origin's Date has one-second precision.
    assert.ok(ttlOf(first) === 1 || ttlOf(first) === 0, status(first));
    const burst = await Promise.all(Array.from({ length: 20 }, () => get('/live/index.m3u8')));
    assert.ok(burst.every((r) => /hit/.test(status(r))));
    assert.equal(count('/live/index.m3u8'), 1);
    newest++; // the next segment is out
    await sleep(1_100);
    const storm = await Promise.all(Array.from({ length: 30 }, () => get('/live/index.m3u8')));
    assert.equal(count('/live/index.m3u8'), 2, 'thirty players, one origin fetch');
    for (const reply of storm) assert.match(reply.body.toString(), new RegExp(`seg${newest}\\.ts`));
  });

  it('prefetch: the newest segments the playlist names are hits when the player asks', async () => {
    newest++;
    await sleep(1_100);
    await get('/live/index.m3u8');
    const path = `/live/seg${newest}.ts`;
    // The prefetch runs in the background: wait (bounded) until the origin served it.
    for (const deadline = Date.now() + 5_000; count(path) === 0 && Date.now() < deadline;) await sleep(20);
    await sleep(50);
    const segment = await get(path);
    assert.equal(segment.status, 200);
    assert.match(status(segment), /hit/, status(segment));
    assert.equal(count(path), 1);
    assert.equal(count(`/live/seg${newest - 4}.ts`), 0, 'only the newest two a playlist names');
  });

  it('segments and VOD playlists are cached long; DASH live manifests by their update period', async () => {
    const segment = await get('/live/seg3.ts');
    assert.ok(ttlOf(segment) > 86_000, status(segment));
    const vod = await get('/vod/index.m3u8');
    assert.ok(ttlOf(vod) > 86_000, status(vod));
    const mpd = await get('/dash/live.mpd');
    assert.ok(ttlOf(mpd) === 2 || ttlOf(mpd) === 1, status(mpd));
  });

  it("the origin's Cache-Control wins", async () => {
    const told = await get('/live/told.m3u8');
    assert.ok(ttlOf(told) >= 9 && ttlOf(told) <= 10, status(told));
  });
});
