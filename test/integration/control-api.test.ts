// Issue 3: the control plane's REST API through a real `meridian control` process — envelope,
// validation naming the field, authentication and scopes, zones, rules, tokens, audit, OpenAPI.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { api, removeDir, startControlProcess } from '../helpers/processes.ts';
import type { ControlProc } from '../helpers/processes.ts';

let control: ControlProc;
const zoneBody = (name: string, host: string) => ({
  name,
  hostnames: [host],
  origins: [{ url: 'http://127.0.0.1:9' }],
});

before(async () => {
  control = await startControlProcess();
});

after(async () => {
  await control.stop();
  await removeDir(control.dataDir);
});

const admin = (method: string, path: string, body?: unknown) =>
  api(control.url, control.adminToken, method, path, body);

describe('authentication and scopes', () => {
  it('no token → 401, bad token → 401, in the envelope', async () => {
    const none = await api(control.url, null, 'GET', '/client/v4/zones');
    assert.equal(none.status, 401);
    assert.equal(none.body.success, false);
    assert.match(none.body.errors[0]?.message ?? '', /bearer token/);
    assert.equal((await api(control.url, 'mrd_nope', 'GET', '/client/v4/zones')).status, 401);
  });

  it('wrong scope → 403; zone-limited token → 403 on other zones', async () => {
    const a = await admin('POST', '/client/v4/zones', zoneBody('scope-a', 'a.scope.test'));
    const b = await admin('POST', '/client/v4/zones', zoneBody('scope-b', 'b.scope.test'));
    assert.equal(a.status, 201);
    const reader = await admin('POST', '/client/v4/tokens', {
      name: 'reader-a',
      scopes: ['zones:read'],
      zones: [a.body.result.id],
    });
    assert.equal(reader.status, 201);
    const secret = reader.body.result.value as string;
    assert.match(secret, /^mrd_/);
    assert.equal((await api(control.url, secret, 'GET', `/client/v4/zones/${a.body.result.id}`)).status, 200);
    assert.equal((await api(control.url, secret, 'GET', `/client/v4/zones/${b.body.result.id}`)).status, 403);
    assert.equal(
      (await api(control.url, secret, 'PATCH', `/client/v4/zones/${a.body.result.id}`, { name: 'x' })).status,
      403,
    );
    const listed = await api(control.url, secret, 'GET', '/client/v4/zones');
    assert.deepEqual(
      listed.body.result.map((z: { id: string }) => z.id),
      [a.body.result.id],
    );
  });

  it('a node token grants only the internal endpoints', async () => {
    const node = await admin('POST', '/client/v4/tokens', { name: 'node', scopes: ['node'] });
    const secret = node.body.result.value as string;
    assert.equal((await api(control.url, secret, 'GET', '/client/v4/zones')).status, 403);
    assert.equal((await api(control.url, secret, 'GET', '/internal/v1/snapshot')).status, 200);
  });

  it('a token cannot mint a token with scopes it lacks', async () => {
    const limited = await admin('POST', '/client/v4/tokens', {
      name: 'minter',
      scopes: ['tokens:write', 'zones:read'],
    });
    const res = await api(control.url, limited.body.result.value, 'POST', '/client/v4/tokens', {
      name: 'escalate',
      scopes: ['admin'],
    });
    assert.equal(res.status, 403);
  });
});

describe('validation names the field', () => {
  const cases: [string, unknown, RegExp][] = [
    ['missing name', { hostnames: ['x.test'], origins: [{ url: 'http://o' }] }, /^name: /],
    [
      'bad hostname',
      { name: 'v1', hostnames: ['not a host'], origins: [{ url: 'http://o' }] },
      /^hostnames\.0: /,
    ],
    [
      'bad origin url',
      { name: 'v2', hostnames: ['v2.test'], origins: [{ url: 'ftp://o' }] },
      /^origins\.0\.url: /,
    ],
    [
      'negative weight',
      { name: 'v3', hostnames: ['v3.test'], origins: [{ url: 'http://o', weight: -1 }] },
      /^origins\.0\.weight: /,
    ],
    ['no origins', { name: 'v4', hostnames: ['v4.test'], origins: [] }, /^origins: /],
    [
      'bad setting',
      { name: 'v5', hostnames: ['v5.test'], origins: [{ url: 'http://o' }], settings: { default_ttl: 'x' } },
      /^settings\.default_ttl: /,
    ],
  ];
  for (const [name, body, message] of cases) {
    it(`${name} → 400`, async () => {
      const res = await admin('POST', '/client/v4/zones', body);
      assert.equal(res.status, 400);
      assert.equal(res.body.success, false);
      assert.match(res.body.errors[0]?.message ?? '', message);
    });
  }

  it('malformed JSON → 400; non-object body → 400; bad page → 400', async () => {
    assert.equal((await admin('POST', '/client/v4/zones', '{"name":')).status, 400);
    assert.equal((await admin('POST', '/client/v4/zones', [1, 2])).status, 400);
    const page = await admin('GET', '/client/v4/zones?page=0');
    assert.equal(page.status, 400);
    assert.match(page.body.errors[0]?.message ?? '', /^page: /);
  });

  it('a hostname served by another zone → 409 naming hostnames', async () => {
    await admin('POST', '/client/v4/zones', zoneBody('dup-1', 'dup.test'));
    const res = await admin('POST', '/client/v4/zones', zoneBody('dup-2', 'dup.test'));
    assert.equal(res.status, 409);
    assert.match(res.body.errors[0]?.message ?? '', /hostnames/);
  });

  it('rules: invalid match or action → 400 naming the field', async () => {
    const zone = await admin('POST', '/client/v4/zones', zoneBody('rules-v', 'rules-v.test'));
    const res = await admin('POST', `/client/v4/zones/${zone.body.result.id}/rules`, {
      action: { edge_ttl: -5 },
    });
    assert.equal(res.status, 400);
    assert.match(res.body.errors[0]?.message ?? '', /^action\.edge_ttl: /);
  });
});

