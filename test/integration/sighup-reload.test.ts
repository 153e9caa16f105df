// SIGHUP reloads instead of stopping, as nginx's does (issue 20): an edge started from a --config
// file takes a new origin and log level from it, names what needs a restart, refuses a bad edit and
// keeps serving; the control plane serves a new TLS certificate to new handshakes; `meridian dns`
// applies a new log level. SIGTERM is logged as it stops each of them.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { createCertificateAuthority, type CertificateAuthority } from '../../src/common/tls/local-ca.ts';
import { startDnsProcess } from '../helpers/dns.ts';
import {
  CLI,
  fetchReply,
  originCount,
  removeDir,
  spawnNode,
  startEdgeProcess,
  startTestOrigin,
  type Proc,
} from '../helpers/processes.ts';
import { fingerprintOf, until } from '../helpers/tls.ts';

interface LogLine {
  msg?: string;
  level?: string;
  applied?: string[];
  restart_needed?: string[];
  log_level?: string;
  tls_certificate?: string;
  signal?: string;
}

/** The JSON log lines a process wrote to stderr so far. */
function logLines(proc: { stderr(): string }): LogLine[] {
  return proc
    .stderr()
    .split('\n')
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as LogLine];
      } catch {
        return [];
      }
    });
}

async function hangUp(proc: { child: Proc['child']; stderr(): string }, msg: RegExp): Promise<LogLine> {
  const before = logLines(proc).length;
  proc.child.kill('SIGHUP');
  let found: LogLine | undefined;
  await until(`a log line ${msg} after SIGHUP`, () => {
    found = logLines(proc)
      .slice(before)
      .find((line) => msg.test(line.msg ?? ''));
    return found !== undefined;
  });
  return found as LogLine;
}

async function stopLogged(proc: { child: Proc['child']; stderr(): string }): Promise<void> {
  const exited = once(proc.child, 'exit');
  proc.child.kill('SIGTERM');
  const [code] = (await exited) as [number | null];
  assert.equal(code, 0);
  const msgs = logLines(proc).map((l) => `${l.msg} ${l.signal}`);
  assert.ok(msgs.includes('stopping SIGTERM'), msgs.join('\n'));
  assert.ok(msgs.includes('stopped SIGTERM'), msgs.join('\n'));
}

let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meridian-sighup-'));
});

after(async () => {
  await removeDir(dir);
});

describe('SIGHUP on an edge', () => {
  let originA: Proc;
  let originB: Proc;

  before(async () => {
    originA = await startTestOrigin();
    originB = await startTestOrigin();
  });

  after(async () => {
    await originA.stop();
    await originB.stop();
  });

  it('re-reads --config: a new origin and log level at once, a new cache size named as needing a restart', async () => {
    const config = join(dir, 'edge.toml');
    await writeFile(config, `origin = "${originA.url}"\nlog-level = "info"\n`);
    const edge = await startEdgeProcess('', ['--config', config], { noOrigin: true });
    try {
      const get = (path: string) => fetchReply(`${edge.url}${path}`, { headers: { host: 'site.test' } });
      assert.equal((await get('/before?cc=max-age%3D60')).status, 200);
      assert.equal(await originCount(originA, '/before'), 1);

      await writeFile(config, `origin = "${originB.url}"\nlog-level = "debug"\nmemory-cache-size = "64MB"\n`);
      const reloaded = await hangUp(edge, /^SIGHUP: reloaded/);
      assert.deepEqual(reloaded.applied, ['origin']);
      assert.deepEqual(reloaded.restart_needed, ['memory-cache-size']);
      assert.equal(reloaded.log_level, 'debug');
      assert.equal(edge.child.exitCode, null, 'SIGHUP does not stop the node');

      assert.equal((await get('/after?cc=max-age%3D60')).status, 200);
      assert.equal(await originCount(originB, '/after'), 1, 'the new origin serves the next fill');
      assert.equal(await originCount(originA, '/after'), 0);
      // What the cache holds stays: a reload is not a purge.
      assert.equal((await get('/before?cc=max-age%3D60')).status, 200);
      assert.equal(await originCount(originB, '/before'), 0);

      // A bad edit is refused and logged; the node keeps the running settings.
      await writeFile(config, `origin = "${originA.url}"\nmemory-cache-size = "1XB"\n`);
      const refused = await hangUp(edge, /^SIGHUP: reload refused/);
      assert.equal(refused.level, 'error');
      assert.equal((await get('/still?cc=max-age%3D60')).status, 200);
      assert.equal(await originCount(originB, '/still'), 1);
      assert.equal(await originCount(originA, '/still'), 0);

      await stopLogged(edge);
    } finally {
      await edge.stop();
      await removeDir(edge.cacheDir);
    }
  });
});

