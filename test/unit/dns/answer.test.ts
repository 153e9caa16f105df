// Query bytes → response bytes, without sockets: the rules of answer.ts and wire.ts, and a fuzz run.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import dnsPacket from 'dns-packet';
import type { Packet } from 'dns-packet';
import { answerQuery, ZoneNames, type ServingData } from '../../../src/dns/answer.ts';
import { CapacityGate } from '../../../src/dns/capacity.ts';
import { parseIp } from '../../../src/dns/cidr.ts';
import type { PopView } from '../../../src/dns/choose.ts';
import { GeoLocator } from '../../../src/dns/geo.ts';
import { encodeResponse, parseQuery } from '../../../src/dns/wire.ts';

const ZONE = 'cdn.example.net';
const names = new ZoneNames({
  origin: ZONE,
  nameServers: [
    { name: `ns1.dns.${ZONE}`, v4: ['192.0.2.53'], v6: ['2001:db8::53'] },
    { name: 'ns.elsewhere.org', v4: [], v6: [] },
  ],
  hostmaster: 'hostmaster.example.net',
  ttl: 30,
  apexTtl: 3600,
  maxAddresses: 8,
});
const view = (name: string, latitude: number, longitude: number, v4: string[]): PopView => ({
  name,
  latitude,
  longitude,
  capacity: 0,
  v4: v4.map((address) => ({ name: address, address, healthy: true })),
  v6: [],
});
const data: ServingData = {
  labels: new Map([
    ['www-customer-com', { zoneId: 'z', zoneName: 'shop', pops: null }],
    ['eu-customer-org', { zoneId: 'e', zoneName: 'eu', pops: ['fra'] }],
  ]),
  pops: [view('nyc', 40.71, -74.01, ['10.1.0.1', '10.1.0.2']), view('fra', 50.11, 8.68, ['10.2.0.1'])],
  serial: 2024,
  loaded: true,
};
const locator = new GeoLocator({
  subnets: [
    { cidr: '198.51.100.0/24', latitude: 40.73, longitude: -73.99 },
    { cidr: '203.0.113.0/24', latitude: 52.52, longitude: 13.4 },
  ],
  defaultLocation: { latitude: 50, longitude: 8 },
});

/** dns-packet's decoded response, as these tests read it (its types omit rcode and widen records). */
interface Rr {
  type: string;
  name: string;
  ttl?: number;
  data?: unknown;
  options?: { code: number; data?: Buffer }[];
}
interface Reply {
  id: number;
  rcode: string;
  flag_aa: boolean;
  flag_ra: boolean;
  flag_rd: boolean;
  answers?: Rr[];
  authorities?: Rr[];
  additionals?: Rr[];
}
const decode = (bytes: Buffer): Reply => dnsPacket.decode(bytes) as unknown as Reply;

function ask(packet: Packet | Buffer, serving: ServingData = data, peer = '127.0.0.1') {
  const bytes = Buffer.isBuffer(packet) ? packet : dnsPacket.encode(packet);
  const parsed = parseQuery(bytes);
  if (parsed.kind !== 'query') return { parsed, reply: null };
  const answered = answerQuery(
    parsed.query,
    { resolver: parseIp(peer), resolverText: peer },
    { names, data: serving, locator, gate: new CapacityGate(), now: 0, rotation: 0 },
  );
  return { parsed, reply: decode(encodeResponse(answered.spec)), answered };
}

const q = (name: string, type: string, extra: Partial<Packet> = {}): Packet =>
  ({
    type: 'query',
    id: 1,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type }],
    ...extra,
  }) as Packet;

function ecs(subnet: string, source: number): Partial<Packet> {
  const [ip] = subnet.split('/');
  const bytes = parseIp(ip as string)!.bytes.subarray(0, Math.ceil(source / 8));
  const data = Buffer.concat([
    Buffer.from([0, bytes.length === 16 || subnet.includes(':') ? 2 : 1, source, 0]),
    bytes,
  ]);
  return {
    additionals: [
      {
        type: 'OPT',
        name: '.',
        udpPayloadSize: 1232,
        extendedRcode: 0,
        ednsVersion: 0,
        flags: 0,
        flag_do: false,
        options: [{ code: 8, data, ip: undefined }],
      },
    ],
  };
}

function scopeOf(reply: Reply | null): number | null {
  const opt = reply?.additionals?.find((a) => a.type === 'OPT');
  const option = opt?.options?.find((o) => o.code === 8);
  return option?.data === undefined ? null : (option.data[3] as number);
}

