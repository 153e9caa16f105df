import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Dispatcher } from 'undici';
import { OriginSchema } from '../../../../src/common/config/zone.ts';
import { OriginHealthRegistry } from '../../../../src/edge/upstream/health.ts';
import type { HealthEvent } from '../../../../src/edge/upstream/health.ts';
import type { OriginChoice, OriginGroup } from '../../../../src/edge/zones/types.ts';
import { WeightedOrigins } from '../../../../src/edge/zones/weighted-origins.ts';

/** A pool whose health path answers `status` (or throws when null); counts and records requests. */
function fakePool() {
  const pool = {
    status: 200 as number | null,
    requests: [] as { path: string; host: unknown }[],
    request(opts: { path: string; headers: Record<string, string> }) {
      pool.requests.push({ path: opts.path, host: opts.headers.host });
      if (pool.status === null) return Promise.reject(new Error('connect ECONNREFUSED'));
      return Promise.resolve({ statusCode: pool.status, body: { dump: () => Promise.resolve() } });
    },
  };
  return pool;
}

/** An origin choice whose checks run every 5 ms (the schema's minimum is 1 s; the edge takes any). */
function checkedChoice(thresholds: { up: number; down: number }): OriginChoice {
  const base = new WeightedOrigins([
    OriginSchema.parse({ url: 'http://o.test/base', host_header: 'site.example' }),
  ]).pick() as OriginChoice;
  const group: OriginGroup = { size: 1, choices: [], pick: () => choice };
  const choice: OriginChoice = {
    ...base,
    group,
    health: {
      ...base.health,
      key: `${base.health.key} fast`,
      check: {
        path: '/hc?deep=1',
        intervalMs: 5,
        timeoutMs: 100,
        healthyThreshold: thresholds.up,
        unhealthyThreshold: thresholds.down,
      },
    },
  };
  (group.choices as OriginChoice[]).push(choice);
  return choice;
}

async function until(check: () => boolean, ms = 2_000): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > ms) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

describe('active health checks', () => {
  it('go down after unhealthy_threshold failed checks and up after healthy_threshold good ones', async () => {
    const pool = fakePool();
    const health = new OriginHealthRegistry({ poolOf: () => pool as unknown as Dispatcher });
    const events: HealthEvent[] = [];
    health.observe((e) => events.push(e));
    const choice = checkedChoice({ up: 2, down: 3 });
    const state = health.stateOf(choice);
    try {
      await until(() => pool.requests.length >= 2);
      assert.equal(state.isCheckedUp, true);
      assert.deepEqual(pool.requests[0], { path: '/base/hc?deep=1', host: 'site.example' });
      pool.status = 500;
      const before = pool.requests.length;
      await until(() => !state.isCheckedUp);
      assert.ok(pool.requests.length - before >= 3, 'three failures in a row');
      assert.equal(state.canSend(), false);
      assert.equal(state.acquire(), false);
      assert.equal(health.isUsable(choice), false);
      pool.status = null; // refused: still down
      await until(() => pool.requests.length > before + 5);
      assert.equal(state.isCheckedUp, false);
      pool.status = 204;
      await until(() => state.isCheckedUp);
      assert.equal(state.canSend(), true);
      assert.deepEqual(
        events.map((e) => e.transition),
        ['down', 'up'],
      );
      assert.equal(events[0]?.origin, 'http://o.test');
    } finally {
      health.close();
    }
  });

  it('a check that passes again closes an open circuit', async () => {
    const pool = fakePool();
    pool.status = 500;
    const health = new OriginHealthRegistry({ poolOf: () => pool as unknown as Dispatcher });
    const choice = checkedChoice({ up: 1, down: 1 });
    const state = health.stateOf(choice);
    try {
      await until(() => !state.isCheckedUp);
      for (let i = 0; i < 5; i++) state.onFailure();
      assert.equal(state.breakerState, 'open');
      pool.status = 200;
      await until(() => state.isCheckedUp);
      assert.equal(state.breakerState, 'closed');
    } finally {
      health.close();
    }
  });

  it('the first use of an origin starts the checks of every origin of its zone', async () => {
    const pool = fakePool();
    const health = new OriginHealthRegistry({ poolOf: () => pool as unknown as Dispatcher });
    const group = new WeightedOrigins(
      ['/one', '/two'].map((path) =>
        OriginSchema.parse({ url: `http://${path.slice(1)}.test`, health_check_path: path }),
      ),
    );
    try {
      health.stateOf(group.pick() as OriginChoice);
      assert.equal([...health.states()].length, 2);
      await until(() => pool.requests.length >= 2);
      assert.deepEqual(pool.requests.map((r) => r.path).sort(), ['/one', '/two']);
    } finally {
      health.close();
    }
  });

  it('records unused for a sweep period are dropped and their checks stop', async () => {
    const pool = fakePool();
    const health = new OriginHealthRegistry({ poolOf: () => pool as unknown as Dispatcher });
    const choice = checkedChoice({ up: 1, down: 1 });
    const state = health.stateOf(choice);
    try {
      await until(() => pool.requests.length >= 1);
      health.sweep(); // used since the last sweep: kept, marked unused
      assert.equal([...health.states()].length, 1);
      health.sweep(); // unused for a whole period: dropped
      assert.equal([...health.states()].length, 0);
      const seen = pool.requests.length;
      await new Promise((r) => setTimeout(r, 30));
      assert.ok(pool.requests.length <= seen + 1, 'its checks stopped');
      assert.notEqual(health.stateOf(choice), state, 'a later use starts afresh');
    } finally {
      health.close();
    }
  });
});