describe('resources', () => {
  it('zones: create, get, patch, paginate, delete', async () => {
    const created = await admin('POST', '/client/v4/zones', {
      ...zoneBody('crud', 'crud.test'),
      settings: { default_ttl: 30 },
    });
    assert.equal(created.status, 201);
    const id = created.body.result.id as string;
    assert.match(id, /^[0-9a-f]{32}$/);
    assert.equal(created.body.result.settings.default_ttl, 30);
    const patched = await admin('PATCH', `/client/v4/zones/${id}`, { settings: { development_mode: true } });
    assert.equal(patched.body.result.settings.development_mode, true);
    assert.equal(patched.body.result.settings.default_ttl, 30, 'settings merge field by field');
    const page = await admin('GET', '/client/v4/zones?per_page=1&page=1');
    assert.equal(page.body.result.length, 1);
    assert.ok(page.body.result_info.total_count >= 1);
    assert.equal((await admin('DELETE', `/client/v4/zones/${id}`)).status, 200);
    assert.equal((await admin('GET', `/client/v4/zones/${id}`)).status, 404);
  });

  it('rules: ordered, insert at a position, reorder, delete', async () => {
    const zone = await admin('POST', '/client/v4/zones', zoneBody('rules', 'rules.test'));
    const base = `/client/v4/zones/${zone.body.result.id}/rules`;
    const r1 = await admin('POST', base, {
      description: 'one',
      match: { path: '/a/*' },
      action: { edge_ttl: 60 },
    });
    const r2 = await admin('POST', base, {
      description: 'two',
      match: { extensions: ['css'] },
      action: { bypass: true },
    });
    const r0 = await admin('POST', base, { description: 'zero', action: { browser_ttl: 5 }, position: 0 });
    assert.equal(r0.status, 201);
    let list = await admin('GET', base);
    assert.deepEqual(
      list.body.result.map((r: { description: string }) => r.description),
      ['zero', 'one', 'two'],
    );
    await admin('PUT', base, { rule_ids: [r2.body.result.id, r1.body.result.id, r0.body.result.id] });
    list = await admin('GET', base);
    assert.deepEqual(
      list.body.result.map((r: { description: string }) => r.description),
      ['two', 'one', 'zero'],
    );
    assert.equal((await admin('PUT', base, { rule_ids: [r1.body.result.id] })).status, 409);
    assert.equal((await admin('DELETE', `${base}/${r1.body.result.id}`)).status, 200);
    assert.equal((await admin('GET', base)).body.result.length, 2);
  });

  it('audit: every mutating call is recorded with who, what, when and from where', async () => {
    const res = await admin('GET', '/client/v4/audit?per_page=100');
    assert.equal(res.status, 200);
    const actions = new Set(res.body.result.map((e: { action: string }) => e.action));
    for (const action of [
      'zone.create',
      'zone.update',
      'zone.delete',
      'rule.create',
      'rule.delete',
      'token.create',
    ]) {
      assert.ok(actions.has(action), `${action} in ${[...actions].join(',')}`);
    }
    const entry = res.body.result[0];
    assert.equal(entry.ip, '127.0.0.1');
    assert.ok(entry.token_name.length > 0);
    assert.ok(!Number.isNaN(Date.parse(entry.at)));
  });

  it('openapi.json documents every route', async () => {
    const res = await api(control.url, null, 'GET', '/client/v4/openapi.json');
    const doc = res.body as unknown as { openapi: string; paths: Record<string, Record<string, unknown>> };
    assert.equal(doc.openapi, '3.1.0');
    for (const path of [
      '/client/v4/zones',
      '/client/v4/zones/{zone_id}',
      '/client/v4/zones/{zone_id}/rules',
      '/client/v4/tokens',
      '/client/v4/audit',
      '/internal/v1/snapshot',
    ]) {
      assert.ok(doc.paths[path] !== undefined, path);
    }
    assert.ok(doc.paths['/client/v4/zones']?.post !== undefined);
  });

  it('unknown routes answer 404 in the envelope', async () => {
    const res = await admin('GET', '/client/v4/nothing');
    assert.equal(res.status, 404);
    assert.equal(res.body.success, false);
  });
});
