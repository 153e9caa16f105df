// Copies the event log into a NATS JetStream stream (the distributed mode's transport): one message
// per event on `subject`, header `Meridian-Seq: <seq>`, body the ControlEvent JSON, in seq order.
//
// Several control-plane replicas may run a publisher at once. Two guards keep the stream free of
// duplicates and in order:
//   1. msgID = the Meridian seq: JetStream drops a second copy within the duplicate window.
//   2. Every publish expects the subject's last stream sequence to be the one this replica last saw
//      (`Nats-Expected-Last-Subject-Sequence`). If another replica published in between, JetStream
//      rejects ours (10071) — also outside the duplicate window — and this replica re-reads the
//      stream's last message and continues after its Meridian seq.
// Remaining caveat: when retention (max age) has removed every message on the subject, a replica
// that (re)starts cannot tell what was published and republishes the log the store still holds,
// from its first seq. Those copies arrive in order and carry seqs nodes already applied, which
// NatsSource acks and skips, so they cost bandwidth, not correctness.
import { connect, headers } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';
import { setTimeout as delay } from 'node:timers/promises';
import {
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from '@nats-io/jetstream';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { ControlEvent } from '../../common/events/types.ts';
import type { Logger } from '../../common/log.ts';
import { natsTls } from '../../common/tls/control-trust.ts';
import type { ControlStore } from '../store/types.ts';
import { DEFAULT_EVENT_STREAM, DEFAULT_EVENT_SUBJECT } from '../../common/events/nats-names.ts';

export const MERIDIAN_SEQ_HEADER = 'Meridian-Seq';

export type EventLogSource = Pick<ControlStore, 'firstSeq' | 'readEventsAfter' | 'onCommitted'>;

export interface NatsPublisherOptions {
  servers: string | string[];
  stream?: string;
  subject?: string;
  /** Stream retention by age. Default 7 days. */
  maxAgeMs?: number;
  /** Stream retention by count (-1: unlimited). Default 1,000,000. */
  maxMsgs?: number;
  /** JetStream's msgID de-duplication window. Default 2 minutes. */
  duplicateWindowMs?: number;
  /** Wait after a failed publish before re-reading the stream. Default 1 s. */
  retryMs?: number;
  /** PEM CAs that verify the servers' TLS (--nats-ca); null or absent: the system's. */
  tlsCa?: string | null;
  log?: Logger;
}

export interface NatsPublisher {
  /** Highest Meridian seq known to be in the stream. */
  readonly publishedSeq: number;
  close(): Promise<void>;
}

const BATCH_SIZE = 500;
const nanos = (ms: number): number => ms * 1_000_000;

/** Connects, ensures the stream, and publishes from where the stream ends. Rejects if NATS is unreachable. */
export async function startNatsPublisher(
  store: EventLogSource,
  options: NatsPublisherOptions,
): Promise<NatsPublisher> {
  const nc = await connect({
    servers: options.servers,
    maxReconnectAttempts: -1,
    name: 'meridian-control-publisher',
    ...natsTls(options.tlsCa),
  });
  try {
    const jsm = await jetstreamManager(nc);
    await ensureStream(jsm, options);
    const publisher = new Publisher(store, nc, jsm, options);
    publisher.start();
    return publisher;
  } catch (err) {
    await nc.close();
    throw err;
  }
}

/** Creates the stream, or makes sure an existing one allows direct gets (NatsSource looks messages up). */
async function ensureStream(jsm: JetStreamManager, options: NatsPublisherOptions): Promise<void> {
  const name = options.stream ?? DEFAULT_EVENT_STREAM;
  const subject = options.subject ?? DEFAULT_EVENT_SUBJECT;
  const existing = await jsm.streams.info(name).catch((err: unknown) => {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) return null;
    throw err;
  });
  if (existing === null) {
    await jsm.streams.add({
      name,
      subjects: [subject],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      max_age: nanos(options.maxAgeMs ?? 7 * 24 * 3600_000),
      max_msgs: options.maxMsgs ?? 1_000_000,
      duplicate_window: nanos(options.duplicateWindowMs ?? 120_000),
      allow_direct: true,
    });
  } else if (!existing.config.allow_direct) {
    await jsm.streams.update(name, { allow_direct: true });
  }
}

