// On-the-fly compression (docs/media.md). A fill whose upstream answered 200 with an identity body
// of a compressible type (text, JSON, JavaScript, CSS, SVG...; the zone's `compression.types`) of at
// least `compression.min_size` bytes is compressed before it is stored, in the coding of the
// client's Accept-Encoding class (lib/http-cache/vary.ts: br, zstd, gzip or identity). Every such
// answer, compressed or not, says Vary: Accept-Encoding, so the cache keeps one copy per class and
// each class is compressed once. Never twice: a body with any Content-Encoding, or from a hop
// that compressed it already, passes as it is; Cache-Control: no-transform is obeyed (RFC 9110
// §7.7). The compressed representation has its own validator: a strong ETag becomes weak (RFC 9110
// §8.8.1: a weak tag may be shared by representations that are not byte-identical), which still
// revalidates with the origin (If-None-Match uses the weak comparison, §13.1.2). Ranges are of the
// stored (compressed) bytes, as RFC 9110 §14.1.2 defines them for the selected representation.
import { constants, createBrotliCompress, createGzip, createZstdCompress } from 'node:zlib';
import type { Transform } from 'node:stream';
import { headerValue } from '../../lib/http-cache/headers.ts';
import { parseCacheControl } from '../../lib/http-cache/cache-control.ts';
import { normalizeAcceptEncoding } from '../../lib/http-cache/vary.ts';
import type { ZoneSettings } from '../../common/config/zone.ts';
import type { UpstreamResponse } from '../upstream/origin-client.ts';
import type { FetchDeps } from './fetch-task.ts';
import { contentLength } from './fetch-task.ts';

/** What a zone compresses; null: nothing. */
export interface CompressionPlan {
  /** Exact media types (lower case, no parameters). */
  readonly types: ReadonlySet<string>;
  /** Suffixes such as "+json", "+xml" and prefixes such as "text/" (entries ending in "/*"). */
  readonly prefixes: readonly string[];
  readonly suffixes: readonly string[];
  readonly minBytes: number;
}

/** The default list: text and the structured text formats browsers fetch. */
export const DEFAULT_COMPRESSIBLE_TYPES: readonly string[] = [
  'text/*',
  'application/json',
  'application/javascript',
  'application/x-javascript',
  'application/ecmascript',
  'application/xml',
  'application/xhtml+xml',
  'application/rss+xml',
  'application/atom+xml',
  'application/manifest+json',
  'application/ld+json',
  'application/wasm',
  'application/vnd.apple.mpegurl',
  'application/x-mpegurl',
  'application/dash+xml',
  'image/svg+xml',
  'image/x-icon',
  'font/ttf',
  'font/otf',
  '*+json',
  '*+xml',
];

const plans = new WeakMap<object, CompressionPlan | null>();

/** The zone's plan, compiled once per settings object (a zone change makes a new one). */
export function compressionPlanOf(settings: ZoneSettings | undefined): CompressionPlan | null {
  if (settings === undefined) return null;
  const cached = plans.get(settings);
  if (cached !== undefined) return cached;
  const c = settings.compression;
  let plan: CompressionPlan | null = null;
  if (c === undefined || c.enabled) {
    const list = c?.types ?? DEFAULT_COMPRESSIBLE_TYPES;
    const types = new Set<string>();
    const prefixes: string[] = [];
    const suffixes: string[] = [];
    for (const entry of list.map((t) => t.toLowerCase())) {
      if (entry.startsWith('*')) suffixes.push(entry.slice(1));
      else if (entry.endsWith('/*')) prefixes.push(entry.slice(0, -1));
      else types.add(entry);
    }
    plan = { types, prefixes, suffixes, minBytes: c?.min_size ?? 1024 };
  }
  plans.set(settings, plan);
  return plan;
}

function isCompressible(plan: CompressionPlan, contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const type = (contentType.split(';')[0] ?? '').trim().toLowerCase();
  if (plan.types.has(type)) return true;
  for (const p of plan.prefixes) if (type.startsWith(p)) return true;
  for (const s of plan.suffixes) if (type.endsWith(s)) return true;
  return false;
}

type Send = FetchDeps['send'];

/** Wraps a fetch's send: the answer is compressed for the client's class where the plan says. */
export function compressing(send: Send): Send {
  return async (spec, headers, onInfo) => {
    const res = await send(spec, headers, onInfo);
    const plan = spec.compression;
    if (plan === undefined || plan === null) return res;
    if (res.status === 304 && spec.stored !== null) return notModifiedFor(res, spec.stored.meta.headers);
    return compressed(res, plan, spec.clientHeaders['accept-encoding']);
  };
}

/**
 * A 304 to the revalidation of a copy this node compressed: the origin's validator is the
 * identity body's, so it is weakened again before the stored head is updated with it (RFC 9111
 * §4.3.4), and Vary keeps Accept-Encoding.
 */
function notModifiedFor(res: UpstreamResponse, stored: Record<string, string | string[]>): UpstreamResponse {
  const coding = headerValue(stored, 'content-encoding');
  if (coding === undefined || !/^(br|zstd|gzip)$/.test(coding)) return res;
  const headers: UpstreamResponse['headers'] = { ...res.headers };
  const etag = headerValue(headers, 'etag');
  if (etag !== undefined && !etag.startsWith('W/')) headers.etag = `W/${etag}`;
  if (headers.vary !== undefined) headers.vary = varyWithAcceptEncoding(headerValue(headers, 'vary'));
  return { ...res, headers };
}

/** The response as stored for the client's Accept-Encoding class (unchanged when not compressible). */
export function compressed(
  res: UpstreamResponse,
  plan: CompressionPlan,
  acceptEncoding: string | string[] | undefined,
): UpstreamResponse {
  if (res.status !== 200) return res;
  const h = res.headers;
  const encoding = headerValue(h, 'content-encoding');
  if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') return res;
  if (!isCompressible(plan, headerValue(h, 'content-type'))) return res;
  const declared = contentLength(h);
  if (declared !== null && declared < plan.minBytes) return res;
  if (parseCacheControl(h['cache-control']).noTransform) return res;
  const headers: UpstreamResponse['headers'] = { ...h, vary: varyWithAcceptEncoding(headerValue(h, 'vary')) };
  const coding = normalizeAcceptEncoding(acceptEncoding);
  if (coding === 'identity') return { ...res, headers };
  delete headers['content-length'];
  headers['content-encoding'] = coding;
  const etag = headerValue(h, 'etag');
  if (etag !== undefined && !etag.startsWith('W/')) headers.etag = `W/${etag}`;
  const encoder = encoderFor(coding, declared);
  res.body.on('error', (err) => encoder.destroy(err));
  return { ...res, headers, body: res.body.pipe(encoder) };
}

function varyWithAcceptEncoding(vary: string | undefined): string {
  if (vary === undefined || vary.trim() === '') return 'Accept-Encoding';
  if (/(^|,)\s*(accept-encoding|\*)\s*(,|$)/i.test(vary)) return vary;
  return `${vary}, Accept-Encoding`;
}

/** Levels for a body compressed once and served many times, still fast enough to stream. */
function encoderFor(coding: string, sizeHint: number | null): Transform {
  switch (coding) {
    case 'br':
      return createBrotliCompress({
        params: {
          [constants.BROTLI_PARAM_QUALITY]: 5,
          [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
          ...(sizeHint === null ? {} : { [constants.BROTLI_PARAM_SIZE_HINT]: sizeHint }),
        },
      });
    case 'zstd':
      return createZstdCompress({ params: { [constants.ZSTD_c_compressionLevel]: 6 } });
    default:
      return createGzip({ level: 6 });
  }
}
