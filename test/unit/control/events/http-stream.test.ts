// streamEvents over a fake event log: the wire format, 410/400 answers, batching, heartbeats and
// clean shutdown, counted on a real loopback HTTP server.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, test } from 'node:test';
import { request } from 'undici';
import type { ControlEvent } from '../../../../src/common/events/types.ts';
import { goneReason, streamEvents } from '../../../../src/control/events/http-stream.ts';
import type { EventLogReader, StreamEventsOptions } from '../../../../src/control/events/http-stream.ts';

/** An in-memory log: events 1..n, with retention and commit notifications, counting reads. */
class FakeLog implements EventLogReader {
  events: ControlEvent[] = [];
  first = 1;
  reads = 0;
  readonly listeners = new Set<(seq: number) => void>();
  failWith: Error | null = null;

  append(count: number): number {
    for (let i = 0; i < count; i++) {
      const seq = this.events.length + 1;
      this.events.push({ seq, at: new Date(0).toISOString(), type: 'pop.delete', name: `p${seq}` });
    }
    const last = this.events.length;
    for (const listener of this.listeners) listener(last);
    return last;
  }
  async firstSeq(): Promise<number> {
    if (this.failWith !== null) throw this.failWith;
    return this.first;
  }
  async lastSeq(): Promise<number> {
    return this.events.length;
  }
  async readEventsAfter(afterSeq: number, limit: number): Promise<ControlEvent[]> {
    this.reads += 1;
    return this.events.filter((e) => e.seq > afterSeq && e.seq >= this.first).slice(0, limit);
  }
  onCommitted(listener: (seq: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

let server: Server | null = null;

async function serve(log: FakeLog, options: StreamEventsOptions = {}): Promise<string> {
  server = createServer((req, res) => {
    const after = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('after'));
    void streamEvents(log, req, res, after, options);
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/internal/v1/events`;
}

/** Reads NDJSON lines until `count` arrived, then disconnects. */
async function readLines(
  url: string,
  count: number,
): Promise<{ status: number; type: string | undefined; lines: unknown[] }> {
  const ac = new AbortController();
  const res = await request(url, { signal: ac.signal });
  const lines: unknown[] = [];
  let buffered = '';
  try {
    for await (const chunk of res.body) {
      buffered += String(chunk);
      const parts = buffered.split('\n');
      buffered = parts.pop() ?? '';
      lines.push(...parts.map((p) => JSON.parse(p) as unknown));
      if (lines.length >= count) break;
    }
  } finally {
    ac.abort();
  }
  return { status: res.statusCode, type: res.headers['content-type'] as string | undefined, lines };
}

const until = async (what: string, condition: () => boolean): Promise<void> => {
  const deadline = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
};

describe('streamEvents', () => {
  afterEach(async () => {
    const closing = server;
    server = null;
    if (closing === null) return;
    closing.closeAllConnections();
    await new Promise((resolve) => closing.close(resolve));
  });

  test('sends the backlog in batches as NDJSON, then live events', async () => {
    const log = new FakeLog();
    log.append(5);
    const url = await serve(log, { batchSize: 2 });
    const reading = readLines(`${url}?after=1`, 6);
    await until('the backlog to be read', () => log.reads >= 3);
    log.append(2);
    const { status, type, lines } = await reading;
    assert.equal(status, 200);
    assert.equal(type, 'application/x-ndjson');
    assert.deepEqual(
      lines.map((l) => (l as ControlEvent).seq),
      [2, 3, 4, 5, 6, 7],
    );
    assert.deepEqual(lines[0], log.events[1]);
  });

  test('sends a heartbeat line with the last seq while idle', async () => {
    const log = new FakeLog();
    log.append(3);
    const url = await serve(log, { heartbeatMs: 20 });
    const { lines } = await readLines(`${url}?after=3`, 2);
    assert.deepEqual(lines, [
      { type: 'heartbeat', seq: 3 },
      { type: 'heartbeat', seq: 3 },
    ]);
  });

  test('answers 410 EVENTS_GONE when the log no longer holds what follows `after`', async () => {
    const log = new FakeLog();
    log.append(10);
    log.first = 6;
    const url = await serve(log);
    const res = await request(`${url}?after=4`);
    assert.equal(res.statusCode, 410);
    const body = (await res.body.json()) as { success: boolean; errors: { code: string; message: string }[] };
    assert.equal(body.success, false);
    assert.equal(body.errors[0]?.code, 'EVENTS_GONE');
    // Right before the first held event is still fine.
    const { lines } = await readLines(`${url}?after=5`, 1);
    assert.equal((lines[0] as ControlEvent).seq, 6);
  });

  test('answers 410 for a seq ahead of the log and 400 for a bad one', async () => {
    const log = new FakeLog();
    log.append(2);
    const url = await serve(log);
    const ahead = await request(`${url}?after=9`);
    assert.equal(ahead.statusCode, 410);
    await ahead.body.dump();
    const bad = await request(`${url}?after=-1`);
    assert.equal(bad.statusCode, 400);
    assert.equal(((await bad.body.json()) as { errors: { code: string }[] }).errors[0]?.code, 'BAD_REQUEST');
  });

  test('answers 500 when the store fails before the stream starts', async () => {
    const log = new FakeLog();
    log.failWith = new Error('database is locked');
    const url = await serve(log);
    const res = await request(`${url}?after=0`);
    assert.equal(res.statusCode, 500);
    await res.body.dump();
  });

  test('stops listening for commits when the client disconnects', async () => {
    const log = new FakeLog();
    log.append(1);
    const url = await serve(log);
    await readLines(`${url}?after=0`, 1);
    // One listener stays: the store's shared tail cache, which outlives any one stream.
    await until("the stream's commit listener to go", () => log.listeners.size === 1);
    const readsAfterClose = log.reads;
    log.append(1);
    assert.equal(log.reads, readsAfterClose);
  });

  test('goneReason: the node may be anywhere from firstSeq - 1 to lastSeq', () => {
    assert.equal(goneReason(0, 1, 0), null); // empty log
    assert.equal(goneReason(4, 5, 9), null);
    assert.equal(goneReason(9, 5, 9), null);
    assert.match(goneReason(3, 5, 9) ?? '', /no longer held/);
    assert.match(goneReason(10, 5, 9) ?? '', /ahead of the log/);
  });
});
