// Issue 6: the DNS side of `meridian dns`, asked by kdig (and, for hostile input, by raw packets):
// SOA and NS at the apex, NXDOMAIN, NODATA, REFUSED outside the zone, TCP, truncation for UDP
// answers larger than the client accepts, EDNS and ECS errors, garbage that must not hurt, and the
// serial that moves when the data does. The nodes are registered through the control plane's
// internal API and answer the DNS server's health probes from a small HTTP server in this test.
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import dnsPacket from 'dns-packet';
import { addressesOf, clientSubnetOf, eventually, kdig, startDnsProcess } from '../helpers/dns.ts';
import type { DnsProc } from '../helpers/dns.ts';
import { api, removeDir, startControlProcess } from '../helpers/processes.ts';
import type { ControlProc } from '../helpers/processes.ts';

const ZONE = 'cdn.example.net';
const MANY = `many-example-com.${ZONE}`;
const BIG = Array.from({ length: 12 }, (_, i) => `127.0.5.${i + 1}`);
const BIG_V6 = ['2001:db8::1', '2001:db8::2'];

/** Sends one UDP datagram; resolves with the reply, or null when none came within waitMs. */
async function udpExchange(port: number, payload: Buffer, waitMs = 500): Promise<Buffer | null> {
  const socket = createSocket('udp4');
  try {
    const reply = new Promise<Buffer | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), waitMs);
      socket.once('message', (msg) => {
        clearTimeout(timer);
        resolve(msg);
      });
    });
    socket.send(payload, port, '127.0.0.1');
    return await reply;
  } finally {
    socket.close();
  }
}

/** Sends DNS messages over one TCP connection (length-prefixed); resolves with the replies. */
async function tcpExchange(port: number, messages: Buffer[], waitMs = 2_000): Promise<Buffer[]> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  const replies: Buffer[] = [];
  let received = Buffer.alloc(0);
  const done = new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, waitMs);
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      while (received.length >= 2 && received.length >= 2 + received.readUInt16BE(0)) {
        replies.push(received.subarray(2, 2 + received.readUInt16BE(0)));
        received = received.subarray(2 + received.readUInt16BE(0));
      }
      if (replies.length === messages.length) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  socket.write(
    Buffer.concat(messages.map((m) => Buffer.concat([Buffer.from([m.length >> 8, m.length & 0xff]), m]))),
  );
  await done;
  socket.destroy();
  return replies;
}

function query(name: string, type: 'A' | 'SOA' = 'A', id = 4242, edns = false): Buffer {
  const opt = {
    type: 'OPT' as const,
    name: '.',
    udpPayloadSize: 1232,
    extendedRcode: 0,
    ednsVersion: 0,
    flags: 0,
    flag_do: false,
    options: [],
  };
  return dnsPacket.encode({
    type: 'query',
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type, name }],
    additionals: edns ? [opt] : [],
  });
}

