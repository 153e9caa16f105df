// A small, real control-plane HTTP server for the event-source contract tests: the /internal/v1
// endpoints a node calls (events stream, snapshot, register, heartbeat) over a real ControlStore,
// with bearer-token checks and request counts. It can be stopped and started again on the same
// port to play "the control plane is down".
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PopInput } from '../../src/common/config/topology.ts';
import { streamEvents } from '../../src/control/events/http-stream.ts';
import { openControlStore } from '../../src/control/store/control-store.ts';
import type { Actor, ControlStore } from '../../src/control/store/types.ts';

export const TEST_TOKEN = 'test-node-token';
export const TEST_POP = 'test-pop';
export const ACTOR: Actor = { token_id: null, token_name: 'contract-test', ip: '127.0.0.1' };

export interface TestStore {
  store: ControlStore;
  close(): Promise<void>;
}

/** A real SQLite ControlStore in a temporary directory, with the PoP test nodes register in. */
export async function openTestStore(): Promise<TestStore> {
  const dir = await mkdtemp(join(tmpdir(), 'meridian-events-'));
  const store = await openControlStore(`sqlite:${join(dir, 'control.db')}`);
  await store.upsertPop(popInput(TEST_POP), ACTOR);
  return {
    store,
    close: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export function popInput(name: string): PopInput {
  return { name, city: 'Testville', latitude: 1, longitude: 2, role: 'edge', capacity: 0 };
}

let popCounter = 0;
/** Appends `count` events (one pop.upsert each); returns the store's last seq afterwards. */
export async function appendEvents(store: ControlStore, count: number): Promise<number> {
  for (let i = 0; i < count; i++) await store.upsertPop(popInput(`p-${process.pid}-${++popCounter}`), ACTOR);
  return store.lastSeq();
}

export interface TestControl {
  readonly url: string;
  /** Requests per route ("GET /internal/v1/snapshot" …), counted across restarts. */
  readonly requests: Map<string, number>;
  /** Closes the listener and every open connection (streams included). */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
}

export async function startTestControl(
  store: ControlStore,
  options: { heartbeatMs?: number } = {},
): Promise<TestControl> {
  const requests = new Map<string, number>();
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    void route(store, req, res, requests, options.heartbeatMs ?? 10_000).catch((err: unknown) => {
      if (!res.headersSent)
        send(res, 500, { success: false, errors: [{ code: 'INTERNAL', message: String(err) }] });
      else res.destroy();
    });
  };
  let server: Server = createServer(handler);
  await listen(server, 0);
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    stop: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
    start: async () => {
      server = createServer(handler);
      await listen(server, port);
    },
  };
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
}

async function route(
  store: ControlStore,
  req: IncomingMessage,
  res: ServerResponse,
  requests: Map<string, number>,
  heartbeatMs: number,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://control');
  const heartbeat = /^\/internal\/v1\/nodes\/([^/]+)\/heartbeat$/.exec(url.pathname);
  const key = `${req.method} ${heartbeat === null ? url.pathname : '/internal/v1/nodes/:name/heartbeat'}`;
  requests.set(key, (requests.get(key) ?? 0) + 1);
  if (req.headers.authorization !== `Bearer ${TEST_TOKEN}`) {
    send(res, 401, { success: false, errors: [{ code: 'UNAUTHENTICATED', message: 'bad token' }] });
    return;
  }
  if (key === 'GET /internal/v1/events') {
    await streamEvents(store, req, res, Number(url.searchParams.get('after') ?? '0'), { heartbeatMs });
  } else if (key === 'GET /internal/v1/snapshot') {
    send(res, 200, { success: true, errors: [], messages: [], result: await store.snapshot() });
  } else if (key === 'POST /internal/v1/nodes/register') {
    const body = (await readJson(req)) as {
      name: string;
      pop: string;
      url: string;
      admin_url: string | null;
    };
    send(res, 200, {
      success: true,
      errors: [],
      messages: [],
      result: await store.registerNode(body, ACTOR),
    });
  } else if (heartbeat !== null && req.method === 'POST') {
    const { applied_seq } = (await readJson(req)) as { applied_seq: number };
    const node = await store.heartbeat(decodeURIComponent(heartbeat[1] ?? ''), applied_seq);
    if (node === undefined)
      send(res, 404, { success: false, errors: [{ code: 'NOT_FOUND', message: 'node not found' }] });
    else send(res, 200, { success: true, errors: [], messages: [], result: node });
  } else {
    send(res, 404, { success: false, errors: [{ code: 'NOT_FOUND', message: 'no route' }] });
  }
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
