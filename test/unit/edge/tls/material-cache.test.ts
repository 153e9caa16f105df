import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createCertificateAuthority } from '../../../../src/common/tls/local-ca.ts';
import { MATERIAL_DIR, MaterialCache } from '../../../../src/edge/tls/material-cache.ts';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('certificate material in the state folder', async () => {
  const ca = await createCertificateAuthority('Cache CA');
  const leaf = await ca.issue({ hosts: ['a.example'] });
  const material = {
    id: 'cert_1',
    certificate: leaf.chainPem,
    private_key: leaf.keyPem,
    modified_on: '2026-01-01T00:00:00Z',
  };

  it('round-trips, encrypted: no PEM in the file, mode 0600', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'meridian-tls-cache-'));
    dirs.push(dir);
    const cache = new MaterialCache(dir, 'node-token-1');
    await cache.save(material);
    assert.deepEqual(await cache.load('cert_1'), material);
    const [file] = await readdir(join(dir, MATERIAL_DIR));
    const path = join(dir, MATERIAL_DIR, file as string);
    const text = await readFile(path, 'utf8');
    assert.doesNotMatch(text, /BEGIN|PRIVATE KEY|CERTIFICATE/);
    const { stat } = await import('node:fs/promises');
    assert.equal((await stat(path)).mode & 0o777, 0o600);
  });

  it('does not decrypt under another token, for another id, or when altered', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'meridian-tls-cache-'));
    dirs.push(dir);
    await new MaterialCache(dir, 'node-token-1').save(material);
    assert.equal(await new MaterialCache(dir, 'node-token-2').load('cert_1'), null);
    const path = join(dir, MATERIAL_DIR, 'cert_1.json');
    const sealed = JSON.parse(await readFile(path, 'utf8')) as { data: string };
    await writeFile(join(dir, MATERIAL_DIR, 'cert_2.json'), JSON.stringify(sealed));
    assert.equal(await new MaterialCache(dir, 'node-token-1').load('cert_2'), null);
    const data = Buffer.from(sealed.data, 'base64');
    data[0] = (data[0] as number) ^ 1;
    await writeFile(path, JSON.stringify({ ...sealed, data: data.toString('base64') }));
    assert.equal(await new MaterialCache(dir, 'node-token-1').load('cert_1'), null);
    assert.equal(await new MaterialCache(dir, 'node-token-1').load('missing'), null);
  });
});
