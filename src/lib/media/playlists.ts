// HLS playlists (RFC 8216) and DASH MPDs (ISO/IEC 23009-1), read only as far as a cache needs: is
// the presentation live, how long is a segment, which segments does a playlist name. Pure.

export type MediaKind = 'hls-playlist' | 'dash-manifest' | 'segment' | null;

const SEGMENT_EXTENSIONS: ReadonlySet<string> = new Set(['ts', 'm4s', 'aac', 'm4a', 'm4v', 'cmfv', 'cmfa']);
const SEGMENT_TYPES: ReadonlySet<string> = new Set([
  'video/mp2t',
  'video/iso.segment',
  'audio/aac',
  'audio/mp4',
]);

/** What a response is, from its path's extension, else its Content-Type. */
export function mediaKindOf(path: string, contentType: string | undefined): MediaKind {
  const q = path.indexOf('?');
  const pathname = q < 0 ? path : path.slice(0, q);
  const dot = pathname.lastIndexOf('.');
  const ext = dot < 0 || dot < pathname.lastIndexOf('/') ? '' : pathname.slice(dot + 1).toLowerCase();
  if (ext === 'm3u8') return 'hls-playlist';
  if (ext === 'mpd') return 'dash-manifest';
  if (SEGMENT_EXTENSIONS.has(ext)) return 'segment';
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (
    type === 'application/vnd.apple.mpegurl' ||
    type === 'application/x-mpegurl' ||
    type === 'audio/mpegurl'
  )
    return 'hls-playlist';
  if (type === 'application/dash+xml') return 'dash-manifest';
  if (SEGMENT_TYPES.has(type)) return 'segment';
  return null;
}

export interface PlaylistFacts {
  /** Live: the playlist will change (HLS without EXT-X-ENDLIST and not VOD; DASH type="dynamic"). */
  live: boolean;
  /** The longest segment (HLS EXT-X-TARGETDURATION, DASH maxSegmentDuration or minimumUpdatePeriod), seconds; null: not stated. */
  targetDurationSec: number | null;
  /** Segment URIs in playlist order (HLS media playlists; [] for master playlists and DASH). */
  segments: string[];
}

/** RFC 8216 §4.3.3.1 EXT-X-TARGETDURATION, §4.3.3.4 EXT-X-ENDLIST, §4.3.3.5 EXT-X-PLAYLIST-TYPE. */
export function readHlsPlaylist(text: string): PlaylistFacts | null {
  if (!text.startsWith('#EXTM3U')) return null; // RFC 8216 §4.3.1.1: the first line MUST be #EXTM3U
  let targetDurationSec: number | null = null;
  let ended = false;
  let vod = false;
  let master = false;
  const segments: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '') continue;
    if (line.startsWith('#')) {
      if (line.startsWith('#EXT-X-TARGETDURATION:')) {
        const n = Number(line.slice(22));
        if (Number.isFinite(n) && n > 0) targetDurationSec = n;
      } else if (line === '#EXT-X-ENDLIST') ended = true;
      else if (line === '#EXT-X-PLAYLIST-TYPE:VOD') vod = true;
      else if (line.startsWith('#EXT-X-STREAM-INF')) master = true;
      continue;
    }
    if (!master) segments.push(line);
  }
  return { live: !ended && !vod && !master, targetDurationSec, segments: master ? [] : segments };
}

/** ISO 8601 duration as DASH writes it (PT2S, PT1M30.5S, P0DT0H0M4S); null when not one. */
export function parseIsoDuration(value: string): number | null {
  const m =
    /^P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(
      value.trim(),
    );
  if (m === null || value.trim() === 'P' || value.trim() === 'PT') return null;
  const [d, h, min, s] = [m[1], m[2], m[3], m[4]].map((x) => (x === undefined ? 0 : Number(x))) as [
    number,
    number,
    number,
    number,
  ];
  return d * 86_400 + h * 3_600 + min * 60 + s;
}

/** The MPD element's type, minimumUpdatePeriod and maxSegmentDuration (attributes only; no XML tree is built). */
export function readDashManifest(text: string): PlaylistFacts | null {
  const mpd = /<MPD\b[^>]*>/.exec(text);
  if (mpd === null) return null;
  const attr = (name: string): string | null => {
    const m = new RegExp(`\\b${name}\\s*=\\s*"([^"]*)"`).exec(mpd[0]);
    return m === null ? null : (m[1] ?? null);
  };
  const live = attr('type') === 'dynamic';
  const update = attr('minimumUpdatePeriod');
  const maxSegment = attr('maxSegmentDuration');
  const targetDurationSec =
    (update === null ? null : parseIsoDuration(update)) ??
    (maxSegment === null ? null : parseIsoDuration(maxSegment));
  return { live, targetDurationSec: targetDurationSec === 0 ? null : targetDurationSec, segments: [] };
}
