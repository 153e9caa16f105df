// image: /cdn-cgi/image/<options>/<path> (Cloudflare's URL format; docs/media.md). The source is
// read through this node's cache (a stored copy, else an ordinary collapsed fill of the source URL,
// which stores it), resized and encoded with sharp, and the result stored as a variant of the
// source: same primary key, key extra "image <options> <format>", so a purge of the source URL
// removes its variants too. One transform per variant and node (the variant's fetch task collapses
// concurrent requests). Bad options: 400 naming the option. A source that is not an image is
// answered untouched. An image that does not decode, has more pixels than the zone allows
// (decompression bombs) or would encode larger than the output limit: 502, nothing stored.
// By default (images.enabled true) only paths under /cdn-cgi/image/ come here.
import { Readable } from 'node:stream';
import sharp from 'sharp';
import type { ResizeOptions, Sharp } from 'sharp';
import { MeridianError } from '../../common/errors.ts';
import { headerValue } from '../../lib/http-cache/headers.ts';
import { evaluate } from '../../lib/http-cache/policy.ts';
import type { ImageOptions, OutputFormat } from '../../lib/images/options.ts';
import {
  IMAGE_PREFIX,
  canonicalOptions,
  chooseFormat,
  outputFormatOf,
  parseImagePath,
} from '../../lib/images/options.ts';
import type { CachedObject } from '../cache/cache.ts';
import { isInMemory } from '../cache/cache.ts';
import type { FetchDeps, FetchSpec } from '../fetch/fetch-task.ts';
import { FetchTask } from '../fetch/fetch-task.ts';
import { discard } from '../fetch/slices.ts';
import type { UpstreamResponse } from '../upstream/origin-client.ts';
import type { RequestContext } from './context.ts';
import type { Next } from './steps.ts';

/** Limits when the zone sets none. */
export const IMAGE_DEFAULTS = {
  maxInputPixels: 40_000_000,
  maxInputBytes: 32 * 1024 * 1024,
  maxOutputBytes: 16 * 1024 * 1024,
} as const;

/** Is this a resizing request of a zone that has it on? (lookup asks first.) */
export function isImageRequest(ctx: RequestContext): boolean {
  if (!ctx.path.startsWith(IMAGE_PREFIX)) return false;
  const method = ctx.req.method;
  if (method !== 'GET' && method !== 'HEAD') return false;
  return ctx.zone?.zone.settings.images?.enabled !== false;
}

export async function image(ctx: RequestContext): Promise<Next<'image'>> {
  const parsed = parseImagePath(ctx.path);
  if (parsed.kind === 'invalid') {
    ctx.fail(new MeridianError('IMAGE_BAD_OPTIONS', parsed.message));
    return 'synth';
  }
  const zone = ctx.zone;
  if (zone === null) return 'synth';
  const chosen = chooseFormat(parsed.options.format, headerValue(ctx.req.headers, 'accept'));
  // From here on the request is for the source: key, path and URL are the source's.
  const source = zone.decide({
    method: 'GET',
    host: ctx.host,
    target: parsed.source,
    headers: ctx.req.headers,
    scheme: ctx.scheme,
  });
  ctx.path = parsed.source;
  ctx.primaryKey = source.primaryKey;
  ctx.decision = source;
  const extra = `${source.keyExtra}\u0001image ${canonicalOptions(parsed.options, chosen)}`;
  const cache = ctx.edge.cache;
  const found = cache.lookup(ctx.primaryKey, ctx.req.headers, extra);
  if (
    found.kind === 'found' &&
    evaluate(found.object.meta.freshness, ctx.req.headers, Date.now()).kind !== 'revalidate'
  ) {
    ctx.phase = 'hit';
    ctx.object = found.object;
    ctx.delivery = { kind: 'object', object: found.object };
    return 'deliver';
  }
  const key = cache.variantKeyFor(ctx.primaryKey, ctx.req.headers, extra);
  const base = ctx.edge.fillSpec(ctx, key);
  const spec: FetchSpec = { ...base, key, keyExtra: extra, route: null, compression: null, stored: null };
  const limits = limitsOf(ctx);
  const { task, created } = ctx.edge.inflight.join(
    key,
    () =>
      new FetchTask(
        {
          ...ctx.edge.fetchDeps,
          send: () => transformed(ctx, parsed.options, chosen, limits),
        } satisfies FetchDeps,
        spec,
      ),
  );
  ctx.collapsed = !created;
  const outcome = await task.outcome;
  ctx.fwd = 'uri-miss';
  switch (outcome.kind) {
    case 'fill':
      ctx.phase = 'miss';
      ctx.stored = true;
      ctx.fwdStatus = outcome.meta.status;
      ctx.delivery = { kind: 'fill', meta: outcome.meta, fill: outcome.fill };
      return 'deliver';
    case 'revalidated':
      ctx.delivery = { kind: 'object', object: outcome.object };
      return 'deliver';
    case 'uncacheable': {
      const response = created ? task.claimResponse() : null;
      if (response === null) {
        // A reader of an uncacheable variant: its own transform, unshared.
        ctx.delivery = { kind: 'upstream', response: await transformed(ctx, parsed.options, chosen, limits) };
        return 'deliver';
      }
      ctx.detail = outcome.reason;
      ctx.fwdStatus = response.status;
      ctx.delivery = { kind: 'upstream', response };
      return 'deliver';
    }
    case 'failed':
      if (outcome.response !== null) {
        ctx.delivery = { kind: 'buffered', response: outcome.response };
        return 'deliver';
      }
      ctx.fail(outcome.error);
      return 'synth';
  }
}

