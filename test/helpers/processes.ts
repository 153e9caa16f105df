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
export const CLI = join(ROOT, 'src', 'cli', 'main.ts');

export interface Proc {
  readonly child: ChildProcess;
  readonly url: string;
  readonly port: number;
  /** Everything the process wrote to stderr so far. */
  stderr(): string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Spawns node with args; `ready` parses a line of output and returns the port once listening. */
async function spawnNode(
  args: string[],
  ready: (line: string) => number | null,
  timeoutMs = 15_000,
): Promise<Proc> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let errText = '';
  child.stderr?.on('data', (d: Buffer) => (errText += d.toString()));
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
}

/** Starts `meridian edge` in front of `originUrl` on a free port; extra flags are appended. */
export async function startEdgeProcess(
  originUrl: string,
  extra: string[] = [],
  options: { cacheDir?: string; admin?: boolean; port?: number } = {},
): Promise<EdgeProc> {
  const cacheDir = options.cacheDir ?? (await mkdtemp(join(tmpdir(), 'meridian-test-')));
  const adminArgs = options.admin === true ? ['--admin-listen', '127.0.0.1:0'] : [];
  const args = [
    CLI,
    'edge',
    '--origin',
    originUrl,
    '--listen',
    `127.0.0.1:${options.port ?? 0}`,
    '--cache-dir',
    cacheDir,
    ...adminArgs,
    ...extra,
  ];
  let adminPort: number | null = null;
  const proc = await spawnNode(args, (line) => {
    try {
      const entry = JSON.parse(line) as { msg?: string; address?: string; admin?: string };
      if (entry.msg !== 'edge listening') return null;
      if (entry.admin !== undefined) adminPort = Number(entry.admin.split(':').pop());
      return Number(entry.address?.split(':').pop());
    } catch {
      return null;
    }
  });
  return { ...proc, cacheDir, adminUrl: adminPort === null ? null : `http://127.0.0.1:${adminPort}` };
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
