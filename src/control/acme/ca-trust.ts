// acme-client sends every request through one shared axios instance, so a CA whose directory is
// served under a private root (pebble signs its own HTTPS certificate) is trusted per directory
// origin here: an interceptor gives requests to that origin an agent that trusts the given root and
// nothing else. Requests to other origins keep Node's default trust store.
import { Agent } from 'node:https';
import * as acme from 'acme-client';

const agents = new Map<string, Agent>();
let installed = false;

/** Requests to `directoryUrl`'s origin verify the server against `caPem` (and only it). */
export function trustDirectoryCa(directoryUrl: string, caPem: string): void {
  const origin = new URL(directoryUrl).origin;
  agents.get(origin)?.destroy();
  agents.set(origin, new Agent({ ca: caPem, keepAlive: true }));
  if (installed) return;
  installed = true;
  acme.axios.interceptors.request.use((config) => {
    const url = config.url === undefined ? null : URL.parse(config.url, config.baseURL);
    const agent = url === null ? undefined : agents.get(url.origin);
    if (agent !== undefined) config.httpsAgent = agent;
    return config;
  });
}

/** Forgets the trust for `directoryUrl`'s origin (the manager stops). */
export function untrustDirectoryCa(directoryUrl: string): void {
  const origin = new URL(directoryUrl).origin;
  agents.get(origin)?.destroy();
  agents.delete(origin);
}
