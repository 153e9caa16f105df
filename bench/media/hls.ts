// HLS live simulation through `meridian up` (3 edge PoPs of 2 nodes and a shield, on loopback):
// a live origin whose playlist gains a 2-second segment every 2 s (no Cache-Control: the edge's
// streaming defaults apply), a zone on it with the shield and prefetch_segments 2, and CLIENTS
// players spread over every edge node, each polling the playlist every second (half the target
// duration, as players do) and fetching each new segment it names, for DURATION_S seconds.
//
// Reports the edge hit ratio (Cache-Status of every player request) and the origin requests per
// segment and per playlist refresh for the whole network (target: 1 per segment).
//
// Run: node bench/media/hls.ts  (env CLIENTS 60, DURATION_S 30, PREFETCH 2)
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { api } from '../../test/helpers/processes.ts';
import { startUp } from '../../test/helpers/up.ts';

const CLIENTS = Number(process.env.CLIENTS ?? 60);
const DURATION_S = Number(process.env.DURATION_S ?? 30);
const PREFETCH = Number(process.env.PREFETCH ?? 2);
const SEGMENT_MS = 2_000;
const SEGMENT_BYTES = 200_000;
const HOST = 'live.hls.bench';

const t0 = Date.now();
const newestSegment = (): number => Math.floor((Date.now() - t0) / SEGMENT_MS) + 5;
const originCounts = new Map<string, number>();
const segmentBody = Buffer.alloc(SEGMENT_BYTES, 7);

const origin = createServer((req, res) => {
  const path = (req.url ?? '/').split('?')[0] as string;
  originCounts.set(path, (originCounts.get(path) ?? 0) + 1);
  if (path === '/live/index.m3u8') {
    const newest = newestSegment();
    const lines = [
      '#EXTM3U',
      '#EXT-X-VERSION:3',
      '#EXT-X-TARGETDURATION:2',
      `#EXT-X-MEDIA-SEQUENCE:${newest - 4}`,
    ];
    for (let n = newest - 4; n <= newest; n++) lines.push('#EXTINF:2.000,', `seg${n}.ts`);
    const body = `${lines.join('\n')}\n`;
    res.writeHead(200, {
      'content-type': 'application/vnd.apple.mpegurl',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
    return;
  }
  if (/^\/live\/seg\d+\.ts$/.test(path)) {
    res.writeHead(200, { 'content-type': 'video/mp2t', 'content-length': SEGMENT_BYTES });
    res.end(segmentBody);
    return;
  }
  res.writeHead(404, { 'content-length': 0 });
  res.end();
});
origin.listen(0, '127.0.0.1');
await new Promise((resolve) => origin.once('listening', resolve));
const originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;

const up = await startUp([], 180_000);
try {
  const cluster = up.cluster;
  const shield = cluster.pops.find((p) => p.role === 'shield')?.name ?? null;
  const zone = await api(cluster.control.url, cluster.control.token, 'POST', '/client/v4/zones', {
    name: 'hls-bench',
    hostnames: [HOST],
    origins: [{ url: originUrl }],
    shield_pop: shield,
    settings: { streaming: { prefetch_segments: PREFETCH } },
  });
  if (!zone.body.success) throw new Error(JSON.stringify(zone.body.errors));
  const nodes = cluster.pops.filter((p) => p.role === 'edge').flatMap((p) => p.nodes.map((n) => n.url));
  // Every node has the zone before the clock starts.
  for (const url of nodes) {
    for (let i = 0; ; i++) {
      const res = await request(`${url}/live/none`, { headers: { host: HOST } });
      await res.body.dump();
      if (res.statusCode === 404) break;
      if (i > 200) throw new Error(`${url} never served the zone`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  originCounts.clear();
  const stats = { requests: 0, hits: 0, segmentRequests: 0, segmentHits: 0, errors: 0 };
  const get = async (node: string, path: string): Promise<{ status: number; hit: boolean; body: string }> => {
    const res = await request(`${node}${path}`, { headers: { host: HOST } });
    const body = path.endsWith('.m3u8') ? await res.body.text() : (await res.body.dump(), '');
    const hit = /; hit/.test(String(res.headers['cache-status']));
    stats.requests++;
    if (hit) stats.hits++;
    if (res.statusCode !== 200) stats.errors++;
    return { status: res.statusCode, hit, body };
  };
  const deadline = Date.now() + DURATION_S * 1000;
  const player = async (i: number): Promise<void> => {
    const node = nodes[i % nodes.length] as string;
    await new Promise((r) => setTimeout(r, Math.random() * 1000)); // players do not start in step
    let last = -1;
    while (Date.now() < deadline) {
      const playlist = await get(node, '/live/index.m3u8');
      const segments = [...playlist.body.matchAll(/seg(\d+)\.ts/g)].map((m) => Number(m[1]));
      // Start three segments behind the live edge, then follow it.
      if (last < 0) last = (segments.at(-1) ?? 0) - 3;
      for (const n of segments) {
        if (n <= last) continue;
        const seg = await get(node, `/live/seg${n}.ts`);
        stats.segmentRequests++;
        if (seg.hit) stats.segmentHits++;
        last = n;
      }
      await new Promise((r) => setTimeout(r, SEGMENT_MS / 2));
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, (_, i) => player(i)));
  let segmentOrigin = 0;
  let segments = 0;
  for (const [path, count] of originCounts) {
    if (path.endsWith('.ts')) {
      segmentOrigin += count;
      segments++;
    }
  }
  const playlistOrigin = originCounts.get('/live/index.m3u8') ?? 0;
  console.log(
    `meridian up (${cluster.pops.length} PoPs, ${nodes.length} edge nodes, shield ${shield}), ${CLIENTS} players, ${DURATION_S} s, prefetch_segments ${PREFETCH}`,
  );
  console.log(
    '| requests | edge hit ratio | segment hit ratio | origin requests per segment | playlist origin fetches per second | errors |',
  );
  console.log('| --- | --- | --- | --- | --- | --- |');
  console.log(
    `| ${stats.requests} | ${(stats.hits / stats.requests).toFixed(3)} | ${(stats.segmentHits / Math.max(1, stats.segmentRequests)).toFixed(3)} | ${(segmentOrigin / Math.max(1, segments)).toFixed(2)} (${segmentOrigin} for ${segments} segments) | ${(playlistOrigin / DURATION_S).toFixed(2)} | ${stats.errors} |`,
  );
} finally {
  await up.cleanup();
  origin.closeAllConnections();
  origin.close();
}
