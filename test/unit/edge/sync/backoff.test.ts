import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffDelayMs } from '../../../../src/edge/sync/backoff.ts';

const options = { initialMs: 100, maxMs: 1_000 };

test('backoff doubles per attempt between half and all of the ceiling, capped at maxMs', () => {
  const rows: [attempt: number, random: number, delayMs: number][] = [
    [0, 0, 50],
    [0, 1, 100],
    [1, 0, 100],
    [1, 1, 200],
    [3, 0.5, 600],
    [4, 1, 1_000],
    [10, 0, 500],
    [1_000, 1, 1_000],
  ];
  for (const [attempt, random, delayMs] of rows) {
    assert.equal(
      backoffDelayMs(attempt, options, () => random),
      delayMs,
      `attempt ${attempt}, random ${random}`,
    );
  }
});
