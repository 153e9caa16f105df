// TLS upstreams for tests: the test origin serving HTTPS too (fixtures/origin.ts) and nginx as an
// origin. Certificates from src/common/tls/local-ca.ts.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { connect, createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetchReply, spawnNode, type Proc } from './processes.ts';

const ORIGIN = join(import.meta.dirname, '..', 'integration', 'fixtures', 'origin.ts');

export interface TlsOriginProc extends Proc {
  /** https://127.0.0.1:<tlsPort> (the plain `url` serves the same origin, and its control paths). */
  readonly tlsUrl: string;
  readonly tlsPort: number;
}

/** The test origin with an HTTPS port; `clientCa`: it requires a client certificate from that CA. */
export async function startTlsTestOrigin(tls: {
  cert: string;
  key: string;
  clientCa?: string;
}): Promise<TlsOriginProc> {
  let tlsPort = 0;
  const saved = process.env.MERIDIAN_TEST_ORIGIN_TLS;
  process.env.MERIDIAN_TEST_ORIGIN_TLS = JSON.stringify(tls);
  // spawn() copies the environment synchronously, before spawnNode's first await.
  const started = spawnNode([ORIGIN], (line) => {
    try {
      const parsed = JSON.parse(line) as { port: number; tlsPort: number };
      tlsPort = parsed.tlsPort;
      return parsed.port;
    } catch {
      return null;
    }
  });
  if (saved === undefined) delete process.env.MERIDIAN_TEST_ORIGIN_TLS;
  else process.env.MERIDIAN_TEST_ORIGIN_TLS = saved;
  const proc = await started;
  return { ...proc, tlsPort, tlsUrl: `https://127.0.0.1:${tlsPort}` };
}

/** What the origin saw of the last TLS request for a path: SNI and the client certificate's CN. */
export async function originTlsOf(
  origin: Proc,
  path: string,
): Promise<{ servername: string | false | null; client: string | null } | null> {
  const reply = await fetchReply(`${origin.url}/__tls?path=${encodeURIComponent(path)}`);
  return JSON.parse(reply.body.toString()) as { servername: string | false | null; client: string | null };
}

/** A port that was free a moment ago (nginx cannot listen on port 0 and report the port). */
export async function freePort(): Promise<number> {
  const server = createNetServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

export interface NginxProc {
  readonly child: ChildProcess;
  readonly port: number;
  readonly dir: string;
  /** Requests nginx logged for a path (its access log). */
  requests(path: string): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Debian's nginx in the foreground (`daemon off; master_process off;`), everything under a temp dir.
 * `server` is the body of one server block; `{{PORT}}` and `{{DIR}}` are filled in, and `files` are
 * written to the dir first.
 */
export async function startNginx(server: string, files: Record<string, string>): Promise<NginxProc> {
  const dir = await mkdtemp(join(tmpdir(), 'meridian-nginx-'));
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text, { mode: 0o600 });
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const conf = [
      'daemon off;',
      'master_process off;',
      'worker_processes 1;',
      `pid ${dir}/nginx.pid;`,
      `error_log ${dir}/error.log info;`,
      'events { worker_connections 128; }',
      'http {',
      `  access_log ${dir}/access.log;`,
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${dir}/${t};`),
      '  server {',
      server.replaceAll('{{PORT}}', String(port)).replaceAll('{{DIR}}', dir),
      '  }',
      '}',
      '',
    ].join('\n');
    await writeFile(join(dir, 'nginx.conf'), conf);
    const child = spawn('nginx', ['-c', join(dir, 'nginx.conf'), '-p', dir, '-e', join(dir, 'error.log')], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const listening = await waitForPort(port, child);
    if (!listening) {
      if (attempt < 3 && /Address already in use/.test(stderr + (await readLog(dir)))) continue;
      throw new Error(`nginx did not start: ${stderr}\n${await readLog(dir)}`);
    }
    return {
      child,
      port,
      dir,
      async requests(path) {
        const log = await readFile(join(dir, 'access.log'), 'utf8').catch(() => '');
        return log.split('\n').filter((line) => line.includes(`"GET ${path} `)).length;
      },
      async stop() {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        await once(child, 'exit');
      },
    };
  }
}

async function readLog(dir: string): Promise<string> {
  return readFile(join(dir, 'error.log'), 'utf8').catch(() => '');
}

/** Resolves true once something accepts on the port, false if the child exits first (or 10 s pass). */
async function waitForPort(port: number, child: ChildProcess): Promise<boolean> {
  for (const deadline = Date.now() + 10_000; Date.now() < deadline;) {
    if (child.exitCode !== null || child.signalCode !== null) return false;
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}
