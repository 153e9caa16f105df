// The only functions a worker's isolate can call into the node. Each takes and returns copies
// (strings, numbers, ArrayBuffers, plain arrays and objects: isolated-vm's Callback copies both ways),
// checks its input, and never throws a host object into the isolate. Keep this list short: every
// entry is attack surface.
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import ivm from 'isolated-vm';
import type { KvListPage } from './kv-binding.ts';

/** What the node provides to one worker (sub-requests, KV, the cache, logs). */
export interface WorkerHost {
  /** A sub-request; answers the response or an error message for a TypeError. */
  fetch(req: SubRequest): Promise<HostResponse | string>;
  kvGet(ns: string, key: string): Promise<{ value: ArrayBuffer; metadata: string | null } | null>;
  kvPut(
    ns: string,
    key: string,
    value: ArrayBuffer,
    metadata: string | null,
    ttlSec: number | null,
    expiration: number | null,
  ): Promise<string | null>;
  kvDelete(ns: string, key: string): Promise<string | null>;
  kvList(ns: string, prefix: string, limit: number, cursor: string | null): Promise<KvListPage>;
  cacheMatch(url: string, headers: [string, string][]): Promise<HostResponse | null>;
  cachePut(
    url: string,
    status: number,
    headers: [string, string][],
    body: ArrayBuffer,
  ): Promise<string | null>;
  cacheDelete(url: string): Promise<boolean>;
  log(level: string, message: string): void;
}

export interface SubRequest {
  method: string;
  url: string;
  headers: [string, string][];
  body: ArrayBuffer | null;
  redirect: string;
}

export interface HostResponse {
  status: number;
  statusText: string;
  headers: [string, string][];
  body: ArrayBuffer | null;
}

const HASHES: Record<string, string> = {
  'SHA-1': 'sha1',
  'SHA-256': 'sha256',
  'SHA-384': 'sha384',
  'SHA-512': 'sha512',
};
const MAX_LOG_CHARS = 16_384;
const MAX_SLEEP_MS = 60_000;

function hashOf(name: string): string {
  const h = HASHES[name];
  if (h === undefined) throw new TypeError(`unsupported hash ${name}`);
  return h;
}

function bytes(b: ArrayBuffer): Buffer {
  return Buffer.from(b);
}

function arrayBufferOf(buf: Buffer): ArrayBuffer {
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
}

const URL_PARTS = [
  'href',
  'origin',
  'protocol',
  'username',
  'password',
  'host',
  'hostname',
  'port',
  'pathname',
  'search',
  'hash',
] as const;
type UrlPart = (typeof URL_PARTS)[number];

function partsOf(url: URL): Record<UrlPart, string> {
  const out = {} as Record<UrlPart, string>;
  for (const p of URL_PARTS) out[p] = url[p];
  return out;
}

/** Callbacks by name; the isolate's runtime receives them as `host.<name>`. */
/** Where the chunks of streamed response bodies go (isolate.ts keeps one per isolate). */
export interface BodySink {
  /** A chunk, null at the end, or an error text; false when the client is gone (stop sending). */
  chunk(id: number, data: ArrayBuffer | string | null): Promise<boolean>;
  /** The next chunk of a request body that streams in, or null at its end. */
  pull(id: number): Promise<ArrayBuffer | null>;
}