describe('answerQuery', () => {
  it('A for a CDN label: the nearest PoP for the ECS subnet, AA set, RA clear, RD copied', () => {
    const { reply } = ask(q(`www-customer-com.${ZONE}`, 'A', ecs('198.51.100.0/24', 24)));
    assert.equal(reply?.rcode, 'NOERROR');
    assert.equal(reply?.flag_aa, true);
    assert.equal(reply?.flag_ra, false);
    assert.equal(reply?.flag_rd, true);
    assert.deepEqual(
      reply?.answers?.map((a) => a.data),
      ['10.1.0.1', '10.1.0.2'],
    );
    assert.equal(scopeOf(reply), 24);
    const berlin = ask(q(`www-customer-com.${ZONE}`, 'A', ecs('203.0.113.0/24', 24))).reply;
    assert.deepEqual(
      berlin?.answers?.map((a) => a.data),
      ['10.2.0.1', '10.1.0.1'],
    );
  });

  it('an answer that does not depend on the client has ECS scope 0', () => {
    const eu = ask(q(`eu-customer-org.${ZONE}`, 'A', ecs('198.51.100.0/24', 24))).reply;
    assert.deepEqual(
      eu?.answers?.map((a) => a.data),
      ['10.2.0.1'],
    );
    assert.equal(scopeOf(eu), 0, 'one PoP only: the same for everyone');
    assert.equal(scopeOf(ask(q(`nope.${ZONE}`, 'A', ecs('198.51.100.0/24', 24))).reply), 0);
    // Source prefix 0: the resolver's own address decides, scope 0.
    const zero = ask(q(`www-customer-com.${ZONE}`, 'A', ecs('0.0.0.0/0', 0)), data, '198.51.100.9').reply;
    assert.equal(zero?.answers?.[0]?.data, '10.1.0.1');
    assert.equal(scopeOf(zero), 0);
  });

  it('without ECS the resolver address decides', () => {
    assert.equal(
      ask(q(`www-customer-com.${ZONE}`, 'A'), data, '198.51.100.9').reply?.answers?.[0]?.data,
      '10.1.0.1',
    );
    assert.equal(
      ask(q(`www-customer-com.${ZONE}`, 'A'), data, '::ffff:203.0.113.1').reply?.answers?.[0]?.data,
      '10.2.0.1',
    );
  });

  it('apex SOA and NS with glue for in-zone name servers only', () => {
    const soa = ask(q(ZONE, 'SOA')).reply;
    assert.equal(soa?.answers?.[0]?.type, 'SOA');
    assert.deepEqual(soa?.answers?.[0]?.data, {
      mname: `ns1.dns.${ZONE}`,
      rname: 'hostmaster.example.net',
      serial: 2024,
      refresh: 3600,
      retry: 600,
      expire: 604800,
      minimum: 30,
    });
    const ns = ask(q(ZONE, 'NS')).reply;
    assert.deepEqual(
      ns?.answers?.map((a) => a.data),
      [`ns1.dns.${ZONE}`, 'ns.elsewhere.org'],
    );
    assert.deepEqual(
      ns?.additionals?.map((a) => [a.type, a.data]),
      [
        ['A', '192.0.2.53'],
        ['AAAA', '2001:db8::53'],
      ],
    );
    const any = ask(q(ZONE, 'ANY')).reply;
    assert.deepEqual(
      any?.answers?.map((a) => a.type),
      ['SOA', 'NS', 'NS'],
    );
  });

  it('NODATA for existing names (labels, name servers, empty non-terminals, the apex), NXDOMAIN otherwise', () => {
    for (const [name, type] of [
      [`www-customer-com.${ZONE}`, 'TXT'],
      [`www-customer-com.${ZONE}`, 'CNAME'],
      [`ns1.dns.${ZONE}`, 'MX'],
      [`dns.${ZONE}`, 'A'],
      [ZONE, 'A'],
    ]) {
      const reply = ask(q(name as string, type as string)).reply;
      assert.equal(reply?.rcode, 'NOERROR', `${name} ${type}`);
      assert.equal(reply?.answers?.length, 0, `${name} ${type}`);
      assert.equal(reply?.authorities?.[0]?.type, 'SOA', `${name} ${type}`);
      assert.equal((reply?.authorities?.[0] as { ttl?: number }).ttl, 30);
    }
    for (const name of [`nope.${ZONE}`, `a.www-customer-com.${ZONE}`, `x.ns1.dns.${ZONE}`]) {
      const reply = ask(q(name, 'A')).reply;
      assert.equal(reply?.rcode, 'NXDOMAIN', name);
      assert.equal(reply?.flag_aa, true);
    }
    assert.deepEqual(
      ask(q(`ns1.dns.${ZONE}`, 'A')).reply?.answers?.map((a) => a.data),
      ['192.0.2.53'],
    );
  });

  it('REFUSED outside the zone, for other classes and for transfers; AA clear', () => {
    for (const packet of [
      q('example.com', 'A'),
      q(`x${ZONE}`, 'A'),
      q('net', 'NS'),
      { ...q(ZONE, 'SOA'), questions: [{ name: ZONE, type: 'SOA', class: 'CH' }] } as Packet,
      q(ZONE, 'AXFR'),
      q(ZONE, 'IXFR'),
    ]) {
      const reply = ask(packet).reply;
      assert.equal(reply?.rcode, 'REFUSED', JSON.stringify(packet.questions));
      assert.equal(reply?.flag_aa, false);
    }
  });

  it('SERVFAIL for CDN names before the control plane ever answered', () => {
    const empty: ServingData = { labels: new Map(), pops: [], serial: 1, loaded: false };
    assert.equal(ask(q(`www-customer-com.${ZONE}`, 'A'), empty).reply?.rcode, 'SERVFAIL');
    assert.equal(ask(q(ZONE, 'SOA'), empty).reply?.rcode, 'NOERROR');
  });

  it('a label holding a "." byte is no label of ours', () => {
    const raw = dnsPacket.encode(q(`www-customer-com.${ZONE}`, 'A'));
    // Turn "www-customer-com" into "www.customer-com" inside one label.
    raw[12 + 1 + 3] = 0x2e;
    assert.equal(ask(raw).reply?.rcode, 'NXDOMAIN');
  });
});

