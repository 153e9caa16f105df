// TLS between the parts (issue 20), through real processes: a control plane serving its API over
// HTTPS (--tls-cert/--tls-key) with a certificate from a private CA; a managed edge that verifies it
// with --control-ca applies a zone, and one given the wrong CA says so in one log line naming the
// flag; the CLI trusts it through NODE_EXTRA_CA_CERTS; and the event log over NATS with TLS
// (nats-server --tls, `--nats tls://... --nats-ca`) reaches an edge.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { Agent, request } from 'undici';
import { createCertificateAuthority } from '../../src/common/tls/local-ca.ts';
import { Resolver } from 'node:dns/promises';
import { eventually, startDnsProcess, type DnsProc } from '../helpers/dns.ts';
import { freeFixedPorts } from '../helpers/ports.ts';
import {
  CLI,
  fetchReply,
  originCount,
  removeDir,
  spawnNode,
  startEdgeProcess,
  startTestOrigin,
  TEST_MASTER_KEY,
  type EdgeProc,
  type Proc,
} from '../helpers/processes.ts';

const ADMIN_TOKEN = `mrd_test_tls_${process.pid}_${Date.now()}`;

/** `meridian control` over HTTPS on a fresh SQLite database; resolves with its https:// port. */
async function startHttpsControl(dir: string, extra: string[]): Promise<Proc> {
  const saved = process.env.MERIDIAN_ADMIN_TOKEN;
  process.env.MERIDIAN_ADMIN_TOKEN = ADMIN_TOKEN;
  try {
    return await spawnNode(
      [CLI, 'control', '--listen', '127.0.0.1:0', '--db', `sqlite:${join(dir, 'meridian.db')}`, ...extra],
      (line) => {
        const match = /^control plane: https:\/\/127\.0\.0\.1:(\d+)/.exec(line);
        return match === null ? null : Number(match[1]);
      },
    );
  } finally {
    if (saved === undefined) delete process.env.MERIDIAN_ADMIN_TOKEN;
    else process.env.MERIDIAN_ADMIN_TOKEN = saved;
  }
}

/** `nats-server --tls -js` on a port of its own; resolves once it is ready for clients. */
async function startTlsNats(dir: string, certFile: string, keyFile: string): Promise<ChildProcess> {
  const [port] = await freeFixedPorts(1);
  const child = spawn(
    'nats-server',
    [
      '-a',
      '127.0.0.1',
      '-p',
      String(port),
      '-js',
      '-sd',
      join(dir, 'js'),
      '--tls',
      '--tlscert',
      certFile,
      '--tlskey',
      keyFile,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const lines = createInterface({ input: child.stderr as NodeJS.ReadableStream });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('nats-server --tls not ready in 20 s')), 20_000);
    lines.on('line', (line) => {
      if (line.includes('Server is ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`nats-server exited with ${code}`)));
  });
  (child as ChildProcess & { port: number }).port = port as number;
  return child;
}

function runCli(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } }, (error, out, err) =>
      resolve({ code: error === null ? 0 : Number((error as { code?: number }).code ?? 1), out, err }),
    );
  });
}