class Publisher implements NatsPublisher {
  readonly #store: EventLogSource;
  readonly #nc: NatsConnection;
  readonly #jsm: JetStreamManager;
  readonly #js: JetStreamClient;
  readonly #stream: string;
  readonly #subject: string;
  readonly #retryMs: number;
  readonly #log: Logger | undefined;
  /** Highest Meridian seq in the stream, and the stream sequence of that message (0: none). */
  #publishedSeq = 0;
  #lastStreamSeq = 0;
  /** The position above must be re-read from the stream before publishing. */
  #isSyncNeeded = true;
  #isDirty = true;
  #isClosed = false;
  readonly #closing = new AbortController();
  #wake: (() => void) | null = null;
  #unsubscribe: () => void = () => {};
  #loop: Promise<void> = Promise.resolve();

  constructor(
    store: EventLogSource,
    nc: NatsConnection,
    jsm: JetStreamManager,
    options: NatsPublisherOptions,
  ) {
    this.#store = store;
    this.#nc = nc;
    this.#jsm = jsm;
    this.#js = jetstream(nc);
    this.#stream = options.stream ?? DEFAULT_EVENT_STREAM;
    this.#subject = options.subject ?? DEFAULT_EVENT_SUBJECT;
    this.#retryMs = options.retryMs ?? 1_000;
    this.#log = options.log;
  }

  get publishedSeq(): number {
    return this.#publishedSeq;
  }

  start(): void {
    this.#unsubscribe = this.#store.onCommitted(() => {
      this.#isDirty = true;
      this.#notify();
    });
    this.#loop = this.#run();
  }

  async close(): Promise<void> {
    if (this.#isClosed) return;
    this.#isClosed = true;
    this.#unsubscribe();
    this.#closing.abort();
    this.#notify();
    await this.#loop;
    await this.#nc.close();
  }

  async #run(): Promise<void> {
    while (!this.#isClosed) {
      try {
        if (this.#isSyncNeeded) await this.#sync();
        this.#isDirty = false;
        const batch = await this.#store.readEventsAfter(this.#publishedSeq, BATCH_SIZE);
        for (const event of batch) {
          if (this.#isClosed || this.#isSyncNeeded) break;
          await this.#publish(event);
        }
        if (batch.length > 0 || this.#isDirty || this.#isSyncNeeded || this.#isClosed) continue;
        await new Promise<void>((resolve) => (this.#wake = resolve));
      } catch (err) {
        if (this.#isClosed) break;
        this.#log?.warn('event publish failed; retrying', {
          err,
          stream: this.#stream,
          publishedSeq: this.#publishedSeq,
        });
        this.#isSyncNeeded = true;
        await delay(this.#retryMs, undefined, { signal: this.#closing.signal }).catch(() => {});
      }
    }
  }

  /** Reads the stream's last message on the subject: where this replica continues. */
  async #sync(): Promise<void> {
    const last = await this.#jsm.streams.getMessage(this.#stream, { last_by_subj: this.#subject });
    if (last === null) {
      // Nothing on the subject (new stream, or everything aged out): publish what the store holds.
      this.#lastStreamSeq = 0;
      this.#publishedSeq = Math.max(0, (await this.#store.firstSeq()) - 1);
    } else {
      const seq = Number(last.header.get(MERIDIAN_SEQ_HEADER));
      if (!Number.isSafeInteger(seq)) {
        throw new Error(
          `stream ${this.#stream}: message ${last.seq} on ${this.#subject} has no ${MERIDIAN_SEQ_HEADER} header`,
        );
      }
      this.#lastStreamSeq = last.seq;
      this.#publishedSeq = seq;
    }
    this.#isSyncNeeded = false;
  }

  async #publish(event: ControlEvent): Promise<void> {
    const hdrs = headers();
    hdrs.set(MERIDIAN_SEQ_HEADER, String(event.seq));
    try {
      const ack = await this.#js.publish(this.#subject, JSON.stringify(event), {
        msgID: String(event.seq),
        headers: hdrs,
        expect: { lastSubjectSequence: this.#lastStreamSeq, streamName: this.#stream },
      });
      if (ack.duplicate) {
        // Another replica published this seq first; our expectation is stale.
        this.#isSyncNeeded = true;
        return;
      }
      this.#lastStreamSeq = ack.seq;
      this.#publishedSeq = event.seq;
    } catch (err) {
      if (err instanceof JetStreamApiError && isWrongLastSequence(err.code)) {
        this.#isSyncNeeded = true; // another replica moved the subject on
        return;
      }
      throw err;
    }
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }
}

function isWrongLastSequence(code: number): boolean {
  return (
    code === JetStreamApiCodes.StreamWrongLastSequence ||
    code === JetStreamApiCodes.StreamWrongLastSequenceUnknown
  );
}
