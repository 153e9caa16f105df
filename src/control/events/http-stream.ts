// GET /internal/v1/events?after=N — the event log as NDJSON over one long-lived HTTP response: first
// the backlog after N (read in batches), then every new commit as it lands (woken by onCommitted).
// The API server authenticates and routes (it hijacks the Fastify reply); this module owns the
// response from the first byte on, so it never throws: failures before the headers become a 500,
// failures after them end the connection and the node resumes from its last applied seq.
//
// Wire format: `content-type: application/x-ndjson`, one JSON object per line:
//   {"seq":41,"at":"…","type":"zone.upsert","zone":{…}}   a ControlEvent, seq strictly +1 each line
//   {"type":"heartbeat","seq":41}                         every heartbeatMs (10 s); seq = last committed
// A 410 `{"success":false,"errors":[{"code":"EVENTS_GONE",…}]}` means events after N are no longer
// held (retention, or N is ahead of the log): the node must reload the snapshot.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ControlEvent } from '../../common/events/types.ts';
import type { Logger } from '../../common/log.ts';
import type { ControlStore } from '../store/types.ts';

/** The part of the store the stream reads; a ControlStore is one. */
export type EventLogReader = Pick<ControlStore, 'firstSeq' | 'lastSeq' | 'readEventsAfter' | 'onCommitted'>;

export interface StreamEventsOptions {
  /** Heartbeat line interval; the edge treats 3× this much silence as a dead connection. Default 10 s. */
  heartbeatMs?: number;
  /** Events read from the store per query. Default 500. */
  batchSize?: number;
  log?: Logger;
}

export const NDJSON_CONTENT_TYPE = 'application/x-ndjson';
const DEFAULT_HEARTBEAT_MS = 10_000;
const DEFAULT_BATCH_SIZE = 500;

/** Serves the stream until the client disconnects (or a store error ends it); never rejects. */
export async function streamEvents(
  store: EventLogReader,
  req: IncomingMessage,
  res: ServerResponse,
  afterSeq: number,
  options: StreamEventsOptions = {},
): Promise<void> {
  try {
    if (!Number.isSafeInteger(afterSeq) || afterSeq < 0) {
      sendJsonError(
        res,
        400,
        'BAD_REQUEST',
        `after: expected a sequence number >= 0, got ${String(afterSeq)}`,
      );
      return;
    }
    const [firstSeq, lastSeq] = await Promise.all([store.firstSeq(), store.lastSeq()]);
    const gone = goneReason(afterSeq, firstSeq, lastSeq);
    if (gone !== null) {
      sendJsonError(res, 410, 'EVENTS_GONE', gone);
      return;
    }
    await new EventStream(store, req, res, afterSeq, lastSeq, options).run();
  } catch (err) {
    options.log?.warn('event stream failed', { err, afterSeq });
    if (!res.headersSent) sendJsonError(res, 500, 'INTERNAL', 'internal error');
    else res.destroy();
  }
}

/** Why events after `afterSeq` cannot be served, or null when they can. */
export function goneReason(afterSeq: number, firstSeq: number, lastSeq: number): string | null {
  if (afterSeq < firstSeq - 1) {
    return `events after ${afterSeq} are no longer held (the log starts at ${firstSeq}); reload the snapshot`;
  }
  // A node ahead of the log saw a different history (e.g. the database was restored): only a
  // snapshot brings it back in line.
  if (afterSeq > lastSeq) return `seq ${afterSeq} is ahead of the log (last ${lastSeq}); reload the snapshot`;
  return null;
}

