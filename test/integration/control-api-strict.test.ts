// Issue 20: strict input at the API boundary (an unknown field is a 400 naming it, never silently
// dropped), parser-level errors with their documented codes, DELETE with a JSON content type and no
// body, GET /zones?name=, PoPs located by a known city, and the OpenAPI document's operationIds,
// shared schemas and descriptions. Through a real `meridian control` process.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from 'undici';
import { api, removeDir, startControlProcess } from '../helpers/processes.ts';
import type { ControlProc } from '../helpers/processes.ts';

let control: ControlProc;
let zoneId: string;
const zoneBody = (name: string, host: string) => ({
  name,
  hostnames: [host],
  origins: [{ url: 'http://127.0.0.1:9' }],
});
const admin = (method: string, path: string, body?: unknown) =>
  api(control.url, control.adminToken, method, path, body);

/** A raw call: any content type and body (the api() helper always sends JSON). */
async function raw(method: string, path: string, headers: Record<string, string>, body?: string) {
  const res = await request(`${control.url}${path}`, {
    method: method as 'GET',
    headers: { authorization: `Bearer ${control.adminToken}`, ...headers },
    body: body ?? null,
  });
  return {
    status: res.statusCode,
    body: (await res.body.json()) as {
      success: boolean;
      errors: { code: number; message: string }[];
      result: unknown;
    },
  };
}

before(async () => {
  control = await startControlProcess();
  const zone = await admin('POST', '/client/v4/zones', zoneBody('strict', 'strict.test'));
  assert.equal(zone.status, 201);
  zoneId = zone.body.result.id;
});

after(async () => {
  await control.stop();
  await removeDir(control.dataDir);
});

describe('unknown fields are a 400 naming them', () => {
  const cases: [string, string, string, () => unknown, string][] = [
    [
      "zone: a typo'd settings",
      'POST',
      '/client/v4/zones',
      () => ({ ...zoneBody('u1', 'u1.test'), setings: { default_ttl: 5 } }),
      'setings: unknown field',
    ],
    [
      'zone: an unknown key inside settings',
      'POST',
      '/client/v4/zones',
      () => ({ ...zoneBody('u2', 'u2.test'), settings: { defualt_ttl: 5 } }),
      'settings.defualt_ttl: unknown field',
    ],
    [
      'zone: an unknown origin field',
      'POST',
      '/client/v4/zones',
      () => ({ ...zoneBody('u3', 'u3.test'), origins: [{ url: 'http://o', wieght: 2 }] }),
      'origins.0.wieght: unknown field',
    ],
    [
      'zone: inside an origin health check',
      'POST',
      '/client/v4/zones',
      () => ({
        ...zoneBody('u4', 'u4.test'),
        origins: [{ url: 'http://o', health_check: { path: '/', intervall: 3 } }],
      }),
      'origins.0.health_check.intervall: unknown field',
    ],
    [
      'zone PATCH',
      'PATCH',
      '/client/v4/zones/ZONE',
      () => ({ hostname: ['x.test'] }),
      'hostname: unknown field',
    ],
    [
      'zone PATCH settings',
      'PATCH',
      '/client/v4/zones/ZONE',
      () => ({ settings: { development: true } }),
      'settings.development: unknown field',
    ],
    [
      'rule: match.pathh',
      'POST',
      '/client/v4/zones/ZONE/rules',
      () => ({ match: { pathh: '/a/*' }, action: { bypass: true } }),
      'match.pathh: unknown field',
    ],
    [
      'rule: action',
      'POST',
      '/client/v4/zones/ZONE/rules',
      () => ({ action: { edge_tll: 60 } }),
      'action.edge_tll: unknown field',
    ],
    [
      'rule: cache_key',
      'POST',
      '/client/v4/zones/ZONE/rules',
      () => ({ action: { cache_key: { querry: 'none' } } }),
      'action.cache_key.querry: unknown field',
    ],
    [
      'rule: match.header',
      'POST',
      '/client/v4/zones/ZONE/rules',
      () => ({ match: { header: { name: 'x', vaule: 'y' } }, action: {} }),
      'match.header.vaule: unknown field',
    ],
    [
      'rule: top level',
      'POST',
      '/client/v4/zones/ZONE/rules',
      () => ({ action: {}, enable: false }),
      'enable: unknown field',
    ],
    [
      'rules reorder',
      'PUT',
      '/client/v4/zones/ZONE/rules',
      () => ({ rule_ids: [], ids: [] }),
      'ids: unknown field',
    ],
    [
      'token',
      'POST',
      '/client/v4/tokens',
      () => ({ name: 't', scopes: ['zones:read'], zone: ['x'] }),
      'zone: unknown field',
    ],
    [
      'PoP',
      'PUT',
      '/client/v4/pops/p1',
      () => ({ city: 'X', latitude: 1, longitude: 2, capcity: 3 }),
      'capcity: unknown field',
    ],
    [
      'purge',
      'POST',
      '/client/v4/zones/ZONE/purge_cache',
      () => ({ purge_everything: true, sfot: true }),
      'sfot: unknown field',
    ],
    [
      'certificate',
      'POST',
      '/client/v4/zones/ZONE/custom_certificates',
      () => ({ type: 'acme', bundle_method: 'x' }),
      'bundle_method: unknown field',
    ],
  ];
  for (const [name, method, path, body, message] of cases) {
    it(`${name} → 400 "${message}"`, async () => {
      const res = await admin(method, path.replace('ZONE', zoneId), body());
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.success, false);
      assert.deepEqual(
        res.body.errors.map((e) => e.message),
        [message],
      );
      assert.equal(res.body.errors[0]?.code, 1001);
    });
  }

  it('nothing was created by the rejected rule (no silent catch-all)', async () => {
    const rules = await admin('GET', `/client/v4/zones/${zoneId}/rules`);
    assert.deepEqual(rules.body.result, []);
  });
});

