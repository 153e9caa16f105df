// The label rule: hostname → <label>.<zone>.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ZoneSettingsSchema, type Zone } from '../../../src/common/config/zone.ts';
import { buildLabels, cdnLabel } from '../../../src/dns/labels.ts';

function zone(name: string, hostnames: string[], dnsPops?: string[]): Zone {
  return {
    id: `id-${name}`,
    name,
    hostnames,
    origins: [{ url: 'http://127.0.0.1:9', weight: 1 }],
    shield_pop: null,
    settings: {
      ...ZoneSettingsSchema.parse({}),
      ...(dnsPops === undefined ? {} : { dns_pops: dnsPops }),
    },
    created_at: '',
    updated_at: '',
  };
}

describe('cdnLabel', () => {
  it('lower-cases and turns "." and "_" into "-"', () => {
    assert.equal(cdnLabel('www.customer.com'), 'www-customer-com');
    assert.equal(cdnLabel('WWW.Customer.COM'), 'www-customer-com');
    assert.equal(cdnLabel('my_zone.v2'), 'my-zone-v2');
    assert.equal(cdnLabel('shop'), 'shop');
  });

  it('refuses what cannot be one DNS label', () => {
    assert.equal(cdnLabel(`${'a'.repeat(60)}.com`), null, '64 characters');
    assert.equal(cdnLabel(`${'a'.repeat(59)}.com`), `${'a'.repeat(59)}-com`, '63 characters is the limit');
    assert.equal(cdnLabel(''), null);
    assert.equal(cdnLabel('a b'), null);
  });
});

describe('buildLabels', () => {
  it('gives every hostname and the zone name a label, with the zone restrictions', () => {
    const { labels, problems } = buildLabels([
      zone('shop', ['www.customer.com', 'static.customer.com']),
      zone('eu', ['eu.customer.org'], ['fra']),
    ]);
    assert.deepEqual([...labels.keys()].sort(), [
      'eu',
      'eu-customer-org',
      'shop',
      'static-customer-com',
      'www-customer-com',
    ]);
    assert.deepEqual(labels.get('eu-customer-org')?.pops, ['fra']);
    assert.equal(labels.get('www-customer-com')?.pops, null);
    assert.equal(labels.get('www-customer-com')?.zoneName, 'shop');
    assert.deepEqual(problems, []);
  });

  it('a collision keeps the label with the zone first by name, and says so', () => {
    const { labels, problems } = buildLabels([zone('zeta', ['a.b-c.com']), zone('alpha', ['a-b.c.com'])]);
    assert.equal(labels.get('a-b-c-com')?.zoneName, 'alpha');
    assert.equal(problems.length, 1);
    assert.match(problems[0] as string, /a-b-c-com of zone zeta .* already belongs to zone alpha/);
  });

  it('a zone name equal to one of its hostnames is one label, not a collision', () => {
    const { labels, problems } = buildLabels([zone('www.customer.com', ['www.customer.com'])]);
    assert.equal(labels.size, 1);
    assert.deepEqual(problems, []);
  });

  it('reports hostnames too long for a label', () => {
    const long = `${'x'.repeat(40)}.${'y'.repeat(40)}.com`;
    const { labels, problems } = buildLabels([zone('long', [long])]);
    assert.deepEqual([...labels.keys()], ['long']);
    assert.match(problems[0] as string, /has no label/);
  });
});
