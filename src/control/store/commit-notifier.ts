// "The log moved on": after a commit that appended events, listeners get the new last seq. In one
// process that is a direct call; PostgreSQL replicas also hear each other through LISTEN/NOTIFY on a
// dedicated connection (each appending transaction NOTIFYs, see write.ts).
import pg from 'pg';
import type { ClientConfig } from 'pg';
import { createLogger } from '../../common/log.ts';

const log = createLogger('control-store');
const RECONNECT_DELAY_MS = 1_000;

/** The NOTIFY channel: one per schema, so stores on different schemas of one database stay apart. */
export function notifyChannel(schema: string | null): string {
  return schema === null ? 'meridian_events' : `meridian_events.${schema}`;
}

/** Fans a seq out to listeners, each seq at most once and never going backwards. */
export class CommitNotifier {
  #listeners = new Set<(lastSeq: number) => void>();
  #highest = 0;

  subscribe(listener: (lastSeq: number) => void): () => void {
    // A wrapper per call, so subscribing one function twice gives two independent subscriptions.
    const entry = (seq: number): void => listener(seq);
    this.#listeners.add(entry);
    return () => this.#listeners.delete(entry);
  }

  publish(lastSeq: number): void {
    // Our own commits arrive twice (directly and by NOTIFY); replicas' ones may arrive late.
    if (lastSeq <= this.#highest) return;
    this.#highest = lastSeq;
    for (const listener of [...this.#listeners]) {
      try {
        listener(lastSeq);
      } catch (err) {
        log.error('onCommitted listener threw', { err });
      }
    }
  }
}

/**
 * LISTENs on `channel` and reports each NOTIFY'd seq. If the connection drops it reconnects and then
 * reports `readLastSeq()`, covering whatever was NOTIFY'd while it was away.
 */
export class PgCommitListener {
  readonly #config: ClientConfig;
  readonly #channel: string;
  readonly #onSeq: (seq: number) => void;
  readonly #readLastSeq: () => Promise<number>;
  #client: pg.Client | null = null;
  #closed = false;
  #retry: NodeJS.Timeout | null = null;

  private constructor(
    config: ClientConfig,
    channel: string,
    onSeq: (seq: number) => void,
    readLastSeq: () => Promise<number>,
  ) {
    this.#config = config;
    this.#channel = channel;
    this.#onSeq = onSeq;
    this.#readLastSeq = readLastSeq;
  }

  /** Resolves once LISTEN is in place; rejects if the first connection fails. */
  static async start(
    config: ClientConfig,
    channel: string,
    onSeq: (seq: number) => void,
    readLastSeq: () => Promise<number>,
  ): Promise<PgCommitListener> {
    const listener = new PgCommitListener(config, channel, onSeq, readLastSeq);
    await listener.#connect();
    return listener;
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#retry !== null) clearTimeout(this.#retry);
    const client = this.#client;
    this.#client = null;
    await client?.end().catch(() => undefined);
  }

  async #connect(): Promise<void> {
    const client = new pg.Client(this.#config);
    client.on('notification', (message) => {
      const seq = Number(message.payload);
      if (message.channel === this.#channel && Number.isSafeInteger(seq)) this.#onSeq(seq);
    });
    client.on('error', (err) => this.#lost(client, err));
    client.on('end', () => this.#lost(client, null));
    await client.connect();
    try {
      await client.query(`listen "${this.#channel}"`);
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    if (this.#closed) {
      await client.end();
      return;
    }
    this.#client = client;
  }

  #lost(client: pg.Client, err: Error | null): void {
    if (this.#closed || this.#client !== client) return;
    this.#client = null;
    log.warn('LISTEN connection lost; reconnecting', { err, channel: this.#channel });
    client.end().catch(() => undefined);
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    this.#retry = setTimeout(() => {
      this.#retry = null;
      this.#connect()
        .then(() => this.#readLastSeq())
        .then((seq) => this.#onSeq(seq))
        .catch((err: unknown) => {
          if (this.#closed) return;
          log.warn('LISTEN reconnect failed', { err, channel: this.#channel });
          if (this.#client === null) this.#scheduleReconnect();
        });
    }, RECONNECT_DELAY_MS);
    this.#retry.unref();
  }
}
