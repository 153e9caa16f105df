// The wire format: a query's bytes in, a response's bytes out. Decoding and encoding are dns-packet's;
// this file adds what an authoritative server must check on top of it (RFC 1035, RFC 6891 EDNS(0),
// RFC 7871 ECS) and never throws on hostile input.
//
// The question section is copied into the response byte for byte, so the response echoes exactly what
// was asked (letter case included, which resolvers that randomise case — "0x20" — check).
import dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket, OptAnswer } from 'dns-packet';
import { ECS_OPTION_CODE, parseClientSubnet, type ClientSubnet } from './ecs.ts';

export const RCODE = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  /** Extended (RFC 6891): 16, carried as 1 in the OPT record's upper rcode bits. */
  BADVERS: 16,
} as const;

export const QTYPE = { A: 1, NS: 2, CNAME: 5, SOA: 6, AAAA: 28, OPT: 41, IXFR: 251, AXFR: 252, ANY: 255 };
export const QCLASS = { IN: 1, ANY: 255 };

/** Our EDNS UDP payload size (DNS flag day 2020: no IP fragmentation on common paths). */
export const EDNS_UDP_SIZE = 1232;

export interface Edns {
  /** The client's UDP payload size, at least 512. */
  udpSize: number;
  version: number;
  dnssecOk: boolean;
  clientSubnet: ClientSubnet | null;
}

export interface Query {
  id: number;
  rd: boolean;
  cd: boolean;
  /** The question section as received (name, type, class). */
  question: Buffer;
  /**
   * Lower-cased labels. A label that cannot be a host name label (it holds ".", a space or binary)
   * is replaced by NOT_A_LABEL, which matches nothing, so such a name is simply not found.
   */
  labels: string[];
  /** The name as sent (its letter case kept), for the owner names of the answer. */
  name: string;
  qtype: number;
  qclass: number;
  edns: Edns | null;
}

export type Parsed =
  | { kind: 'query'; query: Query }
  /** Not worth an answer: shorter than a header, or itself a response (never answer those: loops). */
  | { kind: 'drop'; reason: string }
  | {
      kind: 'error';
      rcode: number;
      reason: string;
      id: number;
      opcode: number;
      rd: boolean;
      cd: boolean;
      question: Buffer | null;
      edns: Edns | null;
    };

/** Stands for a label that cannot occur in our names (see Query.labels). */
export const NOT_A_LABEL = '\u0000';

interface RawQuestion {
  question: Buffer;
  labels: string[];
  name: string;
  qtype: number;
  qclass: number;
}

/** Reads the one question at offset 12 by hand (no compression pointers: nothing precedes it). */
function readQuestion(buf: Buffer): RawQuestion | string {
  let offset = 12;
  const raw: string[] = [];
  let total = 1;
  for (;;) {
    if (offset >= buf.length) return 'question name runs past the end';
    const len = buf[offset] as number;
    offset++;
    if (len === 0) break;
    if (len > 63) return 'question name uses compression or an unknown label type';
    if (offset + len > buf.length) return 'question label runs past the end';
    total += len + 1;
    if (total > 255) return 'question name longer than 255 bytes';
    const label = buf.toString('latin1', offset, offset + len);
    raw.push(/^[\x21-\x2d\x2f-\x7e]+$/.test(label) ? label : NOT_A_LABEL);
    offset += len;
  }
  if (offset + 4 > buf.length) return 'question type and class missing';
  const qtype = buf.readUInt16BE(offset);
  const qclass = buf.readUInt16BE(offset + 2);
  return {
    question: Buffer.from(buf.subarray(12, offset + 4)),
    labels: raw.map((l) => l.toLowerCase()),
    name: raw.join('.'),
    qtype,
    qclass,
  };
}

