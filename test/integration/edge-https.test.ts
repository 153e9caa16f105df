// Issue 13: the HTTPS listener. TLS 1.2 / 1.3 only with forward-secret AEAD suites, ALPN h2 and
// http/1.1 on one port (openssl s_client, curl, node:tls), the default certificate for no or an
// unknown SNI (or an alert under --tls-unknown-sni reject), HTTP/1.1 limits over TLS, and bad input
// (garbage, plain HTTP on the TLS port, certificates that do not load) failing that connection, or
// that start, only. Zone settings over HTTPS: edge-https-zones.test.ts.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { connect as tlsConnect, type PeerCertificate } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import {
  CLI,
  fetchReply,
  originCount,
  rawExchange,
  removeDir,
  startEdgeProcess,
  startTestOrigin,
  statusOf,
} from '../helpers/processes.ts';
import type { EdgeProc, Proc } from '../helpers/processes.ts';
import { curl, h2Get, sClient, writeTestCerts, type TestCerts } from '../helpers/https-clients.ts';

const run = promisify(execFile);

/** The certificate a TLS handshake with `servername` (none when null) gets, or the handshake's error. */
function handshake(port: number, servername: string | null, ca: string): Promise<PeerCertificate | Error> {
  return new Promise((resolve) => {
    const socket = tlsConnect({
      host: '127.0.0.1',
      port,
      ca,
      rejectUnauthorized: false,
      ...(servername === null ? {} : { servername }),
    });
    socket.once('secureConnect', () => {
      resolve(socket.getPeerCertificate());
      socket.destroy();
    });
    socket.once('error', (err) => resolve(err));
  });
}

