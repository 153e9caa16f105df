// The worker-to-worker hop of a node that runs several workers (docs/multicore.md). A key has one
// owner worker (multicore/owner.ts): it keeps the key's disk copy and makes the node's one upstream
// fetch for it, so its fetch task collapses the misses of every worker. Another worker's miss is
// sent to the owner over a loopback listener only siblings know the secret of; the answer is kept
// in that worker's memory tier, so hot objects are served from memory in every worker.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { EdgeConfig } from '../config.ts';
import type { FetchSpec, SiblingFill } from '../fetch/fetch-task.ts';
import type { ClientRequest, RequestContext } from '../pipeline/context.ts';
import type { UpstreamResponse } from '../upstream/origin-client.ts';
import type { UpstreamPools } from '../upstream/pools.ts';
import { WORKER_HEADER, type Siblings } from './worker.ts';

/**
 * The loopback listener a worker's siblings send the fills of the keys it owns to: each request
 * runs the whole pipeline here, as the key's owner (route.ts trusts its scheme and hop).
 */
export async function startSiblingListener(
  siblings: Siblings,
  config: EdgeConfig,
  handleFill: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<Server> {
  const server = createServer(
    { maxHeaderSize: config.limits.maxHeaderBytes, requestTimeout: 0, keepAliveTimeout: 30_000 },
    (req, res) => {
      if (!siblings.isSibling(req.headers[WORKER_HEADER])) {
        res.writeHead(403, { 'content-type': 'text/plain' });
        res.end('not a sibling worker\n');
        return;
      }
      handleFill(req, res);
    },
  );
  // exclusive: this worker's own port, not a handle shared through the primary.
  server.listen({ port: 0, host: '127.0.0.1', exclusive: true });
  await once(server, 'listening');
  return server;
}

/**
 * Several workers: the key's owner stores it on disk and fetches it for the whole node; another
 * worker sends the fill to the owner and keeps the object in memory only (so its hits stay local).
 * A worker being replaced (frozen) stores nothing on disk. Nothing for a fill that came from a
 * sibling (this worker is its owner).
 */
export function workerFillOf(
  siblings: Siblings,
  ctx: RequestContext,
): { memoryOnly?: boolean; sibling?: SiblingFill } | null {
  if (ctx.sibling) return siblings.frozen ? { memoryOnly: true } : null;
  const slot = siblings.ownerOf(ctx.primaryKey);
  if (slot === siblings.slot) return siblings.frozen ? { memoryOnly: true } : null;
  const hop = ctx.hop === null ? undefined : ctx.req.headers['meridian-hop'];
  return {
    memoryOnly: true,
    sibling: {
      slot,
      host: ctx.host,
      scheme: ctx.scheme,
      hop: typeof hop === 'string' ? hop : null,
      via: ctx.req.headers.via,
      hit: false,
    },
  };
}

/** The fill through the key's owner worker; null when it cannot answer (not listening, restarting). */
export async function sendToSibling(
  siblings: Siblings,
  upstream: UpstreamPools,
  spec: FetchSpec,
  sibling: SiblingFill,
  headers: Record<string, string | string[]>,
  config: EdgeConfig,
): Promise<UpstreamResponse | null> {
  const url = siblings.urlOf(sibling.slot);
  if (url === null) return null;
  // The client's request as this worker received it (its Via; its client address ends X-Forwarded-For).
  const out: Record<string, string | string[]> = {
    ...headers,
    host: sibling.host,
    'x-forwarded-proto': sibling.scheme,
    [WORKER_HEADER]: siblings.secret,
  };
  if (sibling.via === undefined) delete out.via;
  else out.via = sibling.via;
  if (sibling.hop !== null) out['meridian-hop'] = sibling.hop;
  let res: UpstreamResponse;
  try {
    res = await upstream.send(
      upstream.peer(url),
      {
        method: 'GET',
        path: spec.path,
        headers: out,
        body: null,
        headersTimeoutMs: config.timeouts.originHeadersMs,
        bodyTimeoutMs: config.timeouts.originBodyMs,
      },
      'peer',
    );
  } catch {
    return null;
  }
  const status = res.headers['cache-status'];
  if (res.status === 503 && typeof status === 'string' && status.includes('detail="not-ready"')) {
    res.body.resume();
    return null;
  }
  // One node, one Cache-Status entry: the owner's answer is this node's (RFC 9211 lists caches, not
  // workers). Its last entry is the owner's own; a hit there is a hit for the node.
  if (typeof status === 'string') sibling.hit = status.slice(status.lastIndexOf(',') + 1).includes('; hit');
  delete res.headers['cache-status'];
  // Likewise one Via entry: this worker adds the node's when it delivers.
  const via = res.headers.via;
  if (typeof via === 'string' && via.endsWith(` ${config.nodeName}`)) {
    const at = via.lastIndexOf(',');
    if (at === -1) delete res.headers.via;
    else res.headers.via = via.slice(0, at);
  }
  return res;
}

/**
 * A sibling's fill as the client's own request: the client's address is the last X-Forwarded-For
 * entry the sibling added, and the sibling's secret goes no further.
 */
export function siblingClientView(req: ClientRequest): {
  headers: ClientRequest['headers'];
  socket: { remoteAddress?: string };
} {
  const headers = { ...req.headers };
  delete headers[WORKER_HEADER];
  const xff = headers['x-forwarded-for'];
  if (typeof xff !== 'string') return { headers, socket: {} };
  const at = xff.lastIndexOf(',');
  if (at === -1) delete headers['x-forwarded-for'];
  else headers['x-forwarded-for'] = xff.slice(0, at).trim();
  return { headers, socket: { remoteAddress: xff.slice(at + 1).trim() } };
}