describe('parseQuery', () => {
  it('drops responses and runts, FORMERRs what it cannot read, NOTIMPs other opcodes', () => {
    assert.equal(parseQuery(Buffer.alloc(5)).kind, 'drop');
    const response = dnsPacket.encode({ ...q(ZONE, 'A'), type: 'response' } as Packet);
    assert.equal(parseQuery(response).kind, 'drop');
    const noQuestion = dnsPacket.encode({ type: 'query', id: 3, questions: [] });
    assert.deepEqual(
      [parseQuery(noQuestion).kind, (parseQuery(noQuestion) as { rcode: number }).rcode],
      ['error', 1],
    );
    const notify = dnsPacket.encode(q(ZONE, 'SOA'));
    notify.writeUInt16BE(4 << 11, 2);
    assert.equal((parseQuery(notify) as { rcode: number }).rcode, 4);
    const twoOpts = dnsPacket.encode({
      ...q(ZONE, 'A'),
      additionals: [
        ...(ecs('1.2.3.0/24', 24).additionals ?? []),
        ...(ecs('1.2.3.0/24', 24).additionals ?? []),
      ],
    });
    assert.equal((parseQuery(twoOpts) as { rcode: number }).rcode, 1);
  });
});

describe('fuzz', () => {
  it('20,000 mutated queries: no exception, every reply decodes and echoes the id', () => {
    const seeds = [
      dnsPacket.encode(q(`www-customer-com.${ZONE}`, 'A', ecs('198.51.100.0/24', 24))),
      dnsPacket.encode(q(`www-customer-com.${ZONE}`, 'AAAA', ecs('2001:db8::/56', 56))),
      dnsPacket.encode(q(ZONE, 'NS')),
      dnsPacket.encode(q(`nope.${ZONE}`, 'A')),
    ];
    let seed = 7;
    const random = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    let answered = 0;
    for (let i = 0; i < 20_000; i++) {
      const packet = Buffer.from(seeds[i % seeds.length] as Buffer);
      const flips = 1 + Math.floor(random() * 6);
      for (let f = 0; f < flips; f++)
        packet[Math.floor(random() * packet.length)] = Math.floor(random() * 256);
      const input = random() < 0.2 ? packet.subarray(0, Math.floor(random() * packet.length)) : packet;
      const parsed = parseQuery(input);
      if (parsed.kind === 'drop') continue;
      const spec =
        parsed.kind === 'query'
          ? answerQuery(
              parsed.query,
              { resolver: parseIp('192.0.2.1'), resolverText: '192.0.2.1' },
              { names, data, locator, gate: new CapacityGate(), now: i, rotation: i },
            ).spec
          : {
              id: parsed.id,
              opcode: parsed.opcode,
              aa: false,
              rd: parsed.rd,
              cd: parsed.cd,
              rcode: parsed.rcode,
              question: parsed.question,
              answers: [],
              authorities: [],
              additionals: [],
              edns: parsed.edns,
              clientSubnetOption: null,
            };
      const reply = decode(encodeResponse(spec));
      assert.equal(reply.id, input.readUInt16BE(0));
      answered++;
    }
    assert.ok(answered > 10_000, `${answered} answered`);
  });
});

describe('encodeResponse', () => {
  it('is byte for byte what dns-packet encodes with the question in place', () => {
    for (const packet of [
      q(`www-customer-com.${ZONE}`, 'A', ecs('198.51.100.0/24', 24)),
      q(`nope.${ZONE}`, 'A'),
      q(ZONE, 'NS'),
    ]) {
      const parsed = parseQuery(dnsPacket.encode(packet));
      assert.equal(parsed.kind, 'query');
      if (parsed.kind !== 'query') continue;
      const { spec } = answerQuery(
        parsed.query,
        { resolver: parseIp('127.0.0.1'), resolverText: '127.0.0.1' },
        { names, data, locator, gate: new CapacityGate(), now: 0, rotation: 0 },
      );
      const ours = encodeResponse(spec);
      const { answers, authorities, additionals } = dnsPacket.decode(ours);
      const reference = dnsPacket.encode({
        type: 'response',
        id: spec.id,
        flags: ours.readUInt16BE(2) & 0x7fff,
        questions: packet.questions ?? [],
        answers: answers ?? [],
        authorities: authorities ?? [],
        additionals: additionals ?? [],
      });
      assert.deepEqual(ours, reference);
    }
  });
});
