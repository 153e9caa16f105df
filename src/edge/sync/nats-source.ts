// EventSource over NATS JetStream (the distributed mode's transport). The control plane's publisher
// (src/control/events/nats-publisher.ts) writes one message per event, header `Meridian-Seq`, body
// the ControlEvent JSON, in seq order. Each node reads through its own durable pull consumer
// `node-<nodeName>` with explicit acks, acking only after onEvent resolves.
//
// A subscription runs in sessions. A session finds the first stream message whose Meridian seq is
// above the last applied one (binary search with direct gets), (re)creates the consumer to start
// there, and consumes. If that first message is not last + 1, the stream's retention dropped what
// we need: onGap. Messages at or below the last applied seq are acked and skipped (idempotent). A
// message above last + 1 in the middle of a session (e.g. in-flight messages lost across a NATS
// reconnect, which JetStream would only redeliver after ack_wait) ends the session; the next one
// looks the position up again and tells a real gap from a transient one.
// Caveat: a stream holding no message at all cannot show a gap; the node waits for the next event.
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  AckPolicy,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
import type { JetStreamManager, JsMsg, StoredMsg } from '@nats-io/jetstream';
import type { ControlEvent, EventSource, EventSubscription } from '../../common/events/types.ts';
import type { Logger } from '../../common/log.ts';
import { backoffDelayMs, DEFAULT_BACKOFF, sleep } from './backoff.ts';
import type { BackoffOptions } from './backoff.ts';
import { DEFAULT_EVENT_STREAM, DEFAULT_EVENT_SUBJECT } from '../../common/events/nats-names.ts';
import { natsTls } from '../../common/tls/control-trust.ts';

export const MERIDIAN_SEQ_HEADER = 'Meridian-Seq';

export interface NatsSourceOptions {
  servers: string | string[];
  /** The consumer is `node-<nodeName>` (characters NATS forbids in names become "_"). */
  nodeName: string;
  /** Default MERIDIAN_EVENTS. */
  stream?: string;
  /** Default meridian.events. */
  subject?: string;
  /** Wait between attempts to reach a NATS server again. Default 2 s. */
  reconnectTimeWaitMs?: number;
  /** PEM CAs that verify the servers' TLS (--nats-ca); null or absent: the system's. */
  tlsCa?: string | null;
  /** Between sessions that failed (stream missing, consumer errors). */
  backoff?: BackoffOptions;
  log?: Logger;
}

interface Settings {
  stream: string;
  subject: string;
  consumer: string;
  backoff: BackoffOptions;
  log: Logger | undefined;
}

const nanos = (ms: number): number => ms * 1_000_000;

export class NatsSource implements EventSource {
  readonly #options: NatsSourceOptions;
  readonly #settings: Settings;
  #nc: Promise<NatsConnection> | null = null;
  #current: NatsSubscription | null = null;

  constructor(options: NatsSourceOptions) {
    if (options.nodeName === '') throw new TypeError('nodeName: must not be empty');
    this.#options = options;
    this.#settings = {
      stream: options.stream ?? DEFAULT_EVENT_STREAM,
      subject: options.subject ?? DEFAULT_EVENT_SUBJECT,
      consumer: `node-${options.nodeName.replace(/[^A-Za-z0-9_-]/g, '_')}`,
      backoff: options.backoff ?? DEFAULT_BACKOFF,
      log: options.log,
    };
  }

  /**
   * Connects (rejects if no NATS server answers or the stream is missing), positions the consumer
   * and consumes in the background. The consumer is per node, so a second subscribe closes the first.
   */
  async subscribe(
    afterSeq: number,
    onEvent: (event: ControlEvent) => Promise<void>,
    onGap: () => void,
  ): Promise<EventSubscription> {
    await this.#current?.close();
    const nc = await this.#connection();
    const subscription = new NatsSubscription(
      nc,
      await jetstreamManager(nc),
      this.#settings,
      afterSeq,
      onEvent,
      onGap,
    );
    await subscription.open();
    this.#current = subscription;
    return subscription;
  }

  /** Closes the subscription and the connection. */
  async close(): Promise<void> {
    await this.#current?.close();
    this.#current = null;
    const nc = this.#nc;
    this.#nc = null;
    if (nc !== null) await (await nc.catch(() => null))?.close();
  }

  async #connection(): Promise<NatsConnection> {
    const existing = this.#nc === null ? null : await this.#nc.catch(() => null);
    if (existing !== null && !existing.isClosed()) return existing;
    this.#nc = connect({
      servers: this.#options.servers,
      name: `meridian-edge-${this.#options.nodeName}`,
      maxReconnectAttempts: -1,
      reconnectTimeWait: this.#options.reconnectTimeWaitMs ?? 2_000,
      ...natsTls(this.#options.tlsCa),
    });
    void this.#nc.then(
      (nc) => this.#logStatus(nc),
      () => undefined,
    ); // the caller reports a failed connect
    return this.#nc;
  }

  /** Losing and regaining NATS is said once each (the client reconnects on its own, silently). */
  async #logStatus(nc: NatsConnection): Promise<void> {
    const log = this.#settings.log;
    if (log === undefined) return;
    for await (const status of nc.status()) {
      if (status.type === 'disconnect')
        log.warn('NATS connection lost; reconnecting', { server: status.server });
      else if (status.type === 'reconnect') log.info('NATS connection back', { server: status.server });
      else if (status.type === 'error') log.warn('NATS error', { err: status.error });
    }
  }
}

type SessionEnd = 'gap' | 'again';

