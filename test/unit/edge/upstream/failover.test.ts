import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import type { Dispatcher } from 'undici';
import { OriginSchema } from '../../../../src/common/config/zone.ts';
import type { MeridianError } from '../../../../src/common/errors.ts';
import { failoverRuleFor, sendWithFailover, withHostFor } from '../../../../src/edge/upstream/failover.ts';
import { OriginHealthRegistry } from '../../../../src/edge/upstream/health.ts';
import type { UpstreamResponse } from '../../../../src/edge/upstream/origin-client.ts';
import type { OriginChoice } from '../../../../src/edge/zones/types.ts';
import { WeightedOrigins } from '../../../../src/edge/zones/weighted-origins.ts';

const NO_POOL = { request: () => Promise.reject(new Error('no checks here')) } as unknown as Dispatcher;

/** Three origins a, b, c (weights 1), the circuit opening after 2 failures for 1 s. */
function setup(extra: Record<string, unknown> = {}) {
  const group = new WeightedOrigins(
    ['a', 'b', 'c'].map((name) =>
      OriginSchema.parse({
        url: `http://${name}.test`,
        circuit_breaker: { failures: 2, cooldown_sec: 1 },
        ...extra,
      }),
    ),
  );
  const clock = { ms: 1_000 };
  const health = new OriginHealthRegistry({ poolOf: () => NO_POOL, now: () => clock.ms });
  const first = group.pick() as OriginChoice;
  return { group, health, clock, first };
}

const refused = () => Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
const reset = () => Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });

function answer(status: number): UpstreamResponse {
  return { status, headers: {}, body: Readable.from([]), requestTimeMs: 0, responseTimeMs: 0 };
}

/** A send that records the hosts it was called for and behaves per host. */
function sender(behaviour: Record<string, () => UpstreamResponse>) {
  const calls: string[] = [];
  return {
    calls,
    send: async (origin: OriginChoice) => {
      calls.push(origin.url.hostname);
      return (behaviour[origin.url.hostname] ?? (() => answer(200)))();
    },
  };
}

describe('sendWithFailover', () => {
  it('goes to the next origin when the first refuses the connection, in the same request', async () => {
    const { health, first } = setup();
    const s = sender({
      [first.url.hostname]: () => {
        throw refused();
      },
    });
    const res = await sendWithFailover(health, first, {
      send: s.send,
      mayFailover: failoverRuleFor('GET', false),
    });
    assert.equal(res.status, 200);
    assert.equal(s.calls.length, 2);
    assert.equal(s.calls[0], first.url.hostname);
    assert.equal(health.failovers, 1);
  });

  it('forwards an answer, 5xx included, without trying another origin', async () => {
    const { health, first } = setup();
    const s = sender({ [first.url.hostname]: () => answer(503) });
    const res = await sendWithFailover(health, first, {
      send: s.send,
      mayFailover: failoverRuleFor('GET', false),
    });
    assert.equal(res.status, 503);
    assert.deepEqual(s.calls, [first.url.hostname]);
  });

  it('tries each origin once, then throws the last error', async () => {
    const { health, first } = setup();
    const s = sender({
      'a.test': () => {
        throw refused();
      },
      'b.test': () => {
        throw reset();
      },
      'c.test': () => {
        throw refused();
      },
    });
    await assert.rejects(
      sendWithFailover(health, first, { send: s.send, mayFailover: failoverRuleFor('GET', false) }),
      (err: MeridianError) => err.code === 'ORIGIN_UNREACHABLE',
    );
    assert.deepEqual([...s.calls].sort(), ['a.test', 'b.test', 'c.test']);
  });

  it('a non-idempotent request moves on only when it was never sent', async () => {
    const { health, first } = setup();
    const rule = failoverRuleFor('POST', false);
    const refusedFirst = sender({
      [first.url.hostname]: () => {
        throw refused();
      },
    });
    assert.equal(
      (await sendWithFailover(health, first, { send: refusedFirst.send, mayFailover: rule })).status,
      200,
    );
    const resetFirst = sender({
      [first.url.hostname]: () => {
        throw reset();
      },
    });
    await assert.rejects(sendWithFailover(health, first, { send: resetFirst.send, mayFailover: rule }));
    assert.equal(resetFirst.calls.length, 1, 'a reset connection may have delivered the request');
  });

  it('a request with a body never goes to a second origin once sent (its body is consumed)', async () => {
    const { health, first } = setup();
    const s = sender({
      [first.url.hostname]: () => {
        throw refused();
      },
    });
    await assert.rejects(
      sendWithFailover(health, first, { send: s.send, mayFailover: failoverRuleFor('PUT', true) }),
    );
    assert.equal(s.calls.length, 1);
  });

  it('opens the circuit after consecutive failures; the origin is then skipped without an attempt', async () => {
    const { health, group, clock } = setup();
    const a = (group as unknown as { pick(): OriginChoice }).pick();
    const aFails = sender({
      [a.url.hostname]: () => {
        throw refused();
      },
    });
    const rule = failoverRuleFor('GET', false);
    await sendWithFailover(health, a, { send: aFails.send, mayFailover: rule });
    await sendWithFailover(health, a, { send: aFails.send, mayFailover: rule });
    assert.equal(health.stateOf(a).breakerState, 'open');
    aFails.calls.length = 0;
    const res = await sendWithFailover(health, a, { send: aFails.send, mayFailover: rule });
    assert.equal(res.status, 200);
    assert.ok(!aFails.calls.includes(a.url.hostname), 'no connection attempt while open');
    // After the cool-down one trial goes to it; it succeeds and the circuit closes.
    clock.ms += 1_000;
    const healed = sender({});
    await sendWithFailover(health, a, { send: healed.send, mayFailover: rule });
    assert.deepEqual(healed.calls, [a.url.hostname]);
    assert.equal(health.stateOf(a).breakerState, 'closed');
  });

  it('5xx answers count as passive failures too', async () => {
    const { health, first } = setup();
    const s = sender({ [first.url.hostname]: () => answer(502) });
    const rule = failoverRuleFor('GET', false);
    await sendWithFailover(health, first, { send: s.send, mayFailover: rule });
    assert.equal(health.stateOf(first).breakerState, 'closed');
    await sendWithFailover(health, first, { send: s.send, mayFailover: rule });
    assert.equal(health.stateOf(first).breakerState, 'open');
    assert.equal(health.stateOf(first).failures, 2);
  });

  it('every origin down: ORIGIN_ALL_DOWN at once, no attempt', async () => {
    const { health, group, first } = setup();
    const all = sender({
      'a.test': () => {
        throw refused();
      },
      'b.test': () => {
        throw refused();
      },
      'c.test': () => {
        throw refused();
      },
    });
    const rule = failoverRuleFor('GET', false);
    for (let i = 0; i < 2; i++)
      await assert.rejects(sendWithFailover(health, first, { send: all.send, mayFailover: rule }));
    all.calls.length = 0;
    const started = performance.now();
    await assert.rejects(
      sendWithFailover(health, group.pick() as OriginChoice, { send: all.send, mayFailover: rule }),
      (err: MeridianError) => err.code === 'ORIGIN_ALL_DOWN' && err.status === 503,
    );
    assert.deepEqual(all.calls, []);
    assert.ok(performance.now() - started < 50);
  });
});

