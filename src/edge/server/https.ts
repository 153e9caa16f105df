// The HTTPS listener: TLS 1.2 / 1.3 (server/tls-policy.ts), ALPN offering h2 and http/1.1 on one
// port, certificates by SNI from the node's CertStore. HTTP/2 streams (node:http2's compatibility
// API) and HTTP/1.1 exchanges both go to the one request handler, so they run the same pipeline and
// cache. HTTP/2 abuse limits are nghttp2's, set here (docs/tls.md):
//
//   concurrent streams    SETTINGS_MAX_CONCURRENT_STREAMS; streams beyond it are refused, and a
//                         session that keeps opening them (maxSessionRejectedStreams) is ended
//   header list size      SETTINGS_MAX_HEADER_LIST_SIZE, the same bytes as the HTTP/1.1 limit
//   rapid reset           CVE-2023-44487: nghttp2's RST_STREAM rate limit (streamResetBurst /
//                         streamResetRate, a token bucket); past it the session gets GOAWAY and ends.
//                         Node hands these to nghttp2 itself, so there is no counter of our own
//                         (test/integration/edge-http2.test.ts floods 20,000 resets to show it)
//   CONTINUATION flood    CVE-2024-27316 class: nghttp2 (≥ 1.61) ends the session after a bounded
//                         number of CONTINUATION frames per header block, and the header list limit
//                         bounds the bytes before that
//   invalid frames        maxSessionInvalidFrames; memory per session: maxSessionMemory
//
// Each ends the offending connection only. A TLS failure (garbage, an unknown name, plain HTTP
// sent to this port, an old protocol) closes that connection; the node serves everyone else.
import { once } from 'node:events';
import { createSecureServer, type Http2SecureServer, type Http2Session } from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from '../../common/log.ts';
import type { EdgeConfig, ListenAddress } from '../config.ts';
import type { ClientRequest, ClientResponse } from '../pipeline/context.ts';
import type { EdgeTls } from '../tls/edge-tls.ts';
import { answerClientError } from './client-errors.ts';
import { secureContextOptions } from './tls-policy.ts';

/** Concurrent streams one HTTP/2 session may have open (nginx's and Cloudflare's 128). */
export const MAX_CONCURRENT_STREAMS = 128;
/** nghttp2's own defaults for the RST_STREAM token bucket, made explicit: 1000 at once, then 33 a second. */
export const STREAM_RESET_BURST = 1000;
export const STREAM_RESET_RATE = 33;
/** An HTTP/2 session with no stream open and no frame for this long is closed (GOAWAY). */
const SESSION_IDLE_MS = 60_000;

export interface HttpsListenerOptions {
  listen: ListenAddress;
  /** The node's TLS state: its store answers SNI; attach() adds the default certificate, OCSP, tickets. */
  tls: EdgeTls;
  /** Name in Cache-Status of the answers to malformed HTTP/1.1 requests. */
  nodeName: string;
  limits: { maxHeaderBytes: number; maxUriBytes: number };
  timeouts: { clientHeadersMs: number; clientKeepAliveMs: number };
  log: Logger;
  /** The pipeline's entry (edge.ts handle), called with secure = true. */
  handle: (req: ClientRequest, res: ClientResponse) => void;
}

export interface HttpsListener {
  readonly server: Http2SecureServer;
  readonly address: AddressInfo;
  /**
   * Stops accepting and lets open connections finish (HTTP/2 sessions get a GOAWAY and end after
   * their streams); what is still open after `deadlineMs` is closed.
   */
  drain(deadlineMs: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * The HTTPS listener an edge node's settings describe (--listen-tls), over the node's TLS state
 * (edge/tls/edge-tls.ts), which has already loaded the standalone default certificate (a pair that
 * does not load stops the start before any port opens).
 */
export function startEdgeHttps(
  config: EdgeConfig,
  tls: EdgeTls,
  log: Logger,
  handle: HttpsListenerOptions['handle'],
): Promise<HttpsListener> {
  if (config.tls.listen === null) throw new Error('startEdgeHttps: no --listen-tls address');
  return startHttpsListener({
    listen: config.tls.listen,
    tls,
    nodeName: config.nodeName,
    limits: config.limits,
    timeouts: config.timeouts,
    log,
    handle,
  });
}

export async function startHttpsListener(options: HttpsListenerOptions): Promise<HttpsListener> {
  const { tls, limits, timeouts } = options;
  const server = createSecureServer(
    {
      ...secureContextOptions(),
      allowHTTP1: true,
      SNICallback: tls.store.sniCallback,
      // TLS handshake must complete within the header timeout (a slow handshake holds a socket).
      handshakeTimeout: timeouts.clientHeadersMs,
      settings: {
        maxConcurrentStreams: MAX_CONCURRENT_STREAMS,
        maxHeaderListSize: limits.maxHeaderBytes,
        enablePush: false,
        enableConnectProtocol: false,
      },
      maxHeaderListPairs: 256,
      maxSessionMemory: 16,
      maxSessionInvalidFrames: 100,
      maxSessionRejectedStreams: 100,
      streamResetBurst: STREAM_RESET_BURST,
      streamResetRate: STREAM_RESET_RATE,
      unknownProtocolTimeout: 10_000,
      http1Options: { keepAliveTimeout: timeouts.clientKeepAliveMs },
    },
    options.handle,
  );
  configureHttp1(server, options);
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const sessions = new Set<Http2Session>();
  let draining = false;
  server.on('session', (session: Http2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
    if (draining) session.close();
    session.setTimeout(SESSION_IDLE_MS, () => session.close());
    // An ended session (GOAWAY after a limit, a protocol error) is logged, not thrown.
    session.on('error', (err: Error) => options.log.debug('http2 session error', { err: err.message }));
  });
  server.on('tlsClientError', (err: Error & { code?: string }) =>
    options.log.debug('tls handshake failed', { code: err.code, err: err.message }),
  );
  // A malformed HTTP/1.1 request over TLS gets the same answer as on the plain port.
  server.on('clientError', (err: Error, socket: Socket) =>
    answerClientError(err, socket, options.nodeName, limits.maxUriBytes),
  );
  server.on('sessionError', (err: Error) => options.log.debug('http2 session error', { err: err.message }));
  // The default certificate (what a ClientHello without SNI gets), ticket keys, OCSP staples.
  tls.attach(server);
  server.listen({ port: options.listen.port, host: options.listen.host, backlog: 4096 });
  await once(server, 'listening');
  return {
    server,
    address: server.address() as AddressInfo,
    async drain(deadlineMs) {
      draining = true;
      server.close();
      for (const session of sessions) session.close();
      for (const deadline = Date.now() + deadlineMs; sockets.size > 0 && Date.now() < deadline;) {
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

/**
 * HTTP/1.1 over TLS (allowHTTP1) is served by node:http's connection handling on this server
 * object, which reads these fields from it: the same limits as the plain listener (edge.ts).
 */
function configureHttp1(server: Http2SecureServer, options: HttpsListenerOptions): void {
  Object.assign(server, {
    maxHeaderSize: options.limits.maxHeaderBytes,
    headersTimeout: options.timeouts.clientHeadersMs,
    requestTimeout: 0,
    // Read when the server starts listening: how often the header timeout is checked (as edge.ts).
    connectionsCheckingInterval: Math.max(100, Math.min(1_000, options.timeouts.clientHeadersMs / 2)),
    keepAliveTimeout: options.timeouts.clientKeepAliveMs,
    requireHostHeader: true,
    insecureHTTPParser: false,
    joinDuplicateHeaders: false,
  });
}
