// The admin URL a node registers (GeoDNS probes its /healthz there). A wildcard listener
// (--admin-listen 0.0.0.0:9180, as in a container) is no address to reach: the node is then reached
// at its public URL's host, on the admin port.
import type { AddressInfo } from 'node:net';

export function registeredAdminUrl(admin: AddressInfo, publicUrl: string): string {
  const wildcard = admin.address === '0.0.0.0' || admin.address === '::';
  const host = wildcard
    ? new URL(publicUrl).hostname
    : admin.family === 'IPv6'
      ? `[${admin.address}]`
      : admin.address;
  return `http://${host}:${admin.port}`;
}
