// Starts Debian's pebble (the ACME test CA, /usr/bin/pebble) for a test, with pebble-challtestsrv as
// its DNS server (every name resolves to 127.0.0.1, or where setA points it), on free loopback
// ports. Pebble really validates: it fetches http://{name}:{httpPort}/.well-known/acme-challenge/…
// so httpPort must be where the edge node under test listens. PEBBLE_VA_ALWAYS_VALID (which would
// skip validation) is never set. Never anything but this local CA: no test talks to Let's Encrypt.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { get } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCertificateAuthority } from '../../src/common/tls/local-ca.ts';

export interface Pebble {
  /** The ACME directory, https://127.0.0.1:PORT/dir. */
  readonly directoryUrl: string;
  /** The root that signs pebble's own HTTPS listeners (pass as directoryCa). */
  readonly tlsCaPem: string;
  /** The root pebble issues under (regenerated each start; from the management API /roots/0). */
  readonly rootPem: string;
  /** Points `host`'s A record somewhere else than 127.0.0.1 (pebble-challtestsrv's management API). */
  setA(host: string, address: string): Promise<void>;
  /** pebble's output so far (its validation attempts are logged). */
  output(): string;
  stop(): Promise<void>;
}

export interface PebbleOptions {
  /** Where pebble's HTTP-01 validation connects (the edge node's plain-HTTP port). */
  httpPort: number;
  /** Lifetime of issued certificates, seconds (pebble 2.4: certificateValidityPeriod; default 5 years). */
  validitySeconds?: number;
}

export async function startPebble(options: PebbleOptions): Promise<Pebble> {
  const dir = await mkdtemp(join(tmpdir(), 'meridian-pebble-'));
  const ca = await createCertificateAuthority('Pebble listener test CA');
  const tls = await ca.issue({ hosts: ['localhost', '127.0.0.1'] });
  await writeFile(join(dir, 'cert.pem'), tls.chainPem);
  await writeFile(join(dir, 'key.pem'), tls.keyPem, { mode: 0o600 });
  const [acmePort, mgmtPort, dnsPort, dnsMgmtPort] = await freePorts(4);
  await writeFile(
    join(dir, 'pebble.json'),
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${acmePort}`,
        managementListenAddress: `127.0.0.1:${mgmtPort}`,
        certificate: join(dir, 'cert.pem'),
        privateKey: join(dir, 'key.pem'),
        httpPort: options.httpPort,
        tlsPort: options.httpPort,
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
        ...(options.validitySeconds === undefined
          ? {}
          : { certificateValidityPeriod: options.validitySeconds }),
      },
    }),
  );
  const dns = await startLogged(
    '/usr/bin/pebble-challtestsrv',
    [
      '-dns01',
      `127.0.0.1:${dnsPort}`,
      '-management',
      `127.0.0.1:${dnsMgmtPort}`,
      '-http01',
      '',
      '-https01',
      '',
      '-tlsalpn01',
      '',
      '-defaultIPv4',
      '127.0.0.1',
      '-defaultIPv6',
      '',
    ],
    {},
    /Starting management server/,
  );
  let pebble: Logged;
  try {
    pebble = await startLogged(
      '/usr/bin/pebble',
      ['-config', join(dir, 'pebble.json'), '-dnsserver', `127.0.0.1:${dnsPort}`],
      // No random 0-15 s sleep before each validation; never reuse a valid authorization, so that
      // every order in a test proves control through the edge again (pebble reuses 50% by default).
      { PEBBLE_VA_NOSLEEP: '1', PEBBLE_AUTHZREUSE: '0' },
      /ACME directory available at/,
    );
  } catch (err) {
    await dns.stop();
    throw err;
  }
  const stop = async (): Promise<void> => {
    await pebble.stop();
    await dns.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const rootPem = await httpsText(`https://127.0.0.1:${mgmtPort}/roots/0`, ca.certPem);
    return {
      directoryUrl: `https://127.0.0.1:${acmePort}/dir`,
      tlsCaPem: ca.certPem,
      rootPem,
      async setA(host, address) {
        const res = await fetch(`http://127.0.0.1:${dnsMgmtPort}/add-a`, {
          method: 'POST',
          body: JSON.stringify({ host, addresses: [address] }),
        });
        if (!res.ok) throw new Error(`challtestsrv add-a: ${res.status}`);
      },
      output: () => pebble.output(),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

interface Logged {
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/** Spawns `file`, waits for `ready` in its output (Go's log writes to stderr). */
async function startLogged(
  file: string,
  args: string[],
  env: Record<string, string>,
  ready: RegExp,
  timeoutMs = 20_000,
): Promise<Logged> {
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let text = '';
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    await exited;
  };
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`${file} not ready after ${timeoutMs} ms:\n${text}`));
    }, timeoutMs);
    const onData = (chunk: Buffer): void => {
      text += chunk.toString();
      if (ready.test(text)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${file} exited with ${code} before ready:\n${text}`));
    });
  });
  return { child, output: () => text, stop };
}

/** Ports free on 127.0.0.1 now (bound then released; the race with another process is negligible). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: count }, async () => {
      const server = createServer();
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      return server;
    }),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

function httpsText(url: string, caPem: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get(url, { ca: caPem }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () =>
        res.statusCode === 200 ? resolve(body) : reject(new Error(`${url}: ${res.statusCode}`)),
      );
    }).on('error', reject);
  });
}