export function hostFunctions(
  host: WorkerHost,
  sink: BodySink,
): Record<string, ivm.Callback | ivm.Reference> {
  const syncFn = <A extends unknown[], R>(fn: (...args: A) => R): ivm.Callback =>
    new ivm.Callback(fn as (...args: unknown[]) => unknown);
  // A Reference, not an async Callback: isolated-vm's async Callback does not await a returned
  // promise. The runtime glue (isolate.ts) calls it with copied arguments and a copied result.
  const asyncFn = <A extends unknown[], R>(fn: (...args: A) => Promise<R>): ivm.Reference =>
    new ivm.Reference(fn as (...args: unknown[]) => unknown);
  return {
    urlParse: syncFn((href: string, base: string | null) => {
      const url = URL.parse(String(href), base === null ? undefined : String(base));
      return url === null ? null : partsOf(url);
    }),
    urlSet: syncFn((href: string, part: string, value: string) => {
      const url = new URL(String(href));
      if (part !== 'origin' && (URL_PARTS as readonly string[]).includes(part)) {
        (url as unknown as Record<string, string>)[part] = String(value);
      }
      return partsOf(url);
    }),
    random: syncFn((n: number) => arrayBufferOf(randomBytes(Math.max(0, Math.min(65536, Number(n) | 0))))),
    clone: syncFn((value: unknown) => value),
    digest: asyncFn(async (alg: string, data: ArrayBuffer) =>
      arrayBufferOf(createHash(hashOf(alg)).update(bytes(data)).digest()),
    ),
    hmac: asyncFn(async (alg: string, key: ArrayBuffer, data: ArrayBuffer) =>
      arrayBufferOf(createHmac(hashOf(alg), bytes(key)).update(bytes(data)).digest()),
    ),
    hmacVerify: asyncFn(async (alg: string, key: ArrayBuffer, signature: ArrayBuffer, data: ArrayBuffer) => {
      const expected = createHmac(hashOf(alg), bytes(key)).update(bytes(data)).digest();
      const given = bytes(signature);
      return given.length === expected.length && timingSafeEqual(given, expected);
    }),
    aesGcm: asyncFn(aesGcm),
    sleep: asyncFn(
      (ms: number) =>
        new Promise<void>((resolve) =>
          setTimeout(resolve, Math.min(MAX_SLEEP_MS, Math.max(0, Number(ms) || 0))).unref(),
        ),
    ),
    fetch: asyncFn(
      (
        method: string,
        url: string,
        headers: [string, string][],
        body: ArrayBuffer | null,
        redirect: string,
      ) =>
        host.fetch({ method: String(method), url: String(url), headers, body, redirect: String(redirect) }),
    ),
    kvGet: asyncFn((ns: string, key: string) => host.kvGet(String(ns), String(key))),
    kvPut: asyncFn(
      (
        ns: string,
        key: string,
        value: ArrayBuffer,
        metadata: string | null,
        ttl: number | null,
        exp: number | null,
      ) => host.kvPut(String(ns), String(key), value, metadata, ttl, exp),
    ),
    kvDelete: asyncFn((ns: string, key: string) => host.kvDelete(String(ns), String(key))),
    kvList: asyncFn((ns: string, prefix: string, limit: number, cursor: string | null) =>
      host.kvList(String(ns), String(prefix), Math.max(1, Math.min(1000, Number(limit) || 1000)), cursor),
    ),
    cacheMatch: asyncFn((url: string, headers: [string, string][]) => host.cacheMatch(String(url), headers)),
    cachePut: asyncFn((url: string, status: number, headers: [string, string][], body: ArrayBuffer) =>
      host.cachePut(String(url), Number(status), headers, body),
    ),
    cacheDelete: asyncFn((url: string) => host.cacheDelete(String(url))),
    bodyChunk: asyncFn((id: number, data: ArrayBuffer | string | null) => sink.chunk(Number(id), data)),
    requestChunk: asyncFn((id: number) => sink.pull(Number(id))),
    log: new ivm.Callback(
      (level: string, message: string) => host.log(String(level), String(message).slice(0, MAX_LOG_CHARS)),
      { ignored: true },
    ),
  };
}

async function aesGcm(
  encrypt: boolean,
  key: ArrayBuffer,
  iv: ArrayBuffer,
  data: ArrayBuffer,
  aad: ArrayBuffer | null,
  tagBits: number,
): Promise<ArrayBuffer | null> {
  const k = bytes(key);
  const algorithm = `aes-${k.length * 8}-gcm` as 'aes-256-gcm';
  const tagLength = Math.floor(Number(tagBits) / 8);
  if (![4, 8, 12, 13, 14, 15, 16].includes(tagLength)) throw new TypeError('AES-GCM: bad tagLength');
  const input = bytes(data);
  if (encrypt) {
    const cipher = createCipheriv(algorithm, k, bytes(iv), { authTagLength: tagLength });
    if (aad !== null) cipher.setAAD(bytes(aad));
    return arrayBufferOf(Buffer.concat([cipher.update(input), cipher.final(), cipher.getAuthTag()]));
  }
  if (input.length < tagLength) return null;
  try {
    const decipher = createDecipheriv(algorithm, k, bytes(iv), { authTagLength: tagLength });
    if (aad !== null) decipher.setAAD(bytes(aad));
    decipher.setAuthTag(input.subarray(input.length - tagLength));
    return arrayBufferOf(
      Buffer.concat([decipher.update(input.subarray(0, input.length - tagLength)), decipher.final()]),
    );
  } catch {
    return null;
  }
}
