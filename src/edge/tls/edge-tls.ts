// One node's TLS state, assembled: the certificate store and where its certificates come from
// (standalone files, or the control plane), OCSP stapling and the shared session-ticket keys.
// The listener creates its server with `SNICallback: tls.store.sniCallback` and calls
// `tls.attach(server)` once; edge.ts feeds the follower's snapshot and events to it.
import type { SecureContextOptions, Server, TLSSocket } from 'node:tls';
import type { ControlEvent, Snapshot } from '../../common/events/types.ts';
import type { Logger } from '../../common/log.ts';
import type { Registry } from 'prom-client';
import type { Dispatcher } from 'undici';
import type { EdgeConfig } from '../config.ts';
import { CertStore, type StoreChange } from '../server/cert-store.ts';
import { ControlClient } from '../sync/control-client.ts';
import { ManagedSource, type MaterialFetcher } from './managed-source.ts';
import { MaterialCache } from './material-cache.ts';
import { OcspStapler, type OcspOptions } from './ocsp.ts';
import { StandaloneSource, type ReloadResult } from './standalone-source.ts';
import { TicketKeys } from './ticket-keys.ts';
import { registerTlsMetrics, type HandshakeCounts } from './tls-metrics.ts';
import { controlDispatcher } from '../../common/tls/control-trust.ts';

export interface EdgeTlsOptions {
  config: Pick<EdgeConfig, 'tls' | 'control' | 'cacheDir' | 'nodeName'>;
  log: Logger;
  /** The node's metrics registry (null: none, e.g. tests). */
  registry?: Registry | null;
  /** The listener's TLS settings, given to every certificate's context (see CertStore). */
  contextOptions?: SecureContextOptions;
  /** Tests: a stand-in for the control plane's certificate endpoint, OCSP and ticket settings. */
  fetcher?: MaterialFetcher;
  ocsp?: Partial<OcspOptions>;
  ticketPeriodMs?: number;
}

export class EdgeTls {
  readonly store: CertStore;
  readonly ocsp: OcspStapler;
  readonly tickets: TicketKeys;
  readonly handshakes: HandshakeCounts = { full: 0, resumed: 0, failed: 0 };
  readonly standalone: StandaloneSource | null;
  readonly managed: ManagedSource | null;
  readonly #log: Logger;

  constructor(options: EdgeTlsOptions) {
    const { config, log } = options;
    this.#log = log;
    this.store = new CertStore({
      unknownSni: config.tls.unknownSni,
      ...(options.contextOptions === undefined ? {} : { contextOptions: options.contextOptions }),
    });
    this.ocsp = new OcspStapler({ log, ...options.ocsp });
    this.tickets = new TicketKeys({
      pop: config.control?.pop ?? null,
      ...(options.ticketPeriodMs === undefined ? {} : { periodMs: options.ticketPeriodMs }),
    });
    this.store.subscribe((change) => this.#onStoreChange(change));
    const { certFile, keyFile } = config.tls;
    this.standalone =
      certFile === null || keyFile === null
        ? null
        : new StandaloneSource({ certFile, keyFile, store: this.store, log });
    const link = config.control;
    this.managed =
      link === null
        ? null
        : new ManagedSource({
            store: this.store,
            fetcher:
              options.fetcher ??
              new ControlClient({
                controlUrl: (link.urls ?? [link.url]).map((u) => u.href),
                token: link.token,
                ...viaControlCa(link.controlCa ?? null),
              }),
            cache: new MaterialCache(config.cacheDir, link.token),
            nodeName: config.nodeName,
            pop: link.pop,
            log,
          });
    if (options.registry !== undefined && options.registry !== null) {
      registerTlsMetrics(options.registry, this.store, this.ocsp, this.handshakes);
    }
  }

  /** Loads the standalone certificate (throws when it cannot serve) and starts watching its files. */
  async start(): Promise<this> {
    await this.standalone?.start();
    return this;
  }

  /**
   * Wires a TLS server (tls.Server, https or http2 secure server) created with
   * `SNICallback: store.sniCallback`: default certificate in its base context, ticket keys, OCSP
   * staples, handshake counters.
   */
  attach(server: Server): void {
    this.store.attach(server);
    this.tickets.attach(server);
    this.ocsp.attach(server);
    server.on('secureConnection', (socket: TLSSocket) => {
      if (socket.isSessionReused()) this.handshakes.resumed++;
      else this.handshakes.full++;
    });
    server.on('tlsClientError', (_err: Error, socket: TLSSocket) => {
      this.handshakes.failed++;
      socket.destroy();
    });
  }

  /** SIGHUP: reads the standalone files again (managed certificates follow the log by themselves). */
  async reload(why: string): Promise<ReloadResult | 'none'> {
    if (this.standalone === null) {
      this.#log.info(`${why}: no --tls-cert to reload`);
      return 'none';
    }
    this.#log.info(`${why}: reloading the tls certificate`);
    return this.standalone.reload(why);
  }

  applySnapshot(snapshot: Snapshot): void {
    this.tickets.setSecret(snapshot.ticket_key);
    this.managed?.applySnapshot(snapshot);
  }

  applyEvent(event: ControlEvent): void {
    this.managed?.applyEvent(event);
  }

  close(): void {
    this.standalone?.close();
    this.managed?.close();
    this.ocsp.close();
    this.tickets.close();
  }

  #onStoreChange(change: StoreChange): void {
    const { cert } = change;
    if (cert.leaf === undefined || cert.usage === 'origin_client') return;
    if (change.kind === 'put') this.ocsp.track(cert.leaf, cert.issuer ?? null);
    else this.ocsp.untrack(cert.leaf);
  }
}

/** Certificate material comes from the control plane too: the same --control-ca verifies it. */
function viaControlCa(ca: string | null): { dispatcher?: Dispatcher } {
  const dispatcher = controlDispatcher(ca);
  return dispatcher === undefined ? {} : { dispatcher };
}
