// Node health from probes: down after `fall` failures, up after `rise` successes.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import type { NodeInfo } from '../../../src/common/config/topology.ts';
import { createLogger } from '../../../src/common/log.ts';
import { HealthChecker, nextHealth, probeUrl, type HealthState } from '../../../src/dns/health.ts';

const RULES = { fall: 2, rise: 2 };

describe('nextHealth', () => {
  it('the first result decides; then two in a row change the state', () => {
    let state: HealthState = { healthy: null, streak: 0 };
    const step = (ok: boolean) => (state = nextHealth(state, ok, RULES)).healthy;
    assert.equal(step(true), true);
    assert.equal(step(false), true, 'one failure is not enough');
    assert.equal(step(true), true, 'a success resets the count');
    assert.equal(step(false), true);
    assert.equal(step(false), false, 'two in a row');
    assert.equal(step(true), false);
    assert.equal(step(true), true);
    assert.equal(nextHealth({ healthy: null, streak: 0 }, false, RULES).healthy, false);
  });
});

describe('probeUrl', () => {
  it('uses the admin /healthz when the node has one, else the node itself', () => {
    assert.deepEqual(probeUrl({ url: 'http://10.0.0.1:8080', admin_url: 'http://10.0.0.1:9090/' }), {
      url: 'http://10.0.0.1:9090/healthz',
      needOk: true,
    });
    assert.deepEqual(probeUrl({ url: 'http://10.0.0.1:8080', admin_url: null }), {
      url: 'http://10.0.0.1:8080',
      needOk: false,
    });
  });
});

describe('HealthChecker', () => {
  it('probes real HTTP endpoints: 200 on /healthz is healthy, a 503 or a closed port is not', async () => {
    const server = createServer((req, res) => res.writeHead(req.url === '/healthz' ? 200 : 503).end());
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const node = (name: string, admin: string | null, url = 'http://127.0.0.1:1'): NodeInfo => ({
      name,
      pop: 'p',
      url,
      admin_url: admin,
      status: 'up',
      last_heartbeat_at: null,
      applied_seq: 0,
      registered_at: '',
    });
    let changes = 0;
    const checker = new HealthChecker(
      { intervalMs: 50, timeoutMs: 300, fall: 2, rise: 2 },
      createLogger('test', 'error'),
      () => changes++,
    );
    checker.setNodes([
      node('ok', base),
      node('bad-status', `${base}/sub`),
      node('closed', 'http://127.0.0.1:1'),
      node('no-admin', null, base),
    ]);
    try {
      await checker.start();
      assert.equal(checker.isHealthy('ok'), true);
      assert.equal(checker.isHealthy('bad-status'), false);
      assert.equal(checker.isHealthy('closed'), false);
      assert.equal(checker.isHealthy('no-admin'), true, 'any HTTP answer means reachable');
      assert.equal(checker.isHealthy('unknown'), false);
      assert.ok(changes >= 4);
      server.close();
      server.closeAllConnections();
      const started = Date.now();
      while (checker.isHealthy('ok') && Date.now() - started < 3_000)
        await new Promise((r) => setTimeout(r, 20));
      assert.equal(checker.isHealthy('ok'), false, 'down after two failed probes');
    } finally {
      await checker.close();
      server.close();
    }
  });
});
