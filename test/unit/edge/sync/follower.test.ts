// startFollower against a scripted control plane and an in-memory EventSource: the cases the
// contract suite (test/contract/event-source.ts) does not reach with a real store.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type {
  ControlEvent,
  EventSource,
  EventSubscription,
  Snapshot,
} from '../../../../src/common/events/types.ts';
import { createLogger } from '../../../../src/common/log.ts';
import { startFollower } from '../../../../src/edge/sync/follower.ts';
import { memoryLogger } from '../../../helpers/tls.ts';
import type { Follower } from '../../../../src/edge/sync/follower.ts';

const log = createLogger('test', 'error');
const snapshotAt = (seq: number): Snapshot => ({ seq, zones: [], rules: {}, pops: [], nodes: [] });

async function until(what: string, condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** An EventSource that records subscriptions and lets the test push events and gaps. */
class ScriptedSource implements EventSource {
  readonly subscriptions: {
    afterSeq: number;
    onEvent: (e: ControlEvent) => Promise<void>;
    onGap: () => void;
    isClosed: boolean;
  }[] = [];
  async subscribe(
    afterSeq: number,
    onEvent: (e: ControlEvent) => Promise<void>,
    onGap: () => void,
  ): Promise<EventSubscription> {
    const entry = { afterSeq, onEvent, onGap, isClosed: false };
    this.subscriptions.push(entry);
    return { close: async () => void (entry.isClosed = true) };
  }
}

describe('startFollower', () => {
  let stateDir: string;
  let server: Server;
  let url: string;
  let follower: Follower | null = null;
  let handle: (req: IncomingMessage, res: ServerResponse, body: string) => void;
  const calls: string[] = [];

  const json = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
  const start = (source: EventSource, applied: Snapshot[] = [], logger = log): Follower => {
    follower = startFollower({
      controlUrl: url,
      token: 't',
      node: { name: 'n1', pop: 'p', url: 'http://n1', admin_url: null },
      source,
      stateDir,
      apply: { applySnapshot: (s) => void applied.push(s), applyEvent: () => {} },
      heartbeatMs: 10,
      backoff: { initialMs: 10, maxMs: 40 },
      log: logger,
    });
    return follower;
  };

  beforeEach(async () => {
    stateDir = await mkdtemp(join(tmpdir(), 'meridian-follower-unit-'));
    calls.length = 0;
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += String(chunk)));
      req.on('end', () => {
        calls.push(`${req.method} ${req.url}`);
        handle(req, res, body);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    await follower?.close();
    follower = null;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await rm(stateDir, { recursive: true, force: true });
  });

  test('accepts a snapshot without the envelope, and registers again when a heartbeat gets 404', async () => {
    let isKnown = true;
    handle = (req, res) => {
      if (req.url === '/internal/v1/snapshot') return json(res, 200, snapshotAt(4));
      if (req.url === '/internal/v1/nodes/register') {
        isKnown = true;
        return json(res, 200, { success: true, result: {} });
      }
      json(res, isKnown ? 200 : 404, {});
    };
    const source = new ScriptedSource();
    const applied: Snapshot[] = [];
    const f = start(source, applied);
    await f.ready;
    assert.deepEqual(applied, [snapshotAt(4)]);
    await until('a subscription', () => source.subscriptions.length === 1);
    assert.equal(source.subscriptions[0]?.afterSeq, 4);
    isKnown = false; // the control plane forgot the node
    await until('a second registration', () => calls.filter((c) => c.endsWith('/register')).length === 2);
  });

  test('failed heartbeats are logged as warnings, once per minute, and their recovery once', async () => {
    let isRefused = false;
    handle = (req, res) => {
      if (req.url === '/internal/v1/snapshot') return json(res, 200, snapshotAt(4));
      if (req.url?.endsWith('/heartbeat') && isRefused)
        return json(res, 403, { success: false, errors: [{ code: 10000, message: 'token revoked' }] });
      json(res, 200, { success: true, result: {} });
    };
    const logger = memoryLogger();
    await start(new ScriptedSource(), [], logger).ready;
    const beats = () => calls.filter((c) => c.endsWith('/heartbeat')).length;
    await until('a heartbeat', () => beats() >= 1);
    isRefused = true;
    const refusedFrom = beats();
    await until('five refused heartbeats', () => beats() >= refusedFrom + 5);
    const failed = logger.lines.filter((l) => l.msg.startsWith('heartbeat failed'));
    assert.equal(failed.length, 1, JSON.stringify(logger.lines));
    assert.equal(failed[0]?.level, 'warn');
    assert.match(String((failed[0]?.fields?.err as Error).message), /HTTP 403 token revoked/);
    isRefused = false;
    await until('the recovery line', () => logger.lines.some((l) => l.msg === 'heartbeats delivered again'));
    assert.equal(logger.lines.find((l) => l.msg === 'heartbeats delivered again')?.level, 'info');
  });

  test('with no control plane and an unreadable last-known-good file, ready waits for the control plane', async () => {
    await writeFile(join(stateDir, 'last-known-good.json'), '{ not json');
    let isUp = false;
    handle = (req, res) => {
      if (!isUp) return json(res, 503, { success: false, errors: [{ code: 1, message: 'starting' }] });
      if (req.url === '/internal/v1/snapshot')
        return json(res, 200, { success: true, result: snapshotAt(9) });
      json(res, 200, { success: true, result: {} });
    };
    const source = new ScriptedSource();
    const f = start(source);
    let isReady = false;
    void f.ready.then(() => (isReady = true));
    await until('a few failed attempts', () => calls.filter((c) => c.endsWith('/snapshot')).length >= 3);
    assert.equal(isReady, false);
    assert.equal(f.appliedSeq, null);
    isUp = true;
    await f.ready;
    assert.equal(f.appliedSeq, 9);
  });

  test('a gap reloads the snapshot and subscribes again from its seq; old subscriptions are closed', async () => {
    let snapshotSeq = 3;
    handle = (req, res) => json(res, 200, req.url === '/internal/v1/snapshot' ? snapshotAt(snapshotSeq) : {});
    const source = new ScriptedSource();
    const applied: Snapshot[] = [];
    const f = start(source, applied);
    await until('a subscription', () => source.subscriptions.length === 1);
    await source.subscriptions[0]?.onEvent({ seq: 4, at: '', type: 'pop.delete', name: 'x' });
    assert.equal(f.appliedSeq, 4);
    snapshotSeq = 20;
    source.subscriptions[0]?.onGap();
    source.subscriptions[0]?.onGap(); // a second report of the same gap changes nothing
    await until('a new subscription', () => source.subscriptions.length === 2);
    assert.equal(source.subscriptions[0]?.isClosed, true);
    assert.equal(source.subscriptions[1]?.afterSeq, 20);
    assert.deepEqual(
      applied.map((s) => s.seq),
      [3, 20],
    );
  });

  test('close before any state rejects ready', async () => {
    handle = (_req, res) => json(res, 503, {});
    const f = start(new ScriptedSource());
    await f.close();
    await assert.rejects(f.ready, /closed before/);
  });
});