describe('parser-level errors use the documented codes, in the envelope', () => {
  it('malformed JSON → 400, code 1008', async () => {
    const res = await raw('POST', '/client/v4/zones', { 'content-type': 'application/json' }, '{"name":');
    assert.equal(res.status, 400);
    assert.equal(res.body.success, false);
    assert.deepEqual(res.body.errors, [{ code: 1008, message: '(body): not valid JSON' }]);
  });

  it('a form or text body → 415, code 1009', async () => {
    for (const type of ['application/x-www-form-urlencoded', 'text/plain']) {
      const res = await raw('POST', '/client/v4/zones', { 'content-type': type }, 'name=x');
      assert.equal(res.status, 415, type);
      assert.equal(res.body.errors[0]?.code, 1009);
      assert.match(res.body.errors[0]?.message ?? '', /^\(body\): expected Content-Type: application\/json/);
    }
  });

  it('a body over 1 MiB → 413, code 1010', async () => {
    const big = JSON.stringify({ name: 'x'.repeat(1024 * 1024 + 10) });
    const res = await raw('POST', '/client/v4/zones', { 'content-type': 'application/json' }, big);
    assert.equal(res.status, 413);
    assert.equal(res.body.errors[0]?.code, 1010);
  });
});

describe('DELETE with Content-Type: application/json and no body', () => {
  const json = { 'content-type': 'application/json' };
  it('zone, rule, token and PoP deletes succeed', async () => {
    const zone = await admin('POST', '/client/v4/zones', zoneBody('del', 'del.test'));
    const rule = await admin('POST', `/client/v4/zones/${zone.body.result.id}/rules`, {
      action: { bypass: true },
    });
    const res1 = await raw(
      'DELETE',
      `/client/v4/zones/${zone.body.result.id}/rules/${rule.body.result.id}`,
      json,
    );
    assert.equal(res1.status, 200, JSON.stringify(res1.body));
    assert.equal((await raw('DELETE', `/client/v4/zones/${zone.body.result.id}`, json)).status, 200);
    const token = await admin('POST', '/client/v4/tokens', { name: 'del', scopes: ['zones:read'] });
    assert.equal((await raw('DELETE', `/client/v4/tokens/${token.body.result.id}`, json)).status, 200);
    await admin('PUT', '/client/v4/pops/del-pop', { city: 'Paris' });
    assert.equal((await raw('DELETE', '/client/v4/pops/del-pop', json)).status, 200);
  });

  it('a route that needs a body still says so', async () => {
    const res = await raw('POST', '/client/v4/zones', { 'content-type': 'application/json' }, '');
    assert.equal(res.status, 400);
    assert.deepEqual(
      res.body.errors.map((e) => e.message),
      ['(body): expected a JSON object'],
    );
  });
});

