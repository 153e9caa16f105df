// EDNS Client Subnet (RFC 7871) option bytes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clientSubnetReply, parseClientSubnet } from '../../../src/dns/ecs.ts';

const hex = (s: string) => Buffer.from(s, 'hex');

describe('parseClientSubnet', () => {
  it('reads IPv4 and IPv6 subnets', () => {
    const v4 = parseClientSubnet(hex('000118' + '00' + 'c63364'));
    assert.ok(typeof v4 !== 'string');
    assert.equal(v4.family, 4);
    assert.equal(v4.sourcePrefix, 24);
    assert.equal(v4.text, '198.51.100.0');
    const v6 = parseClientSubnet(hex('000238' + '00' + '20010db8000102'));
    assert.ok(typeof v6 !== 'string');
    assert.equal(v6.text, '2001:db8:1:200::');
    const zero = parseClientSubnet(hex('00010000'));
    assert.ok(typeof zero !== 'string');
    assert.equal(zero.sourcePrefix, 0);
  });

  it('refuses what RFC 7871 calls malformed', () => {
    const bad: [string, RegExp][] = [
      ['0001', /shorter/],
      ['0003080001', /family 3/],
      ['000121000a000000000000', /longer than 32/],
      ['0001180801020304', /scope/],
      ['00011800010203' + '04', /4 bytes/],
      ['0001180001', /1 bytes/],
      ['00010f000103', /beyond/],
    ];
    for (const [data, why] of bad) assert.match(String(parseClientSubnet(hex(data))), why, data);
  });
});

describe('clientSubnetReply', () => {
  it('echoes family, source and address with our scope', () => {
    const subnet = parseClientSubnet(hex('000118' + '00' + 'c63364'));
    assert.ok(typeof subnet !== 'string');
    assert.equal(clientSubnetReply(subnet, 20).toString('hex'), '0001181' + '4' + 'c63364');
    assert.equal(clientSubnetReply(subnet, 99).toString('hex'), '00011820c63364', 'scope capped at 32');
  });
});
