// EventSource over the control plane's HTTP stream (the embedded mode's transport):
// GET /internal/v1/events?after=N answers NDJSON — the events after N, then live ones, with a
// heartbeat line every 10 s (see src/control/events/http-stream.ts for the wire format).
//
// Each subscription is one loop: connect from the last applied seq, hand events to onEvent one at a
// time (awaiting each), and on any failure — refused, reset, non-200, 30 s of silence, onEvent
// throwing — wait a capped exponential backoff with jitter and connect again from the last applied
// seq. A 410 (the log no longer holds what follows our seq) calls onGap and ends the subscription.
import { request } from 'undici';
import type { Dispatcher } from 'undici';
import type { ControlEvent, EventSource, EventSubscription } from '../../common/events/types.ts';
import { FailoverUrls, isFailoverError } from '../../common/http/failover-urls.ts';
import type { Logger } from '../../common/log.ts';
import { explainUntrusted } from '../../common/tls/control-trust.ts';
import { backoffDelayMs, DEFAULT_BACKOFF, sleep } from './backoff.ts';
import type { BackoffOptions } from './backoff.ts';
import { LineSplitter } from './ndjson.ts';

export interface HttpStreamSourceOptions {
  /**
   * Base URL of the control plane, e.g. http://control:8080; several (failover in order), or a pool
   * shared with the node's other control-plane clients: a refused, failed or 5xx connection moves
   * the next one to another URL.
   */
  controlUrl: string | readonly string[] | FailoverUrls;
  /** A token with the `node` scope, sent as `Authorization: Bearer`. */
  token: string;
  /** Silence (no event, no heartbeat) after which the connection counts as dead. Default 30 s. */
  silenceMs?: number;
  /** Time allowed for the response headers. Default 10 s. */
  headersTimeoutMs?: number;
  backoff?: BackoffOptions;
  /** undici dispatcher (connection pool); default the global one. */
  dispatcher?: Dispatcher;
  log?: Logger;
}

interface Settings {
  urls: FailoverUrls;
  token: string;
  silenceMs: number;
  headersTimeoutMs: number;
  backoff: BackoffOptions;
  dispatcher: Dispatcher | undefined;
  log: Logger | undefined;
}

export class HttpStreamSource implements EventSource {
  readonly #settings: Settings;
  readonly #subscriptions = new Set<HttpSubscription>();

