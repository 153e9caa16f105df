// The admin URL a managed node registers: its listener's address, or, for a wildcard listener
// (containers bind 0.0.0.0), its public URL's host, never http://0.0.0.0 (GeoDNS would probe itself).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { registeredAdminUrl } from '../../../../src/edge/sync/admin-url.ts';

describe('registeredAdminUrl', () => {
  it('is the listener address when it is a concrete one', () => {
    const admin = { address: '10.0.0.5', family: 'IPv4', port: 9180 };
    assert.equal(registeredAdminUrl(admin, 'http://203.0.113.10'), 'http://10.0.0.5:9180');
    const v6 = { address: '2001:db8::5', family: 'IPv6', port: 9180 };
    assert.equal(registeredAdminUrl(v6, 'http://203.0.113.10'), 'http://[2001:db8::5]:9180');
  });

  it("takes the public URL's host for a wildcard listener", () => {
    for (const address of ['0.0.0.0', '::']) {
      const admin = { address, family: address === '::' ? 'IPv6' : 'IPv4', port: 9180 };
      assert.equal(registeredAdminUrl(admin, 'http://172.28.0.21:8080'), 'http://172.28.0.21:9180');
      assert.equal(registeredAdminUrl(admin, 'https://[2001:db8::7]:8443'), 'http://[2001:db8::7]:9180');
    }
  });
});
