// OCSP stapling (RFC 6066 §8, status_request): for each certificate whose Authority Information
// Access names a responder, the node fetches a response in the background, keeps the last good one
// and refreshes it at half its validity (RFC 5019 §6: responders publish well before nextUpdate),
// with backoff on failure. The handshake only reads what is cached: a slow or failing responder
// never delays or breaks a handshake, the client simply gets no staple.
import { createHash, type X509Certificate } from 'node:crypto';
import type { Server } from 'node:tls';
import { request, type Dispatcher } from 'undici';
import type { Logger } from '../../common/log.ts';
import { backoffDelayMs, type BackoffOptions } from '../sync/backoff.ts';
import { buildOcspRequest, checkOcspResponse, ocspUrlOf, type OcspQuery } from './ocsp-message.ts';

export interface OcspOptions {
  log: Logger;
  /** Whole-fetch limit. Default 5 s. */
  timeoutMs?: number;
  backoff?: BackoffOptions;
  /** Refresh at least this often (responses without nextUpdate, or very long ones). Default 12 h. */
  maxRefreshMs?: number;
  /** Least wait between two good fetches. Default 10 s. */
  minRefreshMs?: number;
  now?: () => number;
  dispatcher?: Dispatcher;
}

/** Counters for /metrics. */
export interface OcspCounts {
  fetchGood: number;
  fetchFailed: number;
  stapled: number;
  notStapled: number;
}

interface Tracked {
  readonly leaf: X509Certificate;
  readonly issuer: X509Certificate;
  readonly url: string;
  query: OcspQuery | null;
  response: Buffer | null;
  nextUpdateMs: number | null;
  attempt: number;
  good: number;
  failed: number;
  timer: NodeJS.Timeout | null;
  /** Resolves once a fetch attempt finished (tests and `settled()`). */
  settled: Promise<void>;
  markSettled: () => void;
  closed: boolean;
}

const MAX_RESPONSE_BYTES = 64 * 1024;

function derKey(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('base64');
}

export class OcspStapler {
  readonly #options: OcspOptions;
  readonly #now: () => number;
  readonly #backoff: BackoffOptions;
  /** SHA-256 of the leaf's DER → state (handshakes are looked up by the DER Node hands over). */
  readonly #byLeaf = new Map<string, Tracked>();
  /** How many certificates (ids) refer to one leaf. */
  readonly #refs = new Map<string, number>();
  readonly counts: OcspCounts = { fetchGood: 0, fetchFailed: 0, stapled: 0, notStapled: 0 };

  constructor(options: OcspOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#backoff = options.backoff ?? { initialMs: 5_000, maxMs: 10 * 60_000 };
  }

