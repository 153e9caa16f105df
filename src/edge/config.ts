// The edge node's settings, validated once at the boundary (cli/commands/edge.ts) and trusted inside.
import type { OriginTls } from '../common/config/zone.ts';
import type { PolicyOptions } from '../lib/http-cache/policy.ts';

export interface ListenAddress {
  host: string;
  port: number;
}

export interface ControlLink {
  /** The control plane (the first of `urls`). */
  url: URL;
  /** Every control-plane URL, in failover order (`--control A,B`); absent: `url` alone. */
  urls?: readonly URL[];
  /** A token with the `node` scope. */
  token: string;
  pop: string;
  /** The URL other nodes and the control plane reach this node at (default: the listen address). */
  publicUrl: string | null;
  /** NATS servers to follow the event log over JetStream; null: the control plane's HTTP stream. */
  nats: string | null;
  /** The JetStream stream of the control plane's log. */
  natsStream: string;
  /** The role the node was started with (checked against its PoP's at registration); null: not said. */
  role: 'edge' | 'shield' | null;
  /** PEM CAs that verify an https:// control plane (--control-ca); null: the system's. */
  controlCa?: string | null;
  /** PEM CAs that verify NATS servers' TLS (--nats-ca); null: the system's. */
  natsCa?: string | null;
}

/** The HTTPS listener and where its certificates come from. */
export interface TlsConfig {
  /** HTTPS listener (TLS 1.2/1.3, ALPN h2 and http/1.1); null: none. */
  listen: ListenAddress | null;
  /** Standalone: the default certificate chain and key (PEM files; reloaded on SIGHUP and change). */
  certFile: string | null;
  keyFile: string | null;
  /** A ClientHello for a name no certificate covers (or without SNI): the default certificate, or an alert. */
  unknownSni: 'default' | 'reject';
}

/** TLS to upstreams: the standalone origin, and peer nodes on internal hops. */
export interface UpstreamTlsConfig {
  /** Standalone: how to connect to an https:// --origin (a zone origin's `tls`); null: the defaults. */
  origin: OriginTls | null;
  /** Standalone: the client certificate (chain and key, PEM) presented to the origin (mTLS). */
  originClientCert: { cert: string; key: string } | null;
  /** PEM CAs that issued the cluster's node certificates (peers at https:// URLs); null: the system's. */
  peerCa: string | null;
}

/** The access log (--access-log); analytics/access-log.ts. */
export interface AccessLogConfig {
  /** A file path, or "stdout". */
  destination: string;
  format: 'json' | 'combined';
  /** Rotate a file past this size. */
  maxBytes: number;
  /** Rotated files kept. */
  keep: number;
}

export interface EdgeConfig {
  /** The access log (--access-log); absent or null: none. */
  accessLog?: AccessLogConfig | null;
  /** Managed mode: count and ship per-zone analytics (--analytics); absent: true. */
  analytics?: boolean;
  /** Managed mode: how often analytics batches go to the control plane (ms); default 2000. */
  analyticsIntervalMs?: number;
  /** GeoIP databases (MaxMind DB .mmdb) for the country of clients (--geoip A,B); absent or empty: none. */
  geoipFiles?: readonly string[];
  /** Name used in Via and Cache-Status (RFC 9211 cache identifier). */
  nodeName: string;
  listen: ListenAddress;
  tls: TlsConfig;
  /** Metrics and health listener; null: none. */
  adminListen: ListenAddress | null;
  /** Standalone mode: the origin every request goes to (null when the node follows a control plane). */
  origin: URL | null;
  /** Standalone mode: 'preserve' forwards the client's Host; 'origin' sends the origin's host. */
  hostHeader: 'preserve' | 'origin';
  /** Standalone mode: Strict-Transport-Security max-age on HTTPS responses (--hsts-max-age); null: none. */
  hstsMaxAgeSec: number | null;
  upstreamTls: UpstreamTlsConfig;
  /** Managed mode: the control plane this node follows (null: standalone). */
  control: ControlLink | null;
  cacheDir: string;
  memoryCacheBytes: number;
  diskCacheBytes: number;
  /** Largest body stored; larger responses are streamed and not stored. */
  maxObjectBytes: number;
  /** Sync each stored object to disk before it becomes visible (survives power loss, costs a flush). */
  diskFsync: boolean;
  timeouts: {
    /** TCP connect to the origin. */
    connectMs: number;
    /** From sending a request until the origin's response headers. */
    originHeadersMs: number;
    /** Longest silence between two body chunks from the origin. */
    originBodyMs: number;
    /** A client must send its whole header section within this time (else 408). */
    clientHeadersMs: number;
    /** Idle keep-alive connections from clients are closed after this. */
    clientKeepAliveMs: number;
  };
  limits: {
    maxHeaderBytes: number;
    maxUriBytes: number;
  };
  policy: PolicyOptions;
  /** How long an uncacheable answer makes the key skip collapsing (Varnish hit-for-pass). */
  hitForPassSec: number;
  /** Worker processes that serve as one node (--workers, edge/multicore); absent: 1, no primary. */
  workers?: number;
  /** Standalone mode: the zone's slice_size (--slice-size, docs/media.md); null or absent: off. */
  sliceBytes?: number | null;
  /** Edge workers (edge/compute/); absent: the defaults of WORKER_DEFAULTS. */
  compute?: WorkerSettings;
  /** Edge security (edge/security, server/flood.ts); absent: DEFAULT_SECURITY_CONFIG. */
  security?: SecurityConfig;
}

export interface WorkerSettings {
  /** Heap of one worker's isolate (MiB), CPU time and wall time of one request (ms). */
  memoryMb: number;
  cpuMs: number;
  wallMs: number;
  /**
   * A request header set by a trusted layer in front of the node (a load balancer with GeoIP) that
   * carries the client's ISO country code for request.cf.country; null: cf.country is null.
   */
  countryHeader: string | null;
}

export const WORKER_DEFAULTS: WorkerSettings = {
  memoryMb: 128,
  cpuMs: 50,
  wallMs: 30_000,
  countryHeader: null,
};

export interface SecurityConfig {
  /** Redis that rate limits count in across the PoP (--redis); null: each node counts alone. */
  redis: string | null;
  /** Open connections one client address may hold (--max-conns-per-ip); 0: no limit. */
  maxConnectionsPerIp: number;
  /** Requests per second one client address may send before the pipeline (--max-rps-per-ip); 0: no limit. */
  maxRequestsPerIpPerSec: number;
  /** A client must send its whole request (headers and body) within this (--client-body-timeout). */
  clientRequestMs: number;
  /** MaxMind-format databases for ip.src.country (--geoip); none: the field is "". */
  geoip?: string[];
}

export const DEFAULT_SECURITY_CONFIG: SecurityConfig = {
  redis: null,
  maxConnectionsPerIp: 0,
  maxRequestsPerIpPerSec: 0,
  clientRequestMs: 300_000,
};
