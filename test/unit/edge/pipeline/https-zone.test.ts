// Strict-Transport-Security values from a zone's hsts settings (RFC 6797 §6.1), one per settings object.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hostWithoutPort, hstsValueOf } from '../../../../src/edge/pipeline/https-zone.ts';

describe('HSTS value', () => {
  it('max-age, then includeSubDomains and preload when set; null when off', () => {
    const base = { enabled: true, max_age: 31_536_000, include_subdomains: false, preload: false };
    assert.equal(hstsValueOf(base), 'max-age=31536000');
    assert.equal(hstsValueOf({ ...base, include_subdomains: true }), 'max-age=31536000; includeSubDomains');
    assert.equal(
      hstsValueOf({ ...base, max_age: 600, include_subdomains: true, preload: true }),
      'max-age=600; includeSubDomains; preload',
    );
    assert.equal(hstsValueOf({ ...base, enabled: false }), null);
  });

  it('returns the same string for the same settings object (the hit head compares by identity)', () => {
    const settings = { enabled: true, max_age: 60, include_subdomains: false, preload: false };
    assert.equal(hstsValueOf(settings), hstsValueOf(settings));
  });

  it('redirect targets drop the port, but not an IPv6 literal', () => {
    assert.equal(hostWithoutPort('a.example:8080'), 'a.example');
    assert.equal(hostWithoutPort('a.example'), 'a.example');
    assert.equal(hostWithoutPort('[::1]'), '[::1]');
    assert.equal(hostWithoutPort('[::1]:8080'), '[::1]');
  });
});
