// Streaming formats (docs/media.md): lifetimes for HLS and DASH where the origin states none, read
// from the playlist itself, and the prefetch of the segments a playlist names. Wraps a fill's send
// step, like compression: a playlist (small) is read whole, its facts taken, and handed on as the
// same bytes; a segment only gets a lifetime. Nothing here touches an answer the origin gave a
// lifetime to (Cache-Control max-age / s-maxage / no-cache / no-store, Expires): the origin's word wins.
//
// - A live playlist lives `manifest_ttl_fraction` of its target duration (HLS
//   EXT-X-TARGETDURATION; DASH minimumUpdatePeriod, else maxSegmentDuration), at least 1 s: a
//   player polling every target duration sees each new segment within that fraction, and the storm
//   of players asking at each segment boundary is one origin fetch (the fetch task collapses them).
// - A VOD playlist (EXT-X-ENDLIST, PLAYLIST-TYPE:VOD, DASH static) and segments: `segment_ttl`.
// - prefetch_segments N > 0: once this node fetched a media playlist from the origin (or its
//   shield), the newest N segments of a live playlist (the first N of a VOD one) that are not
//   stored are fetched in the background, each through its own owner, so the players' next
//   requests are hits.
import { Readable } from 'node:stream';
import type { ZoneSettings } from '../../common/config/zone.ts';
import { parseCacheControl } from '../../lib/http-cache/cache-control.ts';
import { headerValue } from '../../lib/http-cache/headers.ts';
import {
  mediaKindOf,
  readDashManifest,
  readHlsPlaylist,
  type PlaylistFacts,
} from '../../lib/media/playlists.ts';
import type { UpstreamResponse } from '../upstream/origin-client.ts';
import type { FetchDeps, FetchSpec } from './fetch-task.ts';
import { contentLength } from './fetch-task.ts';
import { discard } from './slices.ts';

export interface StreamingPlan {
  readonly manifestTtlFraction: number;
  readonly segmentTtlSec: number;
  readonly prefetchSegments: number;
}

/** Playlists larger than this are passed on unread. */
const MAX_PLAYLIST_BYTES = 2 * 1024 * 1024;
/** A master playlist or a manifest without a stated duration: a short life, it may still change. */
const UNKNOWN_MANIFEST_TTL_SEC = 2;

const plans = new WeakMap<object, StreamingPlan | null>();

export function streamingPlanOf(settings: ZoneSettings | undefined): StreamingPlan | null {
  if (settings === undefined) return null;
  const cached = plans.get(settings);
  if (cached !== undefined) return cached;
  const s = settings.streaming;
  const plan =
    s?.enabled === false
      ? null
      : {
          manifestTtlFraction: s?.manifest_ttl_fraction ?? 0.5,
          segmentTtlSec: s?.segment_ttl ?? 86_400,
          prefetchSegments: s?.prefetch_segments ?? 0,
        };
  plans.set(settings, plan);
  return plan;
}

type Send = FetchDeps['send'];

/** Segment paths (as absolute paths with their query) a fill's playlist wants prefetched. */
export type PrefetchSegments = (spec: FetchSpec, paths: readonly string[]) => void;

export function streaming(send: Send, prefetch: PrefetchSegments): Send {
  return async (spec, headers, onInfo) => {
    const res = await send(spec, headers, onInfo);
    const plan = spec.streaming;
    if (plan === undefined || plan === null || res.status !== 200) return res;
    const kind = mediaKindOf(spec.path, headerValue(res.headers, 'content-type'));
    if (kind === null) return res;
    const silent = !statesLifetime(res.headers);
    if (kind === 'segment') return silent ? withMaxAge(res, plan.segmentTtlSec) : res;
    const encoding = headerValue(res.headers, 'content-encoding');
    const declared = contentLength(res.headers);
    if ((encoding !== undefined && encoding !== 'identity') || (declared ?? 0) > MAX_PLAYLIST_BYTES)
      return res;
    const body = await readUpTo(res.body, MAX_PLAYLIST_BYTES);
    if (body === null) throw new Error('playlist larger than 2 MiB'); // the fill fails: nothing stored
    const text = body.toString('utf8');
    const facts = kind === 'hls-playlist' ? readHlsPlaylist(text) : readDashManifest(text);
    const replay: UpstreamResponse = { ...res, body: Readable.from([body]) };
    if (facts === null) return replay;
    // Only the node that fetched from the origin (or its shield) prefetches, not every hop on the way.
    const isFirstFetch = spec.route === null || spec.route.store === 'all';
    if (isFirstFetch && plan.prefetchSegments > 0 && facts.segments.length > 0) {
      prefetch(spec, segmentPaths(spec.path, facts, plan.prefetchSegments));
    }
    return silent ? withMaxAge(replay, manifestTtlOf(facts, plan)) : replay;
  };
}

export function manifestTtlOf(facts: PlaylistFacts, plan: StreamingPlan): number {
  if (!facts.live)
    return facts.targetDurationSec === null && facts.segments.length === 0
      ? UNKNOWN_MANIFEST_TTL_SEC
      : plan.segmentTtlSec;
  if (facts.targetDurationSec === null) return UNKNOWN_MANIFEST_TTL_SEC;
  return Math.max(1, Math.floor(facts.targetDurationSec * plan.manifestTtlFraction));
}

/** Did the origin say how long the answer lives (or that it must not be reused)? */
function statesLifetime(headers: UpstreamResponse['headers']): boolean {
  if (headers.expires !== undefined) return true;
  const cc = parseCacheControl(headers['cache-control']);
  return cc.maxAge !== undefined || cc.sMaxage !== undefined || cc.noCache || cc.noStore || cc.private;
}

function withMaxAge(res: UpstreamResponse, seconds: number): UpstreamResponse {
  const prior = headerValue(res.headers, 'cache-control');
  const value =
    prior === undefined || prior.trim() === '' ? `max-age=${seconds}` : `${prior}, max-age=${seconds}`;
  return { ...res, headers: { ...res.headers, 'cache-control': value } };
}

/** The segments to prefetch, resolved against the playlist's path (RFC 8216 §4.1: URIs are relative to the playlist). */
export function segmentPaths(playlistPath: string, facts: PlaylistFacts, count: number): string[] {
  const chosen = facts.live ? facts.segments.slice(-count) : facts.segments.slice(0, count);
  const base = new URL(playlistPath, 'http://playlist.invalid');
  const out: string[] = [];
  for (const uri of chosen) {
    let url: URL;
    try {
      url = new URL(uri, base);
    } catch {
      continue;
    }
    // Only segments of the same host: a playlist may name other hosts, which are not this zone's.
    if (url.origin === base.origin) out.push(`${url.pathname}${url.search}`);
  }
  return out;
}

async function readUpTo(body: Readable, limit: number): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of body) {
    bytes += (chunk as Buffer).length;
    if (bytes > limit) {
      discard(body);
      return null;
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
