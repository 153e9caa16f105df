// Issue 13: certificates through a real `meridian control` process — upload validation (each error a
// 400 naming the field), CRUD, keys never answered and encrypted in the database (read the rows),
// the internal endpoint that hands key material only to nodes of PoPs serving the zone, and the
// master key: key file mode 0600, a wrong/malformed/unreadable key refuses to start, rotation.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createPrivateKey } from 'node:crypto';
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { createCertificateAuthority } from '../../src/common/tls/local-ca.ts';
import type { CertificateAuthority, IssuedCertificate } from '../../src/common/tls/local-ca.ts';
import { MasterKey } from '../../src/control/secrets/master-key.ts';
import { api, CLI, removeDir, startControlProcess } from '../helpers/processes.ts';
import type { ControlProc } from '../helpers/processes.ts';

const DAY = 86_400_000;
let control: ControlProc;
let ca: CertificateAuthority;
let otherCa: CertificateAuthority;
let good: IssuedCertificate;
let zoneId = '';
let nodeToken = '';

const admin = (method: string, path: string, body?: unknown) =>
  api(control.url, control.adminToken, method, path, body);
const certsOf = (zone: string): string => `/client/v4/zones/${zone}/custom_certificates`;
const clientOf = (zone: string): string => `/client/v4/zones/${zone}/origin_tls_client_auth`;
const sameKey = (a: string, b: string): boolean =>
  createPrivateKey(a).export({ type: 'pkcs8', format: 'pem' }) ===
  createPrivateKey(b).export({ type: 'pkcs8', format: 'pem' });
/** The base64 body of a PEM key, as one string (what must never appear in a row or an answer). */
const keyBody = (pem: string): string => pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');

before(async () => {
  control = await startControlProcess();
  ca = await createCertificateAuthority('Test CA', { key: 'ecdsa-p256' });
  otherCa = await createCertificateAuthority('Other CA', { key: 'rsa-2048' });
  good = await ca.issue({ hosts: ['shop.test', '*.shop.test'] });
  for (const [name, role] of [
    ['nyc', 'edge'],
    ['fra', 'edge'],
    ['shd', 'shield'],
  ] as const) {
    const pop = await admin('PUT', `/client/v4/pops/${name}`, {
      city: name,
      latitude: 1,
      longitude: 2,
      role,
    });
    assert.equal(pop.status, 200, JSON.stringify(pop.body));
  }
  const zone = await admin('POST', '/client/v4/zones', {
    name: 'shop',
    hostnames: ['shop.test', 'www.shop.test'],
    origins: [{ url: 'http://127.0.0.1:9' }],
    shield_pop: 'shd',
    settings: { dns_pops: ['nyc'] },
  });
  assert.equal(zone.status, 201, JSON.stringify(zone.body));
  zoneId = zone.body.result.id;
  nodeToken = (await admin('POST', '/client/v4/tokens', { name: 'node', scopes: ['node'] })).body.result
    .value;
  for (const [name, pop] of [
    ['n-nyc', 'nyc'],
    ['n-fra', 'fra'],
    ['n-shd', 'shd'],
  ]) {
    const reg = await api(control.url, nodeToken, 'POST', '/internal/v1/nodes/register', {
      name,
      pop,
      url: `http://127.0.0.1:1/${name}`,
    });
    assert.equal(reg.status, 200, JSON.stringify(reg.body));
  }
});

after(async () => {
  await control.stop();
  await removeDir(control.dataDir);
});

