// TLS and HTTP/2 clients for integration tests: certificates from the local CA written to files (for
// --tls-cert / --tls-key, curl --cacert), one HTTP/2 request or several on one session (node:http2),
// and the curl / openssl s_client command lines.
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { connect, type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createCertificateAuthority } from '../../src/common/tls/local-ca.ts';

const run = promisify(execFile);

export interface TestCerts {
  caFile: string;
  ca: string;
  certFile: string;
  keyFile: string;
}

/** A CA and one server certificate for `hosts`, written under `dir`. */
export async function writeTestCerts(dir: string, hosts: string[]): Promise<TestCerts> {
  const ca = await createCertificateAuthority('Meridian Test CA', { key: 'ecdsa-p256' });
  const leaf = await ca.issue({ hosts });
  const certs = {
    caFile: join(dir, 'ca.pem'),
    ca: ca.certPem,
    certFile: join(dir, 'chain.pem'),
    keyFile: join(dir, 'key.pem'),
  };
  await writeFile(certs.caFile, ca.certPem);
  await writeFile(certs.certFile, leaf.chainPem);
  await writeFile(certs.keyFile, leaf.keyPem, { mode: 0o600 });
  return certs;
}

export interface H2Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** An HTTP/2 session to 127.0.0.1:port for `host` (SNI and :authority), verified against `ca`. */
export function h2Session(port: number, host: string, ca: string): ClientHttp2Session {
  const session = connect(`https://${host}:${port}`, {
    ca,
    servername: host,
    lookup: (_name, _options, cb) => cb(null, [{ address: '127.0.0.1', family: 4 }]),
  } as Parameters<typeof connect>[1]);
  session.on('error', () => undefined);
  return session;
}

/** One request on `session`; the body read whole. */
export function h2Request(
  session: ClientHttp2Session,
  path: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<H2Reply> {
  return new Promise((resolve, reject) => {
    const stream = session.request(
      { ':path': path, ':method': 'GET', ...headers },
      { endStream: body === undefined },
    );
    const chunks: Buffer[] = [];
    let head: IncomingHttpHeaders = {};
    stream.on('response', (h) => (head = h));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () =>
      resolve({ status: Number(head[':status']), headers: head, body: Buffer.concat(chunks) }),
    );
    stream.on('error', reject);
    if (body !== undefined) stream.end(body);
  });
}

/** One request on a session of its own. */
export async function h2Get(
  port: number,
  host: string,
  ca: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<H2Reply> {
  const session = h2Session(port, host, ca);
  try {
    return await h2Request(session, path, headers);
  } finally {
    session.close();
  }
}

/** `curl` with the test CA and `host` resolved to loopback; resolves with the exit code and output. */
export async function curl(
  port: number,
  host: string,
  caFile: string,
  path: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const argv = [
    '-sS',
    '--cacert',
    caFile,
    '--resolve',
    `${host}:${port}:127.0.0.1`,
    ...args,
    `https://${host}:${port}${path}`,
  ];
  return exec('curl', argv);
}

/** `openssl s_client` against 127.0.0.1:port with stdin closed, so it ends after the handshake. */
export function sClient(
  port: number,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  return exec('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, ...args], '');
}

async function exec(
  file: string,
  argv: string[],
  input?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const child = run(file, argv, { timeout: 20_000, maxBuffer: 16 * 1024 * 1024 });
    if (input !== undefined) child.child.stdin?.end(input);
    const { stdout, stderr } = await child;
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}
