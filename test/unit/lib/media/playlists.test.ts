// Issue 18: what the edge reads of HLS playlists and DASH manifests, and the lifetimes it derives.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { manifestTtlOf, segmentPaths } from '../../../../src/edge/fetch/streaming.ts';
import {
  mediaKindOf,
  parseIsoDuration,
  readDashManifest,
  readHlsPlaylist,
} from '../../../../src/lib/media/playlists.ts';

const plan = { manifestTtlFraction: 0.5, segmentTtlSec: 86_400, prefetchSegments: 2 };

test('media kinds by extension, then Content-Type', () => {
  assert.equal(mediaKindOf('/a/index.m3u8?token=1', undefined), 'hls-playlist');
  assert.equal(mediaKindOf('/a/manifest.mpd', undefined), 'dash-manifest');
  assert.equal(mediaKindOf('/a/seg1.m4s', undefined), 'segment');
  assert.equal(mediaKindOf('/a/play', 'application/x-mpegURL'), 'hls-playlist');
  assert.equal(mediaKindOf('/a.b/file', 'text/html'), null);
});

test('HLS: live, VOD and master playlists', () => {
  const live = readHlsPlaylist('#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\na.ts\n#EXTINF:6,\nb.ts\n');
  assert.deepEqual(live, { live: true, targetDurationSec: 6, segments: ['a.ts', 'b.ts'] });
  assert.equal(manifestTtlOf(live!, plan), 3);
  const vod = readHlsPlaylist('#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6,\na.ts\n#EXT-X-ENDLIST\n');
  assert.equal(vod?.live, false);
  assert.equal(manifestTtlOf(vod!, plan), 86_400);
  const master = readHlsPlaylist('#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000\nlow/index.m3u8\n');
  assert.deepEqual(master, { live: false, targetDurationSec: null, segments: [] });
  assert.equal(manifestTtlOf(master!, plan), 2);
  assert.equal(readHlsPlaylist('not a playlist'), null);
  assert.equal(manifestTtlOf({ live: true, targetDurationSec: 1, segments: [] }, plan), 1, 'at least 1 s');
});

test('DASH: dynamic by minimumUpdatePeriod, ISO 8601 durations', () => {
  assert.equal(parseIsoDuration('PT2S'), 2);
  assert.equal(parseIsoDuration('PT1M30.5S'), 90.5);
  assert.equal(parseIsoDuration('P1DT1H'), 90_000);
  assert.equal(parseIsoDuration('PT'), null);
  assert.equal(parseIsoDuration('2 seconds'), null);
  const mpd = readDashManifest('<MPD type="dynamic" minimumUpdatePeriod="PT4S" maxSegmentDuration="PT2S">');
  assert.deepEqual(mpd, { live: true, targetDurationSec: 4, segments: [] });
  assert.equal(readDashManifest('<MPD type="static">')?.live, false);
  assert.equal(readDashManifest('<html>'), null);
});

test('segments to prefetch: the newest of a live playlist, the first of a VOD one, same host only', () => {
  const facts = {
    live: true,
    targetDurationSec: 2,
    segments: ['s1.ts', 's2.ts', '/abs/s3.ts?x=1', 'http://other/s4.ts'],
  };
  assert.deepEqual(segmentPaths('/live/a/index.m3u8', facts, 2), ['/abs/s3.ts?x=1']);
  assert.deepEqual(segmentPaths('/live/a/index.m3u8', { ...facts, live: false }, 2), [
    '/live/a/s1.ts',
    '/live/a/s2.ts',
  ]);
});