export function parseQuery(buf: Buffer): Parsed {
  if (buf.length < 12) return { kind: 'drop', reason: 'shorter than a DNS header' };
  const id = buf.readUInt16BE(0);
  const flags = buf.readUInt16BE(2);
  if (flags & 0x8000) return { kind: 'drop', reason: 'a response, not a query' };
  const opcode = (flags >> 11) & 0xf;
  const rd = (flags & 0x0100) !== 0;
  const cd = (flags & 0x0010) !== 0;
  const qdcount = buf.readUInt16BE(4);
  const fail = (
    rcode: number,
    reason: string,
    question: Buffer | null,
    edns: Edns | null = null,
  ): Parsed => ({
    kind: 'error',
    rcode,
    reason,
    id,
    opcode,
    rd,
    cd,
    question,
    edns,
  });
  const q = qdcount === 1 ? readQuestion(buf) : `QDCOUNT is ${qdcount}, not 1`;
  if (typeof q === 'string') return fail(RCODE.FORMERR, q, null);
  if (opcode !== 0) return fail(RCODE.NOTIMP, `opcode ${opcode} is not QUERY`, q.question);

  let decoded: DecodedPacket;
  try {
    decoded = dnsPacket.decode(buf);
  } catch (err) {
    return fail(RCODE.FORMERR, `undecodable: ${(err as Error).message}`, q.question);
  }
  const opts = (decoded.additionals ?? []).filter((a): a is OptAnswer => a.type === 'OPT');
  if (opts.length > 1) return fail(RCODE.FORMERR, 'more than one OPT record', q.question);
  const opt = opts[0];
  let edns: Edns | null = null;
  if (opt !== undefined) {
    if (opt.name !== '.') return fail(RCODE.FORMERR, 'OPT owner is not the root', q.question);
    edns = {
      udpSize: Math.max(512, opt.udpPayloadSize),
      version: opt.ednsVersion,
      dnssecOk: opt.flag_do,
      clientSubnet: null,
    };
    // RFC 6891 §6.1.3: an unknown version gets BADVERS, with an OPT of the version we speak.
    if (opt.ednsVersion !== 0)
      return fail(RCODE.BADVERS, `EDNS version ${opt.ednsVersion}`, q.question, edns);
    for (const option of opt.options ?? []) {
      if (option.code !== ECS_OPTION_CODE) continue;
      if (edns.clientSubnet !== null) return fail(RCODE.FORMERR, 'two ECS options', q.question, edns);
      const subnet = parseClientSubnet(option.data ?? Buffer.alloc(0));
      if (typeof subnet === 'string') return fail(RCODE.FORMERR, subnet, q.question, edns);
      edns.clientSubnet = subnet;
    }
  }
  return {
    kind: 'query',
    query: {
      id,
      rd,
      cd,
      question: q.question,
      labels: q.labels,
      name: q.name,
      qtype: q.qtype,
      qclass: q.qclass,
      edns,
    },
  };
}

export interface ResponseSpec {
  id: number;
  opcode?: number;
  aa: boolean;
  tc?: boolean;
  rd: boolean;
  cd: boolean;
  /** 0..15, or BADVERS (16), which goes out in the OPT record. */
  rcode: number;
  question: Buffer | null;
  answers: Answer[];
  authorities: Answer[];
  additionals: Answer[];
  /** The query's EDNS (null: no OPT in the response, as the query had none). */
  edns: Edns | null;
  /** The ECS option to echo (already built, see ecs.ts). */
  clientSubnetOption: Buffer | null;
}

/** Encodes a response; the question bytes are spliced in after the header. */
export function encodeResponse(spec: ResponseSpec): Buffer {
  let flags = ((spec.opcode ?? 0) & 0xf) << 11;
  if (spec.aa) flags |= 0x0400;
  if (spec.tc === true) flags |= 0x0200;
  if (spec.rd) flags |= 0x0100;
  if (spec.cd) flags |= 0x0010;
  flags |= spec.rcode & 0xf;
  const additionals = [...spec.additionals];
  if (spec.edns !== null) {
    const opt: OptAnswer = {
      type: 'OPT',
      name: '.',
      udpPayloadSize: EDNS_UDP_SIZE,
      extendedRcode: spec.rcode >> 4,
      ednsVersion: 0,
      // RFC 3225: the DO bit is copied from the query.
      flags: spec.edns.dnssecOk ? 0x8000 : 0,
      flag_do: spec.edns.dnssecOk,
      options:
        spec.clientSubnetOption === null
          ? []
          : [{ code: ECS_OPTION_CODE, data: spec.clientSubnetOption, ip: undefined }],
    };
    additionals.push(opt);
  }
  const packet = {
    type: 'response' as const,
    id: spec.id,
    flags,
    questions: [],
    answers: spec.answers,
    authorities: spec.authorities,
    additionals,
  };
  // One buffer: dns-packet writes header and records at an offset that leaves room for the
  // question; the header then moves to the front and the question goes in behind it.
  const question = spec.question ?? Buffer.alloc(0);
  const out = Buffer.allocUnsafe(question.length + dnsPacket.encodingLength(packet));
  dnsPacket.encode(packet, out, question.length);
  if (question.length === 0) return out;
  out.copyWithin(0, question.length, question.length + 12);
  out.writeUInt16BE(1, 4);
  question.copy(out, 12);
  return out;
}