describe('TLS between the parts', () => {
  let dir: string;
  let caFile: string;
  let wrongCaFile: string;
  let certFile: string;
  let keyFile: string;
  let control: Proc;
  let origin: Proc;
  let agent: Agent;
  let base: string;
  let nodeToken: string;
  const edges: EdgeProc[] = [];
  const others: (Proc | DnsProc)[] = [];

  const admin = async (method: string, path: string, body?: unknown) => {
    const res = await request(`${base}${path}`, {
      method: method as 'GET',
      dispatcher: agent,
      headers: {
        authorization: `Bearer ${ADMIN_TOKEN}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? null : JSON.stringify(body),
    });
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary API results
    return { status: res.statusCode, body: (await res.body.json()) as any };
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meridian-deploy-tls-'));
    const ca = await createCertificateAuthority('Cluster CA', { key: 'ecdsa-p256' });
    const wrong = await createCertificateAuthority('Some other CA', { key: 'ecdsa-p256' });
    const leaf = await ca.issue({ hosts: ['localhost', '127.0.0.1'] });
    caFile = join(dir, 'ca.pem');
    wrongCaFile = join(dir, 'wrong-ca.pem');
    certFile = join(dir, 'control.pem');
    keyFile = join(dir, 'control-key.pem');
    await writeFile(caFile, ca.certPem);
    await writeFile(wrongCaFile, wrong.certPem);
    await writeFile(certFile, leaf.chainPem);
    await writeFile(keyFile, leaf.keyPem, { mode: 0o600 });
    agent = new Agent({ connect: { ca: ca.certPem } });
    origin = await startTestOrigin();
    control = await startHttpsControl(dir, ['--tls-cert', certFile, '--tls-key', keyFile]);
    base = `https://127.0.0.1:${control.port}`;
    nodeToken = (await admin('POST', '/client/v4/tokens', { name: 'nodes', scopes: ['node'] })).body.result
      .value;
    await admin('PUT', '/client/v4/pops/tls', { city: 'Testville', latitude: 1, longitude: 2 });
  });

  after(async () => {
    for (const edge of edges) {
      await edge.stop();
      await removeDir(edge.cacheDir);
    }
    for (const proc of others) await proc.stop();
    await control.stop();
    await origin.stop();
    await agent.close();
    await removeDir(dir);
  });

  it('an edge following the control plane over HTTPS, verified with --control-ca, applies a zone', async () => {
    const created = await admin('POST', '/client/v4/zones', {
      name: 'tls-site',
      hostnames: ['tls-site.test'],
      origins: [{ url: origin.url }],
    });
    assert.equal(created.status, 201);
    const edge = await startEdgeProcess(
      '',
      ['--control', base, '--control-ca', caFile, '--pop', 'tls', '--node', 'tls-1', '--token', nodeToken],
      { noOrigin: true },
    );
    edges.push(edge);
    const get = (host: string, path: string) => fetchReply(`${edge.url}${path}`, { headers: { host } });
    assert.equal((await get('tls-site.test', '/a?cc=max-age%3D60')).status, 200);
    assert.equal(await originCount(origin, '/a'), 1);
    // A zone made after the start arrives over the HTTPS event stream.
    await admin('POST', '/client/v4/zones', {
      name: 'tls-later',
      hostnames: ['tls-later.test'],
      origins: [{ url: origin.url }],
    });
    await eventually(async () => (await get('tls-later.test', '/b')).status === 200, 20_000, 'later zone');
  });

  it('an edge given the wrong CA logs one clear line naming --control-ca', async () => {
    // Ready once it logs the failure: it never serves (no snapshot, no last-known-good state).
    const cacheDir = await mkdtemp(join(tmpdir(), 'meridian-test-'));
    const edge = await spawnNode(
      [
        CLI,
        'edge',
        '--listen',
        '127.0.0.1:0',
        '--cache-dir',
        cacheDir,
        '--control',
        base,
        '--control-ca',
        wrongCaFile,
        '--pop',
        'tls',
        '--node',
        'tls-wrong',
        '--token',
        nodeToken,
      ],
      (line) => (line.includes('cannot register with the control plane') ? 1 : null),
      30_000,
    );
    others.push(edge);
    const line = edge
      .stderr()
      .split('\n')
      .find((l) => l.includes('cannot register')) as string;
    const entry = JSON.parse(line) as { err: { message: string; code: string } };
    assert.match(entry.err.message, /certificate of https:\/\/127\.0\.0\.1:\d+ is not trusted/);
    assert.match(entry.err.message, /--control-ca FILE/);
    assert.equal(entry.err.code, 'SELF_SIGNED_CERT_IN_CHAIN');
    await removeDir(cacheDir);
  });

  it('the CLI trusts the control plane through NODE_EXTRA_CA_CERTS, and fails without it', async () => {
    const args = ['zones', 'list', '--api', base, '--token', ADMIN_TOKEN];
    const trusted = await runCli(args, { NODE_EXTRA_CA_CERTS: caFile });
    assert.equal(trusted.code, 0, trusted.err);
    assert.match(trusted.out, /tls-site/);
    const untrusted = await runCli(args, { NODE_EXTRA_CA_CERTS: wrongCaFile });
    assert.notEqual(untrusted.code, 0);
    assert.match(untrusted.err, /cannot reach the control plane/);
  });

  it('the event log over NATS with TLS (--nats tls://... --nats-ca) reaches an edge', async () => {
    const nats = await startTlsNats(dir, certFile, keyFile);
    const natsUrl = `tls://127.0.0.1:${(nats as ChildProcess & { port: number }).port}`;
    others.push({
      child: nats,
      url: natsUrl,
      port: 0,
      stderr: () => '',
      async stop() {
        if (nats.exitCode !== null) return;
        nats.kill('SIGTERM');
        await once(nats, 'exit');
      },
    });
    const natsDir = await mkdtemp(join(dir, 'nats-control-'));
    const stream = `TLS_${process.pid}_${Date.now()}`;
    const natsControl = await startHttpsControl(natsDir, [
      '--tls-cert',
      certFile,
      '--tls-key',
      keyFile,
      '--nats',
      natsUrl,
      '--nats-ca',
      caFile,
      '--nats-stream',
      stream,
    ]);
    others.push(natsControl);
    const natsBase = `https://127.0.0.1:${natsControl.port}`;
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await request(`${natsBase}${path}`, {
        method: method as 'GET',
        dispatcher: agent,
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: body === undefined ? null : JSON.stringify(body),
      });
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read arbitrary API results
      return (await res.body.json()) as any;
    };
    const token = (await call('POST', '/client/v4/tokens', { name: 'nodes', scopes: ['node'] })).result.value;
    await call('PUT', '/client/v4/pops/tls', { city: 'Testville', latitude: 1, longitude: 2 });
    const edge = await startEdgeProcess(
      '',
      [
        '--control',
        natsBase,
        '--control-ca',
        caFile,
        '--nats',
        natsUrl,
        '--nats-ca',
        caFile,
        '--nats-stream',
        stream,
        '--pop',
        'tls',
        '--node',
        'tls-nats-1',
        '--token',
        token,
      ],
      { noOrigin: true },
    );
    edges.push(edge);
    // Made after the edge started: it can only arrive as an event over the NATS TLS connection.
    await call('POST', '/client/v4/zones', {
      name: 'tls-nats',
      hostnames: ['tls-nats.test'],
      origins: [{ url: origin.url }],
    });
    await eventually(
      async () => (await fetchReply(`${edge.url}/c`, { headers: { host: 'tls-nats.test' } })).status === 200,
      20_000,
      'zone over NATS/TLS',
    );
  });

  it('meridian dns reads an HTTPS control plane with --control-ca, and names the flag with the wrong CA', async () => {
    const args = ['--control', base, '--token', ADMIN_TOKEN, '--zone', 'cdn.test', '--geoip', 'none'];
    const dns = await startDnsProcess([...args, '--control-ca', caFile, '--default-location', '1,2']);
    others.push(dns);
    const resolver = new Resolver({ timeout: 2_000, tries: 1 });
    resolver.setServers([`127.0.0.1:${dns.port}`]);
    // tls-1 (PoP tls) registered at 127.0.0.1: the zone's label answers with it once it is probed.
    await eventually(
      async () => (await resolver.resolve4('tls-site-test.cdn.test')).includes('127.0.0.1'),
      20_000,
      'DNS answer',
    );
    assert.doesNotMatch(dns.stderr(), /control plane unreachable/);
    const wrong = await startDnsProcess([...args, '--control-ca', wrongCaFile]);
    others.push(wrong);
    const line =
      wrong
        .stderr()
        .split('\n')
        .find((l) => l.includes('control plane unreachable')) ?? '';
    assert.match(line, /is not trusted \(SELF_SIGNED_CERT_IN_CHAIN.*give --control-ca FILE/);
  });

  it('sslmode=verify-full in the --db URL is honoured: no silent fall-back to plain text', async () => {
    // The test PostgreSQL has SSL off (if it had it on, its certificate is not from this CA): either
    // way a control plane told to verify the server must not start.
    const url = `postgres://postgres@127.0.0.1:5432/test?sslmode=verify-full&sslrootcert=${caFile}`;
    const result = await new Promise<{ code: number | null; err: string }>((resolve) => {
      execFile(
        process.execPath,
        [CLI, 'control', '--listen', '127.0.0.1:0', '--db', url],
        { env: { ...process.env, MERIDIAN_MASTER_KEY: TEST_MASTER_KEY }, timeout: 60_000 },
        (error, _out, err) => resolve({ code: error === null ? 0 : (error.code as number | null), err }),
      );
    });
    assert.notEqual(result.code, 0);
    assert.match(result.err, /does not support SSL|certificate/i);
  });
});
