// startNatsPublisher against the real NATS server (127.0.0.1:4222, NATS_URL overrides) and a real
// SQLite store: the stream holds each event once, in order, even with several replicas publishing
// at once and across restarts. An unreachable NATS server fails these tests; they never skip.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import type { JetStreamManager } from '@nats-io/jetstream';
import { MERIDIAN_SEQ_HEADER, startNatsPublisher } from '../../../../src/control/events/nats-publisher.ts';
import type { NatsPublisher, NatsPublisherOptions } from '../../../../src/control/events/nats-publisher.ts';
import type { ControlStore } from '../../../../src/control/store/types.ts';
import { until } from '../../../contract/event-source.ts';
import { appendEvents, openTestStore } from '../../../contract/event-source-control.ts';

const NATS_URL = process.env.NATS_URL ?? '127.0.0.1:4222';

describe('startNatsPublisher', () => {
  let store: ControlStore;
  let closeStore: () => Promise<void>;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let options: NatsPublisherOptions;
  const publishers: NatsPublisher[] = [];
  const start = async (extra: Partial<NatsPublisherOptions> = {}): Promise<NatsPublisher> => {
    const publisher = await startNatsPublisher(store, { ...options, ...extra });
    publishers.push(publisher);
    return publisher;
  };

  /** The Meridian seqs of every message in the stream, in stream order. */
  const streamSeqs = async (): Promise<number[]> => {
    const { state } = await jsm.streams.info(options.stream ?? '');
    const seqs: number[] = [];
    for (let seq = state.first_seq; seq <= state.last_seq; seq++) {
      const message = await jsm.streams.getMessage(options.stream ?? '', { seq });
      if (message !== null) seqs.push(Number(message.header.get(MERIDIAN_SEQ_HEADER)));
    }
    return seqs;
  };
  const range = (from: number, to: number): number[] =>
    Array.from({ length: to - from + 1 }, (_, i) => from + i);

  beforeEach(async () => {
    ({ store, close: closeStore } = await openTestStore());
    nc = await connect({ servers: NATS_URL });
    jsm = await jetstreamManager(nc);
    const id = `${process.pid}_${randomUUID().slice(0, 8)}`;
    options = {
      servers: NATS_URL,
      stream: `MERIDIAN_TEST_PUB_${id}`,
      subject: `meridian.test.pub.${id}`,
      retryMs: 20,
    };
  });
  afterEach(async () => {
    for (const publisher of publishers.splice(0)) await publisher.close();
    await jsm.streams.delete(options.stream ?? '').catch(() => false);
    await nc.close();
    await closeStore();
  });

  test('creates the stream and publishes the backlog, then new commits, in order', async () => {
    await appendEvents(store, 5);
    const publisher = await start();
    const info = await jsm.streams.info(options.stream ?? '');
    assert.equal(info.config.allow_direct, true);
    assert.deepEqual(info.config.subjects, [options.subject]);
    const last = await appendEvents(store, 5);
    await until(`published seq ${last}`, () => publisher.publishedSeq === last);
    assert.deepEqual(await streamSeqs(), range(1, last));
    const message = await jsm.streams.getMessage(options.stream ?? '', { seq: 1 });
    assert.deepEqual(message?.json(), (await store.readEventsAfter(0, 1))[0]);
  });

  test('a restarted publisher continues after the last published seq, without duplicates', async () => {
    const first = await start();
    const published = await appendEvents(store, 4);
    await until(`published seq ${published}`, () => first.publishedSeq === published);
    await first.close();
    const last = await appendEvents(store, 3);
    const second = await start();
    await until(`published seq ${last}`, () => second.publishedSeq === last);
    assert.deepEqual(await streamSeqs(), range(1, last));
  });

  test('a replica that fell behind the duplicate window does not publish what another already did', async () => {
    const leader = await start({ duplicateWindowMs: 100 });
    const published = await appendEvents(store, 5);
    await until(`published seq ${published}`, () => leader.publishedSeq === published);
    // The lagging replica hears no commits (as a PostgreSQL replica whose LISTEN connection broke).
    let wakeLagging: (seq: number) => void = () => {};
    const lagging = await startNatsPublisher(
      {
        firstSeq: () => store.firstSeq(),
        readEventsAfter: (after, limit) => store.readEventsAfter(after, limit),
        onCommitted: (listener) => {
          wakeLagging = listener;
          return () => {};
        },
      },
      options,
    );
    publishers.push(lagging);
    await until(`lagging at seq ${published}`, () => lagging.publishedSeq === published);
    const last = await appendEvents(store, 5);
    await until(`published seq ${last}`, () => leader.publishedSeq === last);
    const windowOver = Date.now() + 150;
    await until('the duplicate window to pass', () => Date.now() > windowOver);
    wakeLagging(last); // msgID de-duplication no longer helps; the expected-last-sequence check must
    await until(`lagging at seq ${last}`, () => lagging.publishedSeq === last);
    assert.deepEqual(await streamSeqs(), range(1, last));
  });

  for (const duplicateWindowMs of [120_000, 100]) {
    test(`three replicas publishing at once leave each seq once, in order (duplicate window ${duplicateWindowMs} ms)`, async () => {
      const replicas = [await start({ duplicateWindowMs }), await start(), await start()];
      let last = 0;
      for (let burst = 0; burst < 5; burst++) last = await appendEvents(store, 10);
      await until(`every replica at seq ${last}`, () => replicas.every((r) => r.publishedSeq === last));
      assert.deepEqual(await streamSeqs(), range(1, last));
    });
  }
});