describe('upload validation: each error is a 400 naming the field', () => {
  const cases: [string, () => Promise<unknown>, RegExp][] = [
    [
      'not PEM',
      async () => ({ certificate: 'hello', private_key: good.keyPem }),
      /^certificate: no PEM certificate/,
    ],
    [
      'PEM that does not parse',
      async () => ({
        certificate: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n',
        private_key: good.keyPem,
      }),
      /^certificate: certificate 1 of the chain does not parse/,
    ],
    [
      'a key in the certificate field',
      async () => ({ certificate: good.chainPem + good.keyPem, private_key: good.keyPem }),
      /^certificate: contains a private key/,
    ],
    [
      'a key that does not parse',
      async () => ({
        certificate: good.chainPem,
        private_key: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n',
      }),
      /^private_key: does not parse/,
    ],
    [
      'a key that does not match',
      async () => ({
        certificate: good.chainPem,
        private_key: (await ca.issue({ hosts: ['shop.test'] })).keyPem,
      }),
      /^private_key: does not match/,
    ],
    [
      'a chain out of order (issuer not next)',
      async () => ({ certificate: good.certPem + otherCa.certPem, private_key: good.keyPem }),
      /^certificate: the chain is out of order: certificate 1/,
    ],
    [
      'a chain in reverse (CA first)',
      async () => ({ certificate: ca.certPem + good.certPem, private_key: ca.keyPem }),
      /^certificate: /,
    ],
    [
      'a host outside the zone',
      async () => {
        const evil = await ca.issue({ hosts: ['shop.test', 'evil.test'] });
        return { certificate: evil.chainPem, private_key: evil.keyPem };
      },
      /^certificate: covers hosts outside the zone: evil\.test/,
    ],
    [
      'a wildcard that covers no zone hostname (one label only)',
      async () => {
        const deep = await ca.issue({ hosts: ['shop.test', '*.x.shop.test'] });
        return { certificate: deep.chainPem, private_key: deep.keyPem };
      },
      /^certificate: covers hosts outside the zone: \*\.x\.shop\.test/,
    ],
    [
      'expired',
      async () => {
        const old = await ca.issue({
          hosts: ['shop.test'],
          notBefore: new Date(Date.now() - 10 * DAY),
          notAfter: new Date(Date.now() - DAY),
        });
        return { certificate: old.chainPem, private_key: old.keyPem };
      },
      /^certificate: the certificate expired on /,
    ],
    [
      'a CA certificate as leaf',
      async () => ({ certificate: ca.certPem, private_key: ca.keyPem }),
      /^certificate: the first certificate is a CA certificate/,
    ],
    [
      'an unknown field',
      async () => ({ certificate: good.chainPem, private_key: good.keyPem, bundle_method: 'ubiquitous' }),
      /bundle_method/,
    ],
    ['no key', async () => ({ certificate: good.chainPem }), /^private_key: required/],
    ['no certificate', async () => ({ private_key: good.keyPem }), /^certificate: required/],
    [
      'a certificate that is not a string',
      async () => ({ certificate: 5, private_key: good.keyPem }),
      /^certificate: /,
    ],
    [
      'ACME when none is configured',
      async () => ({ type: 'acme' }),
      /^type: ACME is not configured on this control plane \(--acme-directory\)/,
    ],
  ];
  for (const [name, body, message] of cases) {
    it(`${name} → 400`, async () => {
      const res = await admin('POST', certsOf(zoneId), await body());
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.success, false);
      assert.match(res.body.errors[0]?.message ?? '', message);
      assert.doesNotMatch(JSON.stringify(res.body), /PRIVATE KEY/);
    });
  }

  it('none of the failed uploads left a certificate', async () => {
    assert.deepEqual((await admin('GET', certsOf(zoneId))).body.result, []);
  });
});