describe('GET /client/v4/zones?name=', () => {
  it('answers only the zone of that name, or none', async () => {
    await admin('POST', '/client/v4/zones', zoneBody('other', 'other.test'));
    const one = await admin('GET', '/client/v4/zones?name=strict');
    assert.equal(one.status, 200);
    assert.deepEqual(
      one.body.result.map((z: { id: string }) => z.id),
      [zoneId],
    );
    assert.equal(one.body.result_info.total_count, 1);
    const none = await admin('GET', '/client/v4/zones?name=no-such-zone');
    assert.deepEqual(none.body.result, []);
  });
});

describe('PUT /client/v4/pops/{name} with only a known city', () => {
  it('fills in the coordinates from the city name or code', async () => {
    const byName = await admin('PUT', '/client/v4/pops/fra-test', { city: 'Frankfurt' });
    assert.equal(byName.status, 200, JSON.stringify(byName.body));
    assert.equal(byName.body.result.latitude, 50.11);
    assert.equal(byName.body.result.longitude, 8.68);
    const byCode = await admin('PUT', '/client/v4/pops/sin-test', { city: 'sin' });
    assert.equal(byCode.body.result.city, 'Singapore');
    assert.equal(byCode.body.result.latitude, 1.35);
    const given = await admin('PUT', '/client/v4/pops/own', { city: 'Frankfurt', latitude: 1, longitude: 2 });
    assert.equal(given.body.result.latitude, 1, 'given coordinates win');
  });

  it('an unknown city without coordinates → 400 naming latitude', async () => {
    const res = await admin('PUT', '/client/v4/pops/nowhere', { city: 'Atlantis' });
    assert.equal(res.status, 400);
    assert.match(res.body.errors[0]?.message ?? '', /^latitude: required/);
  });
});

describe('the OpenAPI document', () => {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a JSON document walked by path
  let doc: any;
  before(async () => {
    doc = (await api(control.url, null, 'GET', '/client/v4/openapi.json')).body;
  });

  it('every operation has a unique operationId', () => {
    const ids: string[] = [];
    for (const [path, ops] of Object.entries(
      doc.paths as Record<string, Record<string, { operationId?: string }>>,
    ))
      for (const [method, op] of Object.entries(ops)) {
        assert.match(op.operationId ?? '', /^[a-z][A-Za-z0-9]+$/, `${method} ${path}`);
        ids.push(op.operationId as string);
      }
    assert.ok(ids.length > 20);
    assert.equal(new Set(ids).size, ids.length);
    assert.equal(doc.paths['/client/v4/zones'].get.operationId, 'listZones');
    assert.equal(doc.paths['/client/v4/zones/{zone_id}/rules'].post.operationId, 'createRule');
  });

  it('zone, rule and the error envelope are shared component schemas', () => {
    for (const name of ['Zone', 'Rule', 'ErrorEnvelope', 'ZoneSettings', 'RuleAction'])
      assert.ok(doc.components.schemas[name] !== undefined, name);
    const zoneGet = doc.paths['/client/v4/zones/{zone_id}'].get;
    assert.deepEqual(zoneGet.responses['200'].content['application/json'].schema.properties.result, {
      $ref: '#/components/schemas/Zone',
    });
    assert.deepEqual(zoneGet.responses['404'].content['application/json'].schema, {
      $ref: '#/components/schemas/ErrorEnvelope',
    });
    const list = doc.paths['/client/v4/zones/{zone_id}/rules'].get;
    assert.deepEqual(list.responses['200'].content['application/json'].schema.properties.result.items, {
      $ref: '#/components/schemas/Rule',
    });
    // Every reference resolves.
    const refs = JSON.stringify(doc).match(/#\/components\/schemas\/[A-Za-z]+/g) ?? [];
    for (const ref of new Set(refs)) assert.ok(doc.components.schemas[ref.split('/').pop() as string], ref);
  });

  it('fields have descriptions; edge_ttl says it is a fallback unless override_origin', () => {
    const action = doc.components.schemas.RuleActionInput;
    assert.match(action.properties.edge_ttl.description, /fallback/);
    assert.match(action.properties.edge_ttl.description, /override_origin/);
    assert.equal(action.additionalProperties, false, 'bodies are strict in the document too');
    assert.ok(doc.components.schemas.ZoneSettings.properties.default_ttl.description.length > 10);
  });
});