class NatsSubscription implements EventSubscription {
  readonly #nc: NatsConnection;
  readonly #jsm: JetStreamManager;
  readonly #settings: Settings;
  readonly #onEvent: (event: ControlEvent) => Promise<void>;
  readonly #onGap: () => void;
  readonly #closing = new AbortController();
  /** Last seq handed to onEvent and resolved. */
  #lastSeq: number;
  /** The first session's start, prepared by open(). */
  #opened: number | null = null;
  #loop: Promise<void> = Promise.resolve();

  constructor(
    nc: NatsConnection,
    jsm: JetStreamManager,
    settings: Settings,
    afterSeq: number,
    onEvent: (event: ControlEvent) => Promise<void>,
    onGap: () => void,
  ) {
    this.#nc = nc;
    this.#jsm = jsm;
    this.#settings = settings;
    this.#lastSeq = afterSeq;
    this.#onEvent = onEvent;
    this.#onGap = onGap;
  }

  /** Positions the consumer (throws if the stream is missing), then starts consuming. */
  async open(): Promise<void> {
    const start = await this.#position();
    this.#opened = start;
    this.#loop = this.#run();
  }

  /** Stops consuming and waits (including an onEvent in progress): do not await it from onEvent. */
  async close(): Promise<void> {
    this.#closing.abort();
    await this.#loop;
  }

  async #run(): Promise<void> {
    const { signal } = this.#closing;
    let attempt = 0;
    while (!signal.aborted) {
      const before = this.#lastSeq;
      try {
        const startSeq = this.#opened ?? (await this.#position());
        this.#opened = null;
        if ((await this.#session(startSeq, signal)) === 'gap') {
          this.#settings.log?.info('event stream no longer holds our position', { afterSeq: this.#lastSeq });
          this.#onGap();
          return;
        }
      } catch (err) {
        this.#opened = null;
        if (signal.aborted) return;
        this.#settings.log?.warn('event consumer failed; retrying', {
          err,
          afterSeq: this.#lastSeq,
          attempt,
        });
      }
      attempt = this.#lastSeq > before ? 0 : attempt + 1;
      if (attempt > 0) await sleep(backoffDelayMs(attempt - 1, this.#settings.backoff), signal);
    }
  }

  /**
   * The stream sequence to start at (the first message with Meridian seq > last applied), or -1 when
   * that message is not last + 1: a gap. Recreates the durable consumer there.
   */
  async #position(): Promise<number> {
    const { stream, consumer, subject } = this.#settings;
    const { state } = await this.#jsm.streams.info(stream);
    const start = await this.#findStart(state.first_seq, state.last_seq);
    if (start.message !== null && meridianSeq(start.message) > this.#lastSeq + 1) return -1;
    await this.#jsm.consumers.delete(stream, consumer).catch((err: unknown) => {
      if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.ConsumerNotFound)) throw err;
    });
    await this.#jsm.consumers.add(stream, {
      durable_name: consumer,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: start.streamSeq,
      filter_subject: subject,
      ack_wait: nanos(30_000),
      max_ack_pending: 1_000,
      // A node gone for a day leaves no consumer behind; it recreates one when it comes back.
      inactive_threshold: nanos(24 * 3600_000),
    });
    return start.streamSeq;
  }

  /** Binary search over stream sequences; Meridian seqs grow with them (ordered publishing). */
  async #findStart(
    firstSeq: number,
    lastSeq: number,
  ): Promise<{ streamSeq: number; message: StoredMsg | null }> {
    let lo = firstSeq;
    let hi = lastSeq + 1;
    let found: StoredMsg | null = null;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const message = await this.#jsm.direct.getMessage(this.#settings.stream, {
        seq: mid,
        next_by_subj: this.#settings.subject,
      });
      if (message === null || message.seq >= hi) {
        hi = mid;
      } else if (meridianSeq(message) > this.#lastSeq) {
        // No message lies in [mid, message.seq), so starting at mid starts at this one.
        hi = mid;
        found = message;
      } else {
        lo = message.seq + 1;
      }
    }
    return { streamSeq: lo, message: found !== null && found.seq >= lo ? found : null };
  }

  async #session(startSeq: number, signal: AbortSignal): Promise<SessionEnd> {
    if (startSeq < 0) return 'gap';
    const js = jetstream(this.#nc);
    const consumer = await js.consumers.get(this.#settings.stream, this.#settings.consumer);
    const messages = await consumer.consume({ max_messages: 256, abort_on_missing_resource: true });
    const stop = (): void => messages.stop();
    signal.addEventListener('abort', stop);
    if (signal.aborted) stop(); // closed while the consumer was being set up
    try {
      for await (const message of messages) {
        const end = await this.#deliver(message);
        if (end !== null) return end;
      }
      return 'again';
    } finally {
      signal.removeEventListener('abort', stop);
      messages.stop();
    }
  }

  /** Applies one message; 'again' ends the session when it is not the next seq. */
  async #deliver(message: JsMsg): Promise<SessionEnd | null> {
    if (this.#closing.signal.aborted) return 'again';
    const event = message.json<ControlEvent>();
    if (event.seq <= this.#lastSeq) {
      message.ack(); // already applied: idempotent skip
      return null;
    }
    if (event.seq > this.#lastSeq + 1) return 'again';
    await this.#onEvent(event);
    message.ack();
    this.#lastSeq = event.seq;
    return null;
  }
}

function meridianSeq(message: StoredMsg): number {
  const seq = Number(message.header.get(MERIDIAN_SEQ_HEADER));
  if (!Number.isSafeInteger(seq))
    throw new Error(`stream message ${message.seq} has no ${MERIDIAN_SEQ_HEADER} header`);
  return seq;
}