describe('certificates: upload, list, get, patch, delete', () => {
  it('the full cycle answers metadata only, and the store and audit never hold the key in clear', async () => {
    const up = await admin('POST', certsOf(zoneId), { certificate: good.chainPem, private_key: good.keyPem });
    assert.equal(up.status, 201, JSON.stringify(up.body));
    const meta = up.body.result;
    assert.deepEqual(meta.hosts, ['shop.test', '*.shop.test']);
    assert.equal(meta.usage, 'server');
    assert.equal(meta.type, 'custom');
    assert.equal(meta.status, 'active');
    assert.equal(meta.signature, 'ECDSA');
    assert.match(meta.issuer, /Test CA/);
    assert.match(meta.fingerprint_sha256, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    assert.equal('private_key' in meta, false);
    const id = meta.id as string;

    const list = await admin('GET', certsOf(zoneId));
    assert.deepEqual(
      list.body.result.map((c: { id: string }) => c.id),
      [id],
    );
    const got = await admin('GET', `${certsOf(zoneId)}/${id}`);
    assert.deepEqual(got.body.result, meta);

    const renewed = await ca.issue({ hosts: ['www.shop.test'] });
    const patched = await admin('PATCH', `${certsOf(zoneId)}/${id}`, {
      certificate: renewed.chainPem,
      private_key: renewed.keyPem,
    });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    assert.deepEqual(patched.body.result.hosts, ['www.shop.test']);
    assert.equal(patched.body.result.uploaded_on, meta.uploaded_on);
    // PATCH with the chain only keeps the stored key, which must still match.
    const sameKeyRenewal = await admin('PATCH', `${certsOf(zoneId)}/${id}`, { certificate: good.chainPem });
    assert.equal(sameKeyRenewal.status, 400);
    assert.match(sameKeyRenewal.body.errors[0]?.message ?? '', /^private_key: does not match/);
    const badPatch = await admin('PATCH', `${certsOf(zoneId)}/${id}`, { certificate: 'x', extra: 1 });
    assert.equal(badPatch.status, 400);
    assert.match(badPatch.body.errors[0]?.message ?? '', /extra/);

    const answers = JSON.stringify([up.body, list.body, got.body, patched.body]);
    for (const pem of [good.keyPem, renewed.keyPem]) assert.ok(!answers.includes(keyBody(pem)));
    assert.doesNotMatch(answers, /PRIVATE KEY/);

    const audit = JSON.stringify((await admin('GET', '/client/v4/audit?per_page=100')).body);
    assert.match(audit, /certificate\.create/);
    assert.doesNotMatch(audit, /PRIVATE KEY/);
    assert.ok(!audit.includes(keyBody(renewed.keyPem)));

    // The row itself: chain in clear, the key sealed (no PEM, no key bytes).
    const db = new Database(join(control.dataDir, 'meridian.db'), { readonly: true });
    try {
      const rows = db.prepare('select * from certificates').all() as Record<string, string>[];
      assert.equal(rows.length, 1);
      const dump = JSON.stringify(rows);
      assert.doesNotMatch(dump, /PRIVATE KEY/);
      assert.ok(!dump.includes(keyBody(renewed.keyPem)));
      assert.match(rows[0]?.private_key ?? '', /^mk1:[0-9a-f]{16}:/);
      const events = JSON.stringify(db.prepare('select body from events').all());
      assert.match(events, /certificate\.upsert/);
      assert.doesNotMatch(events, /PRIVATE KEY|BEGIN CERTIFICATE/);
    } finally {
      db.close();
    }

    assert.equal((await admin('DELETE', `${certsOf(zoneId)}/${id}`)).status, 200);
    assert.equal((await admin('GET', `${certsOf(zoneId)}/${id}`)).status, 404);
    assert.equal((await admin('DELETE', `${certsOf(zoneId)}/${id}`)).status, 404);
  });

  it('client certificates (origin_tls_client_auth): hosts not checked, kept apart from server ones', async () => {
    const clientCert = await ca.issue({ hosts: ['edge-client.internal'], usages: ['client'] });
    const up = await admin('POST', clientOf(zoneId), {
      certificate: clientCert.chainPem,
      private_key: clientCert.keyPem,
    });
    assert.equal(up.status, 201, JSON.stringify(up.body));
    assert.equal(up.body.result.usage, 'origin_client');
    const id = up.body.result.id as string;
    assert.deepEqual(
      (await admin('GET', clientOf(zoneId))).body.result.map((c: { id: string }) => c.id),
      [id],
    );
    assert.equal((await admin('GET', `${clientOf(zoneId)}/${id}`)).body.result.id, id);
    assert.equal((await admin('GET', `${certsOf(zoneId)}/${id}`)).status, 404, 'not a server certificate');
    assert.ok(!(await admin('GET', certsOf(zoneId))).body.result.some((c: { id: string }) => c.id === id));
    const mismatch = await admin('POST', clientOf(zoneId), {
      certificate: clientCert.chainPem,
      private_key: good.keyPem,
    });
    assert.equal(mismatch.status, 400);
    assert.match(mismatch.body.errors[0]?.message ?? '', /^private_key: does not match/);
    assert.equal((await admin('DELETE', `${clientOf(zoneId)}/${id}`)).status, 200);
    assert.deepEqual((await admin('GET', clientOf(zoneId))).body.result, []);
  });

  it('scopes: zones:read reads but cannot write; a token of another zone gets 403', async () => {
    const reader = await admin('POST', '/client/v4/tokens', {
      name: 'r',
      scopes: ['zones:read'],
      zones: [zoneId],
    });
    const secret = reader.body.result.value as string;
    assert.equal((await api(control.url, secret, 'GET', certsOf(zoneId))).status, 200);
    const write = await api(control.url, secret, 'POST', certsOf(zoneId), {
      certificate: good.chainPem,
      private_key: good.keyPem,
    });
    assert.equal(write.status, 403);
    const other = await admin('POST', '/client/v4/zones', {
      name: 'other',
      hostnames: ['other.test'],
      origins: [{ url: 'http://127.0.0.1:9' }],
    });
    assert.equal((await api(control.url, secret, 'GET', certsOf(other.body.result.id))).status, 403);
    assert.equal((await api(control.url, nodeToken, 'GET', certsOf(zoneId))).status, 403);
  });

  it('the OpenAPI document lists the certificate routes', async () => {
    const doc = (await api(control.url, null, 'GET', '/client/v4/openapi.json')).body as unknown as {
      paths: Record<string, Record<string, unknown>>;
    };
    const paths = doc.paths;
    assert.ok(paths['/client/v4/zones/{zone_id}/custom_certificates']?.post);
    assert.ok(paths['/client/v4/zones/{zone_id}/custom_certificates/{cert_id}']?.patch);
    assert.ok(paths['/client/v4/zones/{zone_id}/origin_tls_client_auth']?.post);
    assert.ok(paths['/client/v4/zones/{zone_id}/origin_tls_client_auth/{cert_id}']?.delete);
    assert.ok(paths['/internal/v1/certificates/{cert_id}']?.get);
  });
});

describe('the internal endpoint and the cluster keys', () => {
  it('gives the key material to nodes of serving PoPs (dns_pops, shield) and 403 to others', async () => {
    const up = await admin('POST', certsOf(zoneId), { certificate: good.chainPem, private_key: good.keyPem });
    const id = up.body.result.id as string;
    const fetchAs = (node: string) =>
      api(control.url, nodeToken, 'GET', `/internal/v1/certificates/${id}?node=${node}`);
    for (const node of ['n-nyc', 'n-shd']) {
      const res = await fetchAs(node);
      assert.equal(res.status, 200, `${node}: ${JSON.stringify(res.body.errors)}`);
      assert.equal(res.body.result.id, id);
      assert.ok(sameKey(res.body.result.private_key, good.keyPem));
      assert.match(res.body.result.certificate, /^-----BEGIN CERTIFICATE-----/);
      assert.equal(res.body.result.modified_on, up.body.result.modified_on);
    }
    const outside = await fetchAs('n-fra');
    assert.equal(outside.status, 403);
    assert.doesNotMatch(JSON.stringify(outside.body), /PRIVATE KEY/);
    assert.equal((await fetchAs('n-unknown')).status, 403);
    assert.equal((await api(control.url, nodeToken, 'GET', `/internal/v1/certificates/${id}`)).status, 400);
    assert.equal(
      (await api(control.url, nodeToken, 'GET', `/internal/v1/certificates/${'0'.repeat(32)}?node=n-nyc`))
        .status,
      404,
    );
    // Not for API tokens without the node scope.
    const writer = await admin('POST', '/client/v4/tokens', {
      name: 'w',
      scopes: ['zones:write', 'zones:read'],
    });
    assert.equal(
      (await api(control.url, writer.body.result.value, 'GET', `/internal/v1/certificates/${id}?node=n-nyc`))
        .status,
      403,
    );
  });

  it('the snapshot carries certificate metadata, hop_key and ticket_key; the hop key row is sealed', async () => {
    const snap = (await api(control.url, nodeToken, 'GET', '/internal/v1/snapshot')).body.result;
    assert.match(snap.hop_key, /^[A-Za-z0-9_-]{43}$/);
    assert.match(snap.ticket_key, /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(snap.hop_key, snap.ticket_key);
    assert.ok(snap.certificates.length >= 1);
    assert.doesNotMatch(JSON.stringify(snap.certificates), /PRIVATE KEY|BEGIN CERTIFICATE/);
    const db = new Database(join(control.dataDir, 'meridian.db'), { readonly: true });
    try {
      const rows = db.prepare('select name, value from cluster_keys').all() as {
        name: string;
        value: string;
      }[];
      const hop = rows.find((r) => r.name === 'hop');
      assert.ok(hop);
      assert.notEqual(hop.value, snap.hop_key);
      assert.ok(!hop.value.includes(snap.hop_key));
      assert.match(hop.value, /^mk1:/);
      assert.ok(!JSON.stringify(rows).includes(snap.ticket_key));
    } finally {
      db.close();
    }
  });

  it('deleting the zone deletes its certificates', async () => {
    const zone = await admin('POST', '/client/v4/zones', {
      name: 'gone',
      hostnames: ['gone.test'],
      origins: [{ url: 'http://127.0.0.1:9' }],
    });
    const cert = await ca.issue({ hosts: ['gone.test'] });
    const up = await admin('POST', certsOf(zone.body.result.id), {
      certificate: cert.chainPem,
      private_key: cert.keyPem,
    });
    assert.equal(up.status, 201);
    assert.equal((await admin('DELETE', `/client/v4/zones/${zone.body.result.id}`)).status, 200);
    const snap = (await api(control.url, nodeToken, 'GET', '/internal/v1/snapshot')).body.result;
    assert.ok(!snap.certificates.some((c: { id: string }) => c.id === up.body.result.id));
  });
});

/** Runs the CLI to its exit. */
async function runCli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; out: string }> {
  const child = spawn(process.execPath, [CLI, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code: code ?? -1, out };
}

describe('meridian certs', () => {
  it('upload, list, delete, client-upload, client-list, client-delete, acme', async () => {
    const dir = control.dataDir;
    const cert = await ca.issue({ hosts: ['www.shop.test'] });
    await writeFile(join(dir, 'c.pem'), cert.chainPem);
    await writeFile(join(dir, 'k.pem'), cert.keyPem, { mode: 0o600 });
    const cli = (...args: string[]) =>
      runCli(['certs', ...args, '--zone', 'shop', '--api', control.url, '--token', control.adminToken]);
    const up = await cli('upload', '--cert', join(dir, 'c.pem'), '--key', join(dir, 'k.pem'));
    assert.equal(up.code, 0, up.out);
    const id = /uploaded certificate ([0-9a-f]{32})/.exec(up.out)?.[1] ?? '';
    assert.match((await cli('list')).out, new RegExp(`${id}  custom  active  .*www\\.shop\\.test`));
    const listed = await cli('list', '--json');
    assert.ok((JSON.parse(listed.out) as { id: string }[]).some((c) => c.id === id));
    assert.equal((await cli('delete', id)).code, 0);
    assert.ok(!(await cli('list')).out.includes(id));
    const bad = await cli('upload', '--cert', join(dir, 'k.pem'), '--key', join(dir, 'k.pem'));
    assert.equal(bad.code, 1);
    assert.match(bad.out, /certificate: contains a private key/);
    const acme = await cli('acme');
    assert.equal(acme.code, 1);
    assert.match(acme.out, /ACME is not configured/);
    const client = await ca.issue({ hosts: ['client.internal'], usages: ['client'] });
    await writeFile(join(dir, 'cc.pem'), client.chainPem);
    await writeFile(join(dir, 'ck.pem'), client.keyPem, { mode: 0o600 });
    const cup = await cli('client-upload', '--cert', join(dir, 'cc.pem'), '--key', join(dir, 'ck.pem'));
    assert.equal(cup.code, 0, cup.out);
    const cid = /certificate ([0-9a-f]{32})/.exec(cup.out)?.[1] ?? '';
    assert.ok((await cli('client-list')).out.includes(cid));
    assert.equal((await cli('client-delete', cid)).code, 0);
    assert.ok(!(await cli('client-list')).out.includes(cid));
  });
});

describe('the master key', () => {
  it('is made beside the SQLite database with mode 0600, and the log says where', async () => {
    const path = join(control.dataDir, 'master.key');
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.match(control.stderr(), /created a master key file/);
    assert.ok(control.stderr().includes(path));
  });

  it('on PostgreSQL without a key: refuses to start, saying replicas must share one', async () => {
    const res = await runCli(
      ['control', '--listen', '127.0.0.1:0', '--db', 'postgres://postgres@127.0.0.1:5432/test'],
      {
        MERIDIAN_MASTER_KEY: '',
      },
    );
    assert.equal(res.code, 1, res.out);
    assert.match(
      res.out,
      /^meridian control: master key: a control plane on PostgreSQL needs MERIDIAN_MASTER_KEY or --master-key-file \(every replica must use the same key/,
    );
  });

  it('wrong, malformed or unreadable: a one-line error and no control plane; rotation re-seals', async () => {
    const b = await startControlProcess();
    const db = `sqlite:${join(b.dataDir, 'meridian.db')}`;
    try {
      const zone = await api(b.url, b.adminToken, 'POST', '/client/v4/zones', {
        name: 'rot',
        hostnames: ['shop.test', 'www.shop.test'],
        origins: [{ url: 'http://127.0.0.1:9' }],
      });
      const up = await api(b.url, b.adminToken, 'POST', certsOf(zone.body.result.id), {
        certificate: good.chainPem,
        private_key: good.keyPem,
      });
      assert.equal(up.status, 201);
      const nodeB = await api(b.url, b.adminToken, 'POST', '/client/v4/tokens', {
        name: 'n',
        scopes: ['node'],
      });
      const hopKey = (await api(b.url, nodeB.body.result.value, 'GET', '/internal/v1/snapshot')).body.result
        .hop_key;
      assert.match(hopKey, /^[A-Za-z0-9_-]{43}$/);
      await b.stop();

      const wrong = join(b.dataDir, 'wrong.key');
      await writeFile(wrong, MasterKey.generate().toBase64(), { mode: 0o600 });
      const malformed = join(b.dataDir, 'malformed.key');
      await writeFile(malformed, 'not a key\n', { mode: 0o600 });
      const start = (extra: string[], env: Record<string, string> = {}) =>
        runCli(['control', '--listen', '127.0.0.1:0', '--db', db, ...extra], env);
      for (const [extra, env, message] of [
        [['--master-key-file', wrong], {}, /is not the key of this store/],
        [[], { MERIDIAN_MASTER_KEY: MasterKey.generate().toBase64() }, /is not the key of this store/],
        [['--master-key-file', malformed], {}, /32 bytes in base64/],
        [['--master-key-file', join(b.dataDir, 'missing.key')], {}, /cannot read it \(ENOENT\)/],
      ] as const) {
        const res = await start([...extra], { ...env });
        assert.notEqual(res.code, 0, res.out);
        assert.match(res.out, message);
        assert.doesNotMatch(res.out, /control plane: http/);
        assert.equal(res.out.trim().split('\n').length, 1, res.out);
      }

      const next = join(b.dataDir, 'next.key');
      await writeFile(next, MasterKey.generate().toBase64(), { mode: 0o600 });
      const rotated = await runCli([
        'control',
        'rotate-master-key',
        '--db',
        db,
        '--new-master-key-file',
        next,
      ]);
      assert.equal(rotated.code, 0, rotated.out);
      assert.match(rotated.out, /re-sealed 3 cluster key\(s\) and 1 certificate key\(s\)/);

      const old = await start([]);
      assert.notEqual(old.code, 0, 'the old key (master.key) no longer opens the store');
      assert.match(old.out, /is not the key of this store/);

      const c = await startControlProcess({ reuse: b, extra: ['--master-key-file', next] });
      try {
        const tok = await api(c.url, c.adminToken, 'POST', '/client/v4/tokens', {
          name: 'n',
          scopes: ['node'],
        });
        const secret = tok.body.result.value as string;
        await api(c.url, c.adminToken, 'PUT', '/client/v4/pops/nyc', {
          city: 'n',
          latitude: 1,
          longitude: 2,
        });
        await api(c.url, secret, 'POST', '/internal/v1/nodes/register', {
          name: 'n1',
          pop: 'nyc',
          url: 'http://127.0.0.1:1',
        });
        const material = await api(
          c.url,
          secret,
          'GET',
          `/internal/v1/certificates/${up.body.result.id}?node=n1`,
        );
        assert.equal(material.status, 200, JSON.stringify(material.body.errors));
        assert.ok(sameKey(material.body.result.private_key, good.keyPem));
      } finally {
        await c.stop();
      }
    } finally {
      await b.stop();
      await removeDir(b.dataDir);
    }
  });
});
