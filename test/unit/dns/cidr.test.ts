// Addresses and prefixes as bytes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CidrTable,
  firstDifferentBit,
  formatIp,
  maskBytes,
  parseCidr,
  parseIp,
} from '../../../src/dns/cidr.ts';

describe('parseIp / formatIp', () => {
  it('reads IPv4, IPv6 and IPv4-mapped IPv6 (as IPv4)', () => {
    assert.deepEqual(parseIp('192.0.2.1'), { family: 4, bytes: Uint8Array.from([192, 0, 2, 1]) });
    assert.deepEqual(parseIp('::ffff:192.0.2.1'), { family: 4, bytes: Uint8Array.from([192, 0, 2, 1]) });
    const v6 = parseIp('2001:db8::1');
    assert.equal(v6?.family, 6);
    assert.equal(formatIp(v6!), '2001:db8::1');
    assert.equal(formatIp(parseIp('::')!), '::');
    assert.equal(formatIp(parseIp('::1')!), '::1');
    assert.equal(formatIp(parseIp('fe80:0:0:1:0:0:0:1')!), 'fe80:0:0:1::1');
    assert.equal(formatIp(parseIp('64:ff9b::192.0.2.33')!), '64:ff9b::c000:221');
  });

  it('refuses what is not an address', () => {
    for (const bad of ['', '1.2.3', '256.1.1.1', '1::2::3', 'example.com', '12345::', ':::']) {
      assert.equal(parseIp(bad), null, bad);
    }
  });
});

describe('parseCidr', () => {
  it('masks the host bits; a bare address is a full-length prefix', () => {
    assert.deepEqual(parseCidr('192.0.2.77/24'), {
      family: 4,
      bytes: Uint8Array.from([192, 0, 2, 0]),
      prefix: 24,
    });
    assert.equal(parseCidr('2001:db8::1').prefix, 128);
    assert.equal(parseCidr('10.0.0.1').prefix, 32);
    assert.equal(parseCidr('::ffff:10.0.0.0/104').prefix, 8, 'an IPv4-mapped prefix is its IPv4 prefix');
    assert.equal(formatIp(parseCidr('2001:db8:abcd:12::/50')), '2001:db8:abcd::');
  });

  it('refuses bad prefixes', () => {
    for (const bad of [
      '10.0.0.0/33',
      '10.0.0.0/',
      '10.0.0.0/x',
      '2001:db8::/129',
      'nope/8',
      '10.0.0.0/8/8',
    ]) {
      assert.throws(() => parseCidr(bad), RangeError, bad);
    }
  });
});

describe('bits', () => {
  it('maskBytes clears bits past the prefix', () => {
    assert.deepEqual(maskBytes(Uint8Array.from([255, 255, 255, 255]), 13), Uint8Array.from([255, 248, 0, 0]));
    assert.deepEqual(maskBytes(Uint8Array.from([1, 2, 3, 4]), 0), Uint8Array.from([0, 0, 0, 0]));
  });

  it('firstDifferentBit', () => {
    assert.equal(firstDifferentBit(Uint8Array.from([10, 0, 0, 0]), Uint8Array.from([10, 0, 0, 0])), 32);
    assert.equal(firstDifferentBit(Uint8Array.from([10, 0, 0, 0]), Uint8Array.from([10, 128, 0, 0])), 8);
    assert.equal(firstDifferentBit(Uint8Array.from([10, 0, 0, 0]), Uint8Array.from([10, 0, 1, 0])), 23);
  });
});

describe('CidrTable', () => {
  const table = new CidrTable<string>();
  table.add(parseCidr('10.0.0.0/8'), 'eight');
  table.add(parseCidr('10.1.0.0/16'), 'sixteen');
  table.add(parseCidr('10.1.2.0/24'), 'twenty-four');
  table.add(parseCidr('2001:db8::/32'), 'v6');

  it('answers with the longest matching prefix', () => {
    assert.deepEqual(table.lookup(parseIp('10.1.2.3')!), { value: 'twenty-four', prefix: 24 });
    assert.deepEqual(table.lookup(parseIp('10.1.9.9')!), { value: 'sixteen', prefix: 16 });
    assert.deepEqual(table.lookup(parseIp('10.200.0.1')!), { value: 'eight', prefix: 8 });
    assert.equal(table.lookup(parseIp('11.0.0.1')!), null);
    assert.deepEqual(table.lookup(parseIp('2001:db8:1::5')!), { value: 'v6', prefix: 32 });
    assert.equal(table.lookup(parseIp('::ffff:10.1.2.3')!)?.value, 'twenty-four');
  });

  it('refineScope narrows a scope that would cover a more specific entry', () => {
    // 10.200.0.1 is decided by /8, but a /8 answer would also cover 10.1.0.0/16: the scope must
    // separate them, at the first bit where 10.200… and 10.1… differ (bit 8) plus one.
    assert.equal(table.refineScope(parseIp('10.200.0.1')!, 8), 9);
    // 10.1.9.9 is decided by /16, and 10.1.2.0/24 sits inside it: they differ at bit 20.
    assert.equal(table.refineScope(parseIp('10.1.9.9')!, 16), 21);
    // Nothing more specific inside: unchanged.
    assert.equal(table.refineScope(parseIp('10.1.2.3')!, 24), 24);
    assert.equal(table.refineScope(parseIp('11.0.0.1')!, 0), 8, 'a /0 answer must not cover 10/8');
  });
});