describe('WeightedOrigins with health', () => {
  it('origins refused by isUsable are skipped and the rest share the load by weight', () => {
    const group = new WeightedOrigins(
      [1, 2, 1].map((weight, i) => OriginSchema.parse({ url: `http://o${i}.test`, weight })),
    );
    const counts = [0, 0, 0];
    for (let i = 0; i < 300; i++) {
      const c = group.pick(undefined, (o) => o.index !== 1) as OriginChoice;
      counts[c.index] = (counts[c.index] ?? 0) + 1;
    }
    assert.deepEqual(counts, [150, 0, 150]);
    const only = new WeightedOrigins([OriginSchema.parse({ url: 'http://one.test' })]);
    assert.equal(
      only.pick(undefined, () => false),
      undefined,
    );
    assert.equal(only.size, 1);
  });

  it('zones listing the same origin with the same settings share one health record; other settings do not', () => {
    const health = new OriginHealthRegistry({ poolOf: () => NO_POOL });
    const zoneA = new WeightedOrigins([OriginSchema.parse({ url: 'http://shared.test/a' })]);
    const zoneB = new WeightedOrigins([OriginSchema.parse({ url: 'http://shared.test/b' })]);
    const zoneC = new WeightedOrigins([
      OriginSchema.parse({ url: 'http://shared.test/', host_header: 'c.example' }),
    ]);
    const a = health.stateOf(zoneA.pick() as OriginChoice);
    assert.equal(health.stateOf(zoneB.pick() as OriginChoice), a);
    assert.notEqual(health.stateOf(zoneC.pick() as OriginChoice), a);
    health.close();
  });

  it('health_check_path is the shorthand of health_check with the defaults', () => {
    const [short] = [
      new WeightedOrigins([OriginSchema.parse({ url: 'http://h.test', health_check_path: '/hc' })]),
    ];
    const check = (short?.pick() as OriginChoice).health.check;
    assert.deepEqual(check, {
      path: '/hc',
      intervalMs: 5_000,
      timeoutMs: 2_000,
      healthyThreshold: 2,
      unhealthyThreshold: 3,
    });
    assert.equal(
      OriginSchema.safeParse({ url: 'http://h.test', health_check_path: '/a', health_check: { path: '/b' } })
        .success,
      false,
    );
  });
});

describe('withHostFor', () => {
  const group = new WeightedOrigins([
    OriginSchema.parse({ url: 'http://a.test' }),
    OriginSchema.parse({ url: 'http://b.test', host_header: 'b.example' }),
  ]);
  const a = group.pick() as OriginChoice;
  const b = group.pick() as OriginChoice;

  it("sends the other origin's Host header, or the client's", () => {
    assert.equal(withHostFor(b, a, { host: 'shop.example' }, 'http://shop.example/x').host, 'b.example');
    assert.equal(withHostFor(a, b, { host: 'b.example' }, 'http://shop.example/x').host, 'shop.example');
    const same = { host: 'shop.example' };
    assert.equal(withHostFor(a, a, same, 'http://shop.example/x'), same);
  });
});
