// What a worker's host functions do on an edge node.
//
// fetch(): a sub-request for a host this node serves re-enters the node's own pipeline over
// loopback, marked so that it skips the compute step (workerd's model: a worker's fetch to its own
// zone goes through the cache and the zone's upstream path, not through the worker again); the
// marker is a per-process secret, so a client cannot forge it to bypass a worker. Any other host is
// fetched directly, and refused when it resolves to a loopback, private or link-local address unless
// the zone's settings allow it (workers_private_subrequests), so customer code cannot probe the
// node's network. The check runs in the connection's own DNS lookup, so a name cannot resolve to a
// public address for the check and a private one for the connection.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { randomBytes } from 'node:crypto';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { Agent, request } from 'undici';
import type { Logger } from '../../common/log.ts';
import type { HostResponse, SubRequest, WorkerHost } from './host-functions.ts';
import type { KvReader } from './kv-binding.ts';
import type { WorkerCache } from './cache-binding.ts';

export const SUBREQUEST_HEADER = 'meridian-worker-subrequest';
/** Per process: only this node's own sub-requests carry it. */
export const SUBREQUEST_TOKEN = randomBytes(18).toString('base64url');

const MAX_SUBREQUEST_BODY = 32 * 1024 * 1024;
const SUBREQUEST_TIMEOUT_MS = 30_000;

/** Loopback, private (RFC 1918, ULA), link-local, CGNAT, unspecified, multicast and reserved ranges. */
const PRIVATE = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 3],
] as const)
  PRIVATE.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['::ffff:0:0', 96],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const)
  PRIVATE.addSubnet(net, prefix, 'ipv6');

export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  return PRIVATE.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/** A DNS lookup that fails for private addresses (used as the public agent's connect.lookup). */
const publicLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err !== null) return (callback as (e: Error) => void)(err);
    const list = addresses as LookupAddress[];
    const bad = list.find((a) => isPrivateAddress(a.address));
    if (bad !== undefined) {
      const e = Object.assign(new Error(`${hostname} resolves to a private address (${bad.address})`), {
        code: 'EPRIVATE',
      });
      return (callback as (e: Error) => void)(e);
    }
    if ((options as { all?: boolean }).all === true) return callback(null, list);
    const first = list[0] as LookupAddress;
    (callback as (e: null, a: string, f: number) => void)(null, first.address, first.family);
  });
};

export interface NodeHostDeps {
  /** The id of the zone of this node serving a host (sub-requests to it loop back), if any. */
  zoneOfHost(host: string): string | undefined;
  /** The node's plain HTTP listener (set once listening). */
  selfAddress(): { host: string; port: number } | null;
  /** May this zone's workers reach private addresses? */
  allowsPrivate(zoneId: string): boolean;
  kv: KvReader;
  cache: WorkerCache;
  log: Logger;
  /** Console lines of a script, for `meridian workers tail` (admin /workers/tail). */
  onConsole(zoneId: string, script: string, level: string, message: string): void;
}

export class NodeWorkerHosts {
  readonly #deps: NodeHostDeps;
  readonly #public = new Agent({ connect: { lookup: publicLookup, timeout: 10_000 } });
  readonly #any = new Agent({ connect: { timeout: 10_000 } });

  constructor(deps: NodeHostDeps) {
    this.#deps = deps;
  }

  hostFor(zoneId: string, script: string): WorkerHost {
    const deps = this.#deps;
    return {
      fetch: (req) => this.#fetch(zoneId, req),
      kvGet: (ns, key) => deps.kv.get(zoneId, ns, key),
      kvPut: (ns, key, value, metadata, ttl, exp) => deps.kv.put(zoneId, ns, key, value, metadata, ttl, exp),
      kvDelete: (ns, key) => deps.kv.delete(zoneId, ns, key),
      kvList: (ns, prefix, limit, cursor) => deps.kv.list(zoneId, ns, prefix, limit, cursor),
      cacheMatch: (url, headers) => deps.cache.match(zoneId, url, headers),
      cachePut: (url, status, headers, body) => deps.cache.put(zoneId, url, status, headers, body),
      cacheDelete: (url) => deps.cache.delete(zoneId, url),
      log: (level, message) => {
        deps.onConsole(zoneId, script, level, message);
        deps.log.info('worker console', { zone_id: zoneId, script, level, message });
      },
    };
  }

  async close(): Promise<void> {
    await Promise.all([this.#public.close(), this.#any.close()]);
  }

  async #fetch(zoneId: string, req: SubRequest): Promise<HostResponse | string> {
    let url: URL;
    try {
      url = new URL(req.url);
    } catch {
      return `fetch: invalid URL ${req.url}`;
    }
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of req.headers) {
      const n = name.toLowerCase();
      if (n === SUBREQUEST_HEADER || n === 'host' || n === 'connection' || n === 'content-length') continue;
      const prior = headers[n];
      headers[n] = prior === undefined ? value : Array.isArray(prior) ? [...prior, value] : [prior, value];
    }
    const self = this.#deps.selfAddress();
    const hostname = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
    const body = req.body === null ? null : Buffer.from(req.body);
    try {
      const servedBy = self === null ? undefined : this.#deps.zoneOfHost(hostname);
      if (self !== null && servedBy !== undefined) {
        headers.host = url.host;
        // Only the worker's own zone skips compute; another zone's request runs that zone's workers,
        // as it would from any client.
        if (servedBy === zoneId)
          headers[SUBREQUEST_HEADER] = `${SUBREQUEST_TOKEN} ${url.protocol === 'https:' ? 'https' : 'http'}`;
        const target = `http://${self.host.includes(':') ? `[${self.host}]` : self.host}:${self.port}${url.pathname}${url.search}`;
        return await this.#send(target, req.method, headers, body, this.#any);
      }
      const allowPrivate = this.#deps.allowsPrivate(zoneId);
      if (!allowPrivate && (isPrivateAddress(hostname) || hostname === 'localhost')) {
        return `fetch: ${url.host} is a private address; sub-requests may not reach it (zone setting workers_private_subrequests)`;
      }
      headers.host = url.host;
      return await this.#send(url.href, req.method, headers, body, allowPrivate ? this.#any : this.#public);
    } catch (err) {
      const code = (err as { code?: string }).code;
      const message = err instanceof Error ? err.message : String(err);
      if (code === 'EPRIVATE' || /private address/.test(message))
        return `fetch: ${message}; sub-requests may not reach it (zone setting workers_private_subrequests)`;
      return `fetch: ${url.host}: ${message}`;
    }
  }

  async #send(
    target: string,
    method: string,
    headers: Record<string, string | string[]>,
    body: Buffer | null,
    dispatcher: Agent,
  ): Promise<HostResponse> {
    const res = await request(target, {
      method: method as 'GET',
      headers,
      body,
      dispatcher,
      headersTimeout: SUBREQUEST_TIMEOUT_MS,
      bodyTimeout: SUBREQUEST_TIMEOUT_MS,
    });
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > MAX_SUBREQUEST_BODY) {
        res.body.destroy();
        throw new Error(`response body larger than ${MAX_SUBREQUEST_BODY} bytes`);
      }
      chunks.push(chunk);
    }
    const out: [string, string][] = [];
    for (const [name, value] of Object.entries(res.headers)) {
      if (value === undefined) continue;
      if (Array.isArray(value)) for (const v of value) out.push([name, v]);
      else out.push([name, value]);
    }
    const buf = Buffer.concat(chunks);
    return {
      status: res.statusCode,
      statusText: '',
      headers: out,
      body: buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer,
    };
  }
}
