// acme-client sends every request through one shared axios instance, so a CA whose directory is
// served under a private root (pebble signs its own HTTPS certificate) is trusted per directory
// origin here: an interceptor gives requests to that origin an agent that trusts the given root and
// nothing else. Requests to other origins keep Node's default trust store.
import { Agent } from 'node:https';
import * as acme from 'acme-client';

/** By origin: the agent and how many managers use it (two may share a CA, as tests do). */
const agents = new Map<string, { agent: Agent; caPem: string; users: number }>();
let installed = false;

/**
 * Requests to `directoryUrl`'s origin verify the server against `caPem` (and only it). Returns the
 * release: the last user's release drops the agent.
 */
export function trustDirectoryCa(directoryUrl: string, caPem: string): () => void {
  const origin = new URL(directoryUrl).origin;
  let entry = agents.get(origin);
  if (entry === undefined || entry.caPem !== caPem) {
    // A different root for the same origin: the newest wins (the old agent's sockets close as they idle).
    entry = { agent: new Agent({ ca: caPem, keepAlive: true }), caPem, users: 0 };
    agents.set(origin, entry);
  }
  entry.users += 1;
  install();
  const held = entry;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    held.users -= 1;
    if (held.users > 0 || agents.get(origin) !== held) return;
    agents.delete(origin);
    held.agent.destroy();
  };
}

function install(): void {
  if (installed) return;
  installed = true;
  acme.axios.interceptors.request.use((config) => {
    const url = config.url === undefined ? null : URL.parse(config.url, config.baseURL);
    const entry = url === null ? undefined : agents.get(url.origin);
    if (entry !== undefined) config.httpsAgent = entry.agent;
    return config;
  });
}
