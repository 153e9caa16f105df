// The EventSource contract over NATS JetStream: a real SQLite ControlStore, the real publisher
// writing to the NATS server at 127.0.0.1:4222 (NATS_URL overrides), and NatsSource reading through
// a TCP proxy the test can cut to force reconnects. Each run uses its own stream and subject and
// deletes them afterwards. An unreachable NATS server fails the suite: it is never skipped.
import { createServer, connect as connectTcp } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { createLogger } from '../../src/common/log.ts';
import { startNatsPublisher } from '../../src/control/events/nats-publisher.ts';
import type { NatsPublisher } from '../../src/control/events/nats-publisher.ts';
import { NatsSource } from '../../src/edge/sync/nats-source.ts';
import { eventSourceTests, until } from './event-source.ts';
import { openTestStore, startTestControl } from './event-source-control.ts';

const NATS_URL = process.env.NATS_URL ?? '127.0.0.1:4222';
const log = createLogger('contract-test', process.env.MERIDIAN_TEST_LOG === 'debug' ? 'debug' : 'error');

eventSourceTests('NATS JetStream', async () => {
  const id = `${process.pid}_${randomUUID().slice(0, 8)}`;
  const stream = `MERIDIAN_TEST_${id}`;
  const subject = `meridian.test.${id}`;
  const { store, close } = await openTestStore();
  const control = await startTestControl(store);
  const startPublisher = (): Promise<NatsPublisher> =>
    startNatsPublisher(store, { servers: NATS_URL, stream, subject, retryMs: 50, log });
  let publisher: NatsPublisher | null = await startPublisher();
  const admin = await connect({ servers: NATS_URL });
  const jsm = await jetstreamManager(admin);
  const proxy = await startProxy(NATS_URL);
  return {
    store,
    controlUrl: control.url,
    createSource: (nodeName) =>
      new NatsSource({
        servers: proxy.url,
        nodeName: `${nodeName}-${id}`,
        stream,
        subject,
        reconnectTimeWaitMs: 50,
        backoff: { initialMs: 20, maxMs: 200 },
        log,
      }),
    interrupt: async (during) => {
      await proxy.stop();
      try {
        await during();
      } finally {
        await proxy.start();
      }
    },
    dropOldest: async (keep) => {
      // What the store holds must be in the stream before the stream loses its oldest part.
      const last = await store.lastSeq();
      if (publisher !== null)
        await until(`published seq ${last}`, () => (publisher?.publishedSeq ?? 0) >= last);
      await store.pruneEvents(keep);
      await jsm.streams.purge(stream, { keep });
    },
    stopControl: async () => {
      await control.stop();
      await publisher?.close();
      publisher = null;
    },
    startControl: async () => {
      await control.start();
      publisher = await startPublisher();
    },
    close: async () => {
      await publisher?.close();
      await proxy.stop();
      await control.stop();
      await jsm.streams.delete(stream).catch(() => false);
      await admin.close();
      await close();
    },
  };
});

interface TcpProxy {
  /** host:port to connect to. */
  url: string;
  /** Stops listening and cuts every connection. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
}

/** A TCP proxy to `target` (host:port) whose connections the test can cut. */
async function startProxy(target: string): Promise<TcpProxy> {
  const [host = '127.0.0.1', portText = '4222'] = target.replace(/^nats:\/\//, '').split(':');
  const sockets = new Set<Socket>();
  const accept = (client: Socket): void => {
    const upstream = connectTcp(Number(portText), host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => s.destroy());
      s.on('close', () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  };
  let server: Server = createServer(accept);
  const listen = (port: number): Promise<void> =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
  await listen(0);
  const { port } = server.address() as AddressInfo;
  return {
    url: `127.0.0.1:${port}`,
    stop: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
    },
    start: async () => {
      server = createServer(accept);
      await listen(port);
    },
  };
}
