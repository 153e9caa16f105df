// caches.default for workers: the node's own cache (memory over disk), keyed like every other
// object — the zone's key rules (primaryKeyForUrl), Vary — so what a worker puts is what a plain
// request for the URL finds, and a purge removes it. A worker may only touch URLs of its own zone's
// hostnames (another zone's objects are not its to poison or delete). put follows the response's own
// caching headers, as a shared cache does (no-store, private, Set-Cookie are not stored); match
// answers only fresh objects (Cloudflare's semantics: no revalidation in match).
import { endToEndHeaders } from '../../common/http/hop-by-hop.ts';
import { freshnessOf, currentAgeSec } from '../../lib/http-cache/freshness.ts';
import { evaluate, storability } from '../../lib/http-cache/policy.ts';
import { parseVary } from '../../lib/http-cache/vary.ts';
import type { Cache } from '../cache/cache.ts';
import { isInMemory } from '../cache/cache.ts';
import { variantKeyOf } from '../cache/key.ts';
import type { HeaderMap, ObjectMeta } from '../cache/storage.ts';
import { parseTags } from '../fetch/tags.ts';
import type { ZoneRuntime } from '../zones/types.ts';
import { primaryKeyForUrl } from '../zones/zone-table.ts';
import type { HostResponse } from './host-functions.ts';

export interface WorkerCache {
  match(zoneId: string, url: string, headers: [string, string][]): Promise<HostResponse | null>;
  put(
    zoneId: string,
    url: string,
    status: number,
    headers: [string, string][],
    body: ArrayBuffer,
  ): Promise<string | null>;
  delete(zoneId: string, url: string): Promise<boolean>;
}

const MAX_PUT_BYTES = 64 * 1024 * 1024;

function mapOf(pairs: readonly [string, string][]): HeaderMap {
  const out: HeaderMap = {};
  for (const [name, value] of pairs) {
    const n = name.toLowerCase();
    const prior = out[n];
    out[n] = prior === undefined ? value : Array.isArray(prior) ? [...prior, value] : [prior, value];
  }
  return out;
}

function pairsOf(headers: HeaderMap): [string, string][] {
  const out: [string, string][] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (Array.isArray(value)) for (const v of value) out.push([name, v]);
    else out.push([name, value]);
  }
  return out;
}

export class NodeWorkerCache implements WorkerCache {
  readonly #cache: Cache;
  readonly #zoneOf: (zoneId: string) => ZoneRuntime | undefined;

  constructor(cache: Cache, zoneOf: (zoneId: string) => ZoneRuntime | undefined) {
    this.#cache = cache;
    this.#zoneOf = zoneOf;
  }

  /** The primary key of `url` in the zone, or an error when the URL is not the zone's. */
  #keyOf(zoneId: string, url: string): { zone: ZoneRuntime; key: string } | string {
    const zone = this.#zoneOf(zoneId);
    if (zone === undefined) return 'Cache: the zone is not served here';
    let host: string;
    try {
      host = new URL(url).hostname.toLowerCase();
    } catch {
      return `Cache: invalid URL ${url}`;
    }
    if (!zone.zone.hostnames.includes(host)) return `Cache: ${host} is not a hostname of this zone`;
    const key = primaryKeyForUrl(zone, url);
    return key === null ? `Cache: not an http(s) URL: ${url}` : { zone, key };
  }

  async match(zoneId: string, url: string, headers: [string, string][]): Promise<HostResponse | null> {
    const found = this.#keyOf(zoneId, url);
    if (typeof found === 'string') return null;
    const req = mapOf(headers);
    const lookup = this.#cache.lookup(found.key, req);
    if (lookup.kind !== 'found') return null;
    const object = lookup.object;
    const now = Date.now();
    if (evaluate(object.meta.freshness, {}, now).kind !== 'fresh') return null;
    let body: Buffer;
    if (isInMemory(object)) body = object.body;
    else {
      const chunks: Buffer[] = [];
      for await (const chunk of this.#cache.read(object)) chunks.push(chunk as Buffer);
      body = Buffer.concat(chunks);
    }
    const out = pairsOf(object.meta.headers);
    out.push(['age', String(currentAgeSec(object.meta.freshness, now))]);
    out.push(['cf-cache-status', 'HIT']);
    return {
      status: object.meta.status,
      statusText: '',
      headers: out,
      body: body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer,
    };
  }

  async put(
    zoneId: string,
    url: string,
    status: number,
    headers: [string, string][],
    body: ArrayBuffer,
  ): Promise<string | null> {
    const found = this.#keyOf(zoneId, url);
    if (typeof found === 'string') return found;
    if (body.byteLength > MAX_PUT_BYTES) return `Cache.put: body larger than ${MAX_PUT_BYTES} bytes`;
    const res = endToEndHeaders(mapOf(headers)) as HeaderMap;
    const opts = found.zone.policy;
    if (!storability('GET', status, {}, res, opts).storable) return null;
    const vary = parseVary(res);
    if (vary === '*') return null;
    const now = Date.now();
    const meta: ObjectMeta = {
      key: variantKeyOf(found.key, vary, {}, ''),
      primaryKey: found.key,
      url,
      status,
      headers: res,
      varyNames: vary,
      tags: parseTags(res),
      storedAtMs: now,
      bodySize: body.byteLength,
      freshness: freshnessOf(status, res, now, now, opts),
    };
    const bytes = Buffer.from(body);
    const writer = this.#cache.disk.createWriter();
    try {
      await writer.write(bytes);
      await this.#cache.trackWrite(writer.commit(meta));
    } catch (err) {
      await writer.abort().catch(() => undefined);
      return `Cache.put: not stored: ${String(err)}`;
    } finally {
      await writer.release().catch(() => undefined);
    }
    this.#cache.admit(meta, bytes);
    return null;
  }

  async delete(zoneId: string, url: string): Promise<boolean> {
    const found = this.#keyOf(zoneId, url);
    if (typeof found === 'string') return false;
    return (await this.#cache.removeUrl(found.key)) > 0;
  }
}
