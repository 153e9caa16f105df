// RFC 9110 §7.6.1: a proxy removes the connection-specific fields, and every field the Connection
// header names, before forwarding a message in either direction.
import type { IncomingHttpHeaders } from 'node:http';

/** Fields that describe one connection, never the message (plus the de facto Proxy-Connection). */
export const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

type HeaderRecord = Readonly<Record<string, string | string[] | undefined>>;

/** The lower-case names the Connection header lists (RFC 9110 §7.6.1 connection options). */
export function connectionOptions(headers: HeaderRecord | IncomingHttpHeaders): Set<string> | null {
  const value = headers.connection;
  if (value === undefined) return null;
  const names = new Set<string>();
  for (const part of (Array.isArray(value) ? value.join(',') : value).split(',')) {
    const name = part.trim().toLowerCase();
    if (name !== '') names.add(name);
  }
  return names;
}

/** A copy of `headers` without hop-by-hop fields and without any name in `drop`. */
export function endToEndHeaders(
  headers: HeaderRecord,
  drop?: ReadonlySet<string>,
): Record<string, string | string[]> {
  const named = connectionOptions(headers);
  const out: Record<string, string | string[]> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || HOP_BY_HOP.has(name) || named?.has(name) || drop?.has(name)) continue;
    out[name] = value;
  }
  return out;
}
