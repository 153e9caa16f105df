// TLS test helpers: a minimal HTTPS server built from an edge node's TLS state (the same calls the
// listener makes: SNICallback = store.sniCallback, then tls.attach(server)), and real clients
// (node:tls, openssl s_client) that report what the handshake gave.
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { connect, type PeerCertificate } from 'node:tls';
import type { Logger } from '../../src/common/log.ts';
import type { EdgeTls } from '../../src/edge/tls/edge-tls.ts';

export interface TlsTestServer {
  readonly server: Server;
  readonly port: number;
  close(): Promise<void>;
}

/** An HTTPS server on 127.0.0.1:0 answering "ok <servername>" for every request. */
export async function startTlsTestServer(tls: EdgeTls): Promise<TlsTestServer> {
  const server = createServer({ SNICallback: tls.store.sniCallback, minVersion: 'TLSv1.2' }, (req, res) => {
    res.setHeader('connection', 'close');
    res.end(`ok ${(req.socket as unknown as { servername?: string }).servername ?? ''}`);
  });
  tls.attach(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    server,
    port: (server.address() as AddressInfo).port,
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close').catch(() => {});
    },
  };
}

export interface HandshakeResult {
  fingerprint256: string | null;
  error: string | null;
  reused: boolean;
  session: Buffer | null;
  cert: PeerCertificate | null;
  /** TLSv1.2 / TLSv1.3 (null when the handshake failed). */
  protocol: string | null;
  /** What the server answered to a GET / (empty when the handshake failed). */
  response: string;
}

/** One TLS connection with node:tls (SNI = servername, or none), closed after the handshake. */
export async function handshake(
  port: number,
  servername: string | null,
  options: { session?: Buffer | undefined; maxVersion?: 'TLSv1.2' | 'TLSv1.3' } = {},
): Promise<HandshakeResult> {
  return new Promise((resolve) => {
    const socket = connect({
      host: '127.0.0.1',
      port,
      // node:tls sends SNI only for a name (never for an IP address); '' sends none.
      servername: servername ?? '',
      rejectUnauthorized: false,
      ...(options.session === undefined ? {} : { session: options.session }),
      ...(options.maxVersion === undefined ? {} : { maxVersion: options.maxVersion }),
    });
    let session: Buffer | null = null;
    socket.on('session', (s: Buffer) => (session = s));
    socket.once('secureConnect', () => {
      const cert = socket.getPeerCertificate();
      const reused = socket.isSessionReused();
      const protocol = socket.getProtocol();
      // Read the server's answer so that TLS 1.3 tickets (sent after the handshake) arrive.
      socket.end('GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n');
      let response = '';
      socket.on('data', (d: Buffer) => (response += d.toString()));
      socket.once('close', () =>
        resolve({
          fingerprint256: cert.fingerprint256 ?? null,
          error: null,
          reused,
          session,
          cert,
          response,
          protocol,
        }),
      );
    });
    socket.once('error', (err: Error) => {
      socket.destroy();
      resolve({
        fingerprint256: null,
        error: err.message,
        reused: false,
        session: null,
        cert: null,
        response: '',
        protocol: null,
      });
    });
  });
}

/** Runs `openssl s_client` against the port; resolves with its stdout and stderr together. */
export async function opensslClient(port: number, args: string[]): Promise<string> {
  const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  child.stdin.end(); // EOF: s_client closes once the handshake is done
  const timer = setTimeout(() => child.kill(), 20_000);
  await once(child, 'exit');
  clearTimeout(timer);
  return out;
}

/** A PEM certificate's SHA-256 fingerprint, in node:tls's format. */
export function fingerprintOf(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256;
}

/** A logger that keeps its lines (messages and fields) for assertions and prints nothing. */
export function memoryLogger(): Logger & {
  lines: { level: string; msg: string; fields?: Record<string, unknown> }[];
} {
  const lines: { level: string; msg: string; fields?: Record<string, unknown> }[] = [];
  const at =
    (level: string) =>
    (msg: string, fields?: Record<string, unknown>): void => {
      lines.push({ level, msg, ...(fields === undefined ? {} : { fields }) });
    };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** Polls a synchronous condition every 20 ms until it holds (throws after timeoutMs). */
export async function until(what: string, condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
