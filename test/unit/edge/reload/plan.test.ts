// SIGHUP's plan for an edge (src/edge/reload.ts): which re-read settings apply in place and which
// are named as needing a restart; nothing of a restart-only change is applied.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseEdgeArgs } from '../../../../src/cli/commands/edge.ts';
import type { EdgeConfig } from '../../../../src/edge/config.ts';
import { applyLive, planReload } from '../../../../src/edge/reload.ts';

function edge(...flags: string[]): EdgeConfig {
  const config = parseEdgeArgs(['--origin', 'http://127.0.0.1:9000', '--cache-dir', '/tmp/x', ...flags]);
  assert.ok(config !== 'help');
  return config;
}

describe('edge reload plan', () => {
  it('the same settings: nothing to do', () => {
    assert.deepEqual(planReload(edge(), edge()), { applied: [], restart: [] });
  });

  it('origin, host header, default TTL and origin timeouts apply; listeners and cache sizes need a restart', () => {
    const running = edge();
    const next = edge(
      ...['--origin', 'http://127.0.0.1:9001', '--host-header', 'origin', '--default-ttl', '5m'],
      ...['--origin-timeout', '5s', '--listen', '127.0.0.1:8081', '--memory-cache-size', '64M'],
    );
    const plan = planReload(running, next);
    assert.deepEqual(plan.applied.sort(), ['default-ttl', 'host-header', 'origin', 'origin-timeout']);
    assert.deepEqual(plan.restart.sort(), ['listen', 'memory-cache-size']);
    applyLive(running, next);
    assert.equal(running.origin?.port, '9001');
    assert.equal(running.hostHeader, 'origin');
    assert.equal(running.policy.defaultTtlSec, 300);
    assert.equal(running.timeouts.originHeadersMs, 5000);
    // Restart-only settings keep their running values.
    assert.equal(running.listen.port, 8080);
    assert.equal(running.memoryCacheBytes, 256 * 1024 ** 2);
  });

  it('standalone to managed is a restart, and applies nothing', () => {
    const managed = parseEdgeArgs([
      ...['--control', 'http://127.0.0.1:8700', '--pop', 'fra', '--node', 'fra-1', '--token', 't'],
      ...['--cache-dir', '/tmp/x'],
    ]);
    assert.ok(managed !== 'help');
    const plan = planReload(edge(), managed);
    assert.deepEqual(plan.applied, []);
    assert.ok(plan.restart.includes('origin') && plan.restart.includes('control'), plan.restart.join());
  });
});
