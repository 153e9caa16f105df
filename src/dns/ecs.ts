// EDNS Client Subnet (RFC 7871), option code 8. dns-packet decodes the option loosely (it pads or
// cuts the address to fit and checks nothing), so the option's raw bytes are parsed and validated
// here, and the answer's option is built here as raw bytes that dns-packet copies as they are.
//
//   +0 FAMILY (2 bytes: 1 IPv4, 2 IPv6)  +2 SOURCE PREFIX-LENGTH  +3 SCOPE PREFIX-LENGTH
//   +4 ADDRESS, exactly ceil(SOURCE / 8) bytes, bits beyond SOURCE zero
import { formatIp, maskBytes, type IpBytes } from './cidr.ts';

export const ECS_OPTION_CODE = 8;

export interface ClientSubnet {
  family: 4 | 6;
  sourcePrefix: number;
  /** The address with the query's bytes, padded with zeros to 4 or 16 bytes. */
  ip: IpBytes;
  /** Text form of ip. */
  text: string;
}

/**
 * Parses the option's data. Returns a string describing the problem when the option is malformed,
 * which RFC 7871 §7.1.1 answers with FORMERR: an unknown family, a prefix longer than the family
 * allows, a non-zero SCOPE in a query, an address of the wrong length, or bits set beyond SOURCE.
 */
export function parseClientSubnet(data: Uint8Array): ClientSubnet | string {
  if (data.length < 4) return 'ECS option shorter than 4 bytes';
  const familyCode = ((data[0] as number) << 8) | (data[1] as number);
  const source = data[2] as number;
  const scope = data[3] as number;
  const family = familyCode === 1 ? 4 : familyCode === 2 ? 6 : null;
  if (family === null) return `ECS family ${familyCode} is not 1 (IPv4) or 2 (IPv6)`;
  const max = family === 4 ? 32 : 128;
  if (source > max) return `ECS source prefix ${source} is longer than ${max}`;
  if (scope !== 0) return 'ECS scope prefix must be 0 in a query';
  const address = data.subarray(4);
  if (address.length !== Math.ceil(source / 8)) {
    return `ECS address has ${address.length} bytes, source prefix ${source} needs ${Math.ceil(source / 8)}`;
  }
  const bytes = new Uint8Array(max / 8);
  bytes.set(address);
  if (maskBytes(bytes, source).some((b, i) => b !== bytes[i]))
    return 'ECS address has bits set beyond its prefix';
  const ip: IpBytes = { family, bytes };
  return { family, sourcePrefix: source, ip, text: formatIp(ip) };
}

/** The option for the answer: the query's family, source prefix and address, with our scope. */
export function clientSubnetReply(subnet: ClientSubnet, scope: number): Buffer {
  const addressBytes = Math.ceil(subnet.sourcePrefix / 8);
  const out = Buffer.alloc(4 + addressBytes);
  out.writeUInt16BE(subnet.family === 4 ? 1 : 2, 0);
  out[2] = subnet.sourcePrefix;
  out[3] = Math.max(0, Math.min(scope, subnet.family === 4 ? 32 : 128));
  out.set(subnet.ip.bytes.subarray(0, addressBytes), 4);
  return out;
}
