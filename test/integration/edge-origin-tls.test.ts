// Issue 13, TLS to origins through real edge processes: a control plane and a managed edge whose
// zones have https:// origins (the test origin serving HTTPS), standalone edges with the --origin-*
// flags, and Debian's nginx as an origin that requires a client certificate (the configuration
// docs/tls.md documents). Proved with origin request counts, Cache-Status and what the origin saw of
// the TLS connection (SNI, client certificate).
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createCertificateAuthority, type CertificateAuthority } from '../../src/common/tls/local-ca.ts';
import { UsageError } from '../../src/cli/args.ts';
import { parseEdgeArgs } from '../../src/cli/commands/edge.ts';
import {
  api,
  fetchReply,
  originCount,
  removeDir,
  startControlProcess,
  startEdgeProcess,
} from '../helpers/processes.ts';
import type { ControlProc, EdgeProc, Reply } from '../helpers/processes.ts';
import {
  originTlsOf,
  startNginx,
  startTlsTestOrigin,
  type NginxProc,
  type TlsOriginProc,
} from '../helpers/tls-origin.ts';

const cacheStatus = (reply: Reply): string => String(reply.headers['cache-status']);

describe('edge: TLS to origins', () => {
  let originCa: CertificateAuthority;
  let otherCa: CertificateAuthority;
  let pullCa: CertificateAuthority;
  let origin: TlsOriginProc;
  /** Requires a client certificate from pullCa. */
  let mtls: TlsOriginProc;
  let nginx: NginxProc;
  let control: ControlProc;
  let edge: EdgeProc;
  let dir: string;
  const files: Record<string, string> = {};
  let pullZoneId: string;
  const standalone: EdgeProc[] = [];

  const get = (host: string, path: string): Promise<Reply> =>
    fetchReply(`${edge.url}${path}`, { headers: { host } });

  async function startStandalone(originUrl: string, flags: string[]): Promise<EdgeProc> {
    const node = await startEdgeProcess(originUrl, flags);
    standalone.push(node);
    return node;
  }

  before(async () => {
    [originCa, otherCa, pullCa] = await Promise.all([
      createCertificateAuthority('Origin CA', { key: 'ecdsa-p256' }),
      createCertificateAuthority('Other CA', { key: 'ecdsa-p256' }),
      createCertificateAuthority('Origin-pull CA', { key: 'rsa-2048' }),
    ]);
    const server = await originCa.issue({ hosts: ['origin.test', 'localhost', '127.0.0.1'] });
    const client = await pullCa.issue({ hosts: ['edge.pull.test'], usages: ['client'] });
    dir = await mkdtemp(join(tmpdir(), 'meridian-origin-tls-'));
    const pems: Record<string, string> = {
      'origin-ca.pem': originCa.certPem,
      'client.pem': client.chainPem,
      'client.key': client.keyPem,
    };
    for (const [name, text] of Object.entries(pems)) {
      files[name] = join(dir, name);
      await writeFile(files[name], text, { mode: 0o600 });
    }
    origin = await startTlsTestOrigin({ cert: server.chainPem, key: server.keyPem });
    mtls = await startTlsTestOrigin({ cert: server.chainPem, key: server.keyPem, clientCa: pullCa.certPem });
    nginx = await startNginx(
      [
        '    listen 127.0.0.1:{{PORT}} ssl;',
        '    server_name origin.test;',
        '    ssl_certificate {{DIR}}/origin.pem;',
        '    ssl_certificate_key {{DIR}}/origin.key;',
        '    ssl_client_certificate {{DIR}}/origin-pull-ca.pem;',
        '    ssl_verify_client on;',
        '    location / {',
        '      add_header Cache-Control "max-age=300";',
        '      return 200 "client=$ssl_client_s_dn sni=$ssl_server_name\\n";',
        '    }',
      ].join('\n'),
      { 'origin.pem': server.chainPem, 'origin.key': server.keyPem, 'origin-pull-ca.pem': pullCa.certPem },
    );

    control = await startControlProcess();
    const admin = (method: string, path: string, body?: unknown) =>
      api(control.url, control.adminToken, method, path, body);
    const nodeToken = (await admin('POST', '/client/v4/tokens', { name: 'nodes', scopes: ['node'] })).body
      .result.value as string;
    await admin('PUT', '/client/v4/pops/tls', { city: 'Tlsville', latitude: 1, longitude: 2 });
    const zone = async (name: string, originInput: Record<string, unknown>, settings = {}) => {
      const created = await admin('POST', '/client/v4/zones', {
        name,
        hostnames: [`${name}.test`],
        origins: [originInput],
        settings,
      });
      assert.equal(created.status, 201, JSON.stringify(created.body.errors));
      return created.body.result.id as string;
    };
    await zone('ca', { url: origin.tlsUrl, tls: { ca: originCa.certPem } });
    await zone('sni', { url: origin.tlsUrl, tls: { ca: originCa.certPem, servername: 'origin.test' } });
    await zone('byname', { url: `https://localhost:${origin.tlsPort}`, tls: { ca: originCa.certPem } });
    await zone('wrong', { url: origin.tlsUrl, tls: { ca: otherCa.certPem } });
    await zone('breaker', {
      url: origin.tlsUrl,
      tls: { ca: otherCa.certPem },
      circuit_breaker: { failures: 2, cooldown_sec: 60 },
    });
    await zone('insecure', { url: origin.tlsUrl, tls: { verify: false } });
    await zone('nopull', { url: mtls.tlsUrl, tls: { ca: originCa.certPem } });
    pullZoneId = await zone(
      'pull',
      { url: mtls.tlsUrl, tls: { ca: originCa.certPem } },
      { authenticated_origin_pulls: true },
    );
    edge = await startEdgeProcess(
      '',
      ['--control', control.url, '--pop', 'tls', '--node', 'tls-1', '--token', nodeToken],
      { noOrigin: true },
    );
  });

  after(async () => {
    for (const node of [edge, ...standalone]) {
      await node?.stop();
      if (node !== undefined) await removeDir(node.cacheDir);
    }
    await control?.stop();
    if (control !== undefined) await removeDir(control.dataDir);
    await Promise.all([origin?.stop(), mtls?.stop(), nginx?.stop()]);
    if (nginx !== undefined) await removeDir(nginx.dir);
    if (dir !== undefined) await removeDir(dir);
  });

  it('an https origin verified with the zone CA: miss, then hit, the origin asked once', async () => {
    const path = '/tls/ca?cc=max-age%3D300';
    const first = await get('ca.test', path);
    assert.equal(first.status, 200, first.body.toString());
    assert.match(cacheStatus(first), /fwd=uri-miss;.*stored/);
    const second = await get('ca.test', path);
    assert.equal(second.status, 200);
    assert.match(cacheStatus(second), /hit/);
    assert.equal(await originCount(origin, '/tls/ca'), 1);
    // An IP-address URL: no SNI (RFC 6066 §3), and not the client's Host either.
    assert.equal((await originTlsOf(origin, '/tls/ca'))?.servername, false);
  });

  it('SNI is tls.servername, or the URL host, never the Host header', async () => {
    assert.equal((await get('sni.test', '/tls/sni')).status, 200);
    assert.equal((await originTlsOf(origin, '/tls/sni'))?.servername, 'origin.test');
    assert.equal((await get('byname.test', '/tls/byname')).status, 200);
    assert.equal((await originTlsOf(origin, '/tls/byname'))?.servername, 'localhost');
  });

  it('a certificate the zone CA did not issue: 502 ORIGIN_TLS_FAILED, nothing stored, logged', async () => {
    const path = '/tls/wrong?cc=max-age%3D300';
    for (let i = 0; i < 2; i++) {
      const reply = await get('wrong.test', path);
      assert.equal(reply.status, 502);
      assert.match(cacheStatus(reply), /detail="origin-tls-failed"/);
      assert.doesNotMatch(cacheStatus(reply), /stored|hit/);
    }
    assert.equal(await originCount(origin, '/tls/wrong'), 0);
    const line = edge
      .stderr()
      .split('\n')
      .find((l) => l.includes('"origin TLS failed"'));
    assert.ok(line !== undefined, edge.stderr());
    assert.match(line, new RegExp(`"origin":"${origin.tlsUrl}"`));
    assert.match(line, /"reason":"(SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE)"/);
  });

  it('a verification failure counts against the origin: the circuit opens', async () => {
    const statuses: string[] = [];
    for (let i = 0; i < 3; i++) {
      const reply = await get('breaker.test', `/tls/breaker/${i}`);
      statuses.push(`${reply.status} ${/detail="([^"]+)"/.exec(cacheStatus(reply))?.[1]}`);
    }
    assert.deepEqual(statuses, ['502 origin-tls-failed', '502 origin-tls-failed', '503 origin-all-down']);
  });

  it('verify:false accepts the certificate and warns once', async () => {
    assert.equal((await get('insecure.test', '/tls/insecure/1')).status, 200);
    assert.equal((await get('insecure.test', '/tls/insecure/2')).status, 200);
    const warnings = edge
      .stderr()
      .split('\n')
      .filter((l) => l.includes('origin certificate not verified'));
    assert.equal(warnings.length, 1, edge.stderr());
  });

  it('an mTLS origin refuses the node without a client certificate: 502 (managed, none in the store)', async () => {
    for (const host of ['nopull.test', 'pull.test']) {
      const reply = await get(host, '/tls/refused');
      assert.equal(reply.status, 502, host);
      assert.match(cacheStatus(reply), /detail="origin-tls-failed"/);
    }
    assert.equal(await originCount(mtls, '/tls/refused'), 0);
    // The zone asks for authenticated origin pulls; the node's store has no certificate for it.
    assert.match(edge.stderr(), /no origin_client certificate/);
  });

  it('managed: the zone client certificate uploaded through the API reaches the node, and the mTLS origin accepts it', async () => {
    const client = await pullCa.issue({ hosts: ['managed.pull.test'], usages: ['client'] });
    const uploaded = await api(
      control.url,
      control.adminToken,
      'POST',
      `/client/v4/zones/${pullZoneId}/origin_tls_client_auth`,
      { certificate: client.chainPem, private_key: client.keyPem },
    );
    assert.equal(uploaded.status, 201, JSON.stringify(uploaded.body.errors));
    // The node learns of it by the event log and fetches the key over its internal link.
    let reply = await get('pull.test', '/tls/managed-pull?cc=max-age%3D300');
    for (let i = 0; i < 50 && reply.status !== 200; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      reply = await get('pull.test', '/tls/managed-pull?cc=max-age%3D300');
    }
    assert.equal(reply.status, 200, reply.body.toString());
    assert.equal((await originTlsOf(mtls, '/tls/managed-pull'))?.client, 'managed.pull.test');
    // Removed: the node no longer presents it.
    const id = uploaded.body.result.id as string;
    const deleted = await api(
      control.url,
      control.adminToken,
      'DELETE',
      `/client/v4/zones/${pullZoneId}/origin_tls_client_auth/${id}`,
    );
    assert.equal(deleted.status, 200);
    let refused = await get('pull.test', '/tls/managed-gone');
    for (let i = 0; i < 50 && refused.status !== 502; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      refused = await get('pull.test', '/tls/managed-gone');
    }
    assert.equal(refused.status, 502);
  });

  it('standalone --origin-client-cert: the mTLS origin accepts the node', async () => {
    const flags = ['--origin-ca', files['origin-ca.pem'] as string];
    const withCert = await startStandalone(mtls.tlsUrl, [
      ...flags,
      '--origin-client-cert',
      files['client.pem'] as string,
      '--origin-client-key',
      files['client.key'] as string,
    ]);
    const path = '/tls/pull?cc=max-age%3D300';
    const first = await fetchReply(`${withCert.url}${path}`);
    assert.equal(first.status, 200, first.body.toString());
    assert.match(cacheStatus(await fetchReply(`${withCert.url}${path}`)), /hit/);
    assert.equal(await originCount(mtls, '/tls/pull'), 1);
    assert.equal((await originTlsOf(mtls, '/tls/pull'))?.client, 'edge.pull.test');
    const without = await startStandalone(mtls.tlsUrl, flags);
    const refused = await fetchReply(`${without.url}/tls/pull-refused`);
    assert.equal(refused.status, 502);
    assert.equal(await originCount(mtls, '/tls/pull-refused'), 0);
  });

  it('standalone --origin-insecure accepts an unverifiable certificate and warns; without it, 502', async () => {
    const insecure = await startStandalone(origin.tlsUrl, ['--origin-insecure']);
    assert.equal((await fetchReply(`${insecure.url}/tls/standalone-insecure`)).status, 200);
    assert.match(insecure.stderr(), /origin certificate not verified/);
    const strict = await startStandalone(origin.tlsUrl, []);
    const refused = await fetchReply(`${strict.url}/tls/standalone-strict`);
    assert.equal(refused.status, 502);
    assert.match(cacheStatus(refused), /detail="origin-tls-failed"/);
  });

  it('nginx with ssl_verify_client on: accepts the node with the client certificate, refuses it without', async () => {
    const url = `https://127.0.0.1:${nginx.port}`;
    const flags = ['--origin-ca', files['origin-ca.pem'] as string, '--origin-servername', 'origin.test'];
    const withCert = await startStandalone(url, [
      ...flags,
      '--origin-client-cert',
      files['client.pem'] as string,
      '--origin-client-key',
      files['client.key'] as string,
    ]);
    const first = await fetchReply(`${withCert.url}/nginx/pull`);
    assert.equal(first.status, 200, first.body.toString());
    assert.match(first.body.toString(), /client=CN=edge\.pull\.test sni=origin\.test/);
    assert.match(cacheStatus(await fetchReply(`${withCert.url}/nginx/pull`)), /hit/);
    assert.equal(await nginx.requests('/nginx/pull'), 1);
    // nginx completes the handshake without a certificate and answers 400 itself (the request
    // fails; nothing reaches the location).
    const without = await startStandalone(url, flags);
    const refused = await fetchReply(`${without.url}/nginx/refused`);
    assert.equal(refused.status, 400);
    assert.match(refused.body.toString(), /No required SSL certificate was sent/);
  });

  it('bad flags stop the node at start, naming the flag', () => {
    const base = ['--origin', 'https://127.0.0.1:1'];
    const cases: [string[], RegExp][] = [
      [['--origin-client-cert', files['client.pem'] as string, ...base], /needs --origin-client-key/],
      [
        [
          ...base,
          '--origin-client-cert',
          files['origin-ca.pem'] as string,
          '--origin-client-key',
          files['client.key'] as string,
        ],
        /not a usable certificate and key/,
      ],
      [[...base, '--origin-ca', files['client.key'] as string], /--origin-ca: .* no PEM certificate/],
      [
        ['--origin', 'http://127.0.0.1:1', '--origin-ca', files['origin-ca.pem'] as string],
        /needs an https:\/\/ --origin/,
      ],
      [[...base, '--origin-ca', join(dir, 'missing.pem')], /--origin-ca: cannot read/],
      [[...base, '--peer-ca', files['origin-ca.pem'] as string], /--peer-ca: managed mode only/],
    ];
    for (const [argv, message] of cases) {
      assert.throws(
        () => parseEdgeArgs(argv),
        (err: Error) => err instanceof UsageError && message.test(err.message),
      );
    }
  });
});
