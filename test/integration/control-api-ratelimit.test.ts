// Issue 16: the API's per-token rate limit (a token bucket from src/lib/ratelimit, as the purge limit
// per zone): a token over its limit gets 429 with Retry-After in the v4 envelope, another token does
// not, and the nodes' own endpoints are not counted. Through a real `meridian control` process.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { api, fetchReply, removeDir, startControlProcess } from '../helpers/processes.ts';
import type { ControlProc } from '../helpers/processes.ts';

describe('API rate limit per token', () => {
  let control: ControlProc;
  const tokens: Record<string, string> = {};

  before(async () => {
    // Burst 5, then one call per 5 s: a slow machine cannot refill the bucket while the test runs.
    control = await startControlProcess({ extra: ['--api-rate', '0.2/s', '--api-burst', '5'] });
    // Three of the admin token's five calls.
    for (const [name, scopes] of [
      ['busy', ['zones:read']],
      ['quiet', ['zones:read']],
      ['node', ['node']],
    ] as const) {
      const res = await api(control.url, control.adminToken, 'POST', '/client/v4/tokens', { name, scopes });
      assert.equal(res.status, 201, JSON.stringify(res.body.errors));
      tokens[name] = res.body.result.value as string;
    }
  });

  after(async () => {
    await control.stop();
    await removeDir(control.dataDir);
  });

  const call = (token: string, path = '/client/v4/zones') =>
    fetchReply(`${control.url}${path}`, { headers: { authorization: `Bearer ${token}` } });

  it('a token over its limit gets 429 + Retry-After in the envelope; another token does not', async () => {
    const statuses: number[] = [];
    let refused: Awaited<ReturnType<typeof call>> | undefined;
    for (let i = 0; i < 10; i++) {
      const res = await call(tokens.busy as string);
      statuses.push(res.status);
      if (res.status === 429) refused ??= res;
    }
    assert.deepEqual(statuses.slice(0, 5), [200, 200, 200, 200, 200], statuses.join(','));
    // 0.2/s refills one call per 5 s: at most one 200 among the next five, even on a loaded machine.
    assert.ok(statuses.slice(5).filter((s) => s === 429).length >= 4, statuses.join(','));
    assert.ok(refused !== undefined);
    const wait = Number(refused.headers['retry-after']);
    assert.ok(
      Number.isInteger(wait) && wait >= 1 && wait <= 5,
      `Retry-After: ${refused.headers['retry-after']}`,
    );
    const body = JSON.parse(refused.body.toString()) as {
      success: boolean;
      errors: { code: number; message: string }[];
      result: unknown;
    };
    assert.equal(body.success, false);
    assert.equal(body.result, null);
    assert.equal(body.errors[0]?.code, 1006);
    assert.match(
      body.errors[0]?.message ?? '',
      /API rate limit for this token: 0\.2\/s \(burst 5\); retry in \d s/,
    );

    // Another token has its own bucket.
    assert.equal((await call(tokens.quiet as string)).status, 200);
    // The refusal comes before the scope check: a refused token learns nothing more.
    assert.equal((await call(tokens.busy as string, '/client/v4/tokens')).status, 429);
  });

  it("the nodes' endpoints are not counted", async () => {
    for (let i = 0; i < 20; i++) {
      const res = await call(tokens.node as string, '/internal/v1/snapshot');
      assert.equal(res.status, 200, `call ${i}: ${res.body.toString().slice(0, 200)}`);
    }
  });

  it("the OpenAPI document lists the 429 on every route but the nodes'", async () => {
    const doc = JSON.parse(
      (await call(tokens.quiet as string, '/client/v4/openapi.json')).body.toString(),
    ) as {
      paths: Record<string, Record<string, { responses: Record<string, { headers?: object }> }>>;
    };
    assert.ok(doc.paths['/client/v4/zones']?.get?.responses['429']?.headers);
    assert.ok(doc.paths['/client/v4/zones/{zone_id}/purge_cache']?.post?.responses['429']);
    assert.equal(doc.paths['/internal/v1/snapshot']?.get?.responses['429'], undefined);
  });
});