describe('SIGHUP on the control plane and on meridian dns', () => {
  let ca: CertificateAuthority;
  let control: Proc;
  const adminToken = `mrd_test_${Math.random().toString(36).slice(2)}`;
  const certFile = () => join(dir, 'control.pem');
  const keyFile = () => join(dir, 'control-key.pem');

  async function issueInto(): Promise<string> {
    const leaf = await ca.issue({ hosts: ['localhost', '127.0.0.1'] });
    await writeFile(certFile(), leaf.chainPem);
    await writeFile(keyFile(), leaf.keyPem, { mode: 0o600 });
    return fingerprintOf(leaf.certPem);
  }

  function servedFingerprint(port: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port, ca: ca.certPem, servername: 'localhost' }, () => {
        const cert = socket.getPeerX509Certificate();
        socket.destroy();
        if (cert === undefined) reject(new Error('no certificate'));
        else resolve(fingerprintOf(cert.toString()));
      });
      socket.once('error', reject);
    });
  }

  before(async () => {
    ca = await createCertificateAuthority('SIGHUP test CA', { key: 'ecdsa-p256' });
  });

  after(async () => {
    await control?.stop();
  });

  it('the control plane serves a new --tls-cert after SIGHUP, and logs it', async () => {
    const first = await issueInto();
    const config = join(dir, 'control.toml');
    await writeFile(
      config,
      [
        'listen = "127.0.0.1:0"',
        `db = "sqlite:${join(dir, 'control', 'meridian.db')}"`,
        `tls-cert = "${certFile()}"`,
        `tls-key = "${keyFile()}"`,
      ].join('\n'),
    );
    process.env.MERIDIAN_ADMIN_TOKEN = adminToken;
    try {
      control = await spawnNode([CLI, 'control', '--config', config], (line) => {
        const match = /^control plane: https:\/\/127\.0\.0\.1:(\d+)/.exec(line);
        return match === null ? null : Number(match[1]);
      });
    } finally {
      delete process.env.MERIDIAN_ADMIN_TOKEN;
    }
    assert.equal(await servedFingerprint(control.port), first);
    const second = await issueInto();
    assert.notEqual(second, first);
    const reloaded = await hangUp(control, /^SIGHUP: reloaded/);
    assert.equal(reloaded.tls_certificate, 'reloaded');
    assert.equal(await servedFingerprint(control.port), second);
    assert.equal(control.child.exitCode, null);
  });

  it('meridian dns applies a new --log-level from its config file on SIGHUP, and logs its stop', async () => {
    const config = join(dir, 'dns.toml');
    const body = (level: string) =>
      [
        `control = "https://127.0.0.1:${control.port}"`,
        `control-ca = "${join(dir, 'ca.pem')}"`,
        `token-file = "${join(dir, 'dns-token')}"`,
        'zone = "cdn.sighup.test"',
        'geoip = ["none"]',
        `log-level = "${level}"`,
      ].join('\n');
    await writeFile(join(dir, 'ca.pem'), ca.certPem);
    await writeFile(join(dir, 'dns-token'), `${adminToken}\n`);
    await writeFile(config, body('info'));
    const dns = await startDnsProcess(['--config', config]);
    try {
      await writeFile(config, body('warn'));
      const reloaded = await hangUp(dns, /^SIGHUP: reloaded/);
      assert.equal(reloaded.log_level, 'warn');
      assert.equal(dns.child.exitCode, null);
      // At warn, the info lines of the stop are not written; back to info for the stop.
      await writeFile(config, body('info'));
      await hangUp(dns, /^SIGHUP: reloaded/);
      await stopLogged(dns);
    } finally {
      await dns.stop();
    }
  });
});
