// The cost of answering one query without sockets: parse (dns-packet + checks), answer (location,
// choice), encode. `node bench/dns/answer-cost.ts [iterations]` prints ns per query for each step.
import dnsPacket from 'dns-packet';
import { answerQuery, ZoneNames, type ServingData } from '../../src/dns/answer.ts';
import { CapacityGate } from '../../src/dns/capacity.ts';
import { parseIp } from '../../src/dns/cidr.ts';
import type { PopView } from '../../src/dns/choose.ts';
import { GeoLocator } from '../../src/dns/geo.ts';
import { encodeResponse, parseQuery } from '../../src/dns/wire.ts';

const iterations = Number(process.argv[2] ?? 300_000);
const ZONE = 'cdn.example.net';
const names = new ZoneNames({
  origin: ZONE,
  nameServers: [{ name: `ns1.${ZONE}`, v4: ['127.0.0.1'], v6: [] }],
  hostmaster: `hostmaster.${ZONE}`,
  ttl: 30,
  apexTtl: 3600,
  maxAddresses: 8,
});
const pop = (name: string, latitude: number, longitude: number, third: number): PopView => ({
  name,
  latitude,
  longitude,
  capacity: 0,
  v4: [1, 2].map((n) => ({ name: `${name}-${n}`, address: `127.0.${third}.${n}`, healthy: true })),
  v6: [],
});
const data: ServingData = {
  labels: new Map(
    Array.from({ length: 100 }, (_, i) => [
      `www-customer${i}-com`,
      { zoneId: `${i}`, zoneName: `c${i}`, pops: null },
    ]),
  ),
  pops: [pop('nyc', 40.71, -74.01, 1), pop('fra', 50.11, 8.68, 2), pop('sin', 1.35, 103.82, 3)],
  serial: 1,
  loaded: true,
};
const locator = new GeoLocator({ defaultLocation: { latitude: 40.73, longitude: -73.99 } });
const gate = new CapacityGate();
const queries = Array.from({ length: 100 }, (_, i) =>
  dnsPacket.encode({
    type: 'query',
    id: i,
    questions: [{ type: 'A', name: `www-customer${i}-com.${ZONE}` }],
  }),
);
const resolver = { resolver: parseIp('127.0.0.1'), resolverText: '127.0.0.1' };

function time(label: string, fn: (i: number) => void): void {
  for (let i = 0; i < 20_000; i++) fn(i);
  const started = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) fn(i);
  const ns = Number(process.hrtime.bigint() - started) / iterations;
  process.stdout.write(`${label.padEnd(28)} ${ns.toFixed(0).padStart(6)} ns/query\n`);
}

const parsed = queries.map((q) => parseQuery(q));
const specs = parsed.map((p, i) =>
  p.kind === 'query'
    ? answerQuery(p.query, resolver, { names, data, locator, gate, now: 0, rotation: i }).spec
    : null,
);
time('dnsPacket.decode', (i) => dnsPacket.decode(queries[i % 100] as Buffer));
time('parseQuery', (i) => parseQuery(queries[i % 100] as Buffer));
time('answerQuery', (i) => {
  const p = parsed[i % 100];
  if (p?.kind === 'query')
    answerQuery(p.query, resolver, { names, data, locator, gate, now: i, rotation: i });
});
time('encodeResponse', (i) => encodeResponse(specs[i % 100]!));
time('all three', (i) => {
  const p = parseQuery(queries[i % 100] as Buffer);
  if (p.kind === 'query') {
    encodeResponse(answerQuery(p.query, resolver, { names, data, locator, gate, now: i, rotation: i }).spec);
  }
});
