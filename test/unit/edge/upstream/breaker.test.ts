import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CircuitBreaker } from '../../../../src/edge/upstream/breaker.ts';

describe('CircuitBreaker', () => {
  it('opens after `failures` consecutive failures; a success in between resets the count', () => {
    const b = new CircuitBreaker({ failures: 3, cooldownMs: 1000 });
    assert.equal(b.onFailure(0), false);
    assert.equal(b.onFailure(0), false);
    b.onSuccess();
    assert.equal(b.onFailure(0), false);
    assert.equal(b.onFailure(0), false);
    assert.equal(b.stateAt(0), 'closed');
    assert.equal(b.onFailure(10), true, 'the third in a row opens it');
    assert.equal(b.stateAt(10), 'open');
    assert.equal(b.canSend(500), false);
    assert.equal(b.acquire(500), false);
  });

  it('after the cool-down lets exactly one trial through; its success closes the circuit', () => {
    const b = new CircuitBreaker({ failures: 1, cooldownMs: 1000 });
    b.onFailure(0);
    assert.equal(b.stateAt(999), 'open');
    assert.equal(b.stateAt(1000), 'half-open');
    assert.equal(b.canSend(1000), true);
    assert.equal(b.acquire(1000), true, 'the trial');
    assert.equal(b.canSend(1001), false, 'one trial at a time');
    assert.equal(b.acquire(1001), false);
    b.onSuccess();
    assert.equal(b.stateAt(1002), 'closed');
    assert.equal(b.acquire(1002), true);
    assert.equal(b.acquire(1002), true, 'closed: every request');
  });

  it('a failed trial opens it for another cool-down', () => {
    const b = new CircuitBreaker({ failures: 2, cooldownMs: 100 });
    b.onFailure(0);
    b.onFailure(0);
    assert.equal(b.acquire(100), true);
    assert.equal(b.onFailure(150), true);
    assert.equal(b.stateAt(200), 'open');
    assert.equal(b.stateAt(250), 'half-open');
  });

  it('late failures of requests sent before it opened do not extend the cool-down', () => {
    const b = new CircuitBreaker({ failures: 1, cooldownMs: 100 });
    b.onFailure(0);
    assert.equal(b.onFailure(90), false);
    assert.equal(b.stateAt(100), 'half-open');
  });

  it('a trial that never reports is forgotten after two minutes', () => {
    const b = new CircuitBreaker({ failures: 1, cooldownMs: 100 });
    b.onFailure(0);
    assert.equal(b.acquire(100), true);
    assert.equal(b.acquire(60_000), false);
    assert.equal(b.acquire(120_100), true);
  });

  it('reset closes it and forgets failures', () => {
    const b = new CircuitBreaker({ failures: 2, cooldownMs: 100 });
    b.onFailure(0);
    b.onFailure(0);
    b.reset();
    assert.equal(b.stateAt(1), 'closed');
    assert.equal(b.onFailure(1), false);
  });
});
