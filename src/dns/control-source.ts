// Reads zones, PoPs and nodes from the control plane's REST API (GET /client/v4/zones, /pops,
// /nodes with a bearer token that has zones:read), once a second by default. When a poll fails the
// last good data stays in force; the failure is logged once, and so is the recovery.
import { Agent, request } from 'undici';
import type { NodeInfo, Pop } from '../common/config/topology.ts';
import type { Zone } from '../common/config/zone.ts';
import type { Logger } from '../common/log.ts';
import { explainUntrusted } from '../common/tls/control-trust.ts';
import type { ControlData } from './state.ts';

export interface ControlSourceOptions {
  url: string;
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
  #timer: NodeJS.Timeout | null = null;
  #closed = false;
  #last = '';
  #failing = false;
  /** Time of the last successful poll (ms), 0 before the first. */
  lastSuccessAt = 0;

  constructor(options: ControlSourceOptions) {
    this.#options = options;
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
      const [zones, pops, nodes] = await Promise.all([
        this.#getAllPages<Zone>('/client/v4/zones'),
        this.#get<Pop[]>('/client/v4/pops'),
        this.#get<NodeInfo[]>('/client/v4/nodes'),
      ]);
      this.lastSuccessAt = Date.now();
      if (this.#failing) this.#options.log.info('control plane reachable again', { url: this.#options.url });
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
      if (!this.#failing && !this.#closed) {
        this.#options.log.warn('control plane unreachable; serving the last good data', {
          url: this.#options.url,
          err: explainUntrusted(err, this.#options.url, '--control-ca'),
        });
      }
      this.#failing = true;
      this.#options.onPoll?.(false);
      return false;
    }
  }

  async #get<T>(path: string): Promise<T> {
    return (await this.#envelope<T>(path)).result;
  }

  async #getAllPages<T>(path: string): Promise<T[]> {
    const all: T[] = [];
    for (let page = 1; page <= 10_000; page++) {
      const res = await this.#envelope<T[]>(`${path}?per_page=100&page=${page}`);
      all.push(...res.result);
      if (res.result_info === undefined || page >= res.result_info.total_pages) break;
    }
    return all;
  }

  async #envelope<T>(path: string): Promise<Envelope<T>> {
    const res = await request(new URL(path, this.#options.url), {
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
      throw new Error(`GET ${path}: ${res.statusCode}, not JSON`);
    }
    if (res.statusCode !== 200 || body.success !== true) {
      const why = Array.isArray(body.errors) ? body.errors.map((e) => e.message).join('; ') : '';
      throw new Error(`GET ${path}: ${res.statusCode} ${why}`);
    }
    return body;
  }
}