  /** Starts keeping a staple for `leaf`; a no-op when it names no responder or its issuer is unknown. */
  track(leaf: X509Certificate, issuer: X509Certificate | null): void {
    const url = ocspUrlOf(leaf);
    if (url === null || issuer === null) return;
    const key = derKey(leaf.raw);
    this.#refs.set(key, (this.#refs.get(key) ?? 0) + 1);
    if (this.#byLeaf.has(key)) return;
    let markSettled = (): void => {};
    const settled = new Promise<void>((resolve) => (markSettled = resolve));
    const t: Tracked = {
      leaf,
      issuer,
      url,
      query: null,
      response: null,
      nextUpdateMs: null,
      attempt: 0,
      good: 0,
      failed: 0,
      timer: null,
      settled,
      markSettled,
      closed: false,
    };
    this.#byLeaf.set(key, t);
    void this.#refresh(t);
  }

  untrack(leaf: X509Certificate): void {
    const key = derKey(leaf.raw);
    const refs = (this.#refs.get(key) ?? 0) - 1;
    if (refs > 0) {
      this.#refs.set(key, refs);
      return;
    }
    this.#refs.delete(key);
    const t = this.#byLeaf.get(key);
    if (t === undefined) return;
    this.#byLeaf.delete(key);
    this.#stop(t);
  }

  /** The cached response for a leaf (DER), when current. */
  stapleFor(leafDer: Uint8Array): Buffer | null {
    const t = this.#byLeaf.get(derKey(leafDer));
    if (t?.response === undefined || t.response === null) return null;
    if (t.nextUpdateMs !== null && t.nextUpdateMs <= this.#now()) return null; // never staple a stale one
    return t.response;
  }

  /** Fetch outcomes for one leaf so far (null: not tracked). */
  statsOf(leaf: X509Certificate): { good: number; failed: number } | null {
    const t = this.#byLeaf.get(derKey(leaf.raw));
    return t === undefined ? null : { good: t.good, failed: t.failed };
  }

  /** Resolves once the first fetch for `leaf` finished (good or not); at once if it is not tracked. */
  async settled(leaf: X509Certificate): Promise<void> {
    await this.#byLeaf.get(derKey(leaf.raw))?.settled;
  }

  /** Answers the server's OCSPRequest events from the cache, synchronously. */
  attach(server: Server): void {
    server.on(
      'OCSPRequest',
      (
        certificate: Buffer | null,
        _issuer: Buffer | null,
        cb: (err: Error | null, resp?: Buffer) => void,
      ) => {
        const staple = certificate === null ? null : this.stapleFor(certificate);
        if (staple === null) this.counts.notStapled++;
        else this.counts.stapled++;
        // No staple: an empty answer (Node then sends no CertificateStatus), never an error.
        if (staple === null) cb(null);
        else cb(null, staple);
      },
    );
  }

  close(): void {
    for (const t of this.#byLeaf.values()) this.#stop(t);
    this.#byLeaf.clear();
    this.#refs.clear();
  }

  #stop(t: Tracked): void {
    t.closed = true;
    if (t.timer !== null) clearTimeout(t.timer);
    t.timer = null;
    t.markSettled();
  }

  async #refresh(t: Tracked): Promise<void> {
    t.timer = null;
    if (t.closed) return;
    try {
      t.query ??= await buildOcspRequest(t.leaf, t.issuer);
      const der = await this.#fetch(t.url, t.query.der);
      const good = await checkOcspResponse(t.query, der, this.#now());
      if (t.closed) return;
      t.response = good.der;
      t.nextUpdateMs = good.nextUpdateMs;
      t.attempt = 0;
      this.counts.fetchGood++;
      t.good++;
      this.#schedule(t, this.#refreshDelay(good.thisUpdateMs, good.nextUpdateMs));
    } catch (err) {
      if (t.closed) return;
      this.counts.fetchFailed++;
      t.failed++;
      // The previous staple stays while it is current (stapleFor checks nextUpdate).
      const delay = backoffDelayMs(t.attempt++, this.#backoff);
      this.#options.log.warn('OCSP fetch failed; no new staple, retrying', {
        responder: t.url,
        serial: t.leaf.serialNumber,
        err,
        retryInMs: delay,
      });
      this.#schedule(t, delay);
    } finally {
      t.markSettled();
    }
  }

  #refreshDelay(thisUpdateMs: number, nextUpdateMs: number | null): number {
    const max = this.#options.maxRefreshMs ?? 12 * 3600_000;
    if (nextUpdateMs === null) return max;
    const half = thisUpdateMs + (nextUpdateMs - thisUpdateMs) / 2 - this.#now();
    return Math.max(this.#options.minRefreshMs ?? 10_000, Math.min(max, half));
  }

  #schedule(t: Tracked, delayMs: number): void {
    if (t.closed) return;
    t.timer = setTimeout(() => void this.#refresh(t), Math.min(delayMs, 2 ** 31 - 1));
    t.timer.unref();
  }

  async #fetch(url: string, body: Buffer): Promise<Uint8Array> {
    const res = await request(url, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/ocsp-request', accept: 'application/ocsp-response' },
      signal: AbortSignal.timeout(this.#options.timeoutMs ?? 5_000),
      ...(this.#options.dispatcher === undefined ? {} : { dispatcher: this.#options.dispatcher }),
    });
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_RESPONSE_BYTES) {
        res.body.destroy();
        throw new Error(`OCSP response larger than ${MAX_RESPONSE_BYTES} bytes`);
      }
      chunks.push(chunk);
    }
    if (res.statusCode !== 200) throw new Error(`OCSP responder answered HTTP ${res.statusCode}`);
    return Buffer.concat(chunks);
  }
}

/** Staples cached OCSP responses on `server`'s handshakes (the function the listener calls). */
export function attachOcsp(server: Server, stapler: OcspStapler): void {
  stapler.attach(server);
}
