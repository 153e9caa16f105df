// meridian control --api-rate/--api-burst and --purge-rate/--purge-burst: defaults, the N/s form,
// and a clear error naming the flag for a rate of 0 or a burst under one call.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CONTROL_HELP, parseControlArgs } from '../../../src/cli/commands/control.ts';
import { DEFAULT_API_RATE } from '../../../src/control/api/limits.ts';

const configOf = (argv: string[]) => {
  const config = parseControlArgs(argv);
  assert.notEqual(config, 'help');
  if (config === 'help') throw new Error('help');
  return config;
};

describe('meridian control --api-rate/--api-burst', () => {
  it('defaults to DEFAULT_API_RATE (50/s, burst 200); N and N/s both mean per second', () => {
    assert.deepEqual(configOf([]).apiRate, DEFAULT_API_RATE);
    assert.deepEqual(DEFAULT_API_RATE, { perSecond: 50, burst: 200 });
    assert.deepEqual(configOf(['--api-rate', '10/s', '--api-burst', '30']).apiRate, {
      perSecond: 10,
      burst: 30,
    });
    assert.equal(configOf(['--api-rate', '0.5']).apiRate?.perSecond, 0.5);
  });
  it('a rate of 0, a word or a burst under 1 is a usage error naming the flag', () => {
    assert.throws(() => parseControlArgs(['--api-rate', '0']), /--api-rate: expected a number > 0/);
    assert.throws(() => parseControlArgs(['--api-rate', 'fast']), /--api-rate/);
    assert.throws(() => parseControlArgs(['--api-rate', '5/m']), /--api-rate/);
    assert.throws(() => parseControlArgs(['--api-burst', '0.5']), /--api-burst: expected a number >= 1/);
    assert.throws(() => parseControlArgs(['--purge-burst', '0']), /--purge-burst: expected a number >= 1/);
  });
  it('--help documents both flags', () => {
    assert.match(CONTROL_HELP, /--api-rate N\[\/s\]/);
    assert.match(CONTROL_HELP, /--api-burst N/);
  });
});
