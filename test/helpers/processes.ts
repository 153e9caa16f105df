// Starts real processes for integration tests (the test origin, edge nodes) on loopback, waits until
// they listen, and stops them when the test ends.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { request } from 'undici';

const ROOT = join(import.meta.dirname, '..', '..');
// Edge nodes the tests start run one process each unless a test asks for --workers (the default
// would be one per core, docs/multicore.md); spawned children inherit it.
process.env.MERIDIAN_EDGE_WORKERS ??= '1';
export const CLI = join(ROOT, 'src', 'cli', 'main.ts');

export interface Proc {
  readonly child: ChildProcess;
  readonly url: string;
  readonly port: number;
  /** Everything the process wrote to stderr so far. */
  stderr(): string;
  /** Everything the process wrote to stdout so far. */
  stdout?(): string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Spawns node with args; `ready` parses a line of output and returns the port once listening. */
export async function spawnNode(
  args: string[],
  ready: (line: string) => number | null,
  timeoutMs = 15_000,
): Promise<Proc> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let errText = '';
  let outText = '';
  child.stderr?.on('data', (d: Buffer) => (errText += d.toString()));
  child.stdout?.on('data', (d: Buffer) => (outText += d.toString()));
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const errLines = createInterface({ input: child.stderr as NodeJS.ReadableStream });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`not ready after ${timeoutMs} ms: ${args.join(' ')}\n${errText}`)),
      timeoutMs,
    );
    const check = (line: string): void => {
      const p = ready(line);
      if (p !== null) {
        clearTimeout(timer);
        resolve(p);
      }
    };
    lines.on('line', check);
    errLines.on('line', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before ready: ${args.join(' ')}\n${errText}`));
    });
  });
  return {
    child,
    port,
    url: `http://127.0.0.1:${port}`,
    stderr: () => errText,
    stdout: () => outText,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await once(child, 'exit');
    },
  };
}

export function startTestOrigin(): Promise<Proc> {
  return spawnNode([join(ROOT, 'test', 'integration', 'fixtures', 'origin.ts')], (line) => {
    try {
      return (JSON.parse(line) as { port: number }).port;
    } catch {
      return null;
    }
  });
}

export interface EdgeProc extends Proc {
  readonly cacheDir: string;
  readonly adminUrl: string | null;
  /** The HTTPS listener's port (--listen-tls), null without one. */
  readonly tlsPort: number | null;
}

/** Starts `meridian edge` in front of `originUrl` on a free port; extra flags are appended. */
export async function startEdgeProcess(
  originUrl: string,
  extra: string[] = [],
  options: { cacheDir?: string; admin?: boolean; port?: number; noOrigin?: boolean } = {},
): Promise<EdgeProc> {
  const cacheDir = options.cacheDir ?? (await mkdtemp(join(tmpdir(), 'meridian-test-')));
  const adminArgs = options.admin === true ? ['--admin-listen', '127.0.0.1:0'] : [];
  const originArgs = options.noOrigin === true ? [] : ['--origin', originUrl];
  const args = [
    CLI,
    'edge',
    ...originArgs,
    '--listen',
    `127.0.0.1:${options.port ?? 0}`,
    '--cache-dir',
    cacheDir,
    ...adminArgs,
    ...extra,
  ];
  let adminPort: number | null = null;
  let tlsPort: number | null = null;
  const proc = await spawnNode(args, (line) => {
    try {
      const entry = JSON.parse(line) as { msg?: string; address?: string; admin?: string; tls?: string };
      if (entry.msg !== 'edge listening') return null;
      if (entry.admin !== undefined) adminPort = Number(entry.admin.split(':').pop());
      if (entry.tls !== undefined) tlsPort = Number(entry.tls.split(':').pop());
      return Number(entry.address?.split(':').pop());
    } catch {
      return null;
    }
  });
  return {
    ...proc,
    cacheDir,
    adminUrl: adminPort === null ? null : `http://127.0.0.1:${adminPort}`,
    tlsPort,
  };
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** One HTTP request (undici), body read whole. */
export async function fetchReply(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Reply> {
  const res = await request(url, {
    method: (init.method ?? 'GET') as 'GET',
    headers: init.headers ?? {},
    body: init.body ?? null,
  });
  const body = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers, body };
}

/** The number of requests the test origin saw for a path. */
export async function originCount(origin: Proc, path: string): Promise<number> {
  const reply = await fetchReply(`${origin.url}/__count?path=${encodeURIComponent(path)}`);
  return Number(reply.body.toString());
}

/** Sends raw bytes on a new connection; resolves with what came back once the server closed it or `waitMs` passed. */
export async function rawExchange(port: number, payload: string | Buffer, waitMs = 2_000): Promise<string> {
  const { connect } = await import('node:net');
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(data);
    }, waitMs);
    socket.on('data', (d: Buffer) => (data += d.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(data);
    });
    socket.write(payload);
  });
}

/** The status code of the first response in raw HTTP text (0 when none). */
export function statusOf(raw: string): number {
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(raw);
  return match === null ? 0 : Number(match[1]);
}

/** The master key of test control planes on PostgreSQL (32 bytes, base64). */
export const TEST_MASTER_KEY = Buffer.from('test-master-key-of-32-bytes-long').toString('base64');

export interface ControlProc extends Proc {
  readonly adminToken: string;
  readonly dataDir: string;
}

/** Starts `meridian control` on a free port with a fresh SQLite database (or `db`), admin token from the environment. */
export async function startControlProcess(
  options: { db?: string; nats?: string; extra?: string[]; reuse?: ControlProc } = {},
): Promise<ControlProc> {
  const reuse = options.reuse;
  const dataDir = reuse?.dataDir ?? (await mkdtemp(join(tmpdir(), 'meridian-control-')));
  const adminToken =
    reuse?.adminToken ??
    `mrd_test_${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
  const args = [
    CLI,
    'control',
    '--listen',
    `127.0.0.1:${reuse?.port ?? 0}`,
    '--db',
    options.db ?? `sqlite:${join(dataDir, 'meridian.db')}`,
  ];
  if (options.nats !== undefined) args.push('--nats', options.nats);
  args.push(...(options.extra ?? []));
  const env: Record<string, string> = { MERIDIAN_ADMIN_TOKEN: adminToken };
  // On PostgreSQL the control plane needs a master key (its replicas share it); SQLite makes its own file.
  if (
    args.includes('--db') &&
    /^postgres/.test(args[args.indexOf('--db') + 1] ?? '') &&
    !args.includes('--master-key-file')
  )
    env.MERIDIAN_MASTER_KEY = TEST_MASTER_KEY;
  const proc = await spawnNodeWithEnv(args, env, (line) => {
    const match = /^control plane: http:\/\/127\.0\.0\.1:(\d+)/.exec(line);
    return match === null ? null : Number(match[1]);
  });
  return { ...proc, adminToken, dataDir };
}

async function spawnNodeWithEnv(
  args: string[],
  env: Record<string, string>,
  ready: (line: string) => number | null,
): Promise<Proc> {
  const saved: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(env)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
  try {
    return await spawnNode(args, ready);
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/** A JSON API call with a bearer token; returns status and parsed body. */
export async function api(
  base: string,
  token: string | null,
  method: string,
  path: string,
  body?: unknown,
): Promise<{
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary API results
  body: { success: boolean; errors: { code: number; message: string }[]; result: any; result_info?: any };
}> {
  const headers: Record<string, string> = {};
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await request(`${base}${path}`, {
    method: method as 'GET',
    headers,
    body: body === undefined ? null : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.body.text();
  return { status: res.statusCode, body: JSON.parse(text) };
}