describe('the HTTPS listener (standalone)', () => {
  const HOST = 'tls.example';
  let origin: Proc;
  let edge: EdgeProc;
  let rejecting: EdgeProc;
  let certs: TestCerts;
  let dir: string;
  let port: number;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meridian-https-'));
    certs = await writeTestCerts(dir, [HOST]);
    origin = await startTestOrigin();
    const tls = ['--listen-tls', '127.0.0.1:0', '--tls-cert', certs.certFile, '--tls-key', certs.keyFile];
    edge = await startEdgeProcess(origin.url, [
      ...tls,
      '--client-header-timeout',
      '1s',
      '--hsts-max-age',
      '600',
    ]);
    rejecting = await startEdgeProcess(origin.url, [...tls, '--tls-unknown-sni', 'reject']);
    port = edge.tlsPort as number;
  });

  after(async () => {
    for (const e of [edge, rejecting]) {
      await e.stop();
      await removeDir(e.cacheDir);
    }
    await origin.stop();
    await removeDir(dir);
  });

  it('ALPN offers h2 and http/1.1 on the one port; TLS 1.3 by default', async () => {
    const h2 = await sClient(port, ['-servername', HOST, '-alpn', 'h2']);
    assert.match(h2.stdout, /ALPN protocol: h2/);
    assert.match(h2.stdout, /TLSv1\.3/);
    const h1 = await sClient(port, ['-servername', HOST, '-alpn', 'http/1.1']);
    assert.match(h1.stdout, /ALPN protocol: http\/1\.1/);
  });

  it('TLS 1.2 negotiates ECDHE with an AEAD cipher; TLS 1.1, 1.0 and weak ciphers are refused', async () => {
    const tls12 = await sClient(port, ['-servername', HOST, '-tls1_2']);
    assert.match(
      tls12.stdout,
      /Cipher is ECDHE-ECDSA-(AES128-GCM-SHA256|AES256-GCM-SHA384|CHACHA20-POLY1305)/,
    );
    for (const args of [
      ['-tls1_1'],
      ['-tls1'],
      ['-tls1_2', '-cipher', 'AES128-SHA'], // static RSA, CBC
      ['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-SHA'], // forward secret, but CBC
      ['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-SHA256'],
      ['-tls1_2', '-cipher', 'DHE-RSA-AES128-GCM-SHA256'], // finite-field DHE
    ]) {
      const refused = await sClient(port, ['-servername', HOST, ...args]);
      assert.notEqual(refused.code, 0, `${args.join(' ')} should fail: ${refused.stdout}`);
      assert.doesNotMatch(refused.stdout, /Cipher is (?!\(NONE\))/, args.join(' '));
    }
    // Key exchange groups: X25519 first; P-521 is not among them.
    assert.match(tls12.stdout, /Server Temp Key: X25519/);
    const p521 = await sClient(port, ['-servername', HOST, '-tls1_2', '-curves', 'secp521r1']);
    assert.notEqual(p521.code, 0);
  });

  it('curl over HTTP/2 and HTTP/1.1: a miss, then hits, for the same stored object', async () => {
    const path = '/https/curl?cc=max-age%3D60';
    const first = await curl(port, HOST, certs.caFile, path, ['--http2', '-i']);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /^HTTP\/2 200/);
    assert.match(first.stdout, /cache-status: meridian; fwd=uri-miss/);
    const h1 = await curl(port, HOST, certs.caFile, path, ['--http1.1', '-i']);
    assert.match(h1.stdout, /^HTTP\/1\.1 200/);
    assert.match(h1.stdout, /cache-status: meridian; hit/);
    const h2 = await curl(port, HOST, certs.caFile, path, ['--http2', '-i']);
    assert.match(h2.stdout, /cache-status: meridian; hit/);
    assert.equal(await originCount(origin, '/https/curl'), 1);
    // --hsts-max-age: on HTTPS answers (misses and hits, either protocol), never over plain HTTP.
    for (const reply of [first, h1, h2])
      assert.match(reply.stdout, /strict-transport-security: max-age=600\r?\n/i);
    const plain = await fetchReply(`${edge.url}${path}`, { headers: { host: HOST } });
    assert.equal(plain.status, 200);
    assert.equal(plain.headers['strict-transport-security'], undefined);
  });

  it('no SNI or an unknown name gets the default certificate (--tls-unknown-sni default)', async () => {
    for (const name of [null, 'unknown.example']) {
      const cert = await handshake(port, name, certs.ca);
      assert.ok(!(cert instanceof Error), String(cert));
      assert.match(cert.subjectaltname ?? '', /DNS:tls\.example/);
    }
  });

  it('--tls-unknown-sni reject: an unknown name, or none, gets a handshake alert; the node serves on', async () => {
    const tlsPort = rejecting.tlsPort as number;
    for (const name of [null, 'unknown.example']) {
      const result = await handshake(tlsPort, name, certs.ca);
      assert.ok(result instanceof Error, `handshake for ${String(name)} should fail`);
    }
    const reply = await fetchReply(`${rejecting.url}/https/reject?cc=max-age%3D60`, {
      headers: { host: HOST },
    });
    assert.equal(reply.status, 200);
  });

  it('garbage and plain HTTP on the TLS port fail that connection only', async () => {
    const plain = await rawExchange(port, `GET / HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`);
    assert.equal(statusOf(plain), 0, 'no HTTP answer over a TLS port');
    await rawExchange(port, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)));
    await rawExchange(port, Buffer.from([0x16, 0x03, 0x01, 0xff, 0xff, 0x01, 0x00]));
    const reply = await h2Get(port, HOST, certs.ca, '/https/after-garbage?cc=max-age%3D60');
    assert.equal(reply.status, 200);
  });

  it('HTTP/1.1 over TLS keeps the plain listener limits: an oversized head is a 431', async () => {
    const big = await curl(port, HOST, certs.caFile, '/https/big', [
      '--http1.1',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      '-H',
      `x-big: ${'a'.repeat(20_000)}`,
    ]);
    assert.equal(big.stdout, '431');
  });

  it('HTTP/1.1 over TLS: a head that never ends gets a 408 (the plain listener header timeout)', async () => {
    const answer = await new Promise<string>((resolve) => {
      const socket = tlsConnect({
        host: '127.0.0.1',
        port,
        servername: HOST,
        ca: certs.ca,
        ALPNProtocols: ['http/1.1'],
      });
      let data = '';
      socket.once('secureConnect', () => socket.write(`GET /https/slow HTTP/1.1\r\nHost: ${HOST}\r\n`));
      socket.on('data', (chunk: Buffer) => (data += chunk.toString('latin1')));
      socket.on('error', () => undefined);
      socket.on('close', () => resolve(data));
      setTimeout(() => socket.destroy(), 30_000).unref();
    });
    assert.equal(statusOf(answer), 408);
  });

  it('refuses to start without its certificate, naming what is wrong', async () => {
    const noCert = await run(process.execPath, [
      CLI,
      'edge',
      '--origin',
      origin.url,
      '--listen-tls',
      '127.0.0.1:0',
    ]).catch((err: { code: number; stderr: string }) => err);
    assert.equal((noCert as { code: number }).code, 2);
    assert.match((noCert as { stderr: string }).stderr, /--listen-tls: needs --tls-cert and --tls-key/);
    const missing = join(dir, 'missing.pem');
    const unreadable = await run(process.execPath, [
      CLI,
      'edge',
      '--origin',
      origin.url,
      '--listen',
      '127.0.0.1:0',
      '--listen-tls',
      '127.0.0.1:0',
      '--tls-cert',
      missing,
      '--tls-key',
      certs.keyFile,
      '--cache-dir',
      join(dir, 'cache-unreadable'),
    ]).catch((err: { code: number; stderr: string }) => err);
    assert.equal((unreadable as { code: number }).code, 1);
    assert.match((unreadable as { stderr: string }).stderr, /^meridian edge: --tls-cert .*missing\.pem/);
    // A key that is not the certificate's: refused at start, and the key is never echoed.
    const other = await writeTestCerts(await mkdtemp(join(dir, 'other-')), [HOST]);
    const mismatched = await run(process.execPath, [
      ...[CLI, 'edge', '--origin', origin.url, '--listen', '127.0.0.1:0', '--listen-tls', '127.0.0.1:0'],
      ...[
        '--tls-cert',
        certs.certFile,
        '--tls-key',
        other.keyFile,
        '--cache-dir',
        join(dir, 'cache-mismatch'),
      ],
    ]).catch((err: { code: number; stderr: string }) => err);
    assert.equal((mismatched as { code: number }).code, 1);
    assert.match((mismatched as { stderr: string }).stderr, /--tls-key .*key\.pem: .*(mismatch|key)/i);
    assert.doesNotMatch((mismatched as { stderr: string }).stderr, /PRIVATE KEY/);
  });
});