describe('meridian dns: the DNS protocol', () => {
  let control: ControlProc;
  let dns: DnsProc;
  let health: Server;
  let heartbeat: NodeJS.Timeout;
  let nodeToken: string;
  const admin = (method: string, path: string, body?: unknown) =>
    api(control.url, control.adminToken, method, path, body);
  const ask = (...args: string[]) => kdig(dns.port, args);
  const nodes: { name: string; pop: string; url: string }[] = [
    ...BIG.map((ip, i) => ({ name: `big-${i + 1}`, pop: 'big', url: `http://${ip}:8080` })),
    ...BIG_V6.map((ip, i) => ({ name: `big-v6-${i + 1}`, pop: 'big', url: `http://[${ip}]:8080` })),
    { name: 'small-1', pop: 'small', url: 'http://127.0.6.1:8080' },
  ];

  before(async () => {
    health = createServer((req, res) =>
      res.writeHead(req.url === '/healthz' ? 200 : 404).end('{"status":"ok"}'),
    );
    health.listen(0, '127.0.0.1');
    await once(health, 'listening');
    const healthUrl = `http://127.0.0.1:${(health.address() as AddressInfo).port}`;
    control = await startControlProcess();
    nodeToken = (await admin('POST', '/client/v4/tokens', { name: 'nodes', scopes: ['node'] })).body.result
      .value;
    await admin('PUT', '/client/v4/pops/big', { city: 'Big', latitude: 10, longitude: 10 });
    await admin('PUT', '/client/v4/pops/small', { city: 'Small', latitude: 20, longitude: 20 });
    const register = async (): Promise<void> => {
      for (const node of nodes) {
        const res = await api(control.url, nodeToken, 'POST', '/internal/v1/nodes/register', {
          ...node,
          admin_url: healthUrl,
        });
        assert.equal(res.status, 200, JSON.stringify(res.body));
      }
    };
    await register();
    heartbeat = setInterval(() => {
      for (const node of nodes) {
        api(control.url, nodeToken, 'POST', `/internal/v1/nodes/${node.name}/heartbeat`, {
          applied_seq: 0,
        }).catch(() => undefined);
      }
    }, 2_000);
    await admin('POST', '/client/v4/zones', {
      name: 'many',
      hostnames: ['many.example.com'],
      origins: [{ url: 'http://127.0.0.1:9' }],
    });
    dns = await startDnsProcess([
      '--control',
      control.url,
      '--token',
      control.adminToken,
      '--zone',
      ZONE,
      '--ns',
      `ns1.${ZONE}=127.0.0.1`,
      '--ns',
      'ns2.example.org',
      '--hostmaster',
      'ops@example.net',
      '--ttl',
      '20s',
      '--max-addresses',
      '16',
      '--geoip',
      'none',
      '--tcp-idle-timeout',
      '1s',
      '--admin-listen',
      '127.0.0.1:0',
    ]);
  });

  after(async () => {
    clearInterval(heartbeat);
    await dns?.stop();
    await control?.stop();
    if (control !== undefined) await removeDir(control.dataDir);
    health?.close();
  });

  it('SOA and NS at the apex, with the addresses of in-zone name servers', async () => {
    const soa = await ask(ZONE, 'SOA');
    assert.equal(soa.RCODE, 0);
    assert.equal(soa.AA, 1);
    assert.equal(soa.RA, 0);
    const [mname, rname, serial, refresh, retry, expire, minimum] = (
      soa.answerRRs?.[0]?.rdataSOA ?? ''
    ).split(' ');
    assert.equal(mname, `ns1.${ZONE}.`);
    assert.equal(rname, 'ops.example.net.');
    assert.ok(Number(serial) > 1_700_000_000, `serial ${serial}`);
    assert.deepEqual([refresh, retry, expire, minimum], ['3600', '600', '604800', '20']);

    const ns = await ask(ZONE, 'NS');
    assert.deepEqual((ns.answerRRs ?? []).map((rr) => rr.rdataNS).sort(), [
      `ns1.${ZONE}.`,
      'ns2.example.org.',
    ]);
    assert.deepEqual(
      (ns.additionalRRs ?? []).filter((rr) => rr.TYPE === 1).map((rr) => [rr.NAME, rr.rdataA]),
      [[`ns1.${ZONE}.`, '127.0.0.1']],
    );
    assert.deepEqual(addressesOf(await ask(`ns1.${ZONE}`, 'A')), ['127.0.0.1']);
  });

  it('NXDOMAIN for unknown names, NODATA for known names without that type; both carry the SOA', async () => {
    for (const name of [`nobody.${ZONE}`, `sub.${MANY}`]) {
      const nx = await ask(name, 'A');
      assert.equal(nx.RCODE, 3, name);
      assert.equal(nx.AA, 1);
      assert.equal(nx.authorityRRs?.[0]?.TYPEname, 'SOA');
      assert.equal(nx.authorityRRs?.[0]?.TTL, 20, 'negative TTL is the SOA minimum');
    }
    for (const [name, type] of [
      [MANY, 'TXT'],
      [MANY, 'MX'],
      [ZONE, 'A'],
      [`ns1.${ZONE}`, 'AAAA'],
    ] as const) {
      const nodata = await ask(name, type);
      assert.equal(nodata.RCODE, 0, `${name} ${type}`);
      assert.equal(nodata.ANCOUNT, 0, `${name} ${type}`);
      assert.equal(nodata.AA, 1);
      assert.equal(nodata.authorityRRs?.[0]?.TYPEname, 'SOA', `${name} ${type}`);
    }
  });

  it('REFUSED for names outside the zone, other classes and zone transfers (AA=0, no recursion)', async () => {
    for (const name of ['example.com', 'example.net', `x${ZONE}`, '.']) {
      const refused = await ask(name, 'A', '+rec');
      assert.equal(refused.RCODE, 5, name);
      assert.equal(refused.AA, 0, name);
      assert.equal(refused.RA, 0, name);
    }
    assert.equal((await ask('version.bind', 'TXT', 'CH')).RCODE, 5);
    // kdig gives up on a refused transfer without printing the answer: ask over TCP by hand.
    const axfr = dnsPacket.encode({ type: 'query', id: 5, questions: [{ type: 'AXFR', name: ZONE }] });
    const [reply] = await tcpExchange(dns.port, [axfr]);
    assert.equal((reply?.readUInt16BE(2) ?? 0) & 0xf, 5);
  });

  it('A and AAAA come from the nodes; the question is echoed exactly as asked', async () => {
    const a = await ask(MANY, 'A');
    assert.deepEqual(addressesOf(a).sort(), [...BIG].sort());
    assert.ok(a.answerRRs?.every((rr) => rr.TTL === 20));
    assert.deepEqual(addressesOf(await ask(MANY, 'AAAA')).sort(), BIG_V6);
    // kdig lower-cases names, so this one is sent by hand: resolvers that randomise case (0x20) check the echo.
    const mixed = query('MaNy-ExAmPlE-cOm.CDN.example.NET', 'A', 77, true);
    const reply = await udpExchange(dns.port, mixed, 1_000);
    assert.ok(reply !== null);
    const questionEnd = 12 + `MaNy-ExAmPlE-cOm.CDN.example.NET`.length + 2 + 4;
    assert.deepEqual(reply.subarray(12, questionEnd), mixed.subarray(12, questionEnd));
    const decoded = dnsPacket.decode(reply);
    assert.equal(decoded.answers?.length, 12);
    assert.equal(decoded.answers?.[0]?.name, 'MaNy-ExAmPlE-cOm.CDN.example.NET');
  });

  it('truncates UDP answers larger than the client accepts, and answers them whole over TCP', async () => {
    // Twelve A records are more than 512 bytes: without EDNS, or with a 512-byte EDNS buffer, TC is set.
    const plain = await ask(MANY, 'A', '+noedns', '+ignore');
    assert.equal(plain.TC, 1);
    assert.equal(plain.ANCOUNT, 0);
    assert.equal(plain.AA, 1);
    const small = await ask(MANY, 'A', '+bufsize=512', '+ignore', '+subnet=198.51.100.0/24');
    assert.equal(small.TC, 1);
    assert.deepEqual(clientSubnetOf(small)?.source, 24, 'the OPT record and ECS survive truncation');
    // kdig retries over TCP on its own when it sees TC.
    assert.equal(addressesOf(await ask(MANY, 'A', '+noedns')).length, 12);
    assert.equal(addressesOf(await ask(MANY, 'A', '+tcp')).length, 12);
    // A 1232-byte EDNS buffer holds it.
    const edns = await ask(MANY, 'A', '+bufsize=1232', '+ignore');
    assert.equal(edns.TC, 0);
    assert.equal(edns.ANCOUNT, 12);
    // A small answer fits in 512 bytes without EDNS.
    assert.equal((await ask(`ns1.${ZONE}`, 'A', '+noedns', '+ignore')).TC, 0);
  });

  it('FORMERR for a malformed ECS option, BADVERS for an unknown EDNS version, NOTIMP for other opcodes', async () => {
    // ECS with source /24 but four address bytes (RFC 7871 §6: exactly ceil(24/8) = 3).
    assert.equal((await ask(MANY, 'A', '+ednsopt=8:0001180001020304')).RCODE, 1);
    // ECS with a bit set beyond its /15 source prefix.
    assert.equal((await ask(MANY, 'A', '+ednsopt=8:00010f000103')).RCODE, 1);
    // ECS with an unknown family.
    assert.equal((await ask(MANY, 'A', '+ednsopt=8:0003080001')).RCODE, 1);
    // BADVERS is 16: 0 in the header, 1 in the OPT record's extended rcode (the top byte of its TTL).
    const badvers = await ask(MANY, 'A', '+edns=1');
    assert.equal(badvers.RCODE, 0);
    assert.equal(badvers.ANCOUNT, 0);
    assert.equal((badvers.additionalRRs?.find((rr) => rr.TYPE === 41)?.TTL ?? 0) >>> 24, 1);
    // NOTIFY (opcode 4), built by hand.
    const notify = query(ZONE, 'SOA', 7);
    notify.writeUInt16BE((4 << 11) | 0x0100, 2);
    const reply = await udpExchange(dns.port, notify);
    assert.ok(reply !== null);
    assert.equal(reply.readUInt16BE(0), 7);
    assert.equal(reply.readUInt16BE(2) & 0xf, 4, 'NOTIMP');
  });

  it('answers garbage with FORMERR or silence, and keeps answering', async () => {
    // A header that promises a question that is not there: FORMERR with the query's id.
    const header = Buffer.from([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    const formerr = await udpExchange(dns.port, header);
    assert.ok(formerr !== null);
    assert.equal(formerr.readUInt16BE(0), 0x1234);
    assert.equal(formerr.readUInt16BE(2) & 0x800f, 0x8001, 'a response with FORMERR');
    // Two questions: FORMERR too.
    const two = dnsPacket.encode({
      type: 'query',
      id: 9,
      questions: [
        { type: 'A', name: MANY },
        { type: 'A', name: MANY },
      ],
    });
    assert.equal(((await udpExchange(dns.port, two))?.readUInt16BE(2) ?? 0) & 0xf, 1);
    // Shorter than a header, or a response: no answer at all (a response must never be answered).
    assert.equal(await udpExchange(dns.port, Buffer.from([1, 2, 3])), null);
    const response = query(MANY);
    response[2] = (response[2] as number) | 0x80;
    assert.equal(await udpExchange(dns.port, response), null);

    // Bounded noise: random datagrams and broken TCP streams, including compression loops.
    const noise = createSocket('udp4');
    let seed = 42;
    const random = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    for (let i = 0; i < 3_000; i++) {
      const packet = Buffer.from(query(MANY, 'A', i));
      const flips = 1 + Math.floor(random() * 8);
      for (let f = 0; f < flips; f++)
        packet[Math.floor(random() * packet.length)] = Math.floor(random() * 256);
      const cut = random() < 0.3 ? packet.subarray(0, Math.floor(random() * packet.length)) : packet;
      noise.send(cut, dns.port, '127.0.0.1');
      if (i % 200 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    const loop = Buffer.concat([header, Buffer.from([0xc0, 0x0c, 0, 1, 0, 1])]);
    noise.send(loop, dns.port, '127.0.0.1');
    noise.close();
    for (const payload of [
      Buffer.from([0, 5, 1, 2, 3, 4, 5]),
      Buffer.from([0xff, 0xff, 1, 2]),
      Buffer.alloc(100_000, 0x41),
    ]) {
      const socket = connect(dns.port, '127.0.0.1');
      socket.on('error', () => undefined);
      socket.end(payload);
    }
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(dns.child.exitCode, null, 'still running');
    assert.doesNotMatch(
      dns.stderr(),
      /query failed/,
      'every bad packet was refused on purpose, none hit a bug',
    );
    assert.equal((await ask(MANY, 'A')).ANCOUNT, 12);
  });

  it('TCP: pipelined queries on one connection are answered in turn; idle connections are closed', async () => {
    const socket = connect(dns.port, '127.0.0.1');
    await once(socket, 'connect');
    const frames = [1, 2, 3].map((id) => {
      const q = query(id === 2 ? `nobody.${ZONE}` : MANY, 'A', id);
      const frame = Buffer.alloc(2 + q.length);
      frame.writeUInt16BE(q.length, 0);
      q.copy(frame, 2);
      return frame;
    });
    let received = Buffer.alloc(0);
    const answers: Buffer[] = [];
    const closed = once(socket, 'close');
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      while (received.length >= 2 && received.length >= 2 + received.readUInt16BE(0)) {
        answers.push(received.subarray(2, 2 + received.readUInt16BE(0)));
        received = received.subarray(2 + received.readUInt16BE(0));
      }
    });
    socket.write(Buffer.concat(frames));
    await eventually(async () => answers.length === 3, 2_000, 'three answers');
    assert.deepEqual(
      answers.map((a) => [a.readUInt16BE(0), a.readUInt16BE(2) & 0xf]),
      [
        [1, 0],
        [2, 3],
        [3, 0],
      ],
    );
    const started = Date.now();
    await closed;
    assert.ok(Date.now() - started < 3_000, 'closed after the 1 s idle timeout');
  });

  it('the serial moves when the data changes, and a new zone is answered within seconds', async () => {
    const serialOf = async (): Promise<number> =>
      Number((await ask(ZONE, 'SOA')).answerRRs?.[0]?.rdataSOA?.split(' ')[2]);
    const before = await serialOf();
    await admin('POST', '/client/v4/zones', {
      name: 'late',
      hostnames: ['late.example.com'],
      origins: [{ url: 'http://127.0.0.1:9' }],
    });
    await eventually(
      async () => (await ask(`late-example-com.${ZONE}`, 'A')).ANCOUNT > 0,
      5_000,
      'new label',
    );
    assert.ok((await serialOf()) > before);
  });

  it('/metrics counts queries by transport and rcode, and node health; /healthz reports the serial', async () => {
    const metrics = await fetch(`http://127.0.0.1:${dns.adminPort}/metrics`).then((r) => r.text());
    assert.match(metrics, /meridian_dns_queries_total\{transport="udp",rcode="NOERROR"\} [1-9]/);
    assert.match(metrics, /meridian_dns_queries_total\{transport="tcp",rcode="NOERROR"\} [1-9]/);
    assert.match(metrics, /meridian_dns_queries_total\{transport="udp",rcode="FORMERR"\} [1-9]/);
    assert.match(metrics, /meridian_dns_truncated_total [1-9]/);
    assert.match(metrics, /meridian_dns_answers_by_pop_total\{pop="big"\} [1-9]/);
    assert.match(metrics, /meridian_dns_node_healthy\{node="big-1",pop="big"\} 1/);
    const health = (await fetch(`http://127.0.0.1:${dns.adminPort}/healthz`).then((r) => r.json())) as {
      status: string;
      serial: number;
      loaded: boolean;
    };
    assert.equal(health.status, 'ok');
    assert.equal(health.loaded, true);
    assert.ok(health.serial > 0);
  });

  it('before the control plane ever answered: SERVFAIL for CDN names, the apex still answered', async () => {
    const lonely = await startDnsProcess([
      '--control',
      'http://127.0.0.1:1',
      '--token',
      'x',
      '--zone',
      ZONE,
      '--geoip',
      'none',
    ]);
    try {
      assert.equal((await kdig(lonely.port, [MANY, 'A'])).RCODE, 2);
      assert.equal((await kdig(lonely.port, [ZONE, 'SOA'])).RCODE, 0);
      assert.equal((await kdig(lonely.port, ['example.com', 'A'])).RCODE, 5);
    } finally {
      await lonely.stop();
    }
  });
});
