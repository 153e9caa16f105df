// HttpStreamSource against a scripted loopback server: what it sends, how it reads NDJSON, and when
// it reconnects — each proven by counting connections and the `after` each one asked for.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, test } from 'node:test';
import type { ControlEvent, EventSubscription } from '../../../../src/common/events/types.ts';
import { createLogger } from '../../../../src/common/log.ts';
import { HttpStreamSource } from '../../../../src/edge/sync/http-stream-source.ts';

const log = createLogger('test', 'error');
const event = (seq: number): ControlEvent => ({ seq, at: '', type: 'pop.delete', name: `p${seq}` });
const line = (value: unknown): string => `${JSON.stringify(value)}\n`;

async function until(what: string, condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

describe('HttpStreamSource', () => {
  let server: Server | null = null;
  let subscription: EventSubscription | null = null;
  /** One entry per connection: its `after` and Authorization header. */
  let connections: { after: number; authorization: string | undefined }[] = [];

  const serve = async (
    script: (req: IncomingMessage, res: ServerResponse, index: number) => void,
  ): Promise<HttpStreamSource> => {
    connections = [];
    server = createServer((req, res) => {
      const after = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('after'));
      connections.push({ after, authorization: req.headers.authorization });
      script(req, res, connections.length - 1);
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return new HttpStreamSource({
      controlUrl: `http://127.0.0.1:${port}`,
      token: 'secret',
      silenceMs: 150,
      backoff: { initialMs: 10, maxMs: 40 },
      log,
    });
  };
  const stream = (res: ServerResponse, body: string, end = false): void => {
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    res.write(body);
    if (end) res.end();
  };

  afterEach(async () => {
    await subscription?.close();
    subscription = null;
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    server = null;
  });

  test('asks for events after the seq with the bearer token, and skips heartbeats and old seqs', async () => {
    const source = await serve((_req, res) =>
      stream(res, line({ type: 'heartbeat', seq: 9 }) + line(event(3)) + line(event(4)) + line(event(5))),
    );
    const seen: number[] = [];
    subscription = await source.subscribe(
      3,
      async (e) => void seen.push(e.seq),
      () => assert.fail('no gap'),
    );
    await until('seq 5', () => seen.at(-1) === 5);
    assert.deepEqual(seen, [4, 5]);
    assert.deepEqual(connections, [{ after: 3, authorization: 'Bearer secret' }]);
  });

  test('a line cut into pieces across writes is applied once whole', async () => {
    const text = line(event(1)) + line(event(2));
    const source = await serve((_req, res) => {
      stream(res, text.slice(0, 7));
      setTimeout(() => res.write(text.slice(7, 40)), 5);
      setTimeout(() => res.write(text.slice(40)), 10);
    });
    const seen: number[] = [];
    subscription = await source.subscribe(
      0,
      async (e) => void seen.push(e.seq),
      () => {},
    );
    await until('seq 2', () => seen.length === 2);
    assert.deepEqual(seen, [1, 2]);
  });

  test('silence longer than silenceMs counts as a dead connection; heartbeats keep it alive', async () => {
    let heartbeats = 0;
    const source = await serve((_req, res, index) => {
      stream(res, line(event(index + 1)));
      if (index > 0) return; // the second connection: silent
      const timer = setInterval(() => {
        heartbeats += 1;
        res.write(line({ type: 'heartbeat', seq: 1 }));
        if (heartbeats === 8) {
          clearInterval(timer);
        }
      }, 40);
      res.on('close', () => clearInterval(timer));
    });
    const seen: number[] = [];
    subscription = await source.subscribe(
      0,
      async (e) => void seen.push(e.seq),
      () => {},
    );
    await until('8 heartbeats', () => heartbeats === 8);
    assert.equal(connections.length, 1, '320 ms of heartbeats every 40 ms: one connection');
    await until('a reconnection after the silence', () => connections.length === 2);
    assert.deepEqual(
      connections.map((c) => c.after),
      [0, 1],
    );
    await until('seq 2', () => seen.length === 2);
  });

  test('reconnects from the last applied seq after the server ends the stream or fails', async () => {
    const source = await serve((_req, res, index) => {
      if (index === 0) stream(res, line(event(1)) + line(event(2)), true);
      else if (index === 1) res.writeHead(503).end();
      else stream(res, line(event(3)));
    });
    const seen: number[] = [];
    subscription = await source.subscribe(
      0,
      async (e) => void seen.push(e.seq),
      () => {},
    );
    await until('seq 3', () => seen.at(-1) === 3);
    assert.deepEqual(seen, [1, 2, 3]);
    assert.deepEqual(
      connections.map((c) => c.after),
      [0, 2, 2],
    );
  });

  test('an event whose onEvent throws is delivered again on the next connection', async () => {
    const source = await serve((req, res) => {
      const after = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('after'));
      stream(
        res,
        [1, 2, 3]
          .filter((s) => s > after)
          .map((s) => line(event(s)))
          .join(''),
      );
    });
    const seen: number[] = [];
    let failures = 0;
    subscription = await source.subscribe(
      0,
      async (e) => {
        if (e.seq === 2 && failures++ === 0) throw new Error('apply failed');
        seen.push(e.seq);
      },
      () => {},
    );
    await until('seq 3', () => seen.at(-1) === 3);
    assert.deepEqual(seen, [1, 2, 3]);
    assert.deepEqual(
      connections.map((c) => c.after),
      [0, 1],
    );
  });

  test('410 calls onGap once and ends the subscription', async () => {
    const source = await serve((_req, res) => {
      res.writeHead(410, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ success: false, errors: [{ code: 'EVENTS_GONE', message: 'gone' }] }));
    });
    let gaps = 0;
    subscription = await source.subscribe(
      7,
      async () => assert.fail('no events'),
      () => void (gaps += 1),
    );
    await until('onGap', () => gaps === 1);
    await subscription.close(); // resolves: the loop has ended
    assert.equal(connections.length, 1);
  });

  test('a seq that skips ahead on one connection is treated as a gap', async () => {
    const source = await serve((_req, res) => stream(res, line(event(1)) + line(event(3))));
    const seen: number[] = [];
    let gaps = 0;
    subscription = await source.subscribe(
      0,
      async (e) => void seen.push(e.seq),
      () => void (gaps += 1),
    );
    await until('onGap', () => gaps === 1);
    assert.deepEqual(seen, [1]);
  });
});