function sendJsonError(res: ServerResponse, status: number, code: string, message: string): void {
  const body = JSON.stringify({ success: false, errors: [{ code, message }], messages: [], result: null });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** One client's stream: a read loop woken by commits, plus a heartbeat timer. */
class EventStream {
  readonly #store: EventLogReader;
  readonly #req: IncomingMessage;
  readonly #res: ServerResponse;
  readonly #heartbeatMs: number;
  readonly #batchSize: number;
  /** Last seq written to the client. */
  #cursor: number;
  /** Highest committed seq this stream knows of (the heartbeat's seq). */
  #knownLastSeq: number;
  /** A commit arrived since the last read started. */
  #isDirty = true;
  #isClosed = false;
  #wake: (() => void) | null = null;

  constructor(
    store: EventLogReader,
    req: IncomingMessage,
    res: ServerResponse,
    afterSeq: number,
    lastSeq: number,
    options: StreamEventsOptions,
  ) {
    this.#store = store;
    this.#req = req;
    this.#res = res;
    this.#cursor = afterSeq;
    this.#knownLastSeq = lastSeq;
    this.#heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
    this.#batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  }

  async run(): Promise<void> {
    const unsubscribe = this.#store.onCommitted((lastSeq) => {
      this.#knownLastSeq = Math.max(this.#knownLastSeq, lastSeq);
      this.#isDirty = true;
      this.#notify();
    });
    const stop = (): void => {
      this.#isClosed = true;
      this.#notify();
    };
    this.#res.on('close', stop);
    this.#req.on('close', stop);
    const heartbeat = setInterval(
      () => this.#writeLine({ type: 'heartbeat', seq: this.#knownLastSeq }),
      this.#heartbeatMs,
    );
    try {
      this.#res.writeHead(200, {
        'content-type': NDJSON_CONTENT_TYPE,
        'cache-control': 'no-store',
        // Proxies (nginx) must not buffer a live stream.
        'x-accel-buffering': 'no',
      });
      this.#res.flushHeaders();
      await this.#pump();
    } finally {
      clearInterval(heartbeat);
      unsubscribe();
      this.#res.off('close', stop);
      this.#req.off('close', stop);
      if (!this.#res.writableEnded) this.#res.end();
    }
  }

  /** Reads and writes until closed; sleeps only when a read found nothing new and no commit came. */
  async #pump(): Promise<void> {
    while (!this.#isClosed) {
      this.#isDirty = false;
      const batch = await tailOf(this.#store).after(this.#cursor, this.#batchSize);
      for (const event of batch) {
        if (this.#isClosed) return;
        // The log has no holes; one here means retention pruned past us while we read. Ending the
        // response makes the node reconnect from its last seq, and that request gets the 410.
        if (event.seq !== this.#cursor + 1) return;
        if (!this.#writeRaw(event.line)) await this.#drained();
        this.#cursor = event.seq;
      }
      this.#knownLastSeq = Math.max(this.#knownLastSeq, this.#cursor);
      if (batch.length === this.#batchSize || this.#isDirty || this.#isClosed) continue;
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  #writeRaw(line: string): boolean {
    if (this.#isClosed || this.#res.writableEnded) return true;
    return this.#res.write(line);
  }

  /** false: the socket buffer is full, wait for 'drain' before writing more. */
  #writeLine(line: ControlEvent | { type: 'heartbeat'; seq: number }): boolean {
    if (this.#isClosed || this.#res.writableEnded) return true;
    return this.#res.write(`${JSON.stringify(line)}\n`);
  }

  #drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.#res.off('drain', done);
        this.#res.off('close', done);
        resolve();
      };
      this.#res.on('drain', done);
      this.#res.on('close', done);
    });
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }
}

interface TailEvent {
  seq: number;
  /** The event as one NDJSON line, serialised once for every stream. */
  line: string;
}

/**
 * The newest events of one store, shared by all its streams. When a commit wakes every node's
 * stream at once, one database read and one JSON serialisation serve them all (with 10 nodes the
 * per-stream reads were most of the control plane's CPU per change).
 */
class Tail {
  readonly #store: EventLogReader;
  /** Contiguous recent events, oldest first. */
  #events: TailEvent[] = [];
  /** One read in flight per cursor: streams at the same position share it. */
  readonly #reads = new Map<number, Promise<TailEvent[]>>();

  /** The highest seq known committed: the cache may answer only when it reaches this far. */
  #lastCommitted = Infinity;

  constructor(store: EventLogReader) {
    this.#store = store;
    store.onCommitted((lastSeq) => {
      this.#lastCommitted =
        this.#lastCommitted === Infinity ? lastSeq : Math.max(this.#lastCommitted, lastSeq);
    });
  }

  after(cursor: number, limit: number): Promise<TailEvent[]> {
    const first = this.#events[0];
    const last = this.#events.at(-1);
    // Answer from memory only when it holds everything committed: a stream that got a short answer
    // would otherwise sleep while the database holds more.
    if (
      first !== undefined &&
      last !== undefined &&
      last.seq >= this.#lastCommitted &&
      cursor + 1 >= first.seq
    ) {
      const from = cursor + 1 - first.seq;
      if (from < this.#events.length) return Promise.resolve(this.#events.slice(from, from + limit));
    }
    let read = this.#reads.get(cursor);
    if (read === undefined) {
      read = this.#read(cursor, limit).finally(() => this.#reads.delete(cursor));
      this.#reads.set(cursor, read);
    }
    return read;
  }

  async #read(cursor: number, limit: number): Promise<TailEvent[]> {
    const events = (await this.#store.readEventsAfter(cursor, limit)).map((event) => ({
      seq: event.seq,
      line: `${JSON.stringify(event)}\n`,
    }));
    this.#remember(events);
    return events;
  }

  /** Keeps the newest TAIL_EVENTS events, extending only contiguously. */
  #remember(events: TailEvent[]): void {
    const first = events[0];
    if (first === undefined) return;
    const last = this.#events.at(-1);
    if (last === undefined || first.seq !== last.seq + 1) {
      if (last !== undefined && first.seq <= last.seq) return; // already held
      this.#events = events.slice();
    } else {
      this.#events.push(...events);
    }
    if (this.#events.length > TAIL_EVENTS) this.#events = this.#events.slice(-TAIL_EVENTS);
  }
}

const TAIL_EVENTS = 1000;
const tails = new WeakMap<EventLogReader, Tail>();

function tailOf(store: EventLogReader): Tail {
  let tail = tails.get(store);
  if (tail === undefined) {
    tail = new Tail(store);
    tails.set(store, tail);
  }
  return tail;
}
