// Reads zones, PoPs and nodes from the control plane's REST API (GET /client/v4/zones, /pops,
// /nodes with a bearer token that has zones:read), once a second by default. When a poll fails the
// last good data stays in force; the failure is logged once, and so is the recovery. With several
// URLs (replicas), a poll that fails (refused, timeout, 5xx) is made again at the next one, which then
// stays in use; failovers are logged once (failover-urls.ts).
import { Agent, request } from 'undici';
import type { NodeInfo, Pop } from '../common/config/topology.ts';
import type { Zone } from '../common/config/zone.ts';
import { FailoverUrls } from '../common/http/failover-urls.ts';
import type { Logger } from '../common/log.ts';
import { explainUntrusted } from '../common/tls/control-trust.ts';
import type { ControlData } from './state.ts';

export interface ControlSourceOptions {
  /** The control plane, or several replicas in failover order. */
  url: string | readonly string[];
  token: string;
  intervalMs: number;
  timeoutMs: number;
  /** PEM CAs that verify an https:// control plane (--control-ca); absent or null: the system's. */
  ca?: string | null;
  log: Logger;
  /** Called with every poll's data that differs from the previous one (heartbeat noise ignored). */
  onData(data: ControlData): void;
  onPoll?(ok: boolean): void;
}

interface Envelope<T> {
  success: boolean;
  errors: { code: number; message: string }[];
  result: T;
  result_info?: { page: number; per_page: number; total_pages: number };
}

export class ControlSource {
  readonly #options: ControlSourceOptions;
  readonly #agent: Agent;
  readonly #urls: FailoverUrls;
  #timer: NodeJS.Timeout | null = null;
  #closed = false;
  #last = '';
  #failing = false;
  /** Time of the last successful poll (ms), 0 before the first. */
  lastSuccessAt = 0;

  constructor(options: ControlSourceOptions) {
    this.#options = options;
    this.#urls = new FailoverUrls(typeof options.url === 'string' ? [options.url] : options.url, {
      log: options.log,
    });
    this.#agent = new Agent({
      connect: {
        timeout: options.timeoutMs,
        ...(options.ca === undefined || options.ca === null ? {} : { ca: options.ca }),
      },
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      connections: 4,
    });
  }

  /** Polls once now; resolves with whether it worked. Later polls follow every intervalMs. */
  async start(): Promise<boolean> {
    const ok = await this.#pollOnce();
    this.#schedule();
    return ok;
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    await this.#agent.close();
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => {
      void this.#pollOnce().then(() => this.#schedule());
    }, this.#options.intervalMs);
    this.#timer.unref();
  }

  async #pollOnce(): Promise<boolean> {
    try {
      // One poll reads all three lists from one replica; a failure moves the whole poll to the next.
      const [zones, pops, nodes] = await this.#urls.call((base) =>
        Promise.all([
          this.#getAllPages<Zone>(base, '/client/v4/zones'),
          this.#get<Pop[]>(base, '/client/v4/pops'),
          this.#get<NodeInfo[]>(base, '/client/v4/nodes'),
        ]).catch((err: unknown) => {
          // An untrusted certificate says which flag gives the CA, in the pool's log line too.
          throw explainUntrusted(err, base.origin, '--control-ca');
        }),
      );
      this.lastSuccessAt = Date.now();
      this.#failing = false;
      this.#options.onPoll?.(true);
      // Heart-beats change last_heartbeat_at and applied_seq every few seconds; answers do not care.
      const quiet = nodes.map(({ last_heartbeat_at: _h, applied_seq: _s, ...rest }) => rest);
      const text = JSON.stringify([zones, pops, quiet]);
      if (text !== this.#last) {
        this.#last = text;
        this.#options.onData({ zones, pops, nodes });
      }
      return true;
    } catch (err) {
      // The pool logged it (once, until a poll works again at some URL); say what it means here.
      if (!this.#failing && !this.#closed) {
        this.#options.log.warn('control plane unreachable; serving the last good data', {
          url: this.#urls.urls.map((u) => u.origin).join(','),
          err,
        });
      }
      this.#failing = true;
      this.#options.onPoll?.(false);
      return false;
    }
  }

  async #get<T>(base: URL, path: string): Promise<T> {
    return (await this.#envelope<T>(base, path)).result;
  }

  async #getAllPages<T>(base: URL, path: string): Promise<T[]> {
    const all: T[] = [];
    for (let page = 1; page <= 10_000; page++) {
      const res = await this.#envelope<T[]>(base, `${path}?per_page=100&page=${page}`);
      all.push(...res.result);
      if (res.result_info === undefined || page >= res.result_info.total_pages) break;
    }
    return all;
  }

  async #envelope<T>(base: URL, path: string): Promise<Envelope<T>> {
    const res = await request(new URL(path, base), {
      method: 'GET',
      headers: { authorization: `Bearer ${this.#options.token}`, accept: 'application/json' },
      dispatcher: this.#agent,
      signal: AbortSignal.timeout(this.#options.timeoutMs),
    });
    const text = await res.body.text();
    let body: Envelope<T>;
    try {
      body = JSON.parse(text) as Envelope<T>;
    } catch {
      throw Object.assign(new Error(`GET ${path}: ${res.statusCode}, not JSON`), { status: res.statusCode });
    }
    if (res.statusCode !== 200 || body.success !== true) {
      const why = Array.isArray(body.errors) ? body.errors.map((e) => e.message).join('; ') : '';
      throw Object.assign(new Error(`GET ${path}: ${res.statusCode} ${why}`), { status: res.statusCode });
    }
    return body;
  }
}