interface ImageLimits {
  maxInputPixels: number;
  maxInputBytes: number;
  maxOutputBytes: number;
}

function limitsOf(ctx: RequestContext): ImageLimits {
  const s = ctx.zone?.zone.settings.images;
  return {
    maxInputPixels: s?.max_input_pixels ?? IMAGE_DEFAULTS.maxInputPixels,
    maxInputBytes: s?.max_input_bytes ?? IMAGE_DEFAULTS.maxInputBytes,
    maxOutputBytes: s?.max_output_bytes ?? IMAGE_DEFAULTS.maxOutputBytes,
  };
}

interface Source {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** The variant as a response to its fetch task: the source through the cache, then sharp. */
async function transformed(
  ctx: RequestContext,
  options: ImageOptions,
  chosen: ReturnType<typeof chooseFormat>,
  limits: ImageLimits,
): Promise<UpstreamResponse> {
  const requestTimeMs = Date.now();
  const source = await sourceOf(ctx, limits);
  const type = headerValue(source.headers, 'content-type') ?? '';
  // Not ours to change: errors and non-images are answered as the source is.
  if (source.status !== 200 || !/^image\//i.test(type)) return responseOf(source, requestTimeMs);
  let format: OutputFormat;
  let body: Buffer;
  try {
    const input = sharp(source.body, { limitInputPixels: limits.maxInputPixels, failOn: 'error' });
    const meta = await input.metadata();
    format = outputFormatOf(chosen, meta.format);
    body = await encode(input.rotate(), options, format).toBuffer();
  } catch (err) {
    throw new MeridianError('IMAGE_FAILED', `the source image cannot be resized: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (body.length > limits.maxOutputBytes) {
    throw new MeridianError(
      'IMAGE_FAILED',
      `the resized image is larger than ${limits.maxOutputBytes} bytes`,
    );
  }
  const headers: Record<string, string | string[] | undefined> = {};
  // Vary as the source's: the source and its variants share one entry in the Vary index.
  for (const name of [
    'cache-control',
    'expires',
    'last-modified',
    'date',
    'vary',
    'cache-tag',
    'surrogate-key',
  ]) {
    const value = source.headers[name];
    if (value !== undefined) headers[name] = value;
  }
  headers['content-type'] = `image/${format}`;
  headers['content-length'] = String(body.length);
  const etag = headerValue(source.headers, 'etag');
  if (etag !== undefined)
    headers.etag = `W/"${etag.replace(/^W\//, '').replace(/"/g, '')}-${canonicalOptions(options, format)}"`;
  return { status: 200, headers, body: Readable.from([body]), requestTimeMs, responseTimeMs: Date.now() };
}

function encode(input: Sharp, o: ImageOptions, format: OutputFormat): Sharp {
  let pipeline = input;
  if (o.width !== null || o.height !== null) {
    pipeline = pipeline.resize({
      ...(o.width === null ? {} : { width: o.width }),
      ...(o.height === null ? {} : { height: o.height }),
      ...fitOf(o.fit),
    });
  }
  switch (format) {
    case 'webp':
      return pipeline.webp({ quality: o.quality });
    case 'avif':
      return pipeline.avif({ quality: Math.max(1, Math.round(o.quality * 0.7)), effort: 2 });
    case 'png':
      return pipeline.png({ compressionLevel: 7 });
    case 'jpeg':
      return pipeline.jpeg({ quality: o.quality, mozjpeg: true });
  }
}

/** Cloudflare's fit values as sharp's. */
function fitOf(fit: ImageOptions['fit']): ResizeOptions {
  switch (fit) {
    case 'scale-down':
      return { fit: 'inside', withoutEnlargement: true };
    case 'contain':
      return { fit: 'inside' };
    case 'cover':
      return { fit: 'cover' };
    case 'crop':
      return { fit: 'cover', withoutEnlargement: true };
    case 'pad':
      return { fit: 'contain', background: { r: 255, g: 255, b: 255, alpha: 1 } };
  }
}

function responseOf(source: Source, requestTimeMs: number): UpstreamResponse {
  const headers = { ...source.headers, 'content-length': String(source.body.length) };
  return {
    status: source.status,
    headers,
    body: Readable.from([source.body]),
    requestTimeMs,
    responseTimeMs: Date.now(),
  };
}

/** The source through the cache: a stored fresh copy, else the source URL's own (collapsed) fill. */
async function sourceOf(ctx: RequestContext, limits: ImageLimits): Promise<Source> {
  const edge = ctx.edge;
  const keyExtra = ctx.decision?.keyExtra ?? '';
  const found = edge.cache.lookup(ctx.primaryKey, ctx.req.headers, keyExtra);
  let stored: CachedObject | null = null;
  if (found.kind === 'found') {
    const verdict = evaluate(found.object.meta.freshness, ctx.req.headers, Date.now());
    if (verdict.kind !== 'revalidate') return readObject(ctx, found.object, limits);
    stored = found.object;
  }
  const key = edge.cache.variantKeyFor(ctx.primaryKey, ctx.req.headers, keyExtra);
  const { task } = edge.inflight.join(
    key,
    () => new FetchTask(edge.fetchDeps, { ...edge.fillSpec(ctx, key), compression: null, stored }),
  );
  const outcome = await task.outcome;
  switch (outcome.kind) {
    case 'fill':
      return {
        status: outcome.meta.status,
        headers: outcome.meta.headers,
        body: await readAll(outcome.fill.createReader(), limits),
      };
    case 'revalidated':
      return readObject(ctx, outcome.object, limits);
    case 'uncacheable': {
      const response = task.claimResponse();
      if (response === null) throw new MeridianError('IMAGE_FAILED', 'the source is not cacheable');
      return {
        status: response.status,
        headers: response.headers,
        body: await readAll(response.body, limits),
      };
    }
    case 'failed':
      if (outcome.response !== null) return outcome.response;
      throw outcome.error;
  }
}

async function readObject(ctx: RequestContext, object: CachedObject, limits: ImageLimits): Promise<Source> {
  const body = isInMemory(object) ? object.body : await readAll(ctx.edge.cache.read(object), limits);
  return { status: object.meta.status, headers: object.meta.headers, body };
}

async function readAll(stream: Readable, limits: ImageLimits): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of stream) {
    bytes += (chunk as Buffer).length;
    if (bytes > limits.maxInputBytes) {
      discard(stream);
      throw new MeridianError('IMAGE_FAILED', `the source is larger than ${limits.maxInputBytes} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