  constructor(options: HttpStreamSourceOptions) {
    const { controlUrl } = options;
    this.#settings = {
      urls:
        controlUrl instanceof FailoverUrls
          ? controlUrl
          : new FailoverUrls(typeof controlUrl === 'string' ? [controlUrl] : controlUrl, {
              ...(options.log === undefined ? {} : { log: options.log }),
            }),
      token: options.token,
      silenceMs: options.silenceMs ?? 30_000,
      headersTimeoutMs: options.headersTimeoutMs ?? 10_000,
      backoff: options.backoff ?? DEFAULT_BACKOFF,
      dispatcher: options.dispatcher,
      log: options.log,
    };
  }

  /** Resolves at once; the connection is made (and remade) in the background until closed. */
  async subscribe(
    afterSeq: number,
    onEvent: (event: ControlEvent) => Promise<void>,
    onGap: () => void,
  ): Promise<EventSubscription> {
    const subscription = new HttpSubscription(this.#settings, afterSeq, onEvent, onGap, () =>
      this.#subscriptions.delete(subscription),
    );
    this.#subscriptions.add(subscription);
    subscription.start();
    return subscription;
  }

  /** Closes every subscription. */
  async close(): Promise<void> {
    await Promise.all([...this.#subscriptions].map((s) => s.close()));
  }
}

/** How one connection ended. */
type Outcome = { kind: 'gone' } | { kind: 'ended'; hasProgressed: boolean };

class HttpSubscription implements EventSubscription {
  readonly #settings: Settings;
  readonly #onEvent: (event: ControlEvent) => Promise<void>;
  readonly #onGap: () => void;
  readonly #onClosed: () => void;
  readonly #closing = new AbortController();
  /** Last seq handed to onEvent and resolved. */
  #lastSeq: number;
  #loop: Promise<void> = Promise.resolve();

  constructor(
    settings: Settings,
    afterSeq: number,
    onEvent: (event: ControlEvent) => Promise<void>,
    onGap: () => void,
    onClosed: () => void,
  ) {
    this.#settings = settings;
    this.#lastSeq = afterSeq;
    this.#onEvent = onEvent;
    this.#onGap = onGap;
    this.#onClosed = onClosed;
  }

  start(): void {
    this.#loop = this.#run().finally(this.#onClosed);
  }

  /** Stops the loop and waits for it (including an onEvent in progress): do not await it from onEvent. */
  async close(): Promise<void> {
    this.#closing.abort();
    await this.#loop;
  }

  async #run(): Promise<void> {
    let attempt = 0;
    const { signal } = this.#closing;
    while (!signal.aborted) {
      let outcome: Outcome;
      try {
        outcome = await this.#follow(signal);
      } catch (err) {
        if (signal.aborted) return;
        this.#settings.log?.warn('event stream failed; reconnecting', {
          err: explainUntrusted(err, this.#settings.urls.current.origin, '--control-ca'),
          afterSeq: this.#lastSeq,
          attempt,
        });
        outcome = { kind: 'ended', hasProgressed: false };
      }
      if (outcome.kind === 'gone') {
        this.#settings.log?.info('event log no longer holds our position', { afterSeq: this.#lastSeq });
        this.#onGap();
        return;
      }
      attempt = outcome.hasProgressed ? 0 : attempt + 1;
      await sleep(backoffDelayMs(attempt, this.#settings.backoff), signal);
    }
  }

  /** One connection: streams until the server ends it, silence, an error, or close. */
  async #follow(closing: AbortSignal): Promise<Outcome> {
    const { urls, token, silenceMs, headersTimeoutMs, dispatcher } = this.#settings;
    const base = urls.current;
    try {
      return await this.#stream(base, closing, token, silenceMs, headersTimeoutMs, dispatcher);
    } catch (err) {
      if (!closing.aborted && isFailoverError(err)) urls.failed(base, err);
      throw err;
    }
  }

  async #stream(
    base: URL,
    closing: AbortSignal,
    token: string,
    silenceMs: number,
    headersTimeoutMs: number,
    dispatcher: Dispatcher | undefined,
  ): Promise<Outcome> {
    const url = new URL('/internal/v1/events', base);
    url.searchParams.set('after', String(this.#lastSeq));
    const silence = new AbortController();
    const res = await request(url, {
      method: 'GET',
      headers: { authorization: `Bearer ${token}`, accept: 'application/x-ndjson' },
      signal: AbortSignal.any([closing, silence.signal]),
      headersTimeout: headersTimeoutMs,
      bodyTimeout: 0, // the silence watchdog below does this job, paused while onEvent runs
      ...(dispatcher === undefined ? {} : { dispatcher }),
    });
    if (res.statusCode === 410) {
      await res.body.dump();
      return { kind: 'gone' };
    }
    if (res.statusCode !== 200) {
      const text = await res.body.text().catch(() => '');
      throw Object.assign(new Error(`GET ${url.pathname}: HTTP ${res.statusCode} ${text.slice(0, 300)}`), {
        status: res.statusCode,
      });
    }
    this.#settings.urls.succeeded(base);
    let hasProgressed = false;
    const splitter = new LineSplitter();
    const onSilence = (): void =>
      silence.abort(new Error(`no data from the event stream for ${silenceMs} ms`));
    let watchdog = setTimeout(onSilence, silenceMs);
    try {
      for await (const chunk of res.body) {
        clearTimeout(watchdog);
        for (const line of splitter.push(chunk as Buffer)) {
          const message = parseLine(line);
          hasProgressed = true;
          if (message.type === 'heartbeat' || message.seq <= this.#lastSeq) continue;
          // The server never skips a seq on one connection; if it did, only a snapshot is safe.
          if (message.seq > this.#lastSeq + 1) return { kind: 'gone' };
          await this.#onEvent(message);
          this.#lastSeq = message.seq;
        }
        watchdog = setTimeout(onSilence, silenceMs);
      }
    } catch (err) {
      throw silence.signal.aborted ? silence.signal.reason : err;
    } finally {
      clearTimeout(watchdog);
    }
    return { kind: 'ended', hasProgressed };
  }
}

/** A stream line: an event, or a heartbeat. Anything else is a protocol error (reconnect). */
function parseLine(line: string): ControlEvent | { type: 'heartbeat'; seq: number } {
  const value: unknown = JSON.parse(line);
  if (typeof value !== 'object' || value === null)
    throw new Error(`event stream: not an object: ${line.slice(0, 200)}`);
  const { type, seq } = value as { type?: unknown; seq?: unknown };
  if (typeof type !== 'string' || typeof seq !== 'number' || !Number.isSafeInteger(seq)) {
    throw new Error(`event stream: line without type and seq: ${line.slice(0, 200)}`);
  }
  return value as ControlEvent | { type: 'heartbeat'; seq: number };
}
